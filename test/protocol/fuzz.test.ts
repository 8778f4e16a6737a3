/**
 * Properties of all three parsers over generated input (fast-check prints the seed and
 * the shrunk counterexample on failure):
 * - splitting a stream at any points gives the same requests as feeding it whole;
 * - random and mutated byte streams never throw, only produce well-formed requests,
 *   encode without throwing, and keep bufferedBytes bounded.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { CacheOp } from '../../src/cache/ops.js';
import { createConnectionParser, encodeReply } from '../../src/protocol/index.js';
import type { ProtocolLimits, Request } from '../../src/protocol/request.js';
import { answer, MiniCache, parseChunks, splitAt } from './harness.js';

/** Small item size so that too-large paths are reached by small inputs. */
const limits: ProtocolLimits = { keyBytesMax: 250, itemBytesMax: 64, lineBytesMax: 2048 };
/** The most a parser may hold: a data block or binary body, plus a line or header. */
const bufferedBytesMax = limits.itemBytesMax + 2 + 255 + limits.keyBytesMax + limits.lineBytesMax;

const keyArb = fc.oneof(
  fc.stringMatching(/^[a-z0-9]{1,12}$/),
  fc.constantFrom('k', 'foo', 'x'.repeat(250), 'x'.repeat(251), 'Zm9v', 'a\tb'),
);
const numArb = fc.oneof(
  fc.integer({ min: -5, max: 100 }).map(String),
  fc.constantFrom('4294967296', '18446744073709551615', '18446744073709551616', 'x', '', '-0', '+7'),
);
const valueArb = fc.oneof(fc.string({ maxLength: 20 }), fc.constant('v'.repeat(70)), fc.constant('a\r\nb'));

/** One text or meta command (sometimes malformed), as a latin1 string. */
const textCommandArb: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom('set', 'add', 'replace', 'append', 'prepend'), keyArb, numArb, numArb, valueArb, fc.boolean(), fc.boolean()).map(
    ([cmd, key, flags, exp, value, noreply, badLen]) =>
      `${cmd} ${key} ${flags} ${exp} ${value.length + (badLen ? 1 : 0)}${noreply ? ' noreply' : ''}\r\n${value}\r\n`,
  ),
  fc.tuple(keyArb, numArb, valueArb).map(([key, cas, value]) => `cas ${key} 0 0 ${value.length} ${cas}\r\n${value}\r\n`),
  fc.tuple(fc.constantFrom('get', 'gets'), fc.array(keyArb, { minLength: 0, maxLength: 4 })).map(([c, ks]) => `${c} ${ks.join(' ')}\r\n`),
  fc.tuple(fc.constantFrom('gat', 'gats'), numArb, fc.array(keyArb, { maxLength: 3 })).map(([c, e, ks]) => `${c} ${e} ${ks.join(' ')}\r\n`),
  fc.tuple(fc.constantFrom('incr', 'decr', 'touch'), keyArb, numArb).map(([c, k, n]) => `${c} ${k} ${n}\r\n`),
  fc.tuple(keyArb, fc.constantFrom('', ' 0', ' noreply', ' 1')).map(([k, x]) => `delete ${k}${x}\n`),
  fc.constantFrom('flush_all\r\n', 'flush_all 10 noreply\r\n', 'version\r\n', 'verbosity 1\r\n', 'stats\r\n', 'stats items\r\n', 'mn\r\n', 'bogus\r\n', '\r\n'),
  fc.tuple(keyArb, fc.array(fc.constantFrom('v', 'k', 'c', 'f', 's', 't', 'h', 'l', 'q', 'u', 'b', 'O12', 'T30', 'N0', 'R5', 'E9', 'C3', 'zz'), { maxLength: 6 })).map(
    ([k, fl]) => `mg ${k} ${fl.join(' ')}\r\n`,
  ),
  fc.tuple(keyArb, valueArb, fc.array(fc.constantFrom('T10', 'F3', 'C5', 'I', 'q', 'k', 'c', 'MA', 'ME', 'Ms', 'MX', 'N5', 'b'), { maxLength: 4 })).map(
    ([k, v, fl]) => `ms ${k} ${v.length} ${fl.join(' ')}\r\n${v}\r\n`,
  ),
  fc.tuple(fc.constantFrom('md', 'ma', 'me'), keyArb, fc.array(fc.constantFrom('q', 'I', 'x', 'T5', 'C1', 'D3', 'J4', 'N0', 'MD', 'v', 't', 'k', 'O1'), { maxLength: 4 })).map(
    ([c, k, fl]) => `${c} ${k} ${fl.join(' ')}\r\n`,
  ),
);

/** One binary request packet (sometimes with inconsistent lengths). */
const binaryPacketArb: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.constantFrom(0x00, 0x01, 0x02, 0x04, 0x05, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0e, 0x10, 0x11, 0x15, 0x17, 0x1b, 0x1c, 0x1d, 0x20, 0x24, 0x40),
    fc.uint8Array({ maxLength: 20 }),
    fc.stringMatching(/^[a-z]{0,6}$/),
    fc.uint8Array({ maxLength: 80 }),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.boolean(),
  )
  .map(([opcode, extras, key, value, opaque, canonicalExtras]) => {
    const ex = canonicalExtras ? Buffer.alloc(extrasFor(opcode)) : Buffer.from(extras);
    const k = Buffer.from(key);
    const h = Buffer.alloc(24);
    h[0] = 0x80;
    h[1] = opcode;
    h.writeUInt16BE(k.length, 2);
    h[4] = ex.length;
    h.writeUInt32BE(ex.length + k.length + value.length, 8);
    h.writeUInt32BE(opaque, 12);
    return Buffer.concat([h, ex, k, Buffer.from(value)]);
  });

