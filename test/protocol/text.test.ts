/**
 * Text protocol: transcripts compared byte for byte with memcached 1.6.18, request
 * shapes, limits (too large, line too long) and reply encoding. Every input is also
 * parsed byte by byte and in random splits (see harness.parse).
 */
import { describe, expect, test } from 'vitest';
import type { ItemView } from '../../src/cache/ops.js';
import { encodeReply } from '../../src/protocol/index.js';
import { defaultProtocolLimits, type Request } from '../../src/protocol/request.js';
import { parse, transcript } from './harness.js';

/**
 * [input, reply] pairs. The replies are what memcached 1.6.18 (Debian, `memcached -p 22122
 * -U 0 -l 127.0.0.1`) sent for each input on a fresh connection after `flush_all`;
 * "<CLOSED>" marks that it closed the connection.
 */
const OBSERVED: Array<[string, string]> = [
  ["set a 0 0 1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"],
  ["set a 5 0 3\r\nabc\r\nset b 6 0 2\r\nde\r\nget a nope b\r\n", "STORED\r\nSTORED\r\nVALUE a 5 3\r\nabc\r\nVALUE b 6 2\r\nde\r\nEND\r\n"],
  ["set a 0 0 1\r\nxy\r\nget a\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"],
  ["set a 0 0 1 noreply\r\nxy\r\nget a\r\n", "ERROR\r\nEND\r\n"],
  ["set a 0 0 1\r\nxyzget a\r\n", "CLIENT_ERROR bad data chunk\r\nEND\r\n"],
  ["set b 0 0 2\r\nx\r\n\r\nget b\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n"],
  ["set a 4294967296 0 1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"],
  ["set a -1 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"],
  ["set a 0 0 -1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"],
  ["set a 0 -5 1\r\nx\r\nget a\r\n", "STORED\r\nEND\r\n"],
  ["set a 0 0 1 2 3\r\nx\r\n", "ERROR\r\nERROR\r\n"],
  ["set a 0 0 1 foo\r\nx\r\n", "STORED\r\n"],
  ["set a 0 0 1 noreply\r\nx\r\nget a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n"],
  ["set a 0x1 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"],
  ["set a +1 0 1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 1 1\r\nx\r\nEND\r\n"],
  ["set a 1a 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"],
  ["set a 0 0 2147483647\r\n", "CLIENT_ERROR bad command line format\r\n"],
  ["get\r\n", "ERROR\r\n"],
  ["get \r\n", "ERROR\r\n"],
  ["get  a   a\r\n", "END\r\n"],
  ["set a 0 0 1\r\nx\r\ndelete a 0\r\ndelete a\r\n", "STORED\r\nDELETED\r\nNOT_FOUND\r\n"],
  ["delete a 1\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"],
  ["delete a noreply\r\ndelete a 0 noreply\r\ndelete\r\nmn\r\n", "ERROR\r\nMN\r\n"],
  ["delete a b c d\r\n", "ERROR\r\n"],
  ["GET a\r\n", "ERROR\r\n"],
  ["\r\n", "ERROR\r\n"],
  ["\n", "ERROR\r\n"],
  ["get a\nget a\r\n", "END\r\nEND\r\n"],
  ["set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr n 18446744073709551615\r\nincr n 18446744073709551616\r\nincr n -1\r\nincr n abc\r\nincr n\r\nincr n 1 noreply\r\nincr n 1 2\r\nincr nx 1\r\n", "STORED\r\n15\r\n0\r\n18446744073709551615\r\nCLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta argument\r\nERROR\r\n1\r\nNOT_FOUND\r\n"],
  ["set s 0 0 2\r\nab\r\nincr s 1\r\ndecr s 1\r\n", "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"],
  ["set n 0 0 1\r\n1\r\ntouch n 10\r\ntouch nx 10\r\ntouch n\r\ntouch n x\r\ntouch n 10 noreply\r\ntouch n 10 foo\r\n", "STORED\r\nTOUCHED\r\nNOT_FOUND\r\nERROR\r\nCLIENT_ERROR invalid exptime argument\r\nTOUCHED\r\n"],
  ["set n 0 0 1\r\n1\r\ngat 100 n nx n\r\ngat n\r\ngat\r\ngat x n\r\ngat 10\r\n", "STORED\r\nVALUE n 0 1\r\n1\r\nVALUE n 0 1\r\n1\r\nEND\r\nCLIENT_ERROR invalid exptime argument\r\nERROR\r\nCLIENT_ERROR invalid exptime argument\r\nEND\r\n"],
  ["flush_all\r\nflush_all 10\r\nflush_all noreply\r\nflush_all 10 noreply\r\nflush_all x\r\nflush_all -1\r\nflush_all 1 2\r\nflush_all 0\r\nflush_all 1 2 3\r\n", "OK\r\nOK\r\nCLIENT_ERROR invalid exptime argument\r\nOK\r\nOK\r\nOK\r\nERROR\r\n"],
  ["verbosity\r\nverbosity 1\r\nverbosity x\r\nverbosity 1 noreply\r\nverbosity 1 2 3\r\nmn\r\n", "ERROR\r\nOK\r\nCLIENT_ERROR bad command line format\r\nERROR\r\nMN\r\n"],
  ["stats foo\r\nstats a b\r\n", "ERROR\r\nERROR\r\n"],
  ["stats reset\r\nstats reset extra\r\n", "RESET\r\nRESET\r\n"],
  ["stats detail on\r\nstats detail dump\r\nstats detail off\r\nstats detail\r\nstats detail foo\r\nstats detail on noreply\r\n", "OK\r\nEND\r\nOK\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\nCLIENT_ERROR usage: stats detail on|off|dump\r\nOK\r\n"],
  ["stats sizes\r\n", "STAT sizes_status disabled\r\nEND\r\n"],
  ["cache_memlimit\r\ncache_memlimit abc\r\ncache_memlimit -5\r\ncache_memlimit 0\r\ncache_memlimit 7\r\ncache_memlimit 1 2 3\r\ncache_memlimit 100 noreply\r\nmn\r\n", "ERROR\r\nERROR\r\nERROR\r\nMEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\nMEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\nERROR\r\nMN\r\n"],
  ["quit\r\nversion\r\n", "<CLOSED>"],
  ["version x\r\n", "VERSION 1.6.18\r\n"],
  ["set a x 0 1 noreply\r\nx\r\nincr a abc noreply\r\ntouch a x noreply\r\ndelete a 1 noreply\r\nflush_all x noreply\r\nverbosity x noreply\r\nmn\r\n", "ERROR\r\nMN\r\n"],
  ["set a 0 0 1\r\nx\r\ncas a 0 0 1 x\r\nx\r\ncas a 0 0 1 -1\r\nx\r\ncas a 0 0 1 18446744073709551616\r\nx\r\ncas nokey 0 0 1 5 noreply\r\nx\r\ncas nokey 0 0 1 5\r\nx\r\nmn\r\n", "STORED\r\nCLIENT_ERROR bad command line format\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nERROR\r\nNOT_FOUND\r\nMN\r\n"],
  ["cas foo 0 0 6 noreply\r\nfoobar\r\nmn\r\n", "ERROR\r\nMN\r\n"],
  ["set a 0 0 1\r\nx\r\nappend a 5 5 1\r\ny\r\nprepend a 0 0 1 noreply\r\nz\r\nget a\r\nappend nokey 0 0 1\r\nx\r\n", "STORED\r\nSTORED\r\nVALUE a 0 3\r\nzxy\r\nEND\r\nNOT_STORED\r\n"],
  ["add a 0 0 1\r\nx\r\nadd a 0 0 1\r\ny\r\nreplace a 0 0 1\r\nz\r\nreplace b 0 0 1\r\nz\r\nget a b\r\n", "STORED\r\nNOT_STORED\r\nSTORED\r\nNOT_STORED\r\nVALUE a 0 1\r\nz\r\nEND\r\n"],
  ["set a 0 0 1\r\nx\r\nget a\r\r\nget a \r\nget a\t\r\n", "STORED\r\nEND\r\nVALUE a 0 1\r\nx\r\nEND\r\nEND\r\n"],
  ["set a 0 4294967295 1\r\nx\r\nget a\r\nset a 0 2147483648 1\r\nx\r\nget a\r\nmn\r\n", "STORED\r\nEND\r\nSTORED\r\nEND\r\nMN\r\n"],
  ["set a 0 0 1\r\nx\r\ntouch a -1\r\nget a\r\nGET / HTTP/1.1\r\nversion\r\n", "STORED\r\nTOUCHED\r\nEND\r\n<CLOSED>"],
  ["set a\u0001b 0 0 1\r\nx\r\nget a\u0001b\r\n", "STORED\r\nVALUE a\u0001b 0 1\r\nx\r\nEND\r\n"],
  ["bogus\r\nmx\r\nm\r\nmnn\r\n", "ERROR\r\nERROR\r\nERROR\r\nERROR\r\n"],];

