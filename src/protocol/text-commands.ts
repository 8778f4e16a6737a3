/**
 * Classic text commands (get, set, incr, ...): token checks and the ops they map to.
 * Argument counts, error strings and noreply handling follow memcached 1.6.18's
 * proto_text.c; the cases that matter were checked against the real binary (see
 * test/protocol/text.test.ts for the observed bytes).
 */
import assert from 'node:assert';
import type { CacheOp, GetOp, StoreMode, StoreOp } from '../cache/ops.js';
import { TextCmd, type TextFormat } from './formats.js';
import { parseCas, parseI32Trunc, parseU32Trunc, parseU64 } from './numbers.js';
import { CLOSE_SILENTLY, errorRequest, R } from './replies.js';
import type { ProtocolLimits, Request } from './request.js';
import type { Tokens } from './tokenizer.js';

/** What a text command handler needs from the connection parser. */
export interface TextContext {
  readonly limits: ProtocolLimits;
  readonly tokens: Tokens;
  /** Where parsed requests go, in order. */
  readonly out: Request[];
  /** The line was a storage command: its data block (vlen bytes + \r\n) comes next. */
  expectData(request: Request, op: StoreOp, vlen: number, badChunkReply: Buffer): void;
  /** Discard the next `bytes` bytes of input (the data block of a refused store). */
  swallow(bytes: number): void;
}

const lit = (s: string): Buffer => Buffer.from(s, 'latin1');
const NOREPLY = lit('noreply');
const HTTP_PREFIX = lit('HTTP/');
/** memcached refuses data lengths above INT_MAX - 2 (vlen + 2 would overflow). */
const VLEN_MAX = 2147483647 - 2;

const CMD = {
  get: lit('get'),
  gets: lit('gets'),
  gat: lit('gat'),
  gats: lit('gats'),
  set: lit('set'),
  add: lit('add'),
  replace: lit('replace'),
  append: lit('append'),
  prepend: lit('prepend'),
  cas: lit('cas'),
  incr: lit('incr'),
  decr: lit('decr'),
  delete: lit('delete'),
  touch: lit('touch'),
  flushAll: lit('flush_all'),
  version: lit('version'),
  verbosity: lit('verbosity'),
  stats: lit('stats'),
  cacheMemlimit: lit('cache_memlimit'),
  lruCrawler: lit('lru_crawler'),
  metadump: lit('metadump'),
  detail: lit('detail'),
  quit: lit('quit'),
} as const;

/** One shared format object per (command, noreply): text requests allocate no format. */
const FORMATS: TextFormat[] = [];
for (let cmd = TextCmd.Get; cmd <= TextCmd.Quit; cmd++) {
  FORMATS.push({ protocol: 'text', cmd, noreply: false }, { protocol: 'text', cmd, noreply: true });
}

/** The shared format for a text command. */
export function textFormat(cmd: TextCmd, noreply: boolean): TextFormat {
  return FORMATS[cmd * 2 + (noreply ? 1 : 0)]!;
}

/** Dispatches one tokenized text command line (meta commands are handled by the caller). */
export function dispatchTextCommand(ctx: TextContext): void {
  const t = ctx.tokens;
  if (t.count === 0 || t.len(0) < 2) return reply(ctx, R.ERROR);
  switch (t.buf[t.starts[0]!]) {
    case 0x67: // g
      if (t.is(0, CMD.get)) return handleGet(ctx, false, false);
      if (t.is(0, CMD.gets)) return handleGet(ctx, true, false);
      if (t.is(0, CMD.gat)) return handleGet(ctx, false, true);
      if (t.is(0, CMD.gats)) return handleGet(ctx, true, true);
      break;
    case 0x73: // s
      if (t.is(0, CMD.set)) return handleStore(ctx, 'set');
      if (t.is(0, CMD.stats)) return handleStats(ctx);
      break;
    case 0x61: // a
      if (t.is(0, CMD.add)) return handleStore(ctx, 'add');
      if (t.is(0, CMD.append)) return handleStore(ctx, 'append');
      break;
    case 0x72: // r
      if (t.is(0, CMD.replace)) return handleStore(ctx, 'replace');
      break;
    case 0x70: // p
      if (t.is(0, CMD.prepend)) return handleStore(ctx, 'prepend');
      break;
    case 0x63: // c
      if (t.is(0, CMD.cas)) return handleStore(ctx, 'cas');
      if (t.is(0, CMD.cacheMemlimit)) return handleMemlimit(ctx);
      break;
    case 0x69: // i
      if (t.is(0, CMD.incr)) return handleArith(ctx, true);
      break;
    case 0x64: // d
      if (t.is(0, CMD.delete)) return handleDelete(ctx);
      if (t.is(0, CMD.decr)) return handleArith(ctx, false);
      break;
    case 0x74: // t
      if (t.is(0, CMD.touch)) return handleTouch(ctx);
      break;
    case 0x66: // f
      if (t.is(0, CMD.flushAll)) return handleFlushAll(ctx);
      break;
    case 0x76: // v
      if (t.is(0, CMD.version)) return push(ctx, { kind: 'version', format: textFormat(TextCmd.Version, false) });
      if (t.is(0, CMD.verbosity)) return handleVerbosity(ctx);
      break;
    case 0x6c: // l
      if (t.is(0, CMD.lruCrawler)) return handleLruCrawler(ctx);
      break;
    case 0x71: // q
      if (t.is(0, CMD.quit)) return push(ctx, { kind: 'quit', format: textFormat(TextCmd.Quit, false) });
      break;
  }
  handleUnknown(ctx);
}