function extrasFor(opcode: number): number {
  if (opcode === 0x01 || opcode === 0x02 || opcode === 0x11) return 8;
  if (opcode === 0x05 || opcode === 0x15) return 20;
  if (opcode === 0x1c || opcode === 0x1d || opcode === 0x24 || opcode === 0x1b) return 4;
  return 0;
}

const textStreamArb = fc.array(textCommandArb, { minLength: 1, maxLength: 12 }).map((cs) => Buffer.from(cs.join(''), 'latin1'));
const binaryStreamArb = fc.array(binaryPacketArb, { minLength: 1, maxLength: 10 }).map((ps) => Buffer.concat(ps));
const streamArb = fc.oneof(textStreamArb, binaryStreamArb);
const splitsArb = (len: number) => fc.array(fc.integer({ min: 0, max: Math.max(0, len) }), { maxLength: 12 });

/** A stream with a few bytes flipped, inserted or deleted. */
const mutatedStreamArb = fc
  .tuple(streamArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'delete')), { maxLength: 6 }))
  .map(([buf, edits]) => {
    const bytes = [...buf];
    for (const [pos, byte, kind] of edits) {
      const at = bytes.length === 0 ? 0 : pos % bytes.length;
      if (kind === 'flip') bytes[at] = byte;
      else if (kind === 'insert') bytes.splice(at, 0, byte);
      else bytes.splice(at, 1);
    }
    return Buffer.from(bytes);
  });

const OPS_WITH_KEY = new Set(['get', 'store', 'delete', 'arith', 'touch']);

/** Asserts a request is one of the contract's shapes with sane contents. */
function checkRequest(r: Request): void {
  switch (r.kind) {
    case 'error':
      expect(Buffer.isBuffer(r.reply)).toBe(true);
      expect(typeof r.close).toBe('boolean');
      return;
    case 'ops':
      expect(r.ops.length).toBeGreaterThan(0);
      for (const op of r.ops) checkOp(op);
      return;
    case 'stats':
      expect(typeof r.group).toBe('string');
      return;
    default:
      expect(['version', 'verbosity', 'noop', 'quit']).toContain(r.kind);
  }
}

function checkOp(op: CacheOp): void {
  if (OPS_WITH_KEY.has(op.type)) {
    const key = (op as { key: Buffer }).key;
    expect(Buffer.isBuffer(key)).toBe(true);
    expect(key.length).toBeGreaterThan(0);
    expect(key.length).toBeLessThanOrEqual(limits.keyBytesMax);
  }
  if (op.type === 'store') {
    expect(Buffer.isBuffer(op.value)).toBe(true);
    expect(op.value.length).toBeLessThanOrEqual(limits.itemBytesMax);
    expect(Number.isInteger(op.flags) && op.flags >= 0 && op.flags <= 0xffffffff).toBe(true);
    expect(Number.isInteger(op.exptime)).toBe(true);
  }
  if (op.type === 'arith') expect(op.delta >= 0n && op.delta < 1n << 64n).toBe(true);
}

/** Feeds the stream in the given chunks, checking every request and the buffer bound. */
function feedChecked(buf: Buffer, offsets: number[]): Request[] {
  const parser = createConnectionParser(limits);
  const cache = new MiniCache();
  const out: Request[] = [];
  for (const chunk of splitAt(buf, offsets)) {
    for (const r of parser.feed(chunk)) {
      checkRequest(r);
      if (r.kind !== 'error') encodeReply(r, answer(cache, r));
      out.push(r);
    }
    expect(parser.bufferedBytes).toBeLessThanOrEqual(bufferedBytesMax);
  }
  return out;
}

describe('parser properties', () => {
  test('any split of a stream gives the same requests as the whole stream', () => {
    fc.assert(
      fc.property(streamArb.chain((buf) => fc.tuple(fc.constant(buf), splitsArb(buf.length))), ([buf, offsets]) => {
        expect(parseChunks(splitAt(buf, offsets), limits)).toEqual(parseChunks([buf], limits));
      }),
      { numRuns: 400 },
    );
  });

  test('mutated streams: no throw, well-formed requests, bounded buffering, split-invariant', () => {
    fc.assert(
      fc.property(mutatedStreamArb.chain((buf) => fc.tuple(fc.constant(buf), splitsArb(buf.length))), ([buf, offsets]) => {
        expect(feedChecked(buf, offsets)).toEqual(feedChecked(buf, []));
      }),
      { numRuns: 400 },
    );
  });

  test('random bytes (text-first and binary-first): no throw, well-formed, bounded', () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.concat([Buffer.from([0x80]), b])),
      fc.array(fc.constantFrom('get ', 'set ', 'ms ', 'mg ', ' ', '\r\n', '\n', 'k', '1', '-', 'noreply', 'v', 'q', '\x80'), { maxLength: 200 }).map((a) =>
        Buffer.from(a.join(''), 'latin1'),
      ),
    );
    fc.assert(
      fc.property(bytesArb.chain((b) => fc.tuple(fc.constant(Buffer.from(b)), splitsArb(b.length))), ([buf, offsets]) => {
        expect(feedChecked(buf, offsets)).toEqual(feedChecked(buf, []));
      }),
      { numRuns: 500 },
    );
  });

  test('an endless line without newline is cut off at lineBytesMax', () => {
    const parser = createConnectionParser(limits);
    let closed = false;
    for (let i = 0; i < 100 && !closed; i++) {
      for (const r of parser.feed(Buffer.alloc(100, 0x78))) if (r.kind === 'error' && r.close) closed = true;
      expect(parser.bufferedBytes).toBeLessThanOrEqual(limits.lineBytesMax + 100);
    }
    expect(closed).toBe(true);
  });
});
