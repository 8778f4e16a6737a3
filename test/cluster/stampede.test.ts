/**
 * Stampede protection across the cluster (issue 13, item 4), on a real 3-node cluster with
 * clients on every node: for a missing item (mg N) or a stale one (md I), exactly one client
 * in the whole cluster gets the win token (W) and every other gets Z with the stub's or the
 * stale value, as memcached's meta protocol specifies. The token is replicated state (the
 * read that takes it goes through the Raft log), so when the group's leader is SIGKILLed
 * while a token is outstanding, the new leader knows it was handed out: nobody wins it
 * again until the winner recaches the item. Also: a fetch through one node shows as h1
 * through every node (meta h).
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey, rangeIndexOf } from '../../src/membership/hash.js';
import { ProcessCluster } from './process-cluster.js';

const groups = 4;
let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start(3, ['--groups', String(groups)]);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

/** A raw client: each request is followed by `mn`, and its reply is read up to `MN`. */
class MetaClient {
  private buffered = '';
  private wake: (() => void) | null = null;
  private closed = false;

  private constructor(
    private readonly socket: net.Socket,
    readonly node: number,
  ) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffered += d;
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static async connect(node: number): Promise<MetaClient> {
    const socket = net.connect(cluster.clientPort(node), '127.0.0.1');
    await once(socket, 'connect');
    return new MetaClient(socket, node);
  }

