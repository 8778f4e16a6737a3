/**
 * Generated client-port inputs for the fuzzer: memcached text, meta and binary requests,
 * valid, malformed (mutated bytes, bad numbers, dropped or repeated tokens), truncated, and
 * plain garbage. Every batch is a pure function of (seed, batch index), so a run replays
 * from its seed whatever the scheduling of connections.
 *
 * Two kinds of request are never generated, because they would wipe the well-behaved
 * client's acknowledged writes that the run checks afterwards: `flush_all` (text) and
 * Flush/FlushQ (binary). `sanitize` removes them even where mutation or garbage forms them.
 */
import { mulberry32 } from '../../src/raft/prng.js';

/** A seeded source of choices. */
export class Gen {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed >>> 0);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** The seed of batch `index` of a run seeded `seed` (a different stream per target). */
export function batchSeed(seed: number, stream: number, index: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/** Protocol families of a batch. */
export type Family = 'text' | 'meta' | 'binary' | 'mixed';

/** A fuzz key: mostly from a small pool (so stores and reads meet), sometimes odd. */
function key(g: Gen): string {
  const r = g.float();
  if (r < 0.85) return `fz${g.int(500)}`;
  if (r < 0.9) return 'fz' + 'k'.repeat(g.int(300)); // around the 250-byte limit
  if (r < 0.95) return `fz:${g.int(1e9)}:${'x'.repeat(g.int(40))}`;
  return '';
}

function value(g: Gen): Buffer {
  const r = g.float();
  const n = r < 0.7 ? g.int(64) : r < 0.95 ? g.int(4096) : g.int(200_000);
  return Buffer.alloc(n, 0x61 + g.int(26));
}

function num(g: Gen): string {
  return g.pick(['0', '1', '10', '-1', '4294967295', '18446744073709551615', '18446744073709551616', '99999999999999999999', 'abc', '1e3', '', ' 7', String(g.int(1e6))]);
}

function exptime(g: Gen): string {
  return g.chance(0.8) ? g.pick(['0', '0', '100', '3600']) : num(g);
}

const textStores = ['set', 'add', 'replace', 'append', 'prepend', 'cas'];

/** One valid-looking text command (the data block included). */
function textCommand(g: Gen): Buffer {
  const k = key(g);
  const noreply = g.chance(0.1) ? ' noreply' : '';
  switch (g.int(12)) {
    case 0:
    case 1:
    case 2: {
      const cmd = g.pick(textStores);
      const v = value(g);
      const len = g.chance(0.9) ? String(v.length) : num(g);
      const cas = cmd === 'cas' ? ` ${g.chance(0.5) ? g.int(1000) : num(g)}` : '';
      return Buffer.concat([Buffer.from(`${cmd} ${k} ${g.int(70000)} ${exptime(g)} ${len}${cas}${noreply}\r\n`), v, Buffer.from('\r\n')]);
    }
    case 3:
    case 4: {
      const keys = Array.from({ length: 1 + g.int(g.chance(0.1) ? 200 : 5) }, () => key(g)).join(' ');
      return Buffer.from(`${g.pick(['get', 'gets'])} ${keys}\r\n`);
    }
    case 5:
      return Buffer.from(`${g.pick(['gat', 'gats'])} ${exptime(g)} ${key(g)} ${key(g)}\r\n`);
    case 6:
      return Buffer.from(`delete ${k}${g.chance(0.1) ? ' 0' : ''}${noreply}\r\n`);
    case 7:
      return Buffer.from(`${g.pick(['incr', 'decr'])} ${k} ${num(g)}${noreply}\r\n`);
    case 8:
      return Buffer.from(`touch ${k} ${exptime(g)}${noreply}\r\n`);
    case 9:
      return Buffer.from(g.pick(['version\r\n', 'stats\r\n', 'stats settings\r\n', 'stats items\r\n', 'stats slabs\r\n', 'stats raft\r\n', 'verbosity 1\r\n', 'stats detail dump\r\n']));
    case 10:
      return Buffer.from(g.pick(['cache_memlimit 100\r\n', 'lru_crawler metadump all\r\n', 'bogus command\r\n', '\r\n', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'quit\r\n']));
    default:
      return Buffer.from(`set ${k} 0 0 ${g.pick(['-1', '4294967295', '1048577', 'x'])}\r\n`);
  }
}

const metaFlags = ['v', 'f', 't', 'c', 'k', 's', 'h', 'l', 'q', 'O123', 'T10', 'N5', 'R3', 'E77', 'I', 'MS', 'ME', 'MA', 'MP', 'MR', 'F9', 'C1', 'J5', 'D3', 'MI', 'MD', 'b', 'x', 'zz', 'T-1', 'N'];

/** One valid-looking meta command. */
function metaCommand(g: Gen): Buffer {
  const k = key(g);
  const flags = Array.from({ length: g.int(6) }, () => g.pick(metaFlags)).join(' ');
  switch (g.int(6)) {
    case 0:
    case 1: {
      const v = value(g);
      const len = g.chance(0.9) ? String(v.length) : num(g);
      return Buffer.concat([Buffer.from(`ms ${k} ${len} ${flags}\r\n`), v, Buffer.from('\r\n')]);
    }
    case 2:
      return Buffer.from(`mg ${k} ${flags}\r\n`);
    case 3:
      return Buffer.from(`md ${k} ${flags}\r\n`);
    case 4:
      return Buffer.from(`ma ${k} ${flags}\r\n`);
    default:
      return Buffer.from(g.pick(['mn\r\n', `me ${k}\r\n`, 'mz\r\n', `mg\r\n`, `ms ${k}\r\n`]));
  }
}

/** Binary opcodes generated (Flush 0x08 and FlushQ 0x18 excluded: see the module doc). */
const binaryOpcodes = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
  0x14, 0x15, 0x16, 0x17, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x20, 0x21, 0x22, 0x23, 0x24, 0x30, 0xff,
];

