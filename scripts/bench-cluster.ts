/**
 * Cluster benchmark (not a test): issue 14's table in one run, on one machine. One real
 * memcached, one `memraft serve --standalone` and a 3-node memraft cluster (fsync on,
 * 16 groups x 3 replicas, read-index reads; once more with --read-mode lease), each in turn
 * (never two at once: the cores are shared), then the cluster's failover time.
 *
 *   npm run build && npm run bench -- [--seconds 15] [--kills 5] [--threads 2] [--concurrency 32]
 *       [--fsync always|never] [--groups 16] [--only get90,set32,...] [--caslap per-node|single]
 *       [--warmup 8]   (unmeasured seconds of load before each server's first row)
 *
 * Rows (memcaslap, 16-byte keys — its minimum — and 100-byte values, `seconds` each):
 *   get90        90% get / 10% set, `concurrency` connections over all of a server's nodes
 *   get90-lease  the same on the cluster restarted with --read-mode lease (3 nodes only)
 *   get90-node1  the same with every connection to node 1 (3 nodes only)
 *   set32        set only, `concurrency` connections
 *   set256       set only, 256 connections
 *   half         90/10 paced at half of that server's get90 ops/s, `concurrency`
 *                connections: get and set p50/p99 (memcaslap's --tps does not throttle, see
 *                bench-cluster-load.ts, so a paced generator here offers the load)
 *   failover     SIGKILL of the node leading the most groups, `kills` times: how long until
 *                every group it led acknowledged a write again through a surviving node
 * `--only` runs a subset (half brings get90 along: it needs its rate).
 *
 * Each row reads the servers' own counters and CPU before and after: executed ops = the
 * sum of cmd_get + cmd_set deltas over the row's servers (memcaslap counts refused requests
 * as ops, so rows where the servers executed under 99% of them are flagged), CPU per op =
 * utime + stime from /proc/PID/stat of every server process (all three nodes for the
 * cluster) over the executed ops.
 *
 * memcaslap pins each thread's connections to one server, so a row over the 3 nodes runs
 * one memcaslap per node (threads/3 threads each, at least 1; connections split 11/11/10);
 * `--caslap single` runs one process for all as issue 14's table was measured (with -T 2
 * it reaches nodes 1 and 2 only).
 *
 * The bench does not build: run `npm run build` first. It reports the commit and when
 * dist/ was built.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { caslap, connect, type Latency, paced, prefill, sleep } from './bench-cluster-load.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    kills: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '32' },
    fsync: { type: 'string', default: 'always' },
    groups: { type: 'string', default: '16' },
    only: { type: 'string' },
    caslap: { type: 'string', default: 'per-node' },
    warmup: { type: 'string', default: '8' },
  },
  allowPositionals: false,
});

const root = resolve(import.meta.dirname, '..');
const mainJs = process.env.MEMRAFT_BENCH_MAIN ?? join(root, 'dist/cli/main.js');
// The key hash of the build under test (the failover probe needs a key of each group).
const { hashKey, rangeIndexOf } = (await import(/* @vite-ignore */ pathToFileURL(join(dirname(mainJs), '../membership/hash.js')).href)) as typeof import('../src/membership/hash.js');
const seconds = Number(args.seconds);
/** Seconds of unmeasured load before a server's first row (JIT warm-up). */
const warmupSeconds = Number(args.warmup);
const groups = Number(args.groups);
const kills = Number(args.kills);
const threads = Number(args.threads);
const concurrency = Number(args.concurrency);
if (args.caslap !== 'per-node' && args.caslap !== 'single') {
  console.error('--caslap: per-node or single');
  process.exit(2);
}
const perNode = args.caslap === 'per-node';
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

const rowNames = ['get90', 'get90-lease', 'get90-node1', 'set32', 'set256', 'half', 'failover'] as const;
type RowName = (typeof rowNames)[number];
const only = new Set<RowName>((args.only?.split(',').map((s) => s.trim()).filter(Boolean) ?? rowNames) as RowName[]);
for (const r of only) {
  if (!rowNames.includes(r)) {
    console.error(`--only: unknown row ${r} (rows: ${rowNames.join(', ')})`);
    process.exit(2);
  }
}
const halfNeedsGet90 = only.has('half') && !only.has('get90');
if (halfNeedsGet90) only.add('get90');
if (kills === 0) only.delete('failover');

