/**
 * Binary protocol: transcripts compared with memcached 1.6.18 (hex), request decoding,
 * header checks, quiet semantics and response encoding.
 */
import { describe, expect, test } from 'vitest';
import type { CacheResult, ItemView } from '../../src/cache/ops.js';
import { encodeReply } from '../../src/protocol/index.js';
import { defaultProtocolLimits, type Request } from '../../src/protocol/request.js';
import { parse, transcript } from './harness.js';

/**
 * [name, request bytes, reply bytes] in hex, as memcached 1.6.18 answered them on a
 * fresh connection after flush_all ("<CLOSED>": it closed the connection).
 */
const OBSERVED: Array<[string, string, string]> = [
  ["get miss", "8000000500000000000000050000000700000000000000006e6f6b6579",
   "8100000000000001000000090000000700000000000000004e6f7420666f756e64"],
  ["getq miss then noop", "8009000500000000000000050000000700000000000000006e6f6b6579800a00000000000000000000000000080000000000000000",
   "810a00000000000000000000000000080000000000000000"],
  ["getk miss, getkq miss", "800c000500000000000000050000000100000000000000006e6f6b6579800d000500000000000000050000000200000000000000006e6f6b6579800a00000000000000000000000000030000000000000000",
   "810c000500000001000000050000000100000000000000006e6f6b6579810a00000000000000000000000000030000000000000000"],
  ["add/replace/append failures", "80010001080000000000000a00000000000000000000000000000000000000006b7680020001080000000000000a00000002000000000000000000000000000000006b7680030005080000000000000e00000003000000000000000000000000000000006e6f6b657976800e000500000000000000060000000400000000000000006e6f6b65797880120001080000000000000a00000005000000000000000000000000000000006b76",
   "8101000000000000000000000000000000000000000035b2810200000000000200000014000000020000000000000000446174612065786973747320666f72206b65792e8103000000000001000000090000000300000000000000004e6f7420666f756e64810e0000000000050000000b0000000400000000000000004e6f742073746f7265642e811200000000000200000014000000050000000000000000446174612065786973747320666f72206b65792e"],
  ["delete hit, miss, quiet miss", "80010001080000000000000a00000001000000000000000000000000000000006b768004000100000000000000010000000200000000000000006b8004000100000000000000010000000300000000000000006b8014000100000000000000010000000400000000000000006b800a00000000000000000000000000050000000000000000",
   "8101000000000000000000000000000100000000000035b48104000000000000000000000000000200000000000000008104000000000001000000090000000300000000000000004e6f7420666f756e648114000000000001000000090000000400000000000000004e6f7420666f756e64810a00000000000000000000000000050000000000000000"],
  ["incr non-numeric, no-create miss", "80010001080000000000000b000000010000000000000000000000000000000073616280050001140000000000001500000002000000000000000000000000000000010000000000000000000000007380160001140000000000001500000003000000000000000000000000000000010000000000000000000000007380050003140000000000001700000004000000000000000000000000000000050000000000000064ffffffff636e74",
   "8101000000000000000000000000000100000000000035b681050000000000060000002e0000000200000000000000004e6f6e2d6e756d65726963207365727665722d736964652076616c756520666f7220696e6372206f72206465637281160000000000060000002e0000000300000000000000004e6f6e2d6e756d65726963207365727665722d736964652076616c756520666f7220696e6372206f7220646563728105000000000001000000090000000400000000000000004e6f7420666f756e64"],
  ["bad magic after valid", "800a00000000000000000000000000010000000000000000000a00000000000000000000000000000000000000000000800a00000000000000000000000000030000000000000000",
   "810a00000000000000000000000000010000000000000000<CLOSED>"],
  ["get with extras", "800000010400000000000005000000010000000000000000616263646b800a00000000000000000000000000000000000000000000",
   "810000000000000400000011000000010000000000000000496e76616c696420617267756d656e7473<CLOSED>"],
  ["key too long", "800000fb00000000000000fb0000000100000000000000006b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b800a00000000000000000000000000000000000000000000",
   "810000000000000400000011000000010000000000000000496e76616c696420617267756d656e7473<CLOSED>"],
  ["set without extras", "8001000100000000000000020000000100000000000000006b76800a00000000000000000000000000000000000000000000",
   "810100000000000400000011000000010000000000000000496e76616c696420617267756d656e7473<CLOSED>"],
  ["incr without extras", "800500030000000000000003000000010000000000000000636e74",
   "810500000000000400000011000000010000000000000000496e76616c696420617267756d656e7473<CLOSED>"],
  ["noop with body", "800a00000000000000000003000000010000000000000000616263800a00000000000000000000000000020000000000000000",
   "810a00000000000400000011000000010000000000000000496e76616c696420617267756d656e7473<CLOSED>"],
  ["huge bodylen get", "800000010000000005f5e1000000000100000000000000006b",
   "810000000000000400000011000000010000000000000000496e76616c696420617267756d656e7473<CLOSED>"],
  ["unknown opcode, sasl list mechs", "804000000000000000000000000000010000000000000000802000000000000000000000000000020000000000000000800a00000000000000000000000000030000000000000000",
   "81400000000000810000000f000000010000000000000000556e6b6e6f776e20636f6d6d616e6481200000000000810000000f000000020000000000000000556e6b6e6f776e20636f6d6d616e64810a00000000000000000000000000030000000000000000"],
  ["quit", "800700000000000000000000000000010000000000000000800a00000000000000000000000000020000000000000000",
   "810700000000000000000000000000010000000000000000<CLOSED>"],
  ["quitq", "801700000000000000000000000000010000000000000000800a00000000000000000000000000020000000000000000",
   "<CLOSED>"],
  ["flush, flushq, flush delay", "8008000000000000000000000000000300000000000000008018000000000000000000000000000500000000000000008008000004000000000000040000000400000000000000000000000a800a00000000000000000000000000060000000000000000",
   "810800000000000000000000000000030000000000000000810800000000000000000000000000040000000000000000810a00000000000000000000000000060000000000000000"],
  ["stat unknown group", "801000030000000000000003000000010000000000000000666f6f800a00000000000000000000000000020000000000000000",
   "8110000000000001000000090000000100000000000000004e6f7420666f756e64810a00000000000000000000000000020000000000000000"],
  ["version", "800b00000000000000000000000000010000000000000000",
   "810b00000000000000000006000000010000000000000000312e362e3138"],];

