/**
 * Parser and encoder throughput (not part of `npm test`): `npx vitest bench --run test/protocol`.
 * Each iteration parses a pipelined batch of 100 commands and encodes their replies.
 */
import { bench, describe } from 'vitest';
import type { CacheResult, ItemView } from '../../src/cache/ops.js';
import { createConnectionParser, encodeReply } from '../../src/protocol/index.js';
import { defaultProtocolLimits, type Request } from '../../src/protocol/request.js';

const BATCH = 100;
const value = Buffer.alloc(100, 0x61);
const item: ItemView = { key: Buffer.from('key:000042'), value, flags: 0, cas: 7, ttlSec: -1, lastAccessSec: 0, fetched: true, stale: false };
const hit: CacheResult = { kind: 'hit', item, win: null };
const stored: CacheResult = { kind: 'stored', cas: 8, size: 100 };

const textGets = Buffer.from(Array.from({ length: BATCH }, (_, i) => `get key:${String(i).padStart(6, '0')}\r\n`).join(''));
const textSets = Buffer.from(
  Array.from({ length: BATCH }, (_, i) => `set key:${String(i).padStart(6, '0')} 0 0 100\r\n${value.toString()}\r\n`).join(''),
);
const metaGets = Buffer.from(Array.from({ length: BATCH }, (_, i) => `mg key:${String(i).padStart(6, '0')} v f c k\r\n`).join(''));

function binaryGet(i: number): Buffer {
  const key = Buffer.from(`key:${String(i).padStart(6, '0')}`);
  const h = Buffer.alloc(24);
  h[0] = 0x80;
  h.writeUInt16BE(key.length, 2);
  h.writeUInt32BE(key.length, 8);
  h.writeUInt32BE(i, 12);
  return Buffer.concat([h, key]);
}
const binaryGets = Buffer.concat(Array.from({ length: BATCH }, (_, i) => binaryGet(i)));

function run(input: Buffer, result: CacheResult): void {
  const parser = createConnectionParser(defaultProtocolLimits);
  const requests: Request[] = parser.feed(input);
  for (const r of requests) encodeReply(r, { kind: 'ops', results: [result] });
}

describe(`parse + encode, ${BATCH} pipelined commands per iteration`, () => {
  bench('text get', () => run(textGets, hit));
  bench('text set 100 B', () => run(textSets, stored));
  bench('meta mg v f c k', () => run(metaGets, hit));
  bench('binary get', () => run(binaryGets, hit));
});