/** The CPU target (µs per client op, all three nodes) and the others of issue 14. */
const targets = { ratio90: 0.35, cpuUs: 70, set32: 10_000, set256: 30_000, getP50Us: 1000, getP99Us: 5000, setP50Us: 3000, failoverP50Ms: 1000 };

type ServerName = 'memcached' | 'standalone' | 'cluster' | 'lease';

/** What one row measured on one server. */
interface Measured {
  /** ops/s as the load generator counted them. */
  tps: number;
  clientOps: number;
  /**
   * Ops memcaslap counts that never reach a server: exactly one per connection in every
   * run (memcached's included), so they are not refusals; 0 for the paced generator.
   */
  uncounted: number;
  /** cmd_get + cmd_set executed by the servers, over all of them, and per server. */
  executed: number;
  perServer: number[];
  cpuUsPerOp: number;
  /** Peer frames sent (one socket write each) per executed op, all nodes; null off a cluster. */
  peerFramesPerOp: number | null;
  get: Latency | null;
  set: Latency | null;
  /** Paced rows: the rate offered and the error replies. */
  offered?: number;
  errors?: number;
  firstError?: string | null;
  commands?: string[];
}

const results = new Map<ServerName, Map<RowName, Measured>>();
const failoverMs: number[] = [];
/** CPU seconds per second the cluster's nodes use with no load. */
const idleCpu = new Map<ServerName, number>();
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

async function main(): Promise<void> {
  header();
  const dir = await mkdtemp(join(tmpdir(), 'memraft-bench-'));
  const cfg90 = join(dir, 'get90.cfg');
  const cfgSet = join(dir, 'set.cfg');
  await writeFile(cfg90, 'key\n16 16 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n');
  await writeFile(cfgSet, 'key\n16 16 1\nvalue\n100 100 1\ncmd\n0 1.0\n1 0.0\n');
  const cfgs = { cfg90, cfgSet };
  try {
    const single = ['get90', 'set32', 'set256', 'half'] as const;
    if (single.some((r) => only.has(r))) {
      const mcPort = (await freePorts(1))[0]!;
      const mc = track(spawn('memcached', ['-m', '1024', '-p', String(mcPort), '-U', '0', '-l', '127.0.0.1', ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : [])], { stdio: 'ignore' }));
      await waitPort(mcPort);
      await rows('memcached', [`127.0.0.1:${mcPort}`], () => [mc.pid!], single, cfgs);
      await stopChild(mc);

      const saPort = (await freePorts(1))[0]!;
      const sa = track(spawn(process.execPath, [mainJs, 'serve', '--standalone', '--listen', `127.0.0.1:${saPort}`, '-m', '1024', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] }));
      await waitPort(saPort);
      await rows('standalone', [`127.0.0.1:${saPort}`], () => [sa.pid!], single, cfgs);
      await stopChild(sa);
    }

    const clusterRows = ['get90', 'get90-node1', 'set32', 'set256', 'half', 'failover'] as const;
    if (clusterRows.some((r) => only.has(r))) {
      const cluster = await Cluster.start(join(dir, 'read-index'), 'read-index');
      try {
        const servers = [1, 2, 3].map((id) => `127.0.0.1:${cluster.clientPort(id)}`);
        await rows('cluster', servers, () => cluster.pids(), clusterRows, cfgs);
        if (only.has('failover')) await failover(cluster, kills);
      } finally {
        await cluster.stop();
      }
    }

    if (only.has('get90-lease')) {
      const cluster = await Cluster.start(join(dir, 'lease'), 'lease');
      try {
        const servers = [1, 2, 3].map((id) => `127.0.0.1:${cluster.clientPort(id)}`);
        await rows('lease', servers, () => cluster.pids(), ['get90-lease'], cfgs);
      } finally {
        await cluster.stop();
      }
    }
  } finally {
    printTables(); // what was measured, also when a row failed
    await rm(dir, { recursive: true, force: true });
  }
}