function push(ctx: TextContext, request: Request): void {
  ctx.out.push(request);
}

function reply(ctx: TextContext, bytes: Buffer): void {
  ctx.out.push(errorRequest(bytes));
}

/** memcached answers an unknown command with ERROR, but hangs up on what looks like HTTP. */
function handleUnknown(ctx: TextContext): void {
  const t = ctx.tokens;
  const last = t.count - 1;
  const s = t.starts[last]!;
  if (t.len(last) >= HTTP_PREFIX.length && t.buf.compare(HTTP_PREFIX, 0, 5, s, s + 5) === 0) {
    return push(ctx, CLOSE_SILENTLY);
  }
  reply(ctx, R.ERROR);
}

/** The last token is `noreply` (memcached's set_noreply_maybe). */
function lastIsNoreply(t: Tokens): boolean {
  return t.is(t.count - 1, NOREPLY);
}

/** get/gets/gat/gats <exptime>? <key>*: one GetOp per key, answered together. */
function handleGet(ctx: TextContext, withCas: boolean, touch: boolean): void {
  const t = ctx.tokens;
  if (t.count < 2) return reply(ctx, R.ERROR);
  let first = 1;
  let exptime = 0;
  if (touch) {
    exptime = parseI32Trunc(t.buf, t.starts[1]!, t.ends[1]!);
    if (Number.isNaN(exptime)) return reply(ctx, R.BAD_EXPTIME);
    first = 2;
    // `gat 10` with no keys: memcached answers an empty result.
    if (t.count === 2) return reply(ctx, R.END);
  }
  const keyBytesMax = ctx.limits.keyBytesMax;
  for (let i = first; i < t.count; i++) {
    if (t.len(i) > keyBytesMax) return reply(ctx, R.BAD_FORMAT);
  }
  const ops: CacheOp[] = new Array(t.count - first);
  for (let i = first; i < t.count; i++) {
    const op: GetOp = touch ? { type: 'get', key: t.copy(i), touch: exptime } : { type: 'get', key: t.copy(i) };
    ops[i - first] = op;
  }
  push(ctx, { kind: 'ops', ops, format: textFormat(withCas ? TextCmd.Gets : TextCmd.Get, false) });
}

/** set/add/replace/append/prepend <key> <flags> <exptime> <bytes> [noreply], cas ... <cas unique>. */
function handleStore(ctx: TextContext, mode: StoreMode): void {
  const t = ctx.tokens;
  const base = mode === 'cas' ? 6 : 5;
  if (t.count < base) return refuseMissingArgument(ctx);
  if (t.count > base + 1) return reply(ctx, R.ERROR);
  // memcached's set_noreply_maybe: a trailing noreply silences even a bad-format reply.
  const noreply = lastIsNoreply(t);
  const quiet = (bytes: Buffer): Buffer => (noreply ? R.EMPTY : bytes);
  if (t.len(1) > ctx.limits.keyBytesMax) return reply(ctx, quiet(R.BAD_FORMAT));
  const b = t.buf;
  const flags = parseU32Trunc(b, t.starts[2]!, t.ends[2]!);
  const exptime = parseI32Trunc(b, t.starts[3]!, t.ends[3]!);
  const vlen = parseI32Trunc(b, t.starts[4]!, t.ends[4]!);
  const cas = mode === 'cas' ? parseCas(b, t.starts[5]!, t.ends[5]!) : 0;
  if (Number.isNaN(flags) || Number.isNaN(exptime) || Number.isNaN(vlen) || Number.isNaN(cas)) {
    return reply(ctx, quiet(R.BAD_FORMAT));
  }
  if (vlen < 0 || vlen > VLEN_MAX) return reply(ctx, quiet(R.BAD_FORMAT));
  const key = t.copy(1);
  if (vlen > ctx.limits.itemBytesMax) return refuseTooLarge(ctx, key, mode, noreply, vlen);
  const op: StoreOp = { type: 'store', mode, key, flags, exptime, value: R.EMPTY };
  if (mode === 'cas') op.cas = cas;
  const request: Request = { kind: 'ops', ops: [op], format: textFormat(TextCmd.Store, noreply) };
  ctx.expectData(request, op, vlen, quiet(R.BAD_DATA_CHUNK));
}

