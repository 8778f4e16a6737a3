/**
 * Meta commands (mg ms md ma me mn): flag parsing and the CacheOp each maps to.
 *
 * Flag validation follows memcached 1.6.18's _meta_flag_preparse (error strings observed
 * against the real binary), with the flags the protocol document lists but 1.6.18 does
 * not yet know (mg/md E, md x, ms s) accepted as documented, and M modes accepted in
 * either case as newer memcached does.
 */
import type { ArithOp, DeleteOp, GetOp, StoreMode, StoreOp } from '../cache/ops.js';
import { MetaCmd, type MetaFormat } from './formats.js';
import { parseCas, parseI32Trunc, parseU32Trunc, parseU64 } from './numbers.js';
import { errorRequest, R } from './replies.js';
import type { Request } from './request.js';
import type { TextContext } from './text-commands.js';

/** memcached's MFLAG_MAX_OPT_LENGTH counts command, key, flags and the end marker: 20. */
const META_TOKENS_MAX = 19;
/** memcached's MFLAG_MAX_OPAQUE_LENGTH, which includes the 'O' itself. */
const OPAQUE_TOKEN_BYTES_MAX = 32;
const VLEN_MAX = 2147483647 - 2;
/** Flags any meta command accepts (each command ignores the ones that do not apply). */
const KNOWN_FLAGS = new Uint8Array(128);
for (const c of 'bcCDEfFhIJklLMNOPqRstTuvx') KNOWN_FLAGS[c.charCodeAt(0)] = 1;

const NOOP_FORMAT: MetaFormat = {
  protocol: 'meta',
  cmd: MetaCmd.Noop,
  flags: R.EMPTY,
  quiet: false,
  base64: false,
  value: false,
  compareCas: -2,
};

/** The parsed flags of one meta command; one instance reused per connection. */
class MetaFlags {
  base64 = false;
  quiet = false;
  value = false;
  noBump = false;
  /** h or l: the reply shows the item's fetch state. */
  access = false;
  invalidate = false;
  removeValue = false;
  hasT = false;
  T = 0;
  hasN = false;
  N = 0;
  hasR = false;
  /** T came before R: memcached applies flags in order, so R judges the new TTL. */
  touchBeforeRecache = false;
  R = 0;
  hasC = false;
  C = 0;
  hasE = false;
  E = 0;
  F = 0;
  mode = 0;
  J: bigint | null = null;
  D: bigint | null = null;
  /** Bitmaps of flag characters seen ('A'..'`' and 'a'..'~'), for duplicate detection. */
  seenUpper = 0;
  seenLower = 0;

  reset(): void {
    this.base64 = this.quiet = this.value = this.noBump = this.access = this.invalidate = this.removeValue = false;
    this.hasT = this.hasN = this.hasR = this.hasC = this.hasE = this.touchBeforeRecache = false;
    this.T = this.N = this.R = this.C = this.E = this.F = this.mode = 0;
    this.J = this.D = null;
    this.seenUpper = this.seenLower = 0;
  }
}

const flags = new MetaFlags();

/** Dispatches a two-letter command starting with 'm'; `second` is its second byte. */
export function dispatchMetaCommand(ctx: TextContext, second: number): void {
  switch (second) {
    case 0x67: // g
      return handleMetaGet(ctx);
    case 0x73: // s
      return handleMetaSet(ctx);
    case 0x64: // d
      return handleMetaDelete(ctx);
    case 0x61: // a
      return handleMetaArith(ctx);
    case 0x65: // e
      return handleMetaDebug(ctx);
    case 0x6e: // n
      ctx.out.push({ kind: 'noop', format: NOOP_FORMAT });
      return;
    default:
      ctx.out.push(errorRequest(R.ERROR));
  }
}

function reply(ctx: TextContext, bytes: Buffer): void {
  ctx.out.push(errorRequest(bytes));
}

/** Checks shared by mg/md/ma: key present and short enough, not too many flags. */
function checkPrelude(ctx: TextContext, tooMany: Buffer): boolean {
  const t = ctx.tokens;
  if (t.count < 2) {
    reply(ctx, R.ERROR);
    return false;
  }
  if (t.len(1) > ctx.limits.keyBytesMax) {
    reply(ctx, R.BAD_FORMAT);
    return false;
  }
  if (t.count > META_TOKENS_MAX) {
    reply(ctx, tooMany);
    return false;
  }
  return true;
}