describe('text transcripts match memcached 1.6.18', () => {
  test.each(OBSERVED)('%j', (input, expected) => {
    expect(transcript(input)).toBe(expected);
  });
});

/**
 * Where the protocol text and memcached 1.6.18 disagree we follow the text. A storage line
 * with an argument missing: 1.6.18 answers ERROR (the text's reply to a nonexistent
 * command name) and then runs the data line as a command; we answer CLIENT_ERROR and
 * swallow the data block when its length is on the line.
 */
const SPEC: Array<[string, string]> = [
  ["set a 0 0 1\r\nx\r\ncas a 0 0 1 \r\ny\r\nget a\r\n", "STORED\r\nCLIENT_ERROR bad command line format\r\nVALUE a 0 1\r\nx\r\nEND\r\n"],
  ["cas foo 0 0 6\r\nfoobar\r\nmn\r\n", "CLIENT_ERROR bad command line format\r\nMN\r\n"],
  ["cas foo 0 0 6 \r\nfoobar\r\nmn\r\n", "CLIENT_ERROR bad command line format\r\nMN\r\n"],
  // Without <bytes> the data length is unknown: nothing is swallowed (1.6.18: ERROR, ERROR).
  ["set a 0 0\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"],
  ["add a\r\nset\r\nmn\r\n", "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\nMN\r\n"],
  ["cas foo 0 0 -1\r\nmn\r\n", "CLIENT_ERROR bad command line format\r\nMN\r\n"],
];

