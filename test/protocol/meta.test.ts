/**
 * Meta protocol: transcripts compared byte for byte with memcached 1.6.18, the CacheOp
 * each command maps to, and reply encoding (return flags in request order, win/stale
 * flags, quiet mode, base64 keys, me).
 */
import { describe, expect, test } from 'vitest';
import type { CacheResult, ItemView } from '../../src/cache/ops.js';
import { encodeReply } from '../../src/protocol/index.js';
import { defaultProtocolLimits, type Request } from '../../src/protocol/request.js';
import { parse, transcript } from './harness.js';

/** [input, reply] as memcached 1.6.18 answered on a fresh connection after flush_all. */
const OBSERVED: Array<[string, string]> = [
  ["mg foo\r\nmg foo v\r\nmg foo q v\r\nmg foo k O123 q\r\nmn\r\n", "EN\r\nEN\r\nMN\r\n"],
  ["ms foo 3 T0 F5\r\nbar\r\nmg foo\r\nmg foo v\r\nmg foo k v f s t O1\r\nmg foo t T100 t v\r\nmg foo q k\r\nmg foo q v\r\nmn\r\n", "HD\r\nHD\r\nVA 3\r\nbar\r\nVA 3 kfoo f5 s3 t-1 O1\r\nbar\r\nCLIENT_ERROR duplicate flag\r\nHD kfoo\r\nVA 3\r\nbar\r\nMN\r\n"],
  ["ms foo 3 F5\r\nbar\r\nmg foo s v O99 k f\r\nmg foo zz\r\nmg foo O123456789012345678901234567890123\r\nmg foo O12345678901234567890123456789012\r\nmg foo O1234567890123456789012345678901 v\r\nmg\r\nmg foo v v\r\n", "HD\r\nVA 3 s3 O99 kfoo f5\r\nbar\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR opaque token too long\r\nCLIENT_ERROR opaque token too long\r\nVA 3 O1234567890123456789012345678901\r\nbar\r\nERROR\r\nCLIENT_ERROR duplicate flag\r\n"],
  ["ms Zm9v 3 b\r\nbar\r\nmg Zm9 b v\r\nmg !!!! b v\r\nms Zm9vMg== 2 b k\r\nhi\r\n", "HD\r\nCLIENT_ERROR error decoding key\r\nCLIENT_ERROR error decoding key\r\nHD kZm9vMg== b\r\n"],
  ["ms foo 3\r\nbar\r\nmg foo Cx\r\nmg foo v N\r\nmg foo v T\r\nmg foo v O\r\nmg foo v Ox\r\nmg foo Pxx Lyy v\r\n", "HD\r\nCLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR bad token in command line format\r\nVA 3 O\r\nbar\r\nVA 3 Ox\r\nbar\r\nVA 3\r\nbar\r\n"],
  ["ms foo 3 q\r\nbar\r\nms foo 3 ME q\r\nbar\r\nms foo 3 MX\r\nbar\r\nms foo 3 MR k O5\r\nbaz\r\nms foo2 3 MR k O5\r\nbaz\r\nms foo2 3 MA N0\r\nbaz\r\nms foo 3 MA\r\nbaz\r\nmg foo v\r\nmn\r\n", "NS\r\nCLIENT_ERROR invalid mode for ms M token\r\nHD kfoo O5\r\nNS kfoo2 O5\r\nNS\r\nHD\r\nVA 6\r\nbazbaz\r\nMN\r\n"],
  ["ms foo\r\nms foo x\r\nms foo 3 F-1\r\nbar\r\nms foo 3 Fx\r\nbar\r\nms foo 3 T-1\r\nbar\r\nmg foo\r\nms foo 2\r\nbar\r\nms foo 3 S3\r\nbar\r\n", "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nHD\r\nEN\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nCLIENT_ERROR invalid flag\r\n"],
  ["ms foo 3 noreply\r\nbar\r\nms foo -1\r\nbar\r\nms foo 1 q\r\nbar\r\nmn\r\n", "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR bad command line format\r\nERROR\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nMN\r\n"],
  ["ms foo 3 I\r\nbar\r\nms foo 3 MS\r\nbar\r\nms foo 3 M\r\nbar\r\nms foo 3 MSS\r\nbar\r\nmn\r\n", "HD\r\nHD\r\nCLIENT_ERROR incorrect length for M token\r\nCLIENT_ERROR incorrect length for M token\r\nMN\r\n"],
  ["ms foo 3 F4294967296\r\nbar\r\nmg foo f\r\nms foo 3 C18446744073709551616\r\nbar\r\nmn\r\n", "HD\r\nHD f0\r\nCLIENT_ERROR bad token in command line format\r\nMN\r\n"],
  ["ms foo 3\r\nbar\r\nmd foo q\r\nmd foo q\r\nmd foo k O1 c\r\nmd foo\r\nmn\r\n", "HD\r\nNF\r\nNF kfoo O1\r\nNF\r\nMN\r\n"],
  ["ma n\r\nma n q\r\nma n N0 J10 v\r\nma n v\r\nma n MD D5 v t k O9\r\nma n M- D100 v\r\nma n M+ v\r\nma n MI D18446744073709551616\r\nma n Dx\r\nma n D-1\r\nma n Jx N0\r\nma n q\r\nmn\r\n", "NF\r\nNF\r\nVA 2\r\n10\r\nVA 2\r\n11\r\nVA 1 t-1 kn O9\r\n6\r\nVA 1\r\n0\r\nVA 1\r\n1\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nMN\r\n"],
  // 1.6.18 answers "VA 1 5" to the vivifying ma with q (its vivify path ignores q), but nothing to
  // "ma k v q" on a hit: q is noreply semantics, a success says nothing (protocol text).
  ["ms s 2\r\nab\r\nma s\r\nma s q\r\nma n2 N0 J5 q v\r\nma n2 T30 v\r\nmn\r\n", "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nVA 1\r\n6\r\nMN\r\n"],
  ["mg miss k O5 s v\r\nmd miss k O5\r\nma miss k O5 t v\r\nms foo 1 M\r\nx\r\n", "EN kmiss O5\r\nNF kmiss O5\r\nNF kmiss O5\r\nCLIENT_ERROR incorrect length for M token\r\n"],
  ["ms\r\nmd\r\nma\r\nmn x\r\nmx\r\nme\r\nmn\r\n", "ERROR\r\nERROR\r\nERROR\r\nMN\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nMN\r\n"],
  ["mg foo P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 P10 P11 P12 P13 P14 P15 P16 P17 P18\r\nmn\r\n", "CLIENT_ERROR options flags are too long\r\nMN\r\n"],
  ["ms foo 1 P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 P10 P11 P12 P13 P14 P15 P16 P17 P18\r\nx\r\nmn\r\n", "CLIENT_ERROR options flags too long\r\nERROR\r\nMN\r\n"],
  ["mg foo P0 P1 P2 P3 P4 P5 P6 P7 P8 P9 P10 P11 P12 P13 P14 P15 P16\r\nmn\r\n", "CLIENT_ERROR duplicate flag\r\nMN\r\n"],
  ["mg foo Pa Pb Pc Pd Pe Pf Pg Ph Pi Pj Pk Pl Pm Pn Po Pp Pq\r\nmn\r\n", "CLIENT_ERROR duplicate flag\r\nMN\r\n"],
  ["mg foo q\r\nms foo 1\r\nx\r\nmg foo q\r\nmn\r\n", "HD\r\nHD\r\nMN\r\n"],
  ["me miss\r\n", "EN\r\n"],];

