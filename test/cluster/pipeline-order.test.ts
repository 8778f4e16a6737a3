/**
 * Program order on a connection (src/server/connection.ts waitsForEarlierRead): memcached
 * runs a connection's commands one after another, so in a pipeline `get k` then `set k v`
 * the get never sees v. The cluster serves a read at the state current when its read index
 * is confirmed, and under load that state could already hold the set sent behind it on the
 * same connection (found by jepsen-lite's pipelines: 9 such gets in one 60 s run of the
 * default build). Three real nodes, writers keeping them busy, and on every node a client
 * pipelining get-then-set pairs of fresh keys: every get must miss.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessCluster } from './process-cluster.js';

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start(3, ['--groups', '4', '--fsync', 'never']);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

/** Sends `text` on `socket` and resolves with the replies once `count` complete replies arrived. */
function exchange(socket: net.Socket, text: string, isDone: (buffered: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (d: Buffer): void => {
      buffered += d.toString('latin1');
      if (!isDone(buffered)) return;
      socket.off('data', onData);
      socket.off('error', reject);
      resolve(buffered);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(text);
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Keeps a node busy with sets of its own keys until `stop()` (20 in flight per connection). */
async function writer(port: number, name: string, stopped: () => boolean): Promise<void> {
  const s = await connect(port);
  for (let round = 0; !stopped(); round++) {
    let text = '';
    for (let i = 0; i < 20; i++) text += `set w-${name}-${(round * 20 + i) % 500} 0 0 3\r\nabc\r\n`;
    await exchange(s, text, (b) => (b.match(/\r\n/g)?.length ?? 0) >= 20);
  }
  s.destroy();
}

it('a pipelined get never sees the set sent after it on the same connection', async () => {
  let stop = false;
  const writers = [1, 2, 3].flatMap((id) => [0, 1].map((w) => writer(cluster.clientPort(id), `${id}-${w}`, () => stop)));
  let pairs = 0;
  const early: string[] = [];
  const deadline = Date.now() + 10_000;
  await Promise.all(
    [1, 2, 3].map(async (id) => {
      const s = await connect(cluster.clientPort(id));
      for (let round = 0; Date.now() < deadline; round++) {
        const keys = Array.from({ length: 10 }, (_, i) => `po-${id}-${round}-${i}`);
        const text = keys.map((k) => `get ${k}\r\nset ${k} 0 0 1\r\nx\r\n`).join('');
        // Each pair answers a get (END, or VALUE...END) then a set line.
        const reply = await exchange(s, text, (b) => (b.match(/END\r\n(STORED|SERVER_ERROR[^\r]*)\r\n/g)?.length ?? 0) >= keys.length);
        for (const k of keys) if (reply.includes(`VALUE ${k} `)) early.push(k);
        pairs += keys.length;
      }
      s.destroy();
    }),
  );
  stop = true;
  await Promise.all(writers);
  expect(pairs).toBeGreaterThan(300);
  expect(early, `${early.length} of ${pairs} gets saw the set sent after them`).toEqual([]);
}, 60_000);
