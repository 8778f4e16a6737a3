/**
 * Cluster benchmark (not a test): memcaslap against a 3-node memraft cluster (all three
 * nodes in memcaslap's server list, fsync on) and against one real memcached, then the
 * failover time of the cluster over repeated SIGKILLs of the busiest leader.
 *
 *   npm run bench -- [--seconds 15] [--kills 5] [--threads 3] [--concurrency 48] [--fsync always|never]
 *
 * Workloads (16-byte keys — memcaslap's minimum — and 100-byte values):
 *   get90:      90% get / 10% set, closed loop, max throughput
 *   set-only:   100% set, closed loop
 *   half load:  90/10 at half the get90 throughput (memcaslap -P); p50/p99 latency from
 *               memcaslap's log2 latency histogram (interpolated within a bucket)
 * Failover: a probe writes one key of every group through a surviving node in a loop;
 * after SIGKILL of the node leading the most groups, the failover time is how long until
 * every group the victim led acknowledged a write again. The victim is restarted (and
 * leadership rebalanced) before the next kill.
 *
 * Every run is checked against the servers' own counters: memcaslap counts refused
 * requests as ops (its 16-byte keys start with 8 bytes of 0x10, a control character the
 * protocol may refuse), so rows where the servers executed under 99% are flagged. A
 * built-in load generator (valid keys, exact per-request latency) runs the same mixes.
 *
 * Note: all processes share this machine's cores (2 here), load generators included.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { hashKey, rangeIndexOf } from '../src/membership/hash.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    kills: { type: 'string', default: '5' },
    threads: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '48' },
    fsync: { type: 'string', default: 'always' },
    groups: { type: 'string', default: '16' },
  },
  allowPositionals: true,
});

const root = resolve(import.meta.dirname, '..');
const mainJs = process.env.MEMRAFT_BENCH_MAIN ?? join(root, 'dist/cli/main.js');
const seconds = Number(args.seconds);
const groups = Number(args.groups);

interface Caslap {
  /** Requests completed. */
  ops: number;
  tps: number;
  p50Us: number;
  p99Us: number;
  /** Share of the requests the servers executed (their cmd_get + cmd_set). */
  executedShare?: number;
}