function header(): void {
  const git = (...a: string[]): string => spawnSync('git', a, { cwd: root, encoding: 'utf8' }).stdout.trim();
  const dirty = git('status', '--porcelain', '--', 'src') !== '' ? ' (src/ has uncommitted changes)' : '';
  let built = 'not built';
  try {
    built = `built ${statSync(mainJs).mtime.toISOString().replace(/\.\d+Z$/, 'Z')}`;
  } catch {
    throw new Error(`${mainJs} missing: run npm run build first`);
  }
  const evalArgv = process.execArgv.some((a) => a === '-e' || a === '--eval' || a.startsWith('--eval='));
  const argv = process.argv.slice(evalArgv ? 1 : 2);
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
  console.log(`## memraft bench, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}\n`);
  console.log(`command: npm run bench --${argv.length > 0 ? ' ' + argv.join(' ') : ''}`);
  console.log(`commit ${git('rev-parse', '--short', 'HEAD')}${dirty}; dist/ ${built}`);
  console.log(`machine: nproc ${nproc}, load average ${load} at start${loadavg()[0]! >= 1 ? ' (other work is running: figures are noisy)' : ''}; ${memVersion()}`);
  console.log(`memcaslap -T ${threads} -c ${concurrency}${perNode ? ' (over several nodes: one memcaslap per node, connections split)' : ' (one process for all nodes)'}, ` +
    `16-byte keys, 100-byte values, ${seconds} s per row; memraft 3 nodes: ${groups} groups x 3 replicas, --fsync ${args.fsync}, read-index unless said` +
    `${halfNeedsGet90 ? '; get90 added: half load needs its rate' : ''}\n`);
}

function memVersion(): string {
  return spawnSync('memcached', ['-V'], { encoding: 'utf8' }).stdout.trim();
}

// ---- rows ---------------------------------------------------------------------------------

async function rows(server: ServerName, servers: string[], pids: () => number[], wanted: readonly RowName[], cfgs: { cfg90: string; cfgSet: string }): Promise<void> {
  const mine = new Map<RowName, Measured>();
  results.set(server, mine);
  if (servers.length > 1 && wanted.some((r) => r !== 'failover' && only.has(r))) {
    // What the nodes burn with no load (heartbeats, timers): part of every op's CPU share.
    await sleep(1000);
    const cpu0 = cpuSeconds(pids());
    await sleep(2000);
    idleCpu.set(server, (cpuSeconds(pids()) - cpu0) / 2);
    console.log(`- ${server} idle: the 3 nodes use ${(idleCpu.get(server)! * 1000).toFixed(0)} ms of CPU per second with no load`);
  }
  if (wanted.some((r) => r !== 'failover' && only.has(r))) {
    // Warm-up, not measured: the first seconds of load run in V8's interpreter and baseline
    // tiers while TurboFan compiles (measured: a cold first row cost ~1.9x the CPU per op of
    // the same row warm). memcached gets the same pass, so every server is measured warm.
    await caslap({ servers, cfg: cfgs.cfg90, seconds: warmupSeconds, threads, connections: concurrency, perNode });
    await caslap({ servers, cfg: cfgs.cfgSet, seconds: Math.max(1, warmupSeconds >> 1), threads, connections: concurrency, perNode });
  }
  const run = async (row: RowName, measure: () => Promise<Omit<Measured, 'executed' | 'perServer' | 'cpuUsPerOp' | 'peerFramesPerOp'>>): Promise<void> => {
    if (!wanted.includes(row) || !only.has(row)) return;
    const m = await counted(servers, pids, measure);
    mine.set(row, m);
    report(server, row, m);
    await sleep(500);
  };
  const closed = (cfg: string, conns: number, to = servers) => async () => {
    const r = await caslap({ servers: to, cfg, seconds, threads, connections: conns, perNode });
    return { tps: r.tps, clientOps: r.ops, uncounted: conns, get: r.get, set: r.set, commands: r.commands };
  };
  await run('get90', closed(cfgs.cfg90, concurrency));
  await run('get90-lease', closed(cfgs.cfg90, concurrency));
  await run('get90-node1', closed(cfgs.cfg90, concurrency, servers.slice(0, 1)));
  await run('set32', closed(cfgs.cfgSet, concurrency));
  await run('set256', closed(cfgs.cfgSet, 256));
  if (wanted.includes('half') && only.has('half')) {
    const keys = 10_000;
    await prefill(servers, keys, concurrency);
    const rate = (mine.get('get90')?.tps ?? 0) / 2;
    await run('half', async () => {
      const r = await paced({ servers, rate, seconds, connections: concurrency, setShare: 0.1, keys });
      return { tps: r.tps, clientOps: r.ops, uncounted: 0, get: r.get, set: r.set, offered: r.offered, errors: r.errors, firstError: r.firstError };
    });
  }
}