describe('where memraft cannot do what memcached does', () => {
  test('cache_memlimit is refused with memcached\'s own "unable to adjust" (the limit is replicated config)', () => {
    // memcached 1.6.18: OK (it changes its limit).
    expect(transcript('cache_memlimit 100\r\ncache_memlimit 2000000000\r\n')).toBe(
      'MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\nMEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n',
    );
  });

  test('lru_crawler metadump answers an empty dump; other lru_crawler lines are ERROR', () => {
    // memcached 1.6.18: one "key=.. exp=.. la=.. cas=.. fetch=.. cls=.. size=.." line per item, then END.
    expect(transcript('lru_crawler metadump all\r\nlru_crawler metadump hash\r\nlru_crawler\r\nlru_crawler crawl all\r\n')).toBe(
      'END\r\nEND\r\nERROR\r\nERROR\r\n',
    );
  });
});

describe('storage lines with an argument missing follow the protocol text', () => {
  test.each(SPEC)('%j', (input, expected) => {
    expect(transcript(input)).toBe(expected);
  });
});

const small = { ...defaultProtocolLimits, itemBytesMax: 100 };

describe('limits', () => {
  test('a key of 250 bytes is accepted, 251 is a bad command line', () => {
    const k250 = 'k'.repeat(250);
    const k251 = 'k'.repeat(251);
    expect(transcript(`set ${k250} 0 0 1\r\nx\r\nget ${k250}\r\n`)).toBe(`STORED\r\nVALUE ${k250} 0 1\r\nx\r\nEND\r\n`);
    // Observed: the data line is then read as a command.
    expect(transcript(`set ${k251} 0 0 1\r\nx\r\n`)).toBe('CLIENT_ERROR bad command line format\r\nERROR\r\n');
    expect(transcript(`get ${k251}\r\n`)).toBe('CLIENT_ERROR bad command line format\r\n');
    // Observed: one bad key fails the whole multi-get, hits included.
    expect(transcript(`set a 0 0 1\r\nx\r\nget a ${k251} a\r\n`)).toBe('STORED\r\nCLIENT_ERROR bad command line format\r\n');
  });

  test('a value over itemBytesMax is refused, swallowed, and a set deletes the old value', () => {
    const big = 'v'.repeat(101);
    // Observed with -I default and a 2000000-byte value: same replies.
    expect(transcript(`set a 0 0 1\r\nx\r\nset a 0 0 101\r\n${big}\r\nget a\r\nversion\r\n`, small)).toBe(
      'STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\nVERSION 1.6.18\r\n',
    );
    expect(transcript(`set a 0 0 101 noreply\r\n${big}\r\nget a\r\n`, small)).toBe('END\r\n');
    expect(transcript(`set a 0 0 1\r\nx\r\nappend a 0 0 101\r\n${big}\r\nget a\r\n`, small)).toBe(
      'STORED\r\nSERVER_ERROR object too large for cache\r\nVALUE a 0 1\r\nx\r\nEND\r\n',
    );
    expect(transcript(`set a 0 0 100\r\n${'v'.repeat(100)}\r\nget a\r\n`, small)).toBe(
      `STORED\r\nVALUE a 0 100\r\n${'v'.repeat(100)}\r\nEND\r\n`,
    );
  });

  test('a swallowed value split over many chunks leaves the connection usable', () => {
    const big = Buffer.alloc(100_000, 0x61);
    const input = Buffer.concat([Buffer.from('set a 0 0 100000\r\n'), big, Buffer.from('\r\nget a\r\n')]);
    expect(transcript(input, { ...defaultProtocolLimits, itemBytesMax: 1000 })).toBe(
      'SERVER_ERROR object too large for cache\r\nEND\r\n',
    );
  });

  test('a line longer than lineBytesMax closes the connection silently', () => {
    // Observed: `set xxx...(3000)` with no newline -> closed without a reply.
    const long = 'set ' + 'x'.repeat(3000);
    expect(transcript(long)).toBe('<CLOSED>');
    expect(transcript(long + '\r\nversion\r\n')).toBe('<CLOSED>');
    expect(transcript('x'.repeat(2040) + '\r\nversion\r\n')).toBe('ERROR\r\nVERSION 1.6.18\r\n');
  });

  test('multi-key get lines may exceed lineBytesMax (memcached allows it for get/gets)', () => {
    const keys = Array.from({ length: 1500 }, (_, i) => `k${i}`).join(' ');
    expect(transcript(`set k7 0 0 1\r\nx\r\nget ${keys}\r\n`)).toBe('STORED\r\nVALUE k7 0 1\r\nx\r\nEND\r\n');
    expect(transcript(`gats 0 ${keys}\r\n`)).toBe('END\r\n');
  });

  test('bufferedBytes covers a held partial line and a partial data block', async () => {
    const { createConnectionParser } = await import('../../src/protocol/index.js');
    const p = createConnectionParser(defaultProtocolLimits);
    expect(p.feed(Buffer.from('get ab'))).toEqual([]);
    expect(p.bufferedBytes).toBe(6);
    expect(p.feed(Buffer.from('c\r\nset k 0 0 10\r\n12345'))).toHaveLength(1);
    expect(p.bufferedBytes).toBe(5);
    const [req] = p.feed(Buffer.from('67890\r\n'));
    expect(req).toMatchObject({ kind: 'ops', ops: [{ type: 'store', value: Buffer.from('1234567890') }] });
    expect(p.bufferedBytes).toBe(0);
  });
});