/**
 * A storage line with an argument missing (`cas k 0 0 6` without its unique, `set k 0 0`).
 * memcached 1.6.18 answers ERROR and then runs the data line as a command; the protocol
 * text reserves ERROR for a nonexistent command name and calls a line that does not
 * conform CLIENT_ERROR, so we answer that. When the <bytes> argument is there, its data
 * block is swallowed, so the client's value is never read as a command; without it the
 * length of what follows is unknown and nothing is swallowed.
 */
function refuseMissingArgument(ctx: TextContext): void {
  const t = ctx.tokens;
  reply(ctx, R.BAD_FORMAT);
  if (t.count < 5) return;
  const vlen = parseI32Trunc(t.buf, t.starts[4]!, t.ends[4]!);
  if (vlen >= 0 && vlen <= VLEN_MAX) ctx.swallow(vlen + 2);
}

/**
 * A value over the item size limit: SERVER_ERROR and the data block is swallowed. A plain
 * `set` also deletes the key, as memcached does so that a stale value does not outlive a
 * failed overwrite (observed: set k; set k <too large>; get k -> miss).
 */
function refuseTooLarge(ctx: TextContext, key: Buffer, mode: StoreMode, noreply: boolean, vlen: number): void {
  const bytes = noreply ? R.EMPTY : R.TOO_LARGE;
  if (mode === 'set') {
    const format: TextFormat = { protocol: 'text', cmd: TextCmd.Fixed, noreply, fixed: bytes };
    push(ctx, { kind: 'ops', ops: [{ type: 'delete', key }], format });
  } else {
    reply(ctx, bytes);
  }
  ctx.swallow(vlen + 2);
}

/** incr|decr <key> <delta> [noreply]. */
function handleArith(ctx: TextContext, incr: boolean): void {
  const t = ctx.tokens;
  if (t.count !== 3 && t.count !== 4) return reply(ctx, R.ERROR);
  const noreply = t.count === 4 && t.is(3, NOREPLY);
  if (t.len(1) > ctx.limits.keyBytesMax) return reply(ctx, noreply ? R.EMPTY : R.BAD_FORMAT);
  const delta = parseU64(t.buf, t.starts[2]!, t.ends[2]!);
  if (delta === null) return reply(ctx, noreply ? R.EMPTY : R.BAD_DELTA);
  const ops: CacheOp[] = [{ type: 'arith', key: t.copy(1), incr, delta }];
  push(ctx, { kind: 'ops', ops, format: textFormat(TextCmd.Arith, noreply) });
}

/** delete <key> [0] [noreply] (the legacy hold time must be 0). */
function handleDelete(ctx: TextContext): void {
  const t = ctx.tokens;
  if (t.count < 2 || t.count > 4) return reply(ctx, R.ERROR);
  const noreply = t.count > 2 && lastIsNoreply(t);
  if (t.count > 2) {
    const holdIsZero = t.len(2) === 1 && t.buf[t.starts[2]!] === 0x30;
    const valid = (t.count === 3 && (holdIsZero || noreply)) || (t.count === 4 && holdIsZero && noreply);
    if (!valid) return reply(ctx, noreply ? R.EMPTY : R.DELETE_USAGE);
  }
  if (t.len(1) > ctx.limits.keyBytesMax) return reply(ctx, noreply ? R.EMPTY : R.BAD_FORMAT);
  const ops: CacheOp[] = [{ type: 'delete', key: t.copy(1) }];
  push(ctx, { kind: 'ops', ops, format: textFormat(TextCmd.Delete, noreply) });
}