/**
 * Runs a workload between two readings of the servers' counters (cmd_get + cmd_set: a
 * request the server refuses, e.g. a key it rejects, is still an op to memcaslap) and of
 * their processes' CPU time.
 */
async function counted(servers: string[], pids: () => number[], run: () => Promise<Omit<Measured, 'executed' | 'perServer' | 'cpuUsPerOp' | 'peerFramesPerOp'>>): Promise<Measured> {
  const before = await Promise.all(servers.map(serverOps));
  const frames0 = await peerFrames(servers);
  const cpu0 = cpuSeconds(pids());
  const r = await run();
  const cpu1 = cpuSeconds(pids());
  const after = await Promise.all(servers.map(serverOps));
  const frames1 = await peerFrames(servers);
  const perServer = after.map((a, i) => a - before[i]!);
  const executed = perServer.reduce((a, b) => a + b, 0);
  const peerFramesPerOp = frames0 === null || frames1 === null ? null : (frames1 - frames0) / Math.max(1, executed);
  return { ...r, executed, perServer, cpuUsPerOp: ((cpu1 - cpu0) * 1e6) / Math.max(1, executed), peerFramesPerOp };
}

async function serverOps(server: string): Promise<number> {
  let total = 0;
  for (const m of (await statsText(server, 'stats')).matchAll(/^STAT (cmd_get|cmd_set) (\d+)\r$/gm)) total += Number(m[2]);
  return total;
}

/** Peer frames sent so far by the servers (`stats raft` of a cluster node); null when not a cluster. */
async function peerFrames(servers: string[]): Promise<number | null> {
  if (servers.length < 2) return null;
  let total = 0;
  for (const server of servers) {
    const m = /^STAT peer_frames_sent (\d+)\r$/m.exec(await statsText(server, 'stats raft'));
    if (m === null) return null;
    total += Number(m[1]);
  }
  return total;
}

async function statsText(server: string, command: string): Promise<string> {
  const [host, port] = server.split(':');
  const socket = await connect(Number(port), host);
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.write(`${command}\r\n`);
  while (!/(^|\r\n)(END|ERROR)\r\n$/.test(text)) {
    if (socket.destroyed) throw new Error(`${command} from ${server}: connection closed`);
    await once(socket, 'data');
  }
  socket.destroy();
  return text;
}

/** CPU seconds (user + system) the processes have used so far. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / clockTicks;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const share = (m: Measured): number => m.executed / Math.max(1, m.clientOps - m.uncounted);
const ms = (us: number | undefined): string => (us === undefined ? '' : `${(us / 1000).toFixed(2)} ms`);

/** One line per row as it finishes, with what the tables leave out. */
function report(server: ServerName, row: RowName, m: Measured): void {
  const parts = [`${fmt(m.tps)} ops/s`];
  if (m.offered !== undefined) parts.push(`offered ${fmt(m.offered)}/s`);
  parts.push(`executed ${fmt(m.executed)} of ${fmt(m.clientOps)}${m.uncounted > 0 ? ` - ${m.uncounted}` : ''} (${(share(m) * 100).toFixed(1)}%)`);
  if (m.perServer.length > 1) parts.push(`per node ${m.perServer.map(fmt).join(' / ')}`);
  parts.push(`CPU ${m.cpuUsPerOp.toFixed(1)} µs/op`);
  if (m.peerFramesPerOp !== null) parts.push(`${m.peerFramesPerOp.toFixed(2)} peer frames/op`);
  if (m.get !== null) parts.push(`get p50/p99 ${ms(m.get.p50Us)} / ${ms(m.get.p99Us)}`);
  if (m.set !== null) parts.push(`set p50/p99 ${ms(m.set.p50Us)} / ${ms(m.set.p99Us)}`);
  if ((m.errors ?? 0) > 0) parts.push(`${fmt(m.errors!)} error replies, first: ${m.firstError}`);
  console.log(`- ${server} ${row}: ${parts.join(', ')}`);
  if (row === 'get90' && m.commands !== undefined) console.log(`  (${m.commands.join(' & ')})`);
}

// ---- tables -------------------------------------------------------------------------------