describe('request shapes', () => {
  test('multi-key get is one request with one GetOp per key, in order', () => {
    const [r] = parse('gets a bb ccc\r\n');
    expect(r).toMatchObject({ kind: 'ops', ops: [{ type: 'get', key: Buffer.from('a') }, { key: Buffer.from('bb') }, { key: Buffer.from('ccc') }] });
  });

  test('gat carries touch, set carries flags/exptime/value, cas carries the token', () => {
    const rs = parse('gat -1 k\r\nset k 7 -3 2\r\nhi\r\ncas k 1 2 0 18446744073709551615\r\n\r\nappend k 9 9 1 noreply\r\n!\r\n');
    expect(rs.map((r) => (r.kind === 'ops' ? r.ops : r))).toEqual([
      [{ type: 'get', key: Buffer.from('k'), touch: -1 }],
      [{ type: 'store', mode: 'set', key: Buffer.from('k'), flags: 7, exptime: -3, value: Buffer.from('hi') }],
      [{ type: 'store', mode: 'cas', key: Buffer.from('k'), flags: 1, exptime: 2, value: Buffer.alloc(0), cas: -1 }],
      [{ type: 'store', mode: 'append', key: Buffer.from('k'), flags: 9, exptime: 9, value: Buffer.from('!') }],
    ]);
  });

  test('incr delta is a uint64 bigint; flush_all carries its delay', () => {
    const rs = parse('incr k 18446744073709551615\r\ndecr k 0\r\nflush_all 30\r\nflush_all\r\n');
    expect(rs.map((r) => (r.kind === 'ops' ? r.ops[0] : r))).toEqual([
      { type: 'arith', key: Buffer.from('k'), incr: true, delta: 18446744073709551615n },
      { type: 'arith', key: Buffer.from('k'), incr: false, delta: 0n },
      { type: 'flush', delay: 30 },
      { type: 'flush', delay: 0 },
    ]);
  });

  test('stats, version, verbosity, quit', () => {
    const rs = parse('stats\r\nstats items\r\nversion\r\nverbosity 1\r\nquit\r\n');
    expect(rs.map((r) => [r.kind, r.kind === 'stats' ? r.group : null])).toEqual([
      ['stats', ''],
      ['stats', 'items'],
      ['version', null],
      ['verbosity', null],
      ['quit', null],
    ]);
  });

  test('values and keys never share memory with a large input chunk', () => {
    const input = Buffer.concat([Buffer.from('set k 0 0 3\r\nabc\r\n'), Buffer.alloc(10_000, 0x20), Buffer.from('\r\n')]);
    const [r] = parse(input);
    if (r?.kind !== 'ops' || r.ops[0]?.type !== 'store') throw new Error('expected a store');
    expect(r.ops[0].value.buffer).not.toBe(input.buffer);
    expect(r.ops[0].key.buffer).not.toBe(input.buffer);
  });
});

