/**
 * A real 3-node cluster (child processes on loopback): reads through any node see writes
 * made through any other, protocol conformance (memccapable) on every node, the memcached
 * and memjs npm clients spread over all nodes, and equal replica digests.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import Memcached from 'memcached';
import memjs from 'memjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster, TextClient } from './process-cluster.js';

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start(3);
});

afterAll(async () => {
  await cluster?.stop();
});

describe('a 3-node cluster', () => {
  it('serves through nodes 2 and 3 a value set through node 1, immediately', async () => {
    const clients = await Promise.all([1, 2, 3].map((id) => TextClient.connect(cluster.clientPort(id))));
    try {
      for (let i = 0; i < 20; i++) {
        const key = `fresh-${i}`;
        expect(await clients[0]!.set(key, `v${i}`)).toBe('STORED\r\n');
        expect(await clients[1]!.get(key)).toBe(`v${i}`);
        expect(await clients[2]!.get(key)).toBe(`v${i}`);
        expect(await clients[2]!.set(key, `w${i}`)).toBe('STORED\r\n');
        expect(await clients[0]!.get(key)).toBe(`w${i}`);
      }
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('answers stats and stats raft with memcached names and per-group figures', async () => {
    const c = await TextClient.connect(cluster.clientPort(2));
    try {
      const stats = await c.call('stats');
      for (const name of ['pid', 'uptime', 'curr_items', 'bytes', 'get_hits', 'cmd_get', 'curr_connections']) {
        expect(stats).toContain(`STAT ${name} `);
      }
      const raft = await c.call('stats raft');
      expect(raft).toContain('STAT group_1_role ');
      expect(raft).toContain('STAT group_16_commit ');
      expect(await c.call('stats items')).toContain('STAT items:1:number ');
      expect(await c.call('stats settings')).toContain('STAT maxbytes ');
    } finally {
      c.close();
    }
  });

  for (const flag of ['-a', '-b'] as const) {
    it(`passes memccapable ${flag} against every node`, async () => {
      for (const id of [1, 2, 3]) {
        const child = spawn('memccapable', ['-h', '127.0.0.1', '-p', String(cluster.clientPort(id)), '-t', '10', flag]);
        let output = '';
        child.stdout.on('data', (d: Buffer) => (output += d.toString()));
        child.stderr.on('data', (d: Buffer) => (output += d.toString()));
        const [code] = await once(child, 'exit');
        expect(output, `node ${id}`).toContain('All tests passed');
        expect(code).toBe(0);
      }
    });
  }

  it('works with the memcached npm client configured with all three nodes', async () => {
    const servers = [1, 2, 3].map((id) => `127.0.0.1:${cluster.clientPort(id)}`);
    const client = new Memcached(servers, { retries: 0, timeout: 10_000 });
    const set = (k: string, v: string): Promise<boolean> =>
      new Promise((resolve, reject) => client.set(k, v, 600, (err, ok) => (err ? reject(err) : resolve(ok))));
    const getMulti = (keys: string[]): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => client.getMulti(keys, (err, data) => (err ? reject(err) : resolve(data))));
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `npm-memcached-${i}`);
      for (const k of keys) expect(await set(k, `value of ${k}`)).toBe(true);
      const got = await getMulti(keys);
      for (const k of keys) expect(got[k]).toBe(`value of ${k}`);
    } finally {
      client.end();
    }
    // Whichever node the client hashed a key to, every node serves it.
    const c = await TextClient.connect(cluster.clientPort(3));
    expect(await c.get('npm-memcached-7')).toBe('value of npm-memcached-7');
    c.close();
  });

  it('works with the memjs (binary protocol) client configured with all three nodes', async () => {
    const servers = [1, 2, 3].map((id) => `127.0.0.1:${cluster.clientPort(id)}`).join(',');
    const client = memjs.Client.create(servers, { retries: 0, timeout: 10, logger: { log: () => {} } });
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `memjs-${i}`);
      for (const k of keys) expect(await client.set(k, `value of ${k}`, { expires: 600 })).toBe(true);
      for (const k of keys) expect((await client.get(k)).value?.toString()).toBe(`value of ${k}`);
      expect(await client.delete(keys[0]!)).toBe(true);
      expect((await client.get(keys[0]!)).value).toBeNull();
      const incr = await client.increment('memjs-counter', 5, { initial: 10 });
      expect(incr.success).toBe(true);
    } finally {
      client.close();
    }
  });

  it('has equal state digests on every replica at equal applied index', async () => {
    const digests = await cluster.convergedDigests();
    expect(digests.size).toBe(17); // 16 data groups + the meta group
  });
});