/** Parses flag tokens [first, count) into `flags`; returns the error reply or null. */
function parseFlags(ctx: TextContext, first: number): Buffer | null {
  const t = ctx.tokens;
  const b = t.buf;
  flags.reset();
  for (let i = first; i < t.count; i++) {
    const s = t.starts[i]!;
    const e = t.ends[i]!;
    const c = b[s]!;
    if (c >= 127) return R.META_DUPLICATE_FLAG;
    if (KNOWN_FLAGS[c] === 0) return R.META_INVALID_FLAG;
    if (markSeen(c)) return R.META_DUPLICATE_FLAG;
    const err = parseFlag(b, c, s, e);
    if (err !== null) return err;
  }
  return null;
}

/** Records flag character c; true if it was already seen. KNOWN_FLAGS are all letters. */
function markSeen(c: number): boolean {
  if (c < 0x61) {
    const bit = 1 << (c - 0x41);
    if (flags.seenUpper & bit) return true;
    flags.seenUpper |= bit;
  } else {
    const bit = 1 << (c - 0x61);
    if (flags.seenLower & bit) return true;
    flags.seenLower |= bit;
  }
  return false;
}

/** One flag token buf[s, e) whose first byte is c. */
function parseFlag(b: Buffer, c: number, s: number, e: number): Buffer | null {
  switch (c) {
    case 0x62: flags.base64 = true; return null; // b
    case 0x71: flags.quiet = true; return null; // q
    case 0x76: flags.value = true; return null; // v
    case 0x75: flags.noBump = true; return null; // u
    case 0x68: // h
    case 0x6c: // l
      flags.access = true;
      return null;
    case 0x49: flags.invalidate = true; return null; // I
    case 0x78: flags.removeValue = true; return null; // x
    case 0x54: // T
      flags.T = parseI32Trunc(b, s + 1, e);
      flags.hasT = true;
      return Number.isNaN(flags.T) ? R.META_BAD_TOKEN : null;
    case 0x4e: // N
      flags.N = parseI32Trunc(b, s + 1, e);
      flags.hasN = true;
      return Number.isNaN(flags.N) ? R.META_BAD_TOKEN : null;
    case 0x52: // R
      flags.R = parseI32Trunc(b, s + 1, e);
      flags.hasR = true;
      flags.touchBeforeRecache = flags.hasT;
      return Number.isNaN(flags.R) ? R.META_BAD_TOKEN : null;
    case 0x43: // C
      flags.C = parseCas(b, s + 1, e);
      flags.hasC = true;
      return Number.isNaN(flags.C) ? R.META_BAD_TOKEN : null;
    case 0x45: // E
      flags.E = parseCas(b, s + 1, e);
      flags.hasE = true;
      return Number.isNaN(flags.E) ? R.META_BAD_TOKEN : null;
    case 0x46: // F
      flags.F = parseU32Trunc(b, s + 1, e);
      return Number.isNaN(flags.F) ? R.BAD_FORMAT : null;
    case 0x4d: // M
      if (e - s !== 2) return R.META_M_LENGTH;
      flags.mode = b[s + 1]!;
      return null;
    case 0x4a: // J
      flags.J = parseU64(b, s + 1, e);
      return flags.J === null ? R.META_BAD_INITIAL : null;
    case 0x44: // D
      flags.D = parseU64(b, s + 1, e);
      return flags.D === null ? R.META_BAD_DELTA : null;
    case 0x4f: // O
      return e - s > OPAQUE_TOKEN_BYTES_MAX ? R.META_OPAQUE_TOO_LONG : null;
    default:
      return null; // return flags (k c f s t h l) and ignored routing hints (P L)
  }
}

/** The key of token 1: a copy, or its base64 decoding (null if it does not decode). */
function metaKey(ctx: TextContext): Buffer | null {
  const t = ctx.tokens;
  if (!flags.base64) return t.copy(1);
  return decodeBase64Strict(t.buf, t.starts[1]!, t.ends[1]!);
}

const B64_VALUE = new Int8Array(256).fill(-1);
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) {
  B64_VALUE[c.charCodeAt(0)] = i;
}