describe('meta transcripts match memcached 1.6.18', () => {
  test.each(OBSERVED)('%j', (input, expected) => {
    expect(transcript(input)).toBe(expected);
  });
});

function ops(input: string): unknown[] {
  return parse(input).map((r) => (r.kind === 'ops' ? r.ops[0] : r.kind === 'error' ? r.reply.toString() : r.kind));
}

const k = Buffer.from('foo');

describe('meta commands map onto cache ops', () => {
  test('mg flags', () => {
    expect(ops('mg foo v T30 N-1 R5 u E99\r\nmg Zm9v b v\r\nmg foo R5 T30\r\n')).toEqual([
      // T before R: memcached applies flags in order, so R judges the TTL T set.
      { type: 'get', key: k, touch: 30, vivify: -1, recache: 5, touchFirst: true, noBump: true, newCas: 99, token: true },
      { type: 'get', key: k, token: true },
      { type: 'get', key: k, touch: 30, recache: 5, token: true },
    ]);
  });

  test('ms modes, CAS, invalidate, vivify', () => {
    expect(
      ops('ms foo 2 F7 T9 C5 I E6\r\nhi\r\nms foo 1 MA N30\r\n!\r\nms foo 1 Me\r\n!\r\nms foo 1 MR C1\r\n!\r\nms foo 0 Mp\r\n\r\n'),
    ).toEqual([
      { type: 'store', mode: 'cas', key: k, flags: 7, exptime: 9, value: Buffer.from('hi'), cas: 5, newCas: 6, invalidate: true },
      { type: 'store', mode: 'append', key: k, flags: 0, exptime: 0, value: Buffer.from('!'), vivify: 30 },
      { type: 'store', mode: 'add', key: k, flags: 0, exptime: 0, value: Buffer.from('!') },
      { type: 'store', mode: 'replace', key: k, flags: 0, exptime: 0, value: Buffer.from('!'), cas: 1 },
      { type: 'store', mode: 'prepend', key: k, flags: 0, exptime: 0, value: Buffer.alloc(0) },
    ]);
  });

  test('md flags', () => {
    expect(ops('md foo C3 E4 I T10 x q\r\nmd foo T10\r\n')).toEqual([
      { type: 'delete', key: k, cas: 3, newCas: 4, invalidate: true, exptime: 10, removeValue: true },
      { type: 'delete', key: k },
    ]);
  });

  test('ma flags and modes', () => {
    expect(ops('ma foo\r\nma foo MD D5 N0 J7 T3 C2\r\nma foo M- J9\r\nma foo Mx\r\n')).toEqual([
      { type: 'arith', key: k, incr: true, delta: 1n },
      { type: 'arith', key: k, incr: false, delta: 5n, vivify: 0, initial: 7n, exptime: 3, cas: 2 },
      { type: 'arith', key: k, incr: false, delta: 1n },
      'CLIENT_ERROR invalid mode for ma M token\r\n',
    ]);
  });

  test('me reads without bumping, at the leader (fetch state); mn is a noop', () => {
    expect(ops('me foo\r\nmn\r\n')).toEqual([{ type: 'get', key: k, noBump: true, access: true }, 'noop']);
  });

  test('mg with h or l asks for the fetch state (answered where unlogged fetches are known)', () => {
    expect(ops('mg foo h\r\nmg foo l v\r\nmg foo v t\r\n')).toEqual([
      { type: 'get', key: k, token: true, access: true },
      { type: 'get', key: k, token: true, access: true },
      { type: 'get', key: k, token: true },
    ]);
  });

  test('ms over itemBytesMax: SERVER_ERROR even with q, data swallowed, plain set deletes', () => {
    const limits = { ...defaultProtocolLimits, itemBytesMax: 10 };
    const v = 'x'.repeat(11);
    // Observed (2000000-byte value): "HD", "SERVER_ERROR object too large for cache", "EN".
    expect(transcript(`ms foo 1\r\na\r\nms foo 11 q\r\n${v}\r\nmg foo v\r\n`, limits)).toBe(
      'HD\r\nSERVER_ERROR object too large for cache\r\nEN\r\n',
    );
    expect(transcript(`ms foo 1\r\na\r\nms foo 11 MA\r\n${v}\r\nmg foo v\r\n`, limits)).toBe(
      'HD\r\nSERVER_ERROR object too large for cache\r\nVA 1\r\na\r\n',
    );
  });
});