/** Zeroes the CAS field of every response packet: memcached's CAS counter is global. */
function zeroCas(hex: string): string {
  const buf = Buffer.from(hex, 'hex');
  let at = 0;
  while (at + 24 <= buf.length) {
    buf.fill(0, at + 16, at + 24);
    at += 24 + buf.readUInt32BE(at + 8);
  }
  return buf.toString('hex');
}

function binTranscript(hex: string, limits = defaultProtocolLimits): string {
  const out = transcript(Buffer.from(hex, 'hex'), limits);
  const closed = out.endsWith('<CLOSED>');
  const bytes = Buffer.from(closed ? out.slice(0, -'<CLOSED>'.length) : out, 'latin1');
  return zeroCas(bytes.toString('hex')) + (closed ? '<CLOSED>' : '');
}

describe('binary transcripts match memcached 1.6.18', () => {
  test.each(OBSERVED)('%s', (_name, input, expected) => {
    const closed = expected.endsWith('<CLOSED>');
    const want = zeroCas(closed ? expected.slice(0, -8) : expected) + (closed ? '<CLOSED>' : '');
    expect(binTranscript(input)).toBe(want);
  });
});

/** A request packet. */
function req(opcode: number, o: { key?: string; extras?: Buffer; value?: Buffer; opaque?: number; cas?: bigint; bodyBytes?: number } = {}): Buffer {
  const key = Buffer.from(o.key ?? '', 'latin1');
  const extras = o.extras ?? Buffer.alloc(0);
  const value = o.value ?? Buffer.alloc(0);
  const h = Buffer.alloc(24);
  h[0] = 0x80;
  h[1] = opcode;
  h.writeUInt16BE(key.length, 2);
  h[4] = extras.length;
  h.writeUInt32BE(o.bodyBytes ?? extras.length + key.length + value.length, 8);
  h.writeUInt32BE(o.opaque ?? 0, 12);
  h.writeBigUInt64BE(o.cas ?? 0n, 16);
  return Buffer.concat([h, extras, key, value]);
}

