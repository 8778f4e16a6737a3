/**
 * Limits on the client port against abuse, over raw sockets against real server processes.
 * Already covered elsewhere: `-c` (raw-socket.test.ts: ERROR Too many open connections),
 * `-I` (raw-socket.test.ts: SERVER_ERROR object too large for cache), line limits at parser
 * level (protocol/text.test.ts). Here: what a hostile client does to a running node, and
 * that the node keeps serving everyone else.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startServer, type ServerProcess } from './helpers.js';

/** Resident memory of a process in MiB (Linux /proc). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

async function stillServes(port: number, key: string): Promise<void> {
  const c = await RawClient.connect(port);
  expect(await c.request(`set ${key} 0 0 2\r\nok\r\n`, '\r\n')).toBe('STORED\r\n');
  expect(await c.request(`get ${key}\r\n`, 'END\r\n')).toBe(`VALUE ${key} 0 2\r\nok\r\nEND\r\n`);
  c.close();
}

async function statsOf(port: number, group = ''): Promise<string> {
  const c = await RawClient.connect(port);
  const text = await c.request(group === '' ? 'stats\r\n' : `stats ${group}\r\n`, 'END\r\n');
  c.close();
  return text;
}

describe('client port limits (standalone, --idle-timeout 1)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer(['--standalone', '--idle-timeout', '1']);
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('closes a connection sending a line of 64 KiB without a newline, without a reply', async () => {
    const c = await RawClient.connect(server.port);
    c.write(Buffer.alloc(64 * 1024, 'x'));
    expect(await c.readToClose()).toBe('');
    await stillServes(server.port, 'after-long-line');
  });

  it('closes a multi-get line longer than the item size limit', async () => {
    const c = await RawClient.connect(server.port);
    c.write('get ' + 'key '.repeat(300_000)); // 1.2 MB > -I 1m, no newline
    expect(await c.readToClose()).toBe('');
    await stillServes(server.port, 'after-long-get');
  });

  it('stops a multi-get reply past 64 MiB with memcached\'s out-of-memory line; the connection goes on', async () => {
    const c = await RawClient.connect(server.port);
    const value = Buffer.alloc(100 * 1024, 'v');
    expect(await c.request(Buffer.concat([Buffer.from(`set big 0 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]), '\r\n')).toBe('STORED\r\n');
    // 1000 keys of 100 KiB: a 100 MB reply if it were built.
    const reply = await c.request(`get ${'big '.repeat(1000)}\r\n`, 'SERVER_ERROR out of memory writing get response\r\n');
    expect(reply.length).toBeLessThan(70 * 1024 * 1024);
    expect(reply.startsWith('VALUE big 0 102400\r\n')).toBe(true);
    expect(await c.request('version\r\n', '\r\n')).toMatch(/^VERSION /);
    c.close();
  });

  it('closes idle connections after --idle-timeout and counts them (memcached idle_timeout, idle_kicks)', async () => {
    expect(await statsOf(server.port, 'settings')).toMatch(/^STAT idle_timeout 1\r$/m);
    const idle = await RawClient.connect(server.port);
    expect(await idle.readToClose()).toBe('');
    expect(await statsOf(server.port)).toMatch(/^STAT idle_kicks [1-9]\d*\r$/m);
    await stillServes(server.port, 'after-idle');
  });
});

describe('a client that sends without reading its replies (single-node cluster)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer([]);
  }, 60_000);
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('is closed once its unread replies pass the limit; the node\'s memory stays bounded and it keeps serving', async () => {
    const c = await RawClient.connect(server.port);
    const value = Buffer.alloc(512 * 1024, 'v');
    expect(await c.request(Buffer.concat([Buffer.from(`set big 0 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]), '\r\n')).toBe('STORED\r\n');
    c.socket.pause(); // never read again
    // 4000 gets of 512 KiB: 2 GB of replies if the node buffered them all.
    c.write('get big\r\n'.repeat(4000));
    const deadline = Date.now() + 60_000;
    while (!/client leaves its replies unread/.test(server.output())) {
      if (Date.now() > deadline) throw new Error(`not closed; rss ${rssMb(server.child.pid!)} MiB\n${server.output()}`);
      expect(rssMb(server.child.pid!)).toBeLessThan(1024);
      await new Promise((r) => setTimeout(r, 100));
    }
    c.close();
    await stillServes(server.port, 'after-unread');
  }, 90_000);
});
