/**
 * Test harness for the protocol layer: feeds bytes whole, byte by byte and in random
 * splits (all must give the same requests), and a minimal in-memory cache that answers
 * requests so that whole transcripts (bytes in -> bytes out) can be compared with what
 * real memcached 1.6.18 sent for the same input.
 */
import { mulberry32 } from '../../src/raft/prng.js';
import { expect } from 'vitest';
import type { CacheOp, CacheResult, ItemView } from '../../src/cache/ops.js';
import { createConnectionParser, encodeReply } from '../../src/protocol/index.js';
import { defaultProtocolLimits, type Answer, type ProtocolLimits, type Request } from '../../src/protocol/request.js';

/** Input as a latin1 string or bytes. */
export type Input = string | Buffer;

export const toBuf = (input: Input): Buffer => (typeof input === 'string' ? Buffer.from(input, 'latin1') : input);

/** Parses `input` fed in the given chunks. */
export function parseChunks(chunks: Buffer[], limits: ProtocolLimits = defaultProtocolLimits): Request[] {
  const parser = createConnectionParser(limits);
  const out: Request[] = [];
  for (const c of chunks) {
    for (const r of parser.feed(c)) {
      out.push(r);
      if (r.kind === 'error' && r.close) return out;
    }
  }
  return out;
}