const u32s = (...xs: number[]): Buffer => Buffer.concat(xs.map((x) => { const b = Buffer.alloc(4); b.writeUInt32BE(x); return b; }));
const arithExtras = (delta: bigint, initial: bigint, exptime: number): Buffer => {
  const b = Buffer.alloc(20);
  b.writeBigUInt64BE(delta, 0);
  b.writeBigUInt64BE(initial, 8);
  b.writeUInt32BE(exptime, 16);
  return b;
};

describe('binary requests', () => {
  test('decodes every implemented opcode into ops', () => {
    const input = Buffer.concat([
      req(0x00, { key: 'a' }),
      req(0x0d, { key: 'b' }),
      req(0x01, { key: 'k', extras: u32s(7, 100), value: Buffer.from('val') }),
      req(0x12, { key: 'k', extras: u32s(0, 0), value: Buffer.from('v'), cas: 42n }),
      req(0x0e, { key: 'k', value: Buffer.from('+') }),
      req(0x14, { key: 'k', cas: 9n }),
      req(0x05, { key: 'n', extras: arithExtras(5n, 100n, 0) }),
      req(0x16, { key: 'n', extras: arithExtras(1n, 0n, 0xffffffff) }),
      req(0x1c, { key: 't', extras: u32s(30) }),
      req(0x24, { key: 't', extras: u32s(60) }),
      req(0x08, { extras: u32s(10) }),
      req(0x01, { key: 'c', extras: u32s(0, 0), value: Buffer.from('x'), cas: 0xffffffffffffffffn }),
    ]);
    const key = (s: string) => Buffer.from(s);
    expect(parse(input).map((r) => (r.kind === 'ops' ? r.ops[0] : r.kind))).toEqual([
      { type: 'get', key: key('a') },
      { type: 'get', key: key('b') },
      { type: 'store', mode: 'set', key: key('k'), flags: 7, exptime: 100, value: key('val') },
      { type: 'store', mode: 'cas', key: key('k'), flags: 0, exptime: 0, value: key('v'), cas: 42 },
      { type: 'store', mode: 'append', key: key('k'), flags: 0, exptime: 0, value: key('+') },
      { type: 'delete', key: key('k'), cas: 9 },
      { type: 'arith', key: key('n'), incr: true, delta: 5n, vivify: 0, initial: 100n },
      { type: 'arith', key: key('n'), incr: false, delta: 1n },
      { type: 'touch', key: key('t'), exptime: 30 },
      { type: 'get', key: key('t'), touch: 60 },
      { type: 'flush', delay: 10 },
      { type: 'store', mode: 'cas', key: key('c'), flags: 0, exptime: 0, value: key('x'), cas: -1 },
    ]);
  });

  test('noop, version, stat with group, verbosity, quit', () => {
    const input = Buffer.concat([req(0x0a), req(0x0b), req(0x10, { key: 'items' }), req(0x1b, { extras: u32s(1) }), req(0x17)]);
    expect(parse(input).map((r) => [r.kind, r.kind === 'stats' ? r.group : null])).toEqual([
      ['noop', null],
      ['version', null],
      ['stats', 'items'],
      ['verbosity', null],
      ['quit', null],
    ]);
  });

  test('a value over itemBytesMax: Too large, value skipped, SET deletes the old value', () => {
    const limits = { ...defaultProtocolLimits, itemBytesMax: 10 };
    const big = Buffer.alloc(11, 0x61);
    const input = Buffer.concat([
      req(0x01, { key: 'k', extras: u32s(0, 0), value: Buffer.from('x'), opaque: 1 }),
      req(0x01, { key: 'k', extras: u32s(0, 0), value: big, opaque: 2 }),
      req(0x00, { key: 'k', opaque: 3 }),
      req(0x19, { key: 'k', value: big, opaque: 4 }),
      req(0x0a, { opaque: 5 }),
    ]);
    // Observed from memcached with a 2000000-byte value: success, "Too large." (0x03), "Not found".
    const hex = binTranscript(input.toString('hex'), limits);
    const statuses = [];
    const buf = Buffer.from(hex, 'hex');
    for (let at = 0; at < buf.length; at += 24 + buf.readUInt32BE(at + 8)) {
      statuses.push([buf.readUInt32BE(at + 12), buf.readUInt16BE(at + 6), buf.toString('latin1', at + 24, at + 24 + buf.readUInt32BE(at + 8))]);
    }
    expect(statuses).toEqual([
      [1, 0, ''],
      [2, 3, 'Too large.'],
      [3, 1, 'Not found'],
      [4, 3, 'Too large.'],
      [5, 0, ''],
    ]);
  });

  test('an unknown opcode with a body is answered and exactly its body skipped', () => {
    // memcached 1.6.18 loses framing here (it skips the key twice); we skip bodyBytes.
    const input = Buffer.concat([req(0x21, { key: 'PLAIN', value: Buffer.from('\0a\0b'), opaque: 2 }), req(0x0a, { opaque: 3 })]);
    const rs = parse(input);
    expect(rs.map((r) => r.kind)).toEqual(['error', 'noop']);
    expect(rs[0]).toMatchObject({ close: false });
  });
});