/** touch <key> <exptime> [noreply]. */
function handleTouch(ctx: TextContext): void {
  const t = ctx.tokens;
  if (t.count !== 3 && t.count !== 4) return reply(ctx, R.ERROR);
  const noreply = t.count === 4 && t.is(3, NOREPLY);
  if (t.len(1) > ctx.limits.keyBytesMax) return reply(ctx, noreply ? R.EMPTY : R.BAD_FORMAT);
  const exptime = parseI32Trunc(t.buf, t.starts[2]!, t.ends[2]!);
  if (Number.isNaN(exptime)) return reply(ctx, noreply ? R.EMPTY : R.BAD_EXPTIME);
  const ops: CacheOp[] = [{ type: 'touch', key: t.copy(1), exptime }];
  push(ctx, { kind: 'ops', ops, format: textFormat(TextCmd.Touch, noreply) });
}

/** flush_all [delay] [noreply]. */
function handleFlushAll(ctx: TextContext): void {
  const t = ctx.tokens;
  if (t.count > 3) return reply(ctx, R.ERROR);
  const noreply = t.count > 1 && lastIsNoreply(t);
  let delay = 0;
  if (t.count !== (noreply ? 2 : 1)) {
    delay = parseI32Trunc(t.buf, t.starts[1]!, t.ends[1]!);
    if (Number.isNaN(delay)) return reply(ctx, noreply ? R.EMPTY : R.BAD_EXPTIME);
  }
  push(ctx, { kind: 'ops', ops: [{ type: 'flush', delay }], format: textFormat(TextCmd.Flush, noreply) });
}

/** verbosity <level> [noreply]: accepted and answered OK (the level is not used). */
function handleVerbosity(ctx: TextContext): void {
  const t = ctx.tokens;
  if (t.count !== 2 && t.count !== 3) return reply(ctx, R.ERROR);
  const noreply = lastIsNoreply(t);
  if (Number.isNaN(parseU32Trunc(t.buf, t.starts[1]!, t.ends[1]!))) {
    return reply(ctx, noreply ? R.EMPTY : R.BAD_FORMAT);
  }
  push(ctx, { kind: 'verbosity', format: textFormat(TextCmd.Verbosity, noreply) });
}

/**
 * stats [group ...]: the server answers; an unknown group gets ERROR as in memcached.
 * `stats detail <on|off|dump>` keeps its argument in the group ("detail on"), the name
 * the binary protocol's stat key uses for the same thing.
 */
function handleStats(ctx: TextContext): void {
  const t = ctx.tokens;
  assert(t.count >= 1);
  let group = t.count > 1 ? t.text(1) : '';
  if (t.count > 2 && t.is(1, CMD.detail)) group += ' ' + t.text(2);
  push(ctx, { kind: 'stats', group, format: textFormat(TextCmd.Stats, false) });
}

/** Limits of memcached's process_memlimit_command, in megabytes. */
const MEMLIMIT_MB_MIN = 8;
const MEMLIMIT_MB_MAX = 1_000_000_000;

/**
 * cache_memlimit <mb> [noreply]: checked as memcached checks it, then refused with
 * memcached's own "unable to adjust" reply: the memory limit of a group is part of its
 * replicated configuration (every replica must evict alike), so one node cannot change
 * it at runtime, and answering OK would claim a change that did not happen.
 */
function handleMemlimit(ctx: TextContext): void {
  const t = ctx.tokens;
  if (t.count !== 2 && t.count !== 3) return reply(ctx, R.ERROR);
  const noreply = lastIsNoreply(t);
  const quiet = (bytes: Buffer): Buffer => (noreply ? R.EMPTY : bytes);
  const mb = parseU32Trunc(t.buf, t.starts[1]!, t.ends[1]!);
  if (Number.isNaN(mb)) return reply(ctx, quiet(R.ERROR));
  if (mb < MEMLIMIT_MB_MIN) return reply(ctx, quiet(R.MEMLIMIT_TOO_SMALL));
  if (mb > MEMLIMIT_MB_MAX) return reply(ctx, quiet(R.MEMLIMIT_NOT_MB));
  reply(ctx, quiet(R.MEMLIMIT_FAILED));
}

/**
 * lru_crawler metadump <classes|all|hash>: an empty dump (END). Items live in many groups,
 * led by different nodes; a node-local dump would be a partial answer. Other lru_crawler
 * subcommands are unknown here (ERROR).
 */
function handleLruCrawler(ctx: TextContext): void {
  const t = ctx.tokens;
  if (t.count === 3 && t.is(1, CMD.metadump)) return reply(ctx, R.END);
  reply(ctx, R.ERROR);
}