  async request(bytes: string): Promise<string> {
    this.socket.write(bytes + 'mn\r\n');
    for (;;) {
      if (this.buffered.endsWith('MN\r\n')) {
        const reply = this.buffered.slice(0, -4);
        this.buffered = '';
        return reply;
      }
      if (this.closed) throw new Error(`connection to node ${this.node} closed; got '${this.buffered}'`);
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  /** Like request, but retries while the cluster answers SERVER_ERROR (no leader yet). */
  async requestSettled(bytes: string, deadlineMs = Date.now() + 20_000): Promise<string> {
    for (;;) {
      const reply = await this.request(bytes);
      if (!reply.startsWith('SERVER_ERROR') || Date.now() > deadlineMs) return reply;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Two clients on each node. */
async function clientsOnEveryNode(nodes = [1, 2, 3]): Promise<MetaClient[]> {
  return Promise.all(nodes.flatMap((n) => [MetaClient.connect(n), MetaClient.connect(n)]));
}

/** Sends `bytes` from every client at once; the replies in client order. */
function race(clients: MetaClient[], bytes: string): Promise<string[]> {
  return Promise.all(clients.map((c) => c.requestSettled(bytes)));
}

const winners = (replies: string[]): number => replies.filter((r) => / W\r\n/.test(r)).length;

function groupOf(key: string): number {
  return rangeIndexOf(hashKey(Buffer.from(key)), groups) + 1;
}

/** The node that leads `group` now (as its own /status says). */
async function leaderOf(group: number): Promise<number> {
  for (;;) {
    for (const id of cluster.children.keys()) {
      const s = await cluster.status(id);
      if (s?.groups.some((g) => g.id === group && g.role === 'leader')) return id;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('stampede protection: one win token in the whole cluster', () => {
  it('a missing item (mg N): exactly one W among clients on all three nodes, the others Z with the empty stub', async () => {
    const clients = await clientsOnEveryNode();
    for (let round = 0; round < 5; round++) {
      const replies = await race(clients, `mg miss-${round} v c t N30\r\n`);
      expect(winners(replies), replies.join('')).toBe(1);
      for (const r of replies) expect(r).toMatch(/^VA 0 c\d+ t30 [WZ]\r\n\r\n$/);
    }
    for (const c of clients) c.close();
  });

  it('a stale item (md I): exactly one W, every client gets the stale value (X), the others Z', async () => {
    const clients = await clientsOnEveryNode();
    for (let round = 0; round < 5; round++) {
      const key = `stale-${round}`;
      expect(await clients[0]!.request(`set ${key} 0 0 3\r\nold\r\n`)).toBe('STORED\r\n');
      expect(await clients[2]!.request(`md ${key} I T30\r\n`)).toBe('HD\r\n');
      const replies = await race(clients, `mg ${key} v c t\r\n`);
      expect(winners(replies), replies.join('')).toBe(1);
      for (const r of replies) expect(r).toMatch(/^VA 3 c\d+ t30 (X W|Z X)\r\nold\r\n$/);
      // A text get of the stale item never takes the token (memcached's item_get).
      expect(await clients[4]!.request(`get ${key}\r\n`)).toBe(`VALUE ${key} 0 3\r\nold\r\nEND\r\n`);
    }
    for (const c of clients) c.close();
  });

  it('a fetch through one node shows as h1 through every node', async () => {
    // Fetch marks not logged yet live at the leader; moving leadership drops them.
    await cluster.waitStableLeaders();
    const clients = await clientsOnEveryNode();
    for (let i = 0; i < 6; i++) {
      const key = `hit-${i}`;
      const [writer, reader] = [clients[i % 6]!, clients[(i + 2) % 6]!];
      expect(await writer.request(`set ${key} 0 0 1\r\nx\r\n`)).toBe('STORED\r\n');
      expect(await clients[(i + 4) % 6]!.request(`mg ${key} h u\r\n`)).toBe('HD h0\r\n');
      expect(await reader.request(`get ${key}\r\n`)).toBe(`VALUE ${key} 0 1\r\nx\r\nEND\r\n`);
      for (const c of clients) expect(await c.request(`mg ${key} h u\r\n`), `node ${c.node}`).toBe('HD h1\r\n');
    }
    for (const c of clients) c.close();
  });

  it("a token outstanding at a leader that is SIGKILLed is never handed out again by the next one", async () => {
    const missKey = 'failover-miss';
    let staleKey = 'failover-stale-0';
    for (let i = 1; groupOf(staleKey) !== groupOf(missKey); i++) staleKey = `failover-stale-${i}`;
    const group = groupOf(missKey);
    const leader = await leaderOf(group);
    const survivors = [1, 2, 3].filter((n) => n !== leader);
    const owner = await MetaClient.connect(survivors[0]!);
    // The winner of each token is a client of a node that survives, so it can recache later.
    const won = await owner.request(`mg ${missKey} v c N30\r\n`);
    expect(won).toMatch(/^VA 0 c\d+ W\r\n\r\n$/);
    expect(await owner.request(`set ${staleKey} 0 0 3\r\nold\r\n`)).toBe('STORED\r\n');
    expect(await owner.request(`md ${staleKey} I T30\r\n`)).toBe('HD\r\n');
    const wonStale = await owner.request(`mg ${staleKey} v c\r\n`);
    expect(wonStale).toMatch(/^VA 3 c\d+ X W\r\nold\r\n$/);

    await cluster.kill(leader);
    const clients = await clientsOnEveryNode(survivors);
    const afterMiss = await race(clients, `mg ${missKey} v c N30\r\n`);
    expect(winners(afterMiss), afterMiss.join('')).toBe(0);
    for (const r of afterMiss) expect(r).toMatch(/^VA 0 c\d+ Z\r\n\r\n$/);
    const afterStale = await race(clients, `mg ${staleKey} v c\r\n`);
    expect(winners(afterStale), afterStale.join('')).toBe(0);
    for (const r of afterStale) expect(r).toMatch(/^VA 3 c\d+ Z X\r\nold\r\n$/);
    expect(await leaderOf(group)).not.toBe(leader);

    // The winner recaches with the CAS its W came with: the item is fresh, no token pending.
    const cas = /c(\d+)/.exec(won)![1];
    expect(await owner.requestSettled(`ms ${missKey} 3 C${cas} T30\r\nnew\r\n`)).toBe('HD\r\n');
    const staleCas = /c(\d+)/.exec(wonStale)![1];
    expect(await owner.requestSettled(`ms ${staleKey} 3 C${staleCas} I T30\r\nnew\r\n`)).toBe('HD\r\n');
    for (const key of [missKey, staleKey]) {
      const fresh = await race(clients, `mg ${key} v\r\n`);
      for (const r of fresh) expect(r).toBe('VA 3\r\nnew\r\n');
    }
    for (const c of [owner, ...clients]) c.close();
  }, 60_000);
});