const item = (over: Partial<ItemView> = {}): ItemView => ({
  key: Buffer.from('k'),
  value: Buffer.from('val'),
  flags: 5,
  cas: 69,
  ttlSec: -1,
  lastAccessSec: 0,
  fetched: false,
  stale: false,
  ...over,
});

function encode(packet: Buffer, answer: Parameters<typeof encodeReply>[1]): string | null {
  const [r] = parse(packet);
  const out = encodeReply(r as Request, answer);
  return out === null ? null : out.toString('hex');
}
const ops = (...results: CacheResult[]) => ({ kind: 'ops' as const, results });
const hit: CacheResult = { kind: 'hit', item: item(), win: null };

describe('binary encoding (bytes as observed from memcached 1.6.18)', () => {
  test('get, getk hits carry flags, cas, opaque (and key)', () => {
    expect(encode(req(0x00, { key: 'k', opaque: 2 }), ops(hit))).toBe(
      '81000000040000000000000700000002000000000000004500000005' + Buffer.from('val').toString('hex'),
    );
    expect(encode(req(0x0c, { key: 'k', opaque: 3 }), ops(hit))).toBe(
      '810c0001040000000000000800000003000000000000004500000005' + Buffer.from('kval').toString('hex'),
    );
  });

  test('quiet gets suppress misses, not hits; quiet mutations suppress success, not failures', () => {
    expect(encode(req(0x09, { key: 'k' }), ops({ kind: 'miss' }))).toBeNull();
    expect(encode(req(0x09, { key: 'k' }), ops(hit))).not.toBeNull();
    expect(encode(req(0x11, { key: 'k', extras: u32s(0, 0) }), ops({ kind: 'stored', cas: 1, size: 0 }))).toBeNull();
    expect(encode(req(0x11, { key: 'k', extras: u32s(0, 0), opaque: 9 }), ops({ kind: 'exists' }))).toBe(
      '81110000000000020000001400000009' + '0000000000000000' + Buffer.from('Data exists for key.').toString('hex'),
    );
    expect(encode(req(0x15, { key: 'n', extras: arithExtras(1n, 0n, 0) }), ops({ kind: 'number', value: 1n, cas: 2, item: item() }))).toBeNull();
  });

  test('set success echoes the new cas; incr returns the 64-bit value and cas', () => {
    expect(encode(req(0x01, { key: 'k', extras: u32s(0, 0), opaque: 1 }), ops({ kind: 'stored', cas: 69, size: 0 }))).toBe(
      '810100000000000000000000000000010000000000000045',
    );
    expect(encode(req(0x05, { key: 'n', extras: arithExtras(5n, 100n, 0), opaque: 2 }), ops({ kind: 'number', value: 100n, cas: 72, item: item() }))).toBe(
      '81050000000000000000000800000002000000000000004800000000000000' + '64',
    );
  });

  test('touch answers flags and cas without the value; gatk with key and value', () => {
    expect(encode(req(0x1c, { key: 't', extras: u32s(100), opaque: 1 }), { kind: 'ops', results: [{ kind: 'touched', item: item({ flags: 3, cas: 81 }) }] })).toBe(
      '811c0000040000000000000400000001000000000000005100000003',
    );
    expect(encode(req(0x23, { key: 't', extras: u32s(100), opaque: 5 }), ops({ kind: 'hit', item: item({ key: Buffer.from('t'), value: Buffer.from('tv'), flags: 3, cas: 81 }), win: null }))).toBe(
      '81230001040000000000000700000005000000000000005100000003' + Buffer.from('ttv').toString('hex'),
    );
  });

  test('stat: one packet per stat, then an empty terminator', () => {
    expect(encode(req(0x10, { opaque: 1 }), { kind: 'stats', stats: [['pid', '5587']] })).toBe(
      '81100003000000000000000700000001' + '0000000000000000' + Buffer.from('pid5587').toString('hex') +
        '811000000000000000000000000000010000000000000000',
    );
  });

  test('stat reset / detail on / detail dump answer as memcached 1.6.18 does, never Not found', () => {
    const terminator = (opaque: string): string => '8110000000000000000000000000000' + opaque + '0000000000000000';
    const stat = (key: string, opaque: number): Buffer => req(0x10, { key, opaque });
    // Observed: "reset" and "detail on" -> the terminator alone (status 0).
    expect(encode(stat('reset', 1), { kind: 'stats', stats: [] })).toBe(terminator('1'));
    expect(encode(stat('detail on', 2), { kind: 'stats', stats: [] })).toBe(terminator('2'));
    // Observed: "detail dump" -> stat "detailed" = "END\r\n", then the terminator.
    expect(encode(stat('detail dump', 3), { kind: 'stats', stats: [] })).toBe(
      '81100008000000000000000d00000003' + '0000000000000000' + Buffer.from('detailedEND\r\n').toString('hex') + terminator('3'),
    );
  });

  test('version, noop, verbosity, quit', () => {
    expect(encode(req(0x0b, { opaque: 1 }), { kind: 'version', version: '1.6.18' })).toBe(
      '810b00000000000000000006000000010000000000000000' + Buffer.from('1.6.18').toString('hex'),
    );
    expect(encode(req(0x0a, { opaque: 7 }), { kind: 'noop' })).toBe('810a00000000000000000000000000070000000000000000');
    expect(encode(req(0x1b, { extras: u32s(1), opaque: 7 }), { kind: 'ok' })).toBe('811b00000000000000000000000000070000000000000000');
    expect(encode(req(0x07, { opaque: 1 }), { kind: 'quit' })).toBe('810700000000000000000000000000010000000000000000');
    expect(encode(req(0x17, { opaque: 1 }), { kind: 'quit' })).toBeNull();
  });

  test('server errors map to 0x82 with the message', () => {
    expect(encode(req(0x00, { key: 'k', opaque: 1 }), ops({ kind: 'server_error', message: 'no leader' }))).toBe(
      '81000000000000820000000900000001' + '0000000000000000' + Buffer.from('no leader').toString('hex'),
    );
  });
});
