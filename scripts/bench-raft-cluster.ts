/**
 * Replicated Raft benchmark (not a test): one data group, three replicas in three
 * processes, real TCP transport and LevelDB; many concurrent proposers at the leader, each
 * proposing 100-byte writes back to back. Prints commits/s (client writes committed and
 * applied), entries/s (Raft entries: a flush batches every write of a turn into one), and
 * p50/p99 latency from proposal to result, for `--fsync always` and `--fsync never`.
 *
 *   npm run bench:raft -- [--seconds 10] [--proposers 256] [--bytes 100] [--fsync both|always|never]
 *
 * (scripts/bench-raft.ts is the Raft core's in-process microbenchmark: npm run bench:raft-core.)
 * The children are this same script run with --child (through vite's module runner, like
 * the parent), so the three nodes run the exact code of src/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { ClusterHost } from '../src/cluster/host.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    proposers: { type: 'string', default: '256' },
    bytes: { type: 'string', default: '100' },
    fsync: { type: 'string', default: 'both' },
    child: { type: 'string' },
    ports: { type: 'string' },
    dir: { type: 'string' },
    'fsync-mode': { type: 'string' },
  },
  allowPositionals: true,
});

interface RunResult {
  commits: number;
  entries: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  fsyncP50Ms: number;
}

type ChildCommand = { cmd: 'status' } | { cmd: 'run'; seconds: number; proposers: number; bytes: number } | { cmd: 'exit' };

if (args.child !== undefined) await childMain(Number(args.child));
else await parentMain();

// ---- parent ---------------------------------------------------------------------------

async function parentMain(): Promise<void> {
  const modes = args.fsync === 'both' ? ['always', 'never'] : [args.fsync!];
  console.log(`bench:raft  1 group x 3 replicas (3 processes, TCP, LevelDB), ${args.proposers} proposers, ${args.bytes}-byte writes, ${args.seconds}s per run`);
  for (const mode of modes) {
    const r = await runCluster(mode);
    console.log(
      `fsync ${mode.padEnd(6)}  ${Math.round(r.commits / r.seconds).toLocaleString('en-US')} commits/s  ` +
        `${Math.round(r.entries / r.seconds).toLocaleString('en-US')} entries/s  ` +
        `latency p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  (leader log write p50 <= ${r.fsyncP50Ms.toFixed(2)} ms)`,
    );
  }
}

async function runCluster(mode: string): Promise<RunResult> {
  const ports = await freePorts(6);
  const dir = await mkdtemp(join(tmpdir(), 'memraft-bench-raft-'));
  const runner = "await (await import('vite')).runnerImport('./scripts/bench-raft-cluster.ts')";
  const children = [1, 2, 3].map((id) =>
    spawn(
      process.execPath,
      ['--input-type=module', '-e', runner, '--', '--child', String(id), '--ports', ports.join(','), '--dir', dir, '--fsync-mode', mode],
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    ),
  );
  try {
    await waitLeader(children);
    const answers = await Promise.all(
      children.map((c) => ask(c, { cmd: 'run', seconds: Number(args.seconds), proposers: Number(args.proposers), bytes: Number(args.bytes) })),
    );
    const result = answers.find((a) => a !== null) as RunResult | undefined;
    if (result === undefined) throw new Error('no child led the group');
    return result;
  } finally {
    for (const c of children) c.send({ cmd: 'exit' });
    await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : null)));
    await rm(dir, { recursive: true, force: true });
  }
}

async function waitLeader(children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = (await Promise.all(children.map((c) => ask(c, { cmd: 'status' })))) as Array<{ ready: boolean; leads: boolean }>;
    // Wait for leader balancing to settle on the preferred replica (node 1), so runs compare.
    if (s.every((x) => x.ready) && s[0]!.leads) return;
    if (Date.now() > deadline) throw new Error('cluster not ready');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function ask(child: ChildProcess, msg: ChildCommand): Promise<unknown> {
  return new Promise((resolve) => {
    const onMessage = (m: unknown): void => {
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
    child.send(msg);
  });
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// ---- child ----------------------------------------------------------------------------

async function childMain(id: number): Promise<void> {
  const { startClusterNode } = await import('../src/server/cluster-node.js');
  const { parseServeArgs } = await import('../src/server/config.js');
  const ports = args.ports!.split(',').map(Number);
  const initial = [1, 2, 3].map((i) => `${i}=127.0.0.1:${ports[i - 1]}`).join(',');
  const parsed = parseServeArgs(
    ['--id', String(id), '--listen', `127.0.0.1:${ports[2 + id]}`, '--peer-listen', `127.0.0.1:${ports[id - 1]}`,
      '--initial-cluster', initial, '--groups', '1', '--fsync', args['fsync-mode']!, '--data-dir', join(args.dir!, `node-${id}`)],
    {},
  );
  if (parsed.kind !== 'serve') throw new Error('bad args');
  const node = await startClusterNode(parsed.config, pino({ level: 'warn' }));
  process.on('message', (m: ChildCommand) => {
    switch (m.cmd) {
      case 'status': {
        const r = node.host.replicas.get(1);
        process.send!({ ready: node.host.allGroupsHaveLeaders(), leads: r?.isLeader ?? false });
        return;
      }
      case 'run':
        void runLoad(node.host, m).then((res) => process.send!(res));
        return;
      case 'exit':
        void node.close().then(() => process.exit(0));
        return;
    }
  });
}

async function runLoad(host: ClusterHost, m: { seconds: number; proposers: number; bytes: number }): Promise<RunResult | null> {
  const r = host.replicas.get(1);
  if (r === undefined || !r.isLeader) return null;
  const value = Buffer.alloc(m.bytes, 'x');
  const latencies: number[] = [];
  let commits = 0;
  let measuring = false;
  let stop = false;
  const proposer = async (p: number): Promise<void> => {
    for (let n = 0; !stop; n++) {
      const key = Buffer.from(`k${p}-${n % 1000}`);
      const t0 = performance.now();
      const ok = await new Promise<boolean>((resolve) =>
        host.runOps(1, [{ type: 'store', mode: 'set', key, flags: 0, exptime: 0, value }], true, (res) => resolve(res !== null)),
      );
      if (measuring && ok) {
        commits++;
        latencies.push(performance.now() - t0);
      }
    }
  };
  const running = Array.from({ length: m.proposers }, (_, p) => proposer(p));
  await new Promise((res) => setTimeout(res, 1000)); // warm-up
  const entries0 = r.proposedEntries;
  measuring = true;
  const t0 = performance.now();
  await new Promise((res) => setTimeout(res, m.seconds * 1000));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const entries = r.proposedEntries - entries0;
  stop = true;
  await Promise.all(running);
  latencies.sort((a, b) => a - b);
  const pct = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { commits, entries, seconds, p50Ms: pct(0.5), p99Ms: pct(0.99), fsyncP50Ms: host.metrics.fsyncSeconds.quantile(0.5) * 1000 };
}
