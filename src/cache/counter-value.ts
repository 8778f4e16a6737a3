/**
 * incr/decr on item values, byte for byte as memcached 1.6 does them.
 *
 * memcached parses the stored value with `safe_strtoull` (strtoull base 10 plus checks):
 * leading whitespace and one sign are skipped, at least one digit is required, the digits
 * must be followed by whitespace or the end of the value ("12 abc" counts as 12), values
 * above 2^64-1 are refused, and a '-' is refused only when the wrapped result would be
 * negative as a signed 64-bit number ("-0" is 0, "-5" is refused). Verified against
 * memcached 1.6.18.
 *
 * The new value is written in place, padded with spaces to the old length, when it is not
 * longer than the old value (decr of "100" by 1 stores "99 "), as memcached does.
 */

/** 2^64: incr wraps modulo this. */
const u64Range = 1n << 64n;
const u64Max = u64Range - 1n;
const i64Min = 1n << 63n;

/** C's isspace() in the "C" locale. */
function isSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** The value's number by memcached's rules, or null when incr/decr must answer non-numeric. */
export function parseCounter(value: string): bigint | null {
  const length = value.length;
  let at = 0;
  while (at < length && isSpace(value.charCodeAt(at))) at++;
  let negative = false;
  const sign = at < length ? value.charCodeAt(at) : 0;
  if (sign === 0x2d || sign === 0x2b) {
    negative = sign === 0x2d;
    at++;
  }
  const digitsStart = at;
  while (at < length && isDigit(value.charCodeAt(at))) at++;
  if (at === digitsStart) return null;
  // The C string ends at a NUL byte; memcached's stored value is followed by "\r\n" (space).
  if (at < length && !isSpace(value.charCodeAt(at)) && value.charCodeAt(at) !== 0) return null;
  const magnitude = BigInt(value.slice(digitsStart, at));
  if (magnitude > u64Max) return null;
  if (!negative) return magnitude;
  const wrapped = (u64Range - magnitude) % u64Range;
  return wrapped >= i64Min ? null : wrapped;
}

/** The result of incr (wrapping at 2^64) or decr (flooring at 0). */
export function applyDelta(current: bigint, delta: bigint, incr: boolean): bigint {
  if (incr) return (current + delta) & u64Max;
  return delta > current ? 0n : current - delta;
}

/** The stored text of `result` replacing a value of `oldLength` bytes (space padded in place). */
export function counterText(result: bigint, oldLength: number): string {
  const digits = result.toString();
  return digits.length < oldLength ? digits.padEnd(oldLength, ' ') : digits;
}
