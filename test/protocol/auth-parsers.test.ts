/**
 * The authentication front of the connection parser (ascii-auth-parser.ts, the SASL part
 * of binary-parser.ts): results do not depend on how the bytes are split.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkSaslPlain } from '../../src/protocol/auth.js';
import { createConnectionParser } from '../../src/protocol/connection-parser.js';
import { defaultProtocolLimits, type Request } from '../../src/protocol/request.js';

const check = (user: Buffer, password: Buffer): boolean => String(user) === 'foo' && String(password) === 'bar';

/** A compact view of what the parser produced: ready replies as text, else the request kind and first op. */
function describeRequests(requests: Request[]): string[] {
  return requests.map((r) => (r.kind === 'error' ? `reply:${String(r.reply)}` : r.kind === 'ops' ? `ops:${r.ops[0]!.type}` : r.kind));
}

function feedSplit(input: Buffer, cuts: number[]): string[] {
  const parser = createConnectionParser(defaultProtocolLimits, check);
  const out: Request[] = [];
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    out.push(...parser.feed(input.subarray(at, cut)));
    at = cut;
  }
  out.push(...parser.feed(input.subarray(at)));
  return describeRequests(out);
}

describe('ASCII auth parser', () => {
  const input = Buffer.from('get k\r\nset a 0 0 7\r\nfoo baX\r\nset a 0 0 7\r\nfoo bar\r\nget k\r\nset k 0 0 1\r\nv\r\n');
  const expected = [
    'reply:CLIENT_ERROR unauthenticated\r\n',
    'reply:CLIENT_ERROR authentication failure\r\n',
    'reply:STORED\r\n',
    'ops:get',
    'ops:store',
  ];

  it('answers the same whatever the split points', () => {
    expect(feedSplit(input, [])).toEqual(expected);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: input.length }), { maxLength: 8 }), (cuts) => {
        expect(feedSplit(input, cuts)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('closes on junk: 2048 bytes without a newline', () => {
    const parser = createConnectionParser(defaultProtocolLimits, check);
    const out = parser.feed(Buffer.alloc(2049, 0x61));
    expect(out).toEqual([{ kind: 'error', reply: Buffer.alloc(0), close: true }]);
    expect(parser.feed(Buffer.from('set a 0 0 7\r\nfoo bar\r\n'))).toEqual([]);
  });

  it('without credentials, a text connection is an ordinary one', () => {
    const parser = createConnectionParser(defaultProtocolLimits);
    expect(describeRequests(parser.feed(Buffer.from('get k\r\n')))).toEqual(['ops:get']);
  });
});

describe('SASL PLAIN', () => {
  it('checks authzid NUL authcid NUL password', () => {
    expect(checkSaslPlain(Buffer.from('\0foo\0bar'), check)).toBe(true);
    expect(checkSaslPlain(Buffer.from('foo\0foo\0bar'), check)).toBe(true);
    expect(checkSaslPlain(Buffer.from('admin\0foo\0bar'), check)).toBe(false);
    expect(checkSaslPlain(Buffer.from('\0foo\0ba'), check)).toBe(false);
    expect(checkSaslPlain(Buffer.from('foo\0bar'), check)).toBe(false);
    expect(checkSaslPlain(Buffer.from('\0foo\0bar\0'), check)).toBe(false);
  });

  it('without credentials the SASL opcodes are unknown commands (memcached without -S)', () => {
    const parser = createConnectionParser(defaultProtocolLimits);
    const header = Buffer.alloc(24);
    header[0] = 0x80;
    header[1] = 0x20;
    const [reply] = parser.feed(header);
    expect(reply?.kind).toBe('error');
    expect((reply as { reply: Buffer }).reply.readUInt16BE(6)).toBe(0x81);
  });
});