/** Standard base64 with padding; anything else is refused (Node's decoder would skip junk). */
export function decodeBase64Strict(b: Buffer, s: number, e: number): Buffer | null {
  const n = e - s;
  if (n === 0 || n % 4 !== 0) return null;
  let pad = 0;
  if (b[e - 1] === 0x3d) pad = b[e - 2] === 0x3d ? 2 : 1;
  for (let i = s; i < e - pad; i++) if (B64_VALUE[b[i]!]! < 0) return null;
  const out = Buffer.from(b.toString('latin1', s, e), 'base64');
  return out.length === 0 ? null : out;
}

/** A copy of the flag tokens (from token `first` to the end of the line) for the encoder. */
function flagBytes(ctx: TextContext, first: number): Buffer {
  const t = ctx.tokens;
  if (t.count <= first) return R.EMPTY;
  return Buffer.from(t.buf.subarray(t.starts[first]!, t.ends[t.count - 1]!));
}

function metaFormat(ctx: TextContext, cmd: MetaCmd, first: number): MetaFormat {
  return {
    protocol: 'meta',
    cmd,
    flags: flagBytes(ctx, first),
    quiet: flags.quiet,
    base64: flags.base64,
    value: flags.value,
    compareCas: flags.hasC ? flags.C : -2,
  };
}

/** mg <key> <flags>*. */
function handleMetaGet(ctx: TextContext): void {
  if (!checkPrelude(ctx, R.META_MG_TOO_MANY)) return;
  const err = parseFlags(ctx, 2);
  if (err !== null) return reply(ctx, err);
  const key = metaKey(ctx);
  if (key === null) return reply(ctx, R.META_DECODE_KEY);
  const op: GetOp = { type: 'get', key, token: true };
  if (flags.hasT) op.touch = flags.T;
  if (flags.hasN) op.vivify = flags.N;
  if (flags.hasR) op.recache = flags.R;
  if (flags.hasR && flags.touchBeforeRecache) op.touchFirst = true;
  if (flags.noBump) op.noBump = true;
  if (flags.access) op.access = true;
  if (flags.hasE) op.newCas = flags.E;
  ctx.out.push({ kind: 'ops', ops: [op], format: metaFormat(ctx, MetaCmd.Get, 2) });
}

/** me <key> [b]: item metadata, read without bumping. */
function handleMetaDebug(ctx: TextContext): void {
  const t = ctx.tokens;
  if (t.count < 2 || t.len(1) > ctx.limits.keyBytesMax) return reply(ctx, R.BAD_FORMAT);
  flags.reset();
  for (let i = 2; i < t.count; i++) if (t.len(i) === 1 && t.buf[t.starts[i]!] === 0x62) flags.base64 = true;
  const key = metaKey(ctx);
  if (key === null) return reply(ctx, R.META_DECODE_KEY);
  const format: MetaFormat = { ...NOOP_FORMAT, cmd: MetaCmd.Debug, base64: flags.base64 };
  ctx.out.push({ kind: 'ops', ops: [{ type: 'get', key, noBump: true, access: true }], format });
}

/** ms <key> <datalen> <flags>*, then the data block. */
function handleMetaSet(ctx: TextContext): void {
  const t = ctx.tokens;
  if (t.count < 2) return reply(ctx, R.ERROR);
  if (t.len(1) > ctx.limits.keyBytesMax || t.count === 2) return reply(ctx, R.BAD_FORMAT);
  if (t.count > META_TOKENS_MAX) return reply(ctx, R.META_TOO_MANY);
  const vlen = parseI32Trunc(t.buf, t.starts[2]!, t.ends[2]!);
  if (Number.isNaN(vlen) || vlen < 0 || vlen > VLEN_MAX) return reply(ctx, R.BAD_FORMAT);
  // From here on memcached knows the data length, so every refusal swallows the data block.
  const err = parseFlags(ctx, 3);
  if (err !== null) return refuseSet(ctx, err, vlen);
  const mode = metaSetMode(flags.mode, flags.hasC);
  if (mode === null) return refuseSet(ctx, R.META_MS_MODE, vlen);
  const key = metaKey(ctx);
  if (key === null) return refuseSet(ctx, R.META_DECODE_KEY, vlen);
  if (vlen > ctx.limits.itemBytesMax) return refuseMetaTooLarge(ctx, key, mode, vlen);
  const op: StoreOp = { type: 'store', mode, key, flags: flags.F, exptime: flags.T, value: R.EMPTY };
  if (flags.hasC) op.cas = flags.C;
  if (flags.hasE) op.newCas = flags.E;
  if (flags.invalidate) op.invalidate = true;
  if (flags.hasN && (mode === 'append' || mode === 'prepend')) op.vivify = flags.N;
  const request: Request = { kind: 'ops', ops: [op], format: metaFormat(ctx, MetaCmd.Set, 3) };
  ctx.expectData(request, op, vlen, R.BAD_DATA_CHUNK);
}

