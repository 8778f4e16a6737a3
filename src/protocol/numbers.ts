/**
 * Decimal number parsing straight from Buffer bytes, with memcached's (strtol/strtoul on
 * 64-bit Linux) acceptance rules, so the same inputs are accepted and rejected:
 * - an optional sign, then at least one digit, nothing else (tokens never hold spaces);
 * - 32-bit fields (client flags, exptime, data length) are parsed as 64-bit and then
 *   truncated, because memcached 1.6.18 stores `long` into `int32_t`/`uint32_t`
 *   (observed: `set a 4294967296 0 1` stores flags 0, exptime 4294967295 means -1).
 *
 * Every function returns NaN (or null for bigint) when the token is not a valid number.
 */

const DIGIT_0 = 0x30;
const PLUS = 0x2b;
const MINUS = 0x2d;
const TWO_32 = 4294967296;
/** Up to 15 digits a double holds any value exactly: the fast path. */
const FAST_DIGITS_MAX = 15;
const U64_MAX_DIGITS = Buffer.from('18446744073709551615');
const I64_MAX_DIGITS = Buffer.from('9223372036854775807');
const I64_MIN_DIGITS = Buffer.from('9223372036854775808');

/** Compares the digit run buf[s, e) with a same-length digit literal: <0, 0, >0. */
function compareDigits(buf: Buffer, s: number, e: number, lit: Buffer): number {
  if (e - s !== lit.length) return e - s - lit.length;
  return buf.compare(lit, 0, lit.length, s, e);
}

/** Index of the first non-zero digit, or e - 1 when all are zero; -1 if a non-digit is present. */
function digitsStart(buf: Buffer, s: number, e: number): number {
  if (s >= e) return -1;
  let first = -1;
  for (let i = s; i < e; i++) {
    const d = buf[i]! - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    if (first < 0 && d !== 0) first = i;
  }
  return first < 0 ? e - 1 : first;
}

/** The value of digits buf[s, e) modulo 2^32 (exact integer arithmetic in doubles). */
function low32(buf: Buffer, s: number, e: number): number {
  let lo = 0;
  for (let i = s; i < e; i++) lo = (lo * 10 + (buf[i]! - DIGIT_0)) % TWO_32;
  return lo;
}

/** strtoul into uint32: 0..2^64-1 accepted, truncated to the low 32 bits. NaN if invalid. */
export function parseU32Trunc(buf: Buffer, s: number, e: number): number {
  if (s < e && buf[s] === PLUS) s++;
  const first = digitsStart(buf, s, e);
  if (first < 0) return NaN;
  if (e - first > FAST_DIGITS_MAX) {
    if (compareDigits(buf, first, e, U64_MAX_DIGITS) > 0) return NaN;
    return low32(buf, first, e);
  }
  let v = 0;
  for (let i = first; i < e; i++) v = v * 10 + (buf[i]! - DIGIT_0);
  return v % TWO_32;
}

/** strtol into int32: any int64 accepted, truncated to int32 (two's complement). NaN if invalid. */
export function parseI32Trunc(buf: Buffer, s: number, e: number): number {
  let negative = false;
  if (s < e && (buf[s] === PLUS || buf[s] === MINUS)) {
    negative = buf[s] === MINUS;
    s++;
  }
  const first = digitsStart(buf, s, e);
  if (first < 0) return NaN;
  let lo: number;
  if (e - first > FAST_DIGITS_MAX) {
    if (compareDigits(buf, first, e, negative ? I64_MIN_DIGITS : I64_MAX_DIGITS) > 0) return NaN;
    lo = low32(buf, first, e);
  } else {
    lo = 0;
    for (let i = first; i < e; i++) lo = lo * 10 + (buf[i]! - DIGIT_0);
    lo %= TWO_32;
  }
  if (negative) lo = (TWO_32 - lo) % TWO_32;
  return lo | 0;
}

/** strtoull: 0..2^64-1 as a bigint, or null if invalid. */
export function parseU64(buf: Buffer, s: number, e: number): bigint | null {
  if (s < e && buf[s] === PLUS) s++;
  const first = digitsStart(buf, s, e);
  if (first < 0) return null;
  if (e - first <= FAST_DIGITS_MAX) {
    let v = 0;
    for (let i = first; i < e; i++) v = v * 10 + (buf[i]! - DIGIT_0);
    return BigInt(v);
  }
  if (compareDigits(buf, first, e, U64_MAX_DIGITS) > 0) return null;
  return BigInt(buf.toString('latin1', first, e));
}

/**
 * A 64-bit CAS token as the number the cache model uses: values above
 * Number.MAX_SAFE_INTEGER become -1, which never matches an item (see cache/ops.ts).
 * NaN if invalid.
 */
export function parseCas(buf: Buffer, s: number, e: number): number {
  if (s < e && buf[s] === PLUS) s++;
  const first = digitsStart(buf, s, e);
  if (first < 0) return NaN;
  if (e - first <= FAST_DIGITS_MAX) {
    let v = 0;
    for (let i = first; i < e; i++) v = v * 10 + (buf[i]! - DIGIT_0);
    return v;
  }
  if (compareDigits(buf, first, e, U64_MAX_DIGITS) > 0) return NaN;
  return casFromBigInt(BigInt(buf.toString('latin1', first, e)));
}

/** Maps an unsigned 64-bit CAS to the cache model's number (-1 when not exactly representable). */
export function casFromBigInt(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
}
