/**
 * Rebalancing figures (not a test): a 3-node cluster (8 groups, RF 3, --fsync never) is
 * filled with `--mb` MiB of values, then node 4 joins. Prints: time until the placement
 * settled (no moves, node 4 at its share), bytes node 4 ended up holding vs the ideal (its
 * share: total x RF / 4), and a client's get/set p50/p99 before vs during the moves.
 *
 *   npm run bench:rebalance -- --mb 100
 */
import { parseArgs } from 'node:util';
import { MemberCluster, loads, settled } from '../test/cluster/membership-cluster.js';
import { TextClient } from '../test/cluster/process-cluster.js';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '64' }, 'value-bytes': { type: 'string', default: '4096' } } });
const totalBytes = Number(values.mb) * 1024 * 1024;
const valueBytes = Number(values['value-bytes']);

interface GroupFigures { id: number; bytes: number }

async function groupBytes(c: MemberCluster, id: number): Promise<GroupFigures[]> {
  const res = await fetch(`http://127.0.0.1:${c.ports.admin[id - 1]}/status`);
  const s = (await res.json()) as { groups: GroupFigures[] };
  return s.groups.filter((g) => g.id !== 0);
}

/** Connects, retrying while the node's client listener is still starting. */
async function connect(port: number): Promise<TextClient> {
  for (let i = 0; ; i++) {
    try {
      return await TextClient.connect(port);
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function fill(c: MemberCluster): Promise<void> {
  const value = 'x'.repeat(valueBytes);
  const count = Math.ceil(totalBytes / valueBytes);
  const clients = await Promise.all([1, 2, 3].flatMap((id) => [connect(c.clientPort(id)), connect(c.clientPort(id))]));
  let next = 0;
  await Promise.all(clients.map(async (cl) => {
    while (next < count) await cl.set(`k${next++}`, value);
  }));
  for (const cl of clients) cl.close();
}

/** Latencies (ms) of a get/set loop on node 1 while `running()`. */
async function probe(c: MemberCluster, running: () => boolean): Promise<number[]> {
  const cl = await connect(c.clientPort(1));
  const out: number[] = [];
  for (let i = 0; running(); i++) {
    const t = performance.now();
    if (i % 10 === 0) await cl.set(`p${i % 1000}`, 'v'.repeat(100));
    else await cl.get(`k${i * 7919 % 1000}`);
    out.push(performance.now() - t);
  }
  cl.close();
  return out;
}

function pct(xs: number[], p: number): string {
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0).toFixed(2);
}

async function main(): Promise<void> {
  const memoryMb = String(Math.max(256, Math.ceil((3 * Number(values.mb) * 3) / 3) + 128));
  const c = await MemberCluster.start(3, 4, ['--groups', '8', '--fsync', 'never', '-m', memoryMb]);
  try {
    let t = performance.now();
    await fill(c);
    console.log(`filled ${values.mb} MiB (${valueBytes}-byte values) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    let stop = performance.now() + 5000;
    const before = await probe(c, () => performance.now() < stop);
    t = performance.now();
    c.spawn(4);
    let moving = true;
    const duringP = probe(c, () => moving);
    await c.until((s) => settled(s, 3) && (loads(s).get(4) ?? 0) >= 6, 'node 4 at its share', 1_800_000);
    const seconds = (performance.now() - t) / 1000;
    moving = false;
    const during = await duringP;
    const byGroup = new Map<number, number>();
    for (const id of [1, 2, 3, 4]) for (const g of await groupBytes(c, id)) byGroup.set(g.id, g.bytes);
    const mine = await groupBytes(c, 4);
    const total = [...byGroup.values()].reduce((a, b) => a + b, 0);
    const moved = mine.reduce((a, g) => a + g.bytes, 0);
    console.log(`rebalance onto node 4: ${seconds.toFixed(1)} s; node 4 holds ${mine.length} replicas, ${(moved / 1048576).toFixed(1)} MiB; ideal ${(total * 3 / 4 / 1048576).toFixed(1)} MiB (ratio ${(moved / (total * 3 / 4)).toFixed(2)})`);
    console.log(`client p50/p99 ms before: ${pct(before, 0.5)}/${pct(before, 0.99)} (${before.length} ops); during: ${pct(during, 0.5)}/${pct(during, 0.99)} (${during.length} ops)`);
    stop = 0;
  } finally {
    await c.stop();
  }
}

await main();
