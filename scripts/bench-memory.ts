/**
 * Memory figures (a benchmark, not a test; docs/perf/memory.md):
 *
 * 1. RSS: a 3-node cluster (16 groups, RF 3, so every node holds every item) and a real
 *    memcached, side by side in one run, each loaded with the same `--items` items of
 *    `--value-bytes` bytes (keys `key:0000000001` .. as memcached's own benches use);
 *    prints RSS per node vs memcached's, and where a node's memory goes (JS heap, external
 *    Buffers, item bytes, in-memory Raft log: the node's /metrics).
 * 2. -m: one node and a 3-node cluster with `-m 16` (16 groups) and memcached `-m 16` are
 *    each sent 2.5x that many item bytes; prints the item bytes held (memcached's `bytes`,
 *    summed over a node's replicas) against the limit.
 *
 *   npm run bench:memory -- [--items 1000000] [--value-bytes 100] [--skip-limit] [--skip-rss]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { freePorts, removeTempDirs } from '../test/cluster/helpers.js';
import { ProcessCluster } from '../test/cluster/process-cluster.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '1000000' },
    'value-bytes': { type: 'string', default: '100' },
    'skip-limit': { type: 'boolean', default: false },
    'skip-rss': { type: 'boolean', default: false },
    /** glibc's MALLOC_ARENA_MAX for the nodes (an experiment: fewer malloc arenas, less RSS). */
    'malloc-arena-max': { type: 'string' },
    /** More environment for the nodes, KEY=VALUE (repeatable): e.g. MALLOC_MMAP_THRESHOLD_=131072. */
    'node-env': { type: 'string', multiple: true, default: [] },
  },
});
const items = Number(values.items);
const valueBytes = Number(values['value-bytes']);
const mib = 1024 * 1024;

/** memcached's benches name keys like this: fixed width, 14 bytes. */
function keyOf(i: number): string {
  return `key:${String(i).padStart(10, '0')}`;
}

/** Sets answered with an error (e.g. a leader change under load) and sent again. */
let retried = 0;

/**
 * Stores keys [from, to) through one connection, pipelined: `window` sets in flight. A set
 * answered with an error is sent again after the others (replies come in request order,
 * so the n-th reply answers the n-th set).
 */
async function load(port: number, from: number, to: number, value: string, window = 512): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const queue: number[] = [];
  for (let i = from; i < to; i++) queue.push(i);
  const inFlight: number[] = [];
  let next = 0;
  let pending = '';
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let at: number;
    while ((at = pending.indexOf('\r\n')) >= 0) {
      const line = pending.slice(0, at);
      pending = pending.slice(at + 2);
      const key = inFlight.shift()!;
      if (line === 'STORED') continue;
      if (!line.startsWith('SERVER_ERROR') || retried > 100_000) failure = new Error(`port ${port}: ${line}`);
      retried++;
      queue.push(key);
    }
    wake?.();
  });
  socket.on('error', (err) => {
    failure = err;
    wake?.();
  });
  while (next < queue.length || inFlight.length > 0) {
    if (failure !== null) throw failure;
    if (next < queue.length && inFlight.length < window) {
      let batch = '';
      while (next < queue.length && inFlight.length < window) {
        const key = queue[next++]!;
        inFlight.push(key);
        batch += `set ${keyOf(key)} 0 0 ${value.length}\r\n${value}\r\n`;
      }
      socket.write(batch);
    }
    await new Promise<void>((resolve) => (wake = resolve));
    wake = null;
  }
  socket.end();
}

/** Loads [0, count) over `connectionsPerPort` connections to each of `ports`; ms taken. */
async function loadAll(ports: number[], count: number, value: string, connectionsPerPort = 2): Promise<number> {
  const started = Date.now();
  const lanes = ports.flatMap((p) => Array.from({ length: connectionsPerPort }, () => p));
  const per = Math.ceil(count / lanes.length);
  await Promise.all(lanes.map((port, i) => load(port, i * per, Math.min(count, (i + 1) * per), value)));
  return Date.now() - started;
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  return kb === null ? 0 : Number(kb[1]) * 1024;
}

/** memcached `stats` as a map. */
async function stats(port: number): Promise<Map<string, string>> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('stats\r\n');
  let text = '';
  socket.setEncoding('latin1');
  for await (const chunk of socket) {
    text += chunk as string;
    if (text.endsWith('END\r\n')) break;
  }
  socket.destroy();
  return new Map(text.split('\r\n').filter((l) => l.startsWith('STAT ')).map((l) => {
    const [, name, value] = l.split(' ');
    return [name!, value!] as [string, string];
  }));
}

/** The `memraft_*` gauges of a node's /metrics, by series (labels included). */
async function metrics(cluster: ProcessCluster, id: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${cluster.ports.admin[id - 1]}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at).replace(/\{node="\d+",?/, '{'), Number(line.slice(at + 1)));
  }
  return out;
}