const item = (over: Partial<ItemView> = {}): ItemView => ({
  key: k,
  value: Buffer.from('bar'),
  flags: 5,
  cas: 36,
  ttlSec: -1,
  lastAccessSec: 4,
  fetched: true,
  stale: false,
  ...over,
});

function encode(input: string, ...results: CacheResult[]): string | null {
  const [r] = parse(input);
  const out = encodeReply(r as Request, r?.kind === 'noop' ? { kind: 'noop' } : { kind: 'ops', results });
  return out === null ? null : out.toString('latin1');
}

const hit = (over: Partial<ItemView> = {}, win: 'W' | 'Z' | null = null): CacheResult => ({ kind: 'hit', item: item(over), win });

describe('meta encoding', () => {
  test('return flags in request order (observed: VA 3 kfoo c36 f5 s3 t-1 O1 h1 l0)', () => {
    expect(encode('mg foo k v c f s t O1 h l\r\n', hit({ lastAccessSec: 0 }))).toBe('VA 3 kfoo c36 f5 s3 t-1 O1 h1 l0\r\nbar\r\n');
    expect(encode('mg foo s v O99 k f c\r\n', hit())).toBe('VA 3 s3 O99 kfoo f5 c36\r\nbar\r\n');
    expect(encode('mg foo c\r\n', hit())).toBe('HD c36\r\n');
  });

  test('win and stale flags come last, Z X W (observed: c40 t30 X W, then c40 t30 Z X)', () => {
    expect(encode('mg foo v c t\r\n', hit({ cas: 40, ttlSec: 30, stale: true }, 'W'))).toBe('VA 3 c40 t30 X W\r\nbar\r\n');
    expect(encode('mg foo v c t\r\n', hit({ cas: 40, ttlSec: 30, stale: true }, 'Z'))).toBe('VA 3 c40 t30 Z X\r\nbar\r\n');
    expect(encode('mg miss N30 c v t s\r\n', hit({ value: Buffer.alloc(0), cas: 38, ttlSec: 30 }, 'W'))).toBe('VA 0 c38 t30 s0 W\r\n\r\n');
  });

  test('miss: EN with only O and k echoed; q suppresses it', () => {
    expect(encode('mg miss k O5 s v c\r\n', { kind: 'miss' })).toBe('EN kmiss O5\r\n');
    expect(encode('mg miss q\r\n', { kind: 'miss' })).toBeNull();
    expect(encode('mg foo q k\r\n', hit())).toBe('HD kfoo\r\n');
  });

  test('C on mg: a matching CAS answers HD without the value', () => {
    expect(encode('mg foo v C36 c\r\n', hit())).toBe('HD c36\r\n');
    expect(encode('mg foo v C35 c\r\n', hit())).toBe('VA 3 c36\r\nbar\r\n');
  });

  test('ms: HD (q suppresses), failure codes carry c0 (observed: EX c0), s returns the size', () => {
    expect(encode('ms foo 3 c k O7\r\nbar\r\n', { kind: 'stored', cas: 65, size: 3 })).toBe('HD c65 kfoo O7\r\n');
    expect(encode('ms foo 3 q\r\nbar\r\n', { kind: 'stored', cas: 1, size: 3 })).toBeNull();
    expect(encode('ms foo 3 C1 c q\r\nbar\r\n', { kind: 'exists' })).toBe('EX c0\r\n');
    expect(encode('ms foo 3 ME\r\nbar\r\n', { kind: 'not_stored' })).toBe('NS\r\n');
    expect(encode('ms foo 3 C1\r\nbar\r\n', { kind: 'not_found' })).toBe('NF\r\n');
    expect(encode('ms foo 3 MA s\r\nbaz\r\n', { kind: 'stored', cas: 66, size: 6 })).toBe('HD s6\r\n');
  });

  test('base64 keys: k returns base64 and echoes b (observed: HD kZm9vMg== b c37)', () => {
    expect(encode('ms Zm9vMg== 2 b k c\r\nhi\r\n', { kind: 'stored', cas: 37, size: 2 })).toBe('HD kZm9vMg== b c37\r\n');
  });

  test('md: HD (q suppresses), NF, EX with O/k', () => {
    expect(encode('md foo q\r\n', { kind: 'deleted' })).toBeNull();
    expect(encode('md foo k O1 c\r\n', { kind: 'not_found' })).toBe('NF kfoo O1\r\n');
    expect(encode('md foo C1\r\n', { kind: 'exists' })).toBe('EX\r\n');
  });

  test('ma: VA with the number, HD, q, client errors (observed: VA 1 t-1 c54 kn O9)', () => {
    const number = (value: bigint): CacheResult => ({ kind: 'number', value, cas: 54, item: item({ key: Buffer.from('n') }) });
    expect(encode('ma n MD D5 v t c k O9\r\n', number(6n))).toBe('VA 1 t-1 c54 kn O9\r\n6\r\n');
    expect(encode('ma n q\r\n', number(2n))).toBeNull();
    expect(encode('ma n q v\r\n', number(18446744073709551615n))).toBeNull();
    expect(encode('ma n\r\n', number(2n))).toBe('HD\r\n');
    expect(encode('ma n q\r\n', { kind: 'not_found' })).toBe('NF\r\n');
    expect(encode('ma n N0\r\n', { kind: 'not_stored' })).toBe('NS\r\n');
    expect(encode('ma s\r\n', { kind: 'client_error', message: 'cannot increment or decrement non-numeric value' })).toBe(
      'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n',
    );
  });

  test('ma with q: a success says nothing even with v; failures still answer (observed from 1.6.18)', () => {
    const number: CacheResult = { kind: 'number', value: 8n, cas: 3, item: item({ value: Buffer.from('8') }) };
    expect(encode('ma n v q\r\n', number)).toBeNull();
    expect(encode('ma n q\r\n', number)).toBeNull();
    expect(encode('ma n v\r\n', number)).toBe('VA 1\r\n8\r\n');
    expect(encode('ma n q\r\n', { kind: 'exists' })).toBe('EX\r\n');
  });

  test('me: metadata line, base64 key with b, EN on miss; size is the item total as memcached counts it', () => {
    // Observed from memcached 1.6.18: key kk, flags 5, 10-byte value -> size=75; flags 0 -> 4 bytes less.
    expect(encode('me foo\r\n', hit({ ttlSec: 100, lastAccessSec: 2, fetched: false }))).toBe(
      'ME foo exp=100 la=2 cas=36 fetch=no cls=1 size=69\r\n',
    );
    expect(encode('me Zm9v b\r\n', hit())).toBe('ME Zm9v exp=-1 la=4 cas=36 fetch=yes cls=1 size=69\r\n');
    expect(encode('me foo\r\n', { kind: 'miss' })).toBe('EN\r\n');
  });

  test('mn answers MN; server errors pass through', () => {
    expect(encode('mn\r\n')).toBe('MN\r\n');
    expect(encode('mg foo v\r\n', { kind: 'server_error', message: 'no leader' })).toBe('SERVER_ERROR no leader\r\n');
  });
});