async function main(): Promise<void> {
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'ignore' });
  const dir = await mkdtemp(join(tmpdir(), 'memraft-bench-'));
  const cfg90 = join(dir, 'get90.cfg');
  const cfgSet = join(dir, 'set.cfg');
  await writeFile(cfg90, 'key\n16 16 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n');
  await writeFile(cfgSet, 'key\n16 16 1\nvalue\n100 100 1\ncmd\n0 1.0\n1 0.0\n');
  console.log(`bench: memcaslap -T ${args.threads} -c ${args.concurrency}, ${seconds}s per run, 16-byte keys, 100-byte values`);
  console.log(`memraft: 3 nodes, ${groups} groups x 3 replicas, --fsync ${args.fsync}, ReadIndex reads\n`);

  const mcPort = (await freePorts(1))[0]!;
  const mc = spawn('memcached', ['-m', '1024', '-p', String(mcPort), '-U', '0', '-l', '127.0.0.1', ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : [])], { stdio: 'ignore' });
  await waitPort(mcPort);
  const mcResults = await workloads([`127.0.0.1:${mcPort}`], cfg90, cfgSet);
  mc.kill('SIGTERM');
  await once(mc, 'exit');

  const cluster = await Cluster.start(dir);
  try {
    const servers = [1, 2, 3].map((id) => `127.0.0.1:${cluster.clientPort(id)}`);
    const mrResults = await workloads(servers, cfg90, cfgSet, cluster);
    printTable(mcResults, mrResults);
    await failover(cluster, Number(args.kills));
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function workloads(servers: string[], cfg90: string, cfgSet: string, cluster?: Cluster): Promise<Record<string, Caslap>> {
  const get90 = await counted(servers, () => caslap(servers, cfg90, []));
  const setOnly = await counted(servers, () => caslap(servers, cfgSet, []));
  const half = await counted(servers, () => caslap(servers, cfg90, [`--tps=${Math.max(1, Math.round(get90.tps / 2000))}k`]));
  const ownSet = await counted(servers, () => loadgen(servers, 1, 0));
  const cpu0 = cluster?.cpuSeconds() ?? 0;
  const own90 = await counted(servers, () => loadgen(servers, 0.1, 0));
  if (cluster !== undefined) {
    const us = ((cluster.cpuSeconds() - cpu0) * 1e6) / own90.ops;
    console.log(`memraft nodes' CPU per request in the loadgen 90/10 run: ${us.toFixed(0)} us (all three processes, user + system)`);
  }
  const ownHalf = await counted(servers, () => loadgen(servers, 0.1, own90.tps / 2));
  return { get90, setOnly, half, own90, ownSet, ownHalf };
}

/**
 * Runs a workload and checks it against the servers' own counters (cmd_get + cmd_set):
 * a request the server refuses (e.g. a key it rejects) is still an "op" to memcaslap.
 */
async function counted(servers: string[], run: () => Promise<Caslap>): Promise<Caslap> {
  const before = await serverOps(servers);
  const r = await run();
  const executed = (await serverOps(servers)) - before;
  r.executedShare = Math.min(1, executed / Math.max(1, r.ops));
  return r;
}

async function serverOps(servers: string[]): Promise<number> {
  let total = 0;
  for (const s of servers) {
    const [host, port] = s.split(':');
    const socket = await connect(Number(port), host);
    const reader = lineReader(socket);
    socket.write('stats\r\n');
    for (;;) {
      const line = await reader();
      if (line === 'END') break;
      const m = /^STAT (cmd_get|cmd_set) (\d+)$/.exec(line);
      if (m !== null) total += Number(m[2]);
    }
    socket.destroy();
  }
  return total;
}

/**
 * The built-in load generator: `concurrency` connections spread over the servers, each
 * with one request in flight, valid 16-byte keys over a 100k key space (pre-set by the
 * set-only run), 100-byte values; `setShare` of requests are sets; `rate` > 0 paces the
 * whole generator at that many requests/s. Latency is measured per request.
 */
async function loadgen(servers: string[], setShare: number, rate: number): Promise<Caslap> {
  const concurrency = Number(args.concurrency);
  const value = 'v'.repeat(100);
  const latencies: number[] = [];
  const startAt = performance.now();
  const endAt = startAt + seconds * 1000;
  let issued = 0;
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const worker = async (w: number): Promise<void> => {
    const [host, port] = servers[w % servers.length]!.split(':');
    const socket = await connect(Number(port), host);
    const reader = lineReader(socket);
    while (performance.now() < endAt) {
      if (rate > 0) {
        const due = startAt + (issued++ / rate) * 1000;
        if (due > performance.now()) await sleep(due - performance.now());
      }
      const key = `key-${String(Math.floor(random() * 100_000)).padStart(12, '0')}`;
      const t0 = performance.now();
      if (random() < setShare) {
        socket.write(`set ${key} 0 0 100\r\n${value}\r\n`);
        await reader();
      } else {
        socket.write(`get ${key}\r\n`);
        for (;;) {
          const line = await reader();
          if (line === 'END' || /^(SERVER_ERROR|CLIENT_ERROR|ERROR)/.test(line)) break;
        }
      }
      latencies.push(performance.now() - t0);
    }
    socket.destroy();
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  latencies.sort((x, y) => x - y);
  const q = (x: number): number => (latencies[Math.min(latencies.length - 1, Math.floor(x * latencies.length))] ?? 0) * 1000;
  return { ops: latencies.length, tps: latencies.length / ((performance.now() - startAt) / 1000), p50Us: q(0.5), p99Us: q(0.99) };
}

function printTable(mc: Record<string, Caslap>, mr: Record<string, Caslap>): void {
  const row = (name: string, x: string, y: string, ratio: string): string => `${name.padEnd(38)}${x.padStart(22)}${y.padStart(22)}${ratio.padStart(8)}`;
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  const share = (r: Caslap): string => (r.executedShare !== undefined && r.executedShare < 0.99 ? ` (${(r.executedShare * 100).toFixed(0)}% ran)` : '');
  const line = (name: string, key: string, field: 'tps' | 'p50Us' | 'p99Us', ratio: boolean): void => {
    const x = mc[key]!;
    const y = mr[key]!;
    console.log(row(name, fmt(x[field]) + share(x), fmt(y[field]) + share(y), ratio ? (y[field] / x[field]).toFixed(2) : ''));
  };
  console.log(row('', 'memcached', 'memraft (3 nodes)', 'ratio'));
  line('memcaslap 90/10 get/set ops/s', 'get90', 'tps', true);
  line('memcaslap set-only ops/s', 'setOnly', 'tps', true);
  line('memcaslap half load ops/s', 'half', 'tps', false);
  line('memcaslap half load p50 (us)', 'half', 'p50Us', false);
  line('memcaslap half load p99 (us)', 'half', 'p99Us', false);
  line('loadgen 90/10 get/set ops/s', 'own90', 'tps', true);
  line('loadgen set-only ops/s', 'ownSet', 'tps', true);
  line('loadgen half load ops/s', 'ownHalf', 'tps', false);
  line('loadgen half load p50 (us)', 'ownHalf', 'p50Us', false);
  line('loadgen half load p99 (us)', 'ownHalf', 'p99Us', false);
  console.log('(ran = share of the requests the servers executed, from their own cmd_get/cmd_set)\n');
}

async function caslap(servers: string[], cfg: string, extra: string[]): Promise<Caslap> {
  const child = spawn('memcaslap', ['-s', servers.join(','), '-t', `${seconds}s`, '-T', args.threads!, '-c', args.concurrency!, '-F', cfg, '-S', `${seconds}s`, ...extra]);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await once(child, 'exit');
  const m = /Run time: [\d.]+s Ops: (\d+) TPS: (\d+)/.exec(out);
  if (m === null) throw new Error(`memcaslap output not understood:\n${out}`);
  const hist = totalHistogram(out);
  return { ops: Number(m[1]), tps: Number(m[2]), p50Us: percentile(hist, 0.5), p99Us: percentile(hist, 0.99) };
}

/** memcaslap's "Total Statistics" log2 histogram: counts[k] = latencies in [2^k, 2^(k+1)) us. */
function totalHistogram(out: string): number[] {
  const at = out.lastIndexOf('Total Statistics (');
  const section = out.slice(at, out.indexOf('\n\n', at) > 0 ? out.indexOf('\n\n', at) : undefined);
  const counts: number[] = [];
  for (const m of section.matchAll(/^\s+(\d+):((?:\s+\d+)+)\s*$/gm)) {
    const base = Number(m[1]);
    m[2]!.trim().split(/\s+/).forEach((c, i) => (counts[base + i] = Number(c)));
  }
  return counts;
}

function percentile(counts: number[], q: number): number {
  const total = counts.reduce((a, b) => a + (b ?? 0), 0);
  let seen = 0;
  for (let k = 0; k < counts.length; k++) {
    const c = counts[k] ?? 0;
    if (seen + c >= q * total && c > 0) return 2 ** k + ((q * total - seen) / c) * 2 ** k;
    seen += c;
  }
  return 0;
}

// ---- the cluster -----------------------------------------------------------------------

class Cluster {
  readonly children = new Map<number, ChildProcess>();
  private constructor(
    readonly ports: number[],
    readonly dir: string,
  ) {}

  static async start(dir: string): Promise<Cluster> {
    const c = new Cluster(await freePorts(9), dir);
    for (const id of [1, 2, 3]) c.spawnNode(id);
    await c.waitReady();
    return c;
  }

  clientPort(id: number): number {
    return this.ports[id - 1]!;
  }

  adminPort(id: number): number {
    return this.ports[5 + id]!;
  }

  spawnNode(id: number): void {
    const initial = [1, 2, 3].map((i) => `${i}=127.0.0.1:${this.ports[2 + i]}`).join(',');
    const child = spawn(process.execPath, [mainJs, 'serve', '--id', String(id), '--listen', `127.0.0.1:${this.clientPort(id)}`,
      '--peer-listen', `127.0.0.1:${this.ports[2 + id]}`, '--admin-listen', `127.0.0.1:${this.adminPort(id)}`,
      '--initial-cluster', initial, '--groups', String(groups), '--fsync', args.fsync!, '-m', '1024',
      '--data-dir', join(this.dir, `node-${id}`), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
    this.children.set(id, child);
  }

  async status(id: number): Promise<{ ready: boolean; leaderOf: number; groups: Array<{ id: number; leader: number }> } | null> {
    try {
      return (await (await fetch(`http://127.0.0.1:${this.adminPort(id)}/status`)).json()) as never;
    } catch {
      return null;
    }
  }

  async waitReady(ids = [1, 2, 3]): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (const id of ids) {
      while ((await this.status(id))?.ready !== true) {
        if (Date.now() > deadline) throw new Error(`node ${id} not ready`);
        await sleep(100);
      }
    }
  }

  /** CPU seconds (user + system) used so far by the running node processes. */
  cpuSeconds(): number {
    let ticks = 0;
    for (const c of this.children.values()) {
      try {
        const fields = readFileSync(`/proc/${c.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        // exited
      }
    }
    return ticks / 100;
  }

  async kill(id: number): Promise<void> {
    const child = this.children.get(id)!;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.children.values()].map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = once(c, 'exit');
      c.kill('SIGTERM');
      await exited;
    }));
  }
}

// ---- failover ---------------------------------------------------------------------------

/** A key of each data group (group id -> key). */
function probeKeys(): Map<number, string> {
  const keys = new Map<number, string>();
  for (let i = 0; keys.size < groups; i++) {
    const key = `probe-${i}`;
    const g = rangeIndexOf(hashKey(Buffer.from(key)), groups) + 1;
    if (!keys.has(g)) keys.set(g, key);
  }
  return keys;
}

async function failover(cluster: Cluster, kills: number): Promise<void> {
  const times: number[] = [];
  for (let k = 0; k < kills; k++) {
    const statuses = await Promise.all([1, 2, 3].map((id) => cluster.status(id)));
    let victim = 1;
    for (const id of [1, 2, 3]) if ((statuses[id - 1]?.leaderOf ?? 0) > (statuses[victim - 1]?.leaderOf ?? 0)) victim = id;
    const led = statuses[victim - 1]!.groups.filter((g) => g.id !== 0 && g.leader === victim).map((g) => g.id);
    const via = [1, 2, 3].find((id) => id !== victim)!;
    const keys = probeKeys();
    const killedAt = { t: Infinity };
    const recovered = new Map<number, number>();
    let stop = false;
    const probes = led.map(async (g) => {
      const socket = await connect(cluster.clientPort(via));
      const reader = lineReader(socket);
      while (!stop) {
        const sentAt = performance.now();
        socket.write(`set ${keys.get(g)} 0 0 1\r\nx\r\n`);
        const line = await reader();
        if (line === 'STORED' && sentAt > killedAt.t && !recovered.has(g)) recovered.set(g, performance.now() - killedAt.t);
        if (recovered.has(g)) break;
      }
      socket.destroy();
    });
    await sleep(300);
    killedAt.t = performance.now();
    await cluster.kill(victim);
    const deadline = Date.now() + 30_000;
    while (recovered.size < led.length && Date.now() < deadline) await sleep(20);
    stop = true;
    await Promise.all(probes);
    const worst = Math.max(...recovered.values());
    times.push(worst);
    console.log(`kill ${k + 1}: node ${victim} (led ${led.length} groups) -> all its groups writable again after ${worst.toFixed(0)} ms`);
    cluster.spawnNode(victim);
    await cluster.waitReady();
    // Let leader balancing hand the victim its groups back before the next kill.
    const balanced = Date.now() + 15_000;
    while (Date.now() < balanced && ((await cluster.status(victim))?.leaderOf ?? 0) < Math.floor(groups / 3)) await sleep(200);
  }
  if (times.length === 0) return; // --kills 0: no failover figures
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(`failover over ${kills} kills: mean ${mean.toFixed(0)} ms, median ${times[times.length >> 1]!.toFixed(0)} ms, max ${times[times.length - 1]!.toFixed(0)} ms`);
}

function lineReader(socket: net.Socket): () => Promise<string> {
  let buf = '';
  let wake: (() => void) | null = null;
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    wake?.();
  });
  return async () => {
    for (;;) {
      const at = buf.indexOf('\r\n');
      if (at >= 0) {
        const line = buf.slice(0, at);
        buf = buf.slice(at + 2);
        return line;
      }
      await new Promise<void>((r) => (wake = r));
      wake = null;
    }
  };
}

async function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  const s = net.connect(port, host);
  await once(s, 'connect');
  return s;
}

async function waitPort(port: number): Promise<void> {
  for (;;) {
    try {
      (await connect(port)).destroy();
      return;
    } catch {
      await sleep(50);
    }
  }
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((res) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => res(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

await main();