/** Splits buf at the given (sorted, deduplicated) offsets. */
export function splitAt(buf: Buffer, offsets: number[]): Buffer[] {
  const cuts = [...new Set(offsets.filter((o) => o > 0 && o < buf.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    chunks.push(buf.subarray(prev, c));
    prev = c;
  }
  chunks.push(buf.subarray(prev));
  return chunks;
}

/** A small deterministic PRNG for split points in table tests. */
export const prng = mulberry32;

/**
 * Parses `input` whole, byte by byte and in a few seeded random splits, asserts all
 * agree, and returns the requests.
 */
export function parse(input: Input, limits: ProtocolLimits = defaultProtocolLimits): Request[] {
  const buf = toBuf(input);
  const whole = parseChunks([buf], limits);
  const bytewise = parseChunks(
    Array.from({ length: buf.length }, (_, i) => buf.subarray(i, i + 1)),
    limits,
  );
  expect(bytewise).toEqual(whole);
  const rnd = prng(buf.length);
  for (let round = 0; round < 3; round++) {
    const offsets = Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => Math.floor(rnd() * buf.length));
    expect(parseChunks(splitAt(buf, offsets), limits), `splits ${offsets.join(',')}`).toEqual(whole);
  }
  return whole;
}

interface MiniItem {
  value: Buffer;
  flags: number;
  cas: number;
  expired: boolean;
}

const U64_MASK = (1n << 64n) - 1n;

/**
 * A deliberately small cache, enough to answer transcripts: no time (a negative exptime
 * means expired), CAS from a counter. Not the project's cache; only a stand-in executor.
 */
export class MiniCache {
  private items = new Map<string, MiniItem>();
  private nextCas = 1;

  execute(ops: CacheOp[]): CacheResult[] {
    return ops.map((op) => this.apply(op));
  }

  private view(key: Buffer, it: MiniItem): ItemView {
    return { key, value: it.value, flags: it.flags, cas: it.cas, ttlSec: -1, lastAccessSec: 0, fetched: false, stale: false };
  }

  private live(key: Buffer): MiniItem | undefined {
    const it = this.items.get(key.toString('latin1'));
    return it && !it.expired ? it : undefined;
  }

  private put(key: Buffer, value: Buffer, flags: number, exptime: number): number {
    const cas = this.nextCas++;
    this.items.set(key.toString('latin1'), { value, flags, cas, expired: exptime < 0 });
    return cas;
  }

  private apply(op: CacheOp): CacheResult {
    switch (op.type) {
      case 'get': {
        const it = this.live(op.key);
        if (!it) return { kind: 'miss' };
        if (op.touch !== undefined) it.expired = op.touch < 0;
        return { kind: 'hit', item: this.view(op.key, it), win: null };
      }
      case 'store':
        return this.store(op);
      case 'delete': {
        const it = this.live(op.key);
        if (!it) return { kind: 'not_found' };
        if (op.cas !== undefined && op.cas !== it.cas) return { kind: 'exists' };
        this.items.delete(op.key.toString('latin1'));
        return { kind: 'deleted' };
      }
      case 'arith':
        return this.arith(op);
      case 'touch': {
        const it = this.live(op.key);
        if (!it) return { kind: 'not_found' };
        it.expired = op.exptime < 0;
        return { kind: 'touched', item: this.view(op.key, it) };
      }
      case 'flush':
        this.items.clear();
        return { kind: 'ok' };
      default:
        return { kind: 'ok' };
    }
  }

  private store(op: Extract<CacheOp, { type: 'store' }>): CacheResult {
    const it = this.live(op.key);
    switch (op.mode) {
      case 'add':
        if (it) return { kind: 'not_stored' };
        break;
      case 'replace':
        if (!it) return { kind: 'not_stored' };
        break;
      case 'cas':
        if (!it) return { kind: 'not_found' };
        if (it.cas !== op.cas) return { kind: 'exists' };
        break;
      case 'append':
      case 'prepend': {
        if (!it) return { kind: 'not_stored' };
        const value = op.mode === 'append' ? Buffer.concat([it.value, op.value]) : Buffer.concat([op.value, it.value]);
        const cas = this.put(op.key, value, it.flags, 0);
        return { kind: 'stored', cas, size: value.length };
      }
      default:
        if (op.cas !== undefined && (!it || it.cas !== op.cas)) return it ? { kind: 'exists' } : { kind: 'not_found' };
    }
    const cas = this.put(op.key, op.value, op.flags, op.exptime);
    return { kind: 'stored', cas, size: op.value.length };
  }

  private arith(op: Extract<CacheOp, { type: 'arith' }>): CacheResult {
    const it = this.live(op.key);
    if (!it) {
      if (op.vivify === undefined) return { kind: 'not_found' };
      const value = op.initial ?? 0n;
      const cas = this.put(op.key, Buffer.from(value.toString()), 0, op.vivify);
      return { kind: 'number', value, cas, item: this.view(op.key, this.live(op.key)!) };
    }
    const text = it.value.toString('latin1');
    if (!/^\d+$/.test(text) || BigInt(text) > U64_MASK) {
      return { kind: 'client_error', message: 'cannot increment or decrement non-numeric value' };
    }
    const cur = BigInt(text);
    const value = op.incr ? (cur + op.delta) & U64_MASK : cur > op.delta ? cur - op.delta : 0n;
    const cas = this.put(op.key, Buffer.from(value.toString()), it.flags, 0);
    return { kind: 'number', value, cas, item: this.view(op.key, this.live(op.key)!) };
  }
}

/** What MemraftServer.stats answers for the groups the protocol tests use. */
function statsOf(group: string): Array<[string, string]> | null {
  switch (group) {
    case '':
      return [['pid', '1'], ['curr_items', '0']];
    case 'reset':
    case 'detail on':
    case 'detail off':
    case 'detail dump':
      return [];
    case 'sizes':
      return [['sizes_status', 'disabled']];
    default:
      return null;
  }
}

/** Answers a request the way a server would: ops through the cache, the rest directly. */
export function answer(cache: MiniCache, request: Exclude<Request, { kind: 'error' }>): Answer {
  switch (request.kind) {
    case 'ops':
      return { kind: 'ops', results: cache.execute(request.ops) };
    case 'version':
      return { kind: 'version', version: '1.6.18' };
    case 'stats':
      return { kind: 'stats', stats: statsOf(request.group) };
    case 'verbosity':
      return { kind: 'ok' };
    case 'noop':
      return { kind: 'noop' };
    case 'quit':
      return { kind: 'quit' };
  }
}

/**
 * Runs a whole transcript: parse (checking splits), answer, encode. Returns the reply
 * bytes as latin1, with "<CLOSED>" appended when the connection would be closed.
 */
export function transcript(input: Input, limits: ProtocolLimits = defaultProtocolLimits, cache = new MiniCache()): string {
  const parts: Buffer[] = [];
  let closed = false;
  for (const r of parse(input, limits)) {
    if (r.kind === 'error') {
      parts.push(r.reply);
      if (r.close) closed = true;
      continue;
    }
    const bytes = encodeReply(r, answer(cache, r));
    if (bytes !== null) parts.push(bytes);
    if (r.kind === 'quit') closed = true;
    if (closed) break;
  }
  return Buffer.concat(parts).toString('latin1') + (closed ? '<CLOSED>' : '');
}