/** Extras a binary opcode takes, by its low 5 bits' meaning. */
function binaryExtras(g: Gen, opcode: number): Buffer {
  if ([0x01, 0x02, 0x03, 0x11, 0x12, 0x13].includes(opcode)) return g.bytes(8); // flags, exptime
  if ([0x05, 0x06, 0x15, 0x16].includes(opcode)) return g.bytes(20); // delta, initial, exptime
  if ([0x1c, 0x1d, 0x1e, 0x23, 0x24, 0x1b].includes(opcode)) return g.bytes(4);
  return Buffer.alloc(0);
}

/** One binary request, its header fields usually consistent. */
function binaryCommand(g: Gen): Buffer {
  const opcode = g.pick(binaryOpcodes);
  const k = Buffer.from(key(g));
  const extras = g.chance(0.9) ? binaryExtras(g, opcode) : g.bytes(g.int(30));
  const v = [0x01, 0x02, 0x03, 0x0e, 0x0f, 0x11, 0x12, 0x13, 0x19, 0x1a, 0x21, 0x22].includes(opcode) ? value(g) : Buffer.alloc(0);
  const header = Buffer.alloc(24);
  header[0] = 0x80;
  header[1] = opcode;
  header.writeUInt16BE(k.length, 2);
  header[4] = extras.length;
  header[5] = g.chance(0.95) ? 0 : g.int(256); // data type
  header.writeUInt32BE(g.chance(0.95) ? extras.length + k.length + v.length : g.int(2 ** 32), 8);
  header.writeUInt32BE(g.int(2 ** 32), 12); // opaque
  if (g.chance(0.1)) header.writeBigUInt64BE(BigInt(g.int(2 ** 31)), 16); // cas
  return Buffer.concat([header, extras, k, v]);
}

/** Damages a valid input: byte flips, a cut, a repeat, or a dropped range. */
function mutate(g: Gen, b: Buffer): Buffer {
  const out = Buffer.from(b);
  switch (g.int(4)) {
    case 0:
      for (let i = 0, n = 1 + g.int(4); i < n && out.length > 0; i++) out[g.int(out.length)] = g.int(256);
      return out;
    case 1:
      return out.subarray(0, g.int(out.length + 1));
    case 2: {
      const at = g.int(out.length + 1);
      return Buffer.concat([out.subarray(0, at), out.subarray(g.int(at + 1))]);
    }
    default: {
      const at = g.int(out.length + 1);
      return Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + g.int(8)))]);
    }
  }
}

/** Counts of what was generated, by kind. */
export interface InputCounts {
  valid: number;
  malformed: number;
  truncated: number;
  garbage: number;
}

/** One input of `family`; `counts` records its kind. */
function input(g: Gen, family: Exclude<Family, 'mixed'>, counts: InputCounts): Buffer {
  const valid = family === 'text' ? textCommand(g) : family === 'meta' ? metaCommand(g) : binaryCommand(g);
  const r = g.float();
  if (r < 0.5) {
    counts.valid++;
    return valid;
  }
  if (r < 0.8) {
    counts.malformed++;
    return mutate(g, valid);
  }
  if (r < 0.92) {
    counts.truncated++;
    return valid.subarray(0, g.int(valid.length));
  }
  counts.garbage++;
  return g.bytes(1 + g.int(g.chance(0.05) ? 70_000 : 300));
}

/** A batch: the inputs one connection sends, and the points its stream is split at. */
export interface Batch {
  family: Family;
  inputs: number;
  stream: Buffer;
  /** Increasing offsets inside `stream` where a write ends. */
  cuts: number[];
}

/** Batch `index` of a run: 1..40 inputs of one family (or mixed), sanitized, split at random points. */
export function makeBatch(seed: number, stream: number, index: number, inputsLeft: number, counts: InputCounts): Batch {
  const g = new Gen(batchSeed(seed, stream, index));
  const family: Family = g.pick(['text', 'text', 'meta', 'meta', 'binary', 'binary', 'mixed']);
  const n = Math.min(inputsLeft, 1 + g.int(40));
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const f = family === 'mixed' ? g.pick(['text', 'meta', 'binary'] as const) : family;
    parts.push(input(g, f, counts));
  }
  const buf = sanitize(Buffer.concat(parts));
  const cuts: number[] = [];
  const pieces = g.chance(0.3) ? 1 : 1 + g.int(Math.min(20, buf.length + 1));
  for (let i = 1; i < pieces; i++) cuts.push(g.int(buf.length + 1));
  cuts.sort((a, b) => a - b);
  cuts.push(buf.length);
  return { family, inputs: n, stream: buf, cuts };
}

const flushText = Buffer.from('flush_all');

/** Removes flush_all and binary Flush/FlushQ wherever they appear (see the module doc). */
export function sanitize(buf: Buffer): Buffer {
  for (let at = buf.indexOf(flushText); at >= 0; at = buf.indexOf(flushText, at + 1)) buf[at + 2] = 0x78; // "flxsh_all"
  for (let i = 0; i + 1 < buf.length; i++) {
    if (buf[i] === 0x80 && (buf[i + 1]! & 0xef) === 0x08) buf[i + 1] = 0x0a; // Flush/FlushQ -> Noop
  }
  return buf;
}
