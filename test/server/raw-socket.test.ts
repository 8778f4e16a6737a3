// Raw-socket protocol behaviour of a real `memraft serve` process: pipelining, split
// commands, limits, quit, max connections, stats names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startServer } from './helpers.js';
import type { ServerProcess } from './helpers.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

describe('one connection', () => {
  it('answers pipelined mixed commands in one write, in order', async () => {
    const c = await RawClient.connect(server.port);
    c.write(
      'set p1 5 0 1\r\n1\r\nget p1\r\nincr p1 41\r\nget nope p1\r\ndelete p1\r\nget p1\r\n' +
        'ms p2 2 F7\r\nhi\r\nmg p2 v f\r\nmn\r\nadd p2 0 0 1\r\nx\r\nbogus\r\nversion\r\n',
    );
    const reply = await c.readUntilMatch(/VERSION \S+\r\n$/);
    expect(reply.replace(/VERSION \S+\r\n$/, 'VERSION\r\n')).toBe(
      'STORED\r\nVALUE p1 5 1\r\n1\r\nEND\r\n42\r\nVALUE p1 5 2\r\n42\r\nEND\r\nDELETED\r\nEND\r\n' +
        'HD\r\nVA 2 f7\r\nhi\r\nMN\r\nNOT_STORED\r\nERROR\r\nVERSION\r\n',
    );
    c.close();
  });

  it('assembles a command split over many writes', async () => {
    const c = await RawClient.connect(server.port);
    c.socket.setNoDelay(true);
    const command = 'set split 0 0 10\r\n0123456789\r\nget split\r\n';
    for (const ch of command) {
      await new Promise<void>((resolve) => c.socket.write(ch, () => resolve()));
    }
    expect(await c.readUntil('END\r\n')).toBe('STORED\r\nVALUE split 0 10\r\n0123456789\r\nEND\r\n');
    c.close();
  });

  it('refuses a value over the item size limit and keeps the connection usable', async () => {
    const c = await RawClient.connect(server.port);
    const big = Buffer.alloc(2 * 1024 * 1024, 'b');
    c.write(Buffer.concat([Buffer.from(`set big 0 0 ${big.length}\r\n`), big, Buffer.from('\r\n')]));
    expect(await c.readUntil('\r\n')).toBe('SERVER_ERROR object too large for cache\r\n');
    expect(await c.request('set small 0 0 2\r\nok\r\nget small big\r\n', 'END\r\n')).toBe(
      'STORED\r\nVALUE small 0 2\r\nok\r\nEND\r\n',
    );
    c.close();
  });

  it('closes a connection that sends a line over 2048 bytes without a newline', async () => {
    const c = await RawClient.connect(server.port);
    // Not a get: memcached lets multi-key get lines grow past the limit.
    c.write('set ' + 'k'.repeat(4096));
    await c.readToClose();
    expect(c.closed).toBe(true);
    const fresh = await RawClient.connect(server.port);
    expect(await fresh.request('version\r\n', '\r\n')).toMatch(/^VERSION /);
    fresh.close();
  });

  it('closes after quit, answering what came before it', async () => {
    const c = await RawClient.connect(server.port);
    c.write('set q 0 0 1\r\nq\r\nget q\r\nquit\r\nget q\r\n');
    expect(await c.readToClose()).toBe('STORED\r\nVALUE q 0 1\r\nq\r\nEND\r\n');
  });

  it('answers a large multi-get to a client that reads slowly (backpressure)', async () => {
    const c = await RawClient.connect(server.port);
    const value = Buffer.alloc(100 * 1024, 'v');
    c.write(Buffer.concat([Buffer.from(`set bp 0 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]));
    expect(await c.readUntil('\r\n')).toBe('STORED\r\n');
    const observer = await RawClient.connect(server.port);
    const connYields = async (): Promise<number> =>
      Number(/STAT conn_yields (\d+)/.exec(await observer.request('stats\r\n', 'END\r\n'))![1]);
    const yieldsBefore = await connYields();
    c.socket.pause();
    const gets = 400; // 40 MB of replies: far beyond every socket buffer
    c.write('get bp\r\n'.repeat(gets) + 'mn\r\n');
    // The server must stop reading from this client until it reads its replies.
    while ((await connYields()) === yieldsBefore) await new Promise((r) => setImmediate(r));
    observer.close();
    c.socket.resume();
    const reply = await c.readUntil('MN\r\n');
    const one = `VALUE bp 0 ${value.length}\r\n${value.toString('latin1')}\r\nEND\r\n`;
    expect(reply.length).toBe(one.length * gets + 4);
    expect(reply.slice(0, one.length)).toBe(one);
    c.close();
  });

  it('answers everything a client sent before half-closing, then closes', async () => {
    const c = await RawClient.connect(server.port);
    const value = Buffer.alloc(10 * 1024, 'h');
    c.write(Buffer.concat([Buffer.from(`set hc 0 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]));
    const gets = 1000; // 10 MB of replies, so the server is still writing when the FIN arrives
    c.socket.end('get hc\r\n'.repeat(gets));
    const reply = await c.readToClose();
    const one = `VALUE hc 0 ${value.length}\r\n${value.toString('latin1')}\r\nEND\r\n`;
    expect(reply.length).toBe('STORED\r\n'.length + one.length * gets);
  });

  it('reports memcached stat names', async () => {
    const c = await RawClient.connect(server.port);
    const general = await c.request('stats\r\n', 'END\r\n');
    for (const name of ['pid', 'uptime', 'time', 'version', 'curr_connections', 'total_connections', 'cmd_get',
      'cmd_set', 'get_hits', 'get_misses', 'bytes_read', 'bytes_written', 'limit_maxbytes', 'threads',
      'curr_items', 'total_items', 'bytes', 'evictions']) {
      expect(general).toMatch(new RegExp(`^STAT ${name} \\S+\\r$`, 'm'));
    }
    const settings = await c.request('stats settings\r\n', 'END\r\n');
    expect(settings).toMatch(/^STAT maxbytes \d+\r$/m);
    expect(settings).toMatch(/^STAT maxconns \d+\r$/m);
    expect(settings).toMatch(/^STAT item_size_max 1048576\r$/m);
    c.close();
  });
});

describe('issue 13: answers as memcached 1.6.18 does', () => {
  it('stats reset answers RESET and zeroes the command and connection counters', async () => {
    const c = await RawClient.connect(server.port);
    await c.request('set sr 0 0 1\r\nx\r\nget sr\r\n', 'END\r\n');
    expect(await c.request('stats reset\r\n', '\r\n')).toBe('RESET\r\n');
    const stats = await c.request('stats\r\n', 'END\r\n');
    // memcached 1.6.18 also zeroes total_items (observed: 8 -> 0); curr_items stays.
    for (const name of ['cmd_get', 'get_hits', 'cmd_set', 'total_connections', 'total_items']) {
      expect(stats).toContain(`STAT ${name} 0\r\n`);
    }
    expect(stats).toMatch(/STAT curr_connections [1-9]/);
    expect(stats).toMatch(/STAT curr_items [1-9]/);
    expect(await c.request('stats detail on\r\nstats detail dump\r\nstats sizes\r\n', 'disabled\r\nEND\r\n')).toBe(
      'OK\r\nEND\r\nSTAT sizes_status disabled\r\nEND\r\n',
    );
    c.close();
  });

  it('binary stat with an argument answers as memcached 1.6.18 does (statuses observed), and reset zeroes', async () => {
    // The first byte picks a connection's protocol: one binary, one text connection.
    const c = await RawClient.connect(server.port);
    const text = await RawClient.connect(server.port);
    const statPacket = (key: string): Buffer => {
      const header = Buffer.alloc(24);
      header[0] = 0x80;
      header[1] = 0x10;
      header.writeUInt16BE(key.length, 2);
      header.writeUInt32BE(key.length, 8);
      return Buffer.concat([header, Buffer.from(key, 'latin1')]);
    };
    /** Statuses and stat names of the packets up to the terminator (empty key) or an error. */
    const stat = async (key: string): Promise<{ status: number; names: string[] }> => {
      c.write(statPacket(key));
      const names: string[] = [];
      for (;;) {
        const head = await c.readBytes(24);
        const body = await c.readBytes(head.readUInt32BE(8));
        const keyLength = head.readUInt16BE(2);
        const status = head.readUInt16BE(6);
        if (status !== 0 || keyLength === 0) return { status, names };
        names.push(body.toString('latin1', head[4]!, head[4]! + keyLength));
      }
    };
    await text.request('set bs 0 0 1\r\nx\r\nget bs\r\n', 'END\r\n');
    for (const key of ['settings', 'items', 'slabs', 'sizes', 'detail on', 'detail off', 'detail dump']) {
      expect((await stat(key)).status, key).toBe(0);
    }
    expect((await stat('settings')).names).toContain('maxbytes');
    expect((await stat('detail dump')).names).toEqual(['detailed']);
    for (const key of ['bogus', 'detail foo']) expect((await stat(key)).status, key).toBe(1);
    expect(await stat('reset')).toEqual({ status: 0, names: [] });
    const after = await text.request('stats\r\n', 'END\r\n');
    for (const name of ['cmd_get', 'get_hits', 'cmd_set', 'total_items']) expect(after).toContain(`STAT ${name} 0\r\n`);
    c.close();
    text.close();
  });

  it('mg h answers 1 after a fetch (get, gets, mg), 0 after a write, and h/l show the state before the command', async () => {
    const c = await RawClient.connect(server.port);
    // Each request waits for its reply, so reads are served without the log (read rounds).
    expect(await c.request('set hf 0 0 1\r\nx\r\n', '\r\n')).toBe('STORED\r\n');
    expect(await c.request('mg hf h l t\r\n', '\r\n')).toBe('HD h0 l0 t-1\r\n');
    expect(await c.request('mg hf h l\r\n', '\r\n')).toBe('HD h1 l0\r\n');
    expect(await c.request('set hg 0 0 1\r\nx\r\n', '\r\n')).toBe('STORED\r\n');
    expect(await c.request('get hg\r\n', 'END\r\n')).toBe('VALUE hg 0 1\r\nx\r\nEND\r\n');
    expect(await c.request('mg hg h\r\n', '\r\n')).toBe('HD h1\r\n');
    expect(await c.request('set hg 0 0 1\r\ny\r\n', '\r\n')).toBe('STORED\r\n');
    expect(await c.request('mg hg h u\r\n', '\r\n')).toBe('HD h0\r\n');
    expect(await c.request('me hg\r\n', '\r\n')).toMatch(/^ME hg exp=-1 la=0 cas=\d+ fetch=no cls=1 size=62\r\n$/);
    expect(await c.request('gets hg\r\n', 'END\r\n')).toMatch(/^VALUE hg 0 1 \d+\r\ny\r\nEND\r\n$/);
    expect(await c.request('me hg\r\n', '\r\n')).toMatch(/fetch=yes/);
    c.close();
  });

  it('a text get of a stale item leaves the win token to the next mg', async () => {
    const c = await RawClient.connect(server.port);
    const reply = await c.request('set st 0 0 2\r\nhi\r\nmd st I\r\nget st\r\nmg st v\r\nmg st v\r\nmn\r\n', 'MN\r\n');
    expect(reply).toBe('STORED\r\nHD\r\nVALUE st 0 2\r\nhi\r\nEND\r\nVA 2 X W\r\nhi\r\nVA 2 Z X\r\nhi\r\nMN\r\n');
    c.close();
  });
});

describe('max connections', () => {
  let small: ServerProcess;
  beforeAll(async () => {
    small = await startServer(['-c', '2']);
  });
  afterAll(async () => {
    expect(await small.stop()).toBe(0);
  });

  it('answers ERROR Too many open connections past -c, and accepts again after a close', async () => {
    // startServer's readiness probe used a connection; wait until the server has seen it go.
    const a = await RawClient.connect(small.port);
    const currConnections = async (): Promise<number> =>
      Number(/STAT curr_connections (\d+)/.exec(await a.request('stats\r\n', 'END\r\n'))![1]);
    while ((await currConnections()) !== 1) await new Promise((r) => setImmediate(r));
    const b = await RawClient.connect(small.port);
    expect(await b.request('version\r\n', '\r\n')).toMatch(/^VERSION /);
    const c = await RawClient.connect(small.port);
    expect(await c.readToClose()).toBe('ERROR Too many open connections\r\n');
    b.close();
    while ((await currConnections()) !== 1) await new Promise((r) => setImmediate(r));
    const d = await RawClient.connect(small.port);
    expect(await d.request('version\r\n', '\r\n')).toMatch(/^VERSION /);
    expect(await a.request('stats\r\n', 'END\r\n')).toMatch(/^STAT rejected_connections 1\r$/m);
    a.close();
    d.close();
  });
});