const item = (over: Partial<ItemView> = {}): ItemView => ({
  key: Buffer.from('k'),
  value: Buffer.from('v1'),
  flags: 3,
  cas: 77,
  ttlSec: -1,
  lastAccessSec: 0,
  fetched: false,
  stale: false,
  ...over,
});

function encode(input: string, results: Parameters<typeof encodeReply>[1]): string | null {
  const [r] = parse(input);
  const out = encodeReply(r as Request, results);
  return out === null ? null : out.toString('latin1');
}

describe('encoding', () => {
  test('gets prints the cas; misses are skipped; END terminates', () => {
    const results = [{ kind: 'hit', item: item(), win: null }, { kind: 'miss' }, { kind: 'hit', item: item({ key: Buffer.from('z'), cas: 9 }), win: null }] as const;
    expect(encode('gets k x z\r\n', { kind: 'ops', results: [...results] })).toBe(
      'VALUE k 3 2 77\r\nv1\r\nVALUE z 3 2 9\r\nv1\r\nEND\r\n',
    );
    expect(encode('get k\r\n', { kind: 'ops', results: [{ kind: 'hit', item: item(), win: null }] })).toBe('VALUE k 3 2\r\nv1\r\nEND\r\n');
  });

  test('a server error in a multi-get ends the reply with the error instead of END', () => {
    expect(
      encode('get k x\r\n', { kind: 'ops', results: [{ kind: 'hit', item: item(), win: null }, { kind: 'server_error', message: 'no leader' }] }),
    ).toBe('VALUE k 3 2\r\nv1\r\nSERVER_ERROR no leader\r\n');
  });

  test('mutations: every result kind, and noreply sends nothing', () => {
    expect(encode('set k 0 0 0\r\n\r\n', { kind: 'ops', results: [{ kind: 'server_error', message: 'out of memory' }] })).toBe(
      'SERVER_ERROR out of memory\r\n',
    );
    expect(encode('cas k 0 0 0 1\r\n\r\n', { kind: 'ops', results: [{ kind: 'exists' }] })).toBe('EXISTS\r\n');
    expect(encode('cas k 0 0 0 1\r\n\r\n', { kind: 'ops', results: [{ kind: 'not_found' }] })).toBe('NOT_FOUND\r\n');
    expect(encode('set k 0 0 0 noreply\r\n\r\n', { kind: 'ops', results: [{ kind: 'stored', cas: 1, size: 0 }] })).toBeNull();
    expect(encode('incr k 1\r\n', { kind: 'ops', results: [{ kind: 'client_error', message: 'x' }] })).toBe(
      'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n',
    );
    expect(encode('flush_all noreply\r\n', { kind: 'ops', results: [{ kind: 'ok' }] })).toBeNull();
  });

  test('stats lines then END; unknown group ERROR; version; quit sends nothing', () => {
    expect(encode('stats\r\n', { kind: 'stats', stats: [['pid', '12'], ['uptime', '3']] })).toBe('STAT pid 12\r\nSTAT uptime 3\r\nEND\r\n');
    expect(encode('stats nope\r\n', { kind: 'stats', stats: null })).toBe('ERROR\r\n');
    expect(encode('version\r\n', { kind: 'version', version: '0.1.0' })).toBe('VERSION 0.1.0\r\n');
    expect(encode('quit\r\n', { kind: 'quit' })).toBeNull();
    expect(encode('verbosity 1 noreply\r\n', { kind: 'ok' })).toBeNull();
  });
});