function printTables(): void {
  const get = (s: ServerName, r: RowName): Measured | undefined => results.get(s)?.get(r);
  const flag = (m: Measured): string => (share(m) < 0.99 ? ` ⚠ ${(share(m) * 100).toFixed(0)}% executed` : '');
  const plain = (m: Measured | undefined): string => (m === undefined ? '' : fmt(m.tps) + flag(m));
  const withCpu = (m: Measured | undefined): string => (m === undefined ? '' : `${fmt(m.tps)} (${m.cpuUsPerOp.toFixed(0)} µs)${flag(m)}`);
  const mark = (ok: boolean): string => (ok ? '✓' : '✗');
  const cpuTarget = (m: Measured | undefined): string => (m === undefined ? '' : `CPU ≤ ${targets.cpuUs} µs ${mark(m.cpuUsPerOp <= targets.cpuUs)}`);
  const mc90 = get('memcached', 'get90');

  const lines: string[] = [];
  lines.push('| workload | memcached | memraft standalone | memraft 3 nodes | ratio (3 nodes / memcached) | CPU µs/op (3 nodes) | peer frames/op | target |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  const row = (label: string, r: RowName, node: ServerName, reference: Measured | undefined, target: (m: Measured) => string): void => {
    const m = get(node, r);
    if (m === undefined && get('memcached', r) === undefined && get('standalone', r) === undefined) return;
    const ratio = m !== undefined && reference !== undefined ? m.tps / reference.tps : undefined;
    lines.push(`| ${label} | ${withCpu(get('memcached', r))} | ${withCpu(get('standalone', r))} | ${plain(m)} | ${ratio?.toFixed(2) ?? ''} | ` +
      `${m?.cpuUsPerOp.toFixed(0) ?? ''} | ${m?.peerFramesPerOp?.toFixed(2) ?? ''} | ${m === undefined ? '' : target(m)} |`);
  };
  const ratioTarget = (m: Measured): string => (mc90 === undefined ? '' : `ratio ≥ ${targets.ratio90} ${mark(m.tps / mc90.tps >= targets.ratio90)}; `);
  row(`90% get / 10% set, ${concurrency} conns`, 'get90', 'cluster', mc90, (m) => ratioTarget(m) + cpuTarget(m));
  row('same, --read-mode lease', 'get90-lease', 'lease', mc90, cpuTarget);
  row(`same, all ${concurrency} conns to node 1`, 'get90-node1', 'cluster', mc90, cpuTarget);
  row(`set only, ${concurrency} conns`, 'set32', 'cluster', get('memcached', 'set32'), (m) => `≥ ${fmt(targets.set32)}/s ${mark(m.tps >= targets.set32)}; ${cpuTarget(m)}`);
  row('set only, 256 conns', 'set256', 'cluster', get('memcached', 'set256'), (m) => `≥ ${fmt(targets.set256)}/s ${mark(m.tps >= targets.set256)}; ${cpuTarget(m)}`);
  console.log('');
  console.log(lines.join('\n'));
  console.log(`\nops/s as memcaslap counts them; (N µs) = the server's CPU per executed op (user + system, /proc); ` +
    `CPU µs/op (3 nodes) = all three nodes' CPU over the ops they executed (cmd_get + cmd_set); ` +
    `peer frames/op = frames the 3 nodes sent each other (one socket write each, \`stats raft\` peer_frames_sent) per executed op; ⚠ = the servers executed under 99% of memcaslap's ops.` +
    (idleCpu.has('cluster') ? ` With no load the 3 nodes use ${(idleCpu.get('cluster')! * 1000).toFixed(0)} ms of CPU per second.` : ''));

  const halves = (['memcached', 'standalone', 'cluster'] as const).map((s) => get(s, 'half'));
  if (halves.some((h) => h !== undefined)) {
    const [mc, sa, cl] = halves;
    const h: string[] = [];
    h.push(`| half load: 90/10 paced at half of each one's get90 ops/s, ${concurrency} conns | memcached | memraft standalone | memraft 3 nodes | target (3 nodes) |`);
    h.push('| --- | ---: | ---: | ---: | --- |');
    const lat = (label: string, pick: (m: Measured) => number | undefined, target: number | undefined): void => {
      const v = cl === undefined ? undefined : pick(cl);
      const t = target === undefined ? '' : `≤ ${target / 1000} ms${v === undefined ? '' : ' ' + mark(v <= target)}`;
      h.push(`| ${label} | ${[mc, sa, cl].map((m) => (m === undefined ? '' : ms(pick(m)))).join(' | ')} | ${t} |`);
    };
    const achieved = (m: Measured | undefined): string => (m === undefined ? '' : `${fmt(m.offered ?? 0)} / ${fmt(m.tps)}${m.tps < 0.95 * (m.offered ?? 0) ? ' ⚠' : ''}`);
    h.push(`| offered / achieved ops/s | ${halves.map(achieved).join(' | ')} | |`);
    lat('get p50', (m) => m.get?.p50Us, targets.getP50Us);
    lat('get p99', (m) => m.get?.p99Us, targets.getP99Us);
    lat('set p50', (m) => m.set?.p50Us, targets.setP50Us);
    lat('set p99', (m) => m.set?.p99Us, undefined);
    h.push(`| CPU µs/op | ${halves.map((m) => (m === undefined ? '' : m.cpuUsPerOp.toFixed(0))).join(' | ')} | ≤ ${targets.cpuUs} µs${cl === undefined ? '' : ' ' + mark(cl.cpuUsPerOp <= targets.cpuUs)} |`);
    console.log('\n' + h.join('\n'));
    const errs = halves.filter((m) => (m?.errors ?? 0) > 0);
    console.log(`\nlatency from each request's write to the end of its reply${errs.length > 0 ? '; error replies: see the lines above' : ''}; ⚠ = achieved under 95% of offered.`);
  }

  if (failoverMs.length > 0) {
    const sorted = [...failoverMs].sort((a, b) => a - b);
    const n = sorted.length;
    const p50 = n % 2 === 1 ? sorted[n >> 1]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
    console.log(`\nfailover (3 nodes, SIGKILL of the node leading the most groups, ${n} kill${n === 1 ? '' : 's'}): p50 ${p50.toFixed(0)} ms, max ${sorted[n - 1]!.toFixed(0)} ms ` +
      `(${failoverMs.map((t) => t.toFixed(0)).join(', ')}); target p50 ≤ ${targets.failoverP50Ms / 1000} s ${mark(p50 <= targets.failoverP50Ms)}`);
  }
  console.log(`\nload average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

// ---- the cluster -----------------------------------------------------------------------

class Cluster {
  readonly children = new Map<number, ChildProcess>();
  private constructor(
    readonly ports: number[],
    readonly dir: string,
    readonly readMode: string,
  ) {}

  static async start(dir: string, readMode: string): Promise<Cluster> {
    const c = new Cluster(await freePorts(9), dir, readMode);
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

  pids(): number[] {
    return [...this.children.values()].map((c) => c.pid!);
  }

  spawnNode(id: number): void {
    const initial = [1, 2, 3].map((i) => `${i}=127.0.0.1:${this.ports[2 + i]}`).join(',');
    const child = spawn(process.execPath, [mainJs, 'serve', '--id', String(id), '--listen', `127.0.0.1:${this.clientPort(id)}`,
      '--peer-listen', `127.0.0.1:${this.ports[2 + id]}`, '--admin-listen', `127.0.0.1:${this.adminPort(id)}`,
      '--initial-cluster', initial, '--groups', String(groups), '--fsync', args.fsync!, '--read-mode', this.readMode, '-m', '1024',
      '--data-dir', join(this.dir, `node-${id}`), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
    this.children.set(id, track(child));
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

  async kill(id: number): Promise<void> {
    const child = this.children.get(id)!;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.children.values()].map(stopChild));
  }
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.kill('SIGTERM');
  await exited;
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

/**
 * A probe writes one key of every group the victim leads through a surviving node in a
 * loop; after SIGKILL of the victim, the failover time is how long until every one of
 * those groups acknowledged a write sent after the kill. The victim is restarted (and
 * leadership rebalanced) before the next kill.
 */
async function failover(cluster: Cluster, count: number): Promise<void> {
  for (let k = 0; k < count; k++) {
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
    const worst = recovered.size < led.length ? Infinity : Math.max(0, ...recovered.values());
    failoverMs.push(worst);
    console.log(`- failover, kill ${k + 1}: node ${victim} (led ${led.length} groups) -> all its groups writable again after ${worst.toFixed(0)} ms`);
    cluster.spawnNode(victim);
    await cluster.waitReady();
    // Let leader balancing hand the victim its groups back before the next kill.
    const balanced = Date.now() + 15_000;
    while (Date.now() < balanced && ((await cluster.status(victim))?.leaderOf ?? 0) < Math.floor(groups / 3)) await sleep(200);
  }
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

async function waitPort(port: number): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      (await connect(port)).destroy();
      return;
    } catch (err) {
      if (i > 400) throw err;
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

await main();