async function startMemcached(memoryMb: number): Promise<{ child: ChildProcess; port: number }> {
  const [port] = await freePorts(1);
  const child = spawn('memcached', ['-p', String(port), '-U', '0', '-l', '127.0.0.1', '-m', String(memoryMb), '-u', 'root'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      await stats(port!);
      return { child, port: port! };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('memcached did not start');
}

/** Waits until every node has applied what its groups committed (followers caught up). */
async function settle(cluster: ProcessCluster): Promise<void> {
  for (let i = 0; i < 600; i++) {
    let behind = 0;
    for (let id = 1; id <= cluster.size; id++) {
      const s = await cluster.status(id);
      for (const g of s?.groups ?? []) behind += Math.max(0, g.commit - g.applied);
    }
    if (behind === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const fmt = (bytes: number): string => `${(bytes / mib).toFixed(1)} MiB`;

async function rssFigure(): Promise<void> {
  const value = 'v'.repeat(valueBytes);
  const memoryMb = 2048;
  const mc = await startMemcached(memoryMb);
  const env: Record<string, string> = values['malloc-arena-max'] === undefined ? {} : { MALLOC_ARENA_MAX: values['malloc-arena-max'] };
  for (const kv of values['node-env']) env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  const cluster = await ProcessCluster.start(3, ['-m', String(memoryMb), '--fsync', 'never'], env);
  try {
    if (Object.keys(env).length > 0) console.log(`nodes run with ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    const baseRss = [1, 2, 3].map((id) => rssBytes(cluster.children.get(id)!.pid!));
    const mcMs = await loadAll([mc.port], items, value, 4);
    const clusterMs = await loadAll([1, 2, 3].map((id) => cluster.clientPort(id)), items, value);
    await settle(cluster);
    // Let housekeeping run (bump/expire entries, snapshots by log bytes) and the GC settle.
    await new Promise((r) => setTimeout(r, 5000));
    const mcStats = await stats(mc.port);
    const mcRss = rssBytes(mc.child.pid!);
    console.log(`${items} items of ${valueBytes} B (keys ${keyOf(0).length} B); loaded: memcached ${(mcMs / 1000).toFixed(1)} s, cluster ${(clusterMs / 1000).toFixed(1)} s (${retried} sets answered SERVER_ERROR and sent again)`);
    console.log(`memcached 1.6.18: RSS ${fmt(mcRss)}, curr_items ${mcStats.get('curr_items')}, bytes ${fmt(Number(mcStats.get('bytes')))}`);
    let clusterItems = 0;
    for (let id = 1; id <= 3; id++) clusterItems += Number((await stats(cluster.clientPort(id))).get('curr_items'));
    console.log(`memraft 3 nodes, 16 groups, RF 3: curr_items (led groups, summed) ${clusterItems}`);
    console.log('node  RSS        x memcached  (at start)  heap used  heap total  external  arrayBuffers  item bytes  raft log');
    for (let id = 1; id <= 3; id++) {
      const rss = rssBytes(cluster.children.get(id)!.pid!);
      const m = await metrics(cluster, id);
      const mem = (kind: string): number => m.get(`memraft_process_memory_bytes{kind="${kind}"}`) ?? 0;
      console.log(
        `${id}     ${fmt(rss).padEnd(10)} ${(rss / mcRss).toFixed(2).padEnd(12)} ${fmt(baseRss[id - 1]!).padEnd(11)} ${fmt(mem('heap_used')).padEnd(10)} ` +
          `${fmt(mem('heap_total')).padEnd(11)} ${fmt(mem('external')).padEnd(9)} ${fmt(mem('array_buffers')).padEnd(13)} ` +
          `${fmt(m.get('memraft_item_bytes{}') ?? 0).padEnd(11)} ${fmt(m.get('memraft_raft_log_bytes{}') ?? 0)}`,
      );
    }
  } finally {
    mc.child.kill('SIGKILL');
    await cluster.stop();
  }
}

/** Item bytes each node holds after being sent 2.5x -m. */
async function limitFigure(): Promise<void> {
  const memoryMb = 16;
  const value = 'v'.repeat(1000);
  const count = Math.ceil((2.5 * memoryMb * mib) / 1100);
  const mc = await startMemcached(memoryMb);
  try {
    await loadAll([mc.port], count, value, 2);
    const s = await stats(mc.port);
    console.log(`-m ${memoryMb}, ${count} items of 1000 B sent: memcached bytes ${fmt(Number(s.get('bytes')))} of limit_maxbytes ${fmt(Number(s.get('limit_maxbytes')))}`);
  } finally {
    mc.child.kill('SIGKILL');
  }
  for (const size of [1, 3]) {
    const cluster = await ProcessCluster.start(size, ['-m', String(memoryMb), '--fsync', 'never']);
    try {
      await loadAll(Array.from({ length: size }, (_, i) => cluster.clientPort(i + 1)), count, value);
      await settle(cluster);
      const held: string[] = [];
      for (let id = 1; id <= size; id++) {
        const m = await metrics(cluster, id);
        held.push(`node ${id} ${fmt(m.get('memraft_item_bytes{}') ?? 0)} (limits ${fmt(m.get('memraft_limit_bytes{}') ?? 0)})`);
      }
      console.log(`-m ${memoryMb}, ${size} node(s), 16 groups: item bytes held: ${held.join(', ')}`);
    } finally {
      await cluster.stop();
    }
  }
}

try {
  console.log('bench:memory (the machine may be shared: RSS figures are compared within one run)');
  if (!values['skip-rss']) await rssFigure();
  if (!values['skip-limit']) await limitFigure();
} finally {
  await removeTempDirs();
}