/** The StoreMode for an ms M token (0 = none given); C turns a plain set into a CAS store. */
function metaSetMode(m: number, hasCas: boolean): StoreMode | null {
  switch (m) {
    case 0:
    case 0x53: // S
    case 0x73:
      return hasCas ? 'cas' : 'set';
    case 0x45: // E
    case 0x65:
      return 'add';
    case 0x41: // A
    case 0x61:
      return 'append';
    case 0x50: // P
    case 0x70:
      return 'prepend';
    case 0x52: // R
    case 0x72:
      return 'replace';
    default:
      return null;
  }
}

function refuseSet(ctx: TextContext, bytes: Buffer, vlen: number): void {
  reply(ctx, bytes);
  ctx.swallow(vlen + 2);
}

/** As text set: SERVER_ERROR (even with q), data swallowed, and a plain set deletes the key. */
function refuseMetaTooLarge(ctx: TextContext, key: Buffer, mode: StoreMode, vlen: number): void {
  if (mode === 'set') {
    const format: MetaFormat = { ...NOOP_FORMAT, cmd: MetaCmd.Fixed, fixed: R.TOO_LARGE };
    ctx.out.push({ kind: 'ops', ops: [{ type: 'delete', key }], format });
  } else {
    reply(ctx, R.TOO_LARGE);
  }
  ctx.swallow(vlen + 2);
}

/** md <key> <flags>*. */
function handleMetaDelete(ctx: TextContext): void {
  if (!checkPrelude(ctx, R.META_TOO_MANY)) return;
  // memcached reports every md/ma flag problem with one message.
  if (parseFlags(ctx, 2) !== null) return reply(ctx, R.META_INVALID_OR_DUPLICATE);
  const key = metaKey(ctx);
  if (key === null) return reply(ctx, R.META_INVALID_OR_DUPLICATE);
  const op: DeleteOp = { type: 'delete', key };
  if (flags.hasC) op.cas = flags.C;
  if (flags.hasE) op.newCas = flags.E;
  if (flags.invalidate) {
    op.invalidate = true;
    if (flags.hasT) op.exptime = flags.T;
  }
  if (flags.removeValue) op.removeValue = true;
  ctx.out.push({ kind: 'ops', ops: [op], format: metaFormat(ctx, MetaCmd.Delete, 2) });
}

/** ma <key> <flags>*. */
function handleMetaArith(ctx: TextContext): void {
  if (!checkPrelude(ctx, R.META_TOO_MANY)) return;
  if (parseFlags(ctx, 2) !== null) return reply(ctx, R.META_INVALID_OR_DUPLICATE);
  const incr = metaArithIncr(flags.mode);
  if (incr === null) return reply(ctx, R.META_MA_MODE);
  const key = metaKey(ctx);
  if (key === null) return reply(ctx, R.META_INVALID_OR_DUPLICATE);
  const op: ArithOp = { type: 'arith', key, incr, delta: flags.D ?? 1n };
  if (flags.hasC) op.cas = flags.C;
  if (flags.hasE) op.newCas = flags.E;
  if (flags.hasN) {
    op.vivify = flags.N;
    op.initial = flags.J ?? 0n;
  }
  if (flags.hasT) op.exptime = flags.T;
  ctx.out.push({ kind: 'ops', ops: [op], format: metaFormat(ctx, MetaCmd.Arith, 2) });
}

/** ma M modes: I + (incr), D - (decr); null for anything else. */
function metaArithIncr(m: number): boolean | null {
  switch (m) {
    case 0:
    case 0x49: // I
    case 0x69:
    case 0x2b: // +
      return true;
    case 0x44: // D
    case 0x64:
    case 0x2d: // -
      return false;
    default:
      return null;
  }
}
