/**
 * scripts/cluster.sh's operator traps (issue 15), each as an operator meets it:
 * - a start that fails half-way (a port taken) says why and stops the nodes it started;
 * - `start` on an existing cluster directory resumes it as recorded, never rewrites it;
 * - `status` shows a node whose admin listener does not answer in time as not answering,
 *   not as `ready false`;
 * - a refused `drain` prints the cluster's reason;
 * - after every node crashed, restarting them one by one works, and so do `restart all`
 *   and `start`.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from './helpers.js';
import { ensureBuilt, repoRoot, TextClient } from './process-cluster.js';

const exec = promisify(execFile);
const script = path.join(repoRoot, 'scripts/cluster.sh');

let dir = '';
let base = 0;

/** Runs `cluster.sh <args> --dir D`: exit code, stdout, stderr (never throws on a failure). */
async function sh(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('bash', [script, ...args, '--dir', dir], {
      cwd: repoRoot,
      timeout: 180_000,
      env: { ...process.env, MEMRAFT_READY_TIMEOUT_S: '30' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A base port P whose client (P..P+2), peer (P+101..P+103) and admin (P+201..P+203) ports are free now. */
async function freeBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = 20_000 + Math.floor(Math.random() * 20_000);
    const ports = [0, 1, 2].flatMap((i) => [p + i, p + 101 + i, p + 201 + i]);
    if ((await Promise.all(ports.map(bindable))).every(Boolean)) return p;
  }
  throw new Error('no free port range');
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const pidOf = (i: number): number => Number(readFileSync(path.join(dir, `node-${i}.pid`), 'utf8'));
const nodeLines = (): string => [1, 2, 3].map((i) => `node ${i} 127.0.0.1:${base + i - 1}`).join('\n');

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('cluster-sh-ops');
  base = await freeBase();
});

afterAll(async () => {
  await sh('stop');
  await removeTempDirs();
});

it('a failed start says why and stops what it started; start then resumes the recorded cluster', async () => {
  // Node 2's client port is taken (as 11211 is wherever Debian's memcached runs).
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(base + 1, '127.0.0.1', () => r()));
  const failed = await sh('start', '--nodes', '3', '--base-port', String(base), '--groups', '2', '--fsync', 'never');
  await new Promise<void>((r) => squatter.close(() => r()));
  expect(failed.code).toBe(1);
  expect(failed.stderr).toMatch(/node 2 exited: .*EADDRINUSE/);
  expect(await bindable(base)).toBe(true); // node 1 was stopped
  expect(await bindable(base + 2)).toBe(true); // node 3 too

  const env = readFileSync(path.join(dir, 'cluster.env'), 'utf8');
  const resumed = await sh('start', '--nodes', '5', '--base-port', String(base + 7));
  expect(resumed.code).toBe(0);
  expect(resumed.stdout.trim()).toBe(nodeLines());
  expect(resumed.stderr).toMatch(/resuming the cluster recorded in .*ignored: --nodes 5 --base-port/);
  expect(readFileSync(path.join(dir, 'cluster.env'), 'utf8')).toBe(env);
  expect(await bindable(base + 3)).toBe(true); // no node 4
}, 180_000);

it('status tells a node whose admin listener does not answer from one that is not ready', async () => {
  process.kill(pidOf(2), 'SIGSTOP');
  try {
    const { stdout } = await exec('bash', [script, 'status', '--dir', dir], { env: { ...process.env, MEMRAFT_ADMIN_TIMEOUT_MS: '1000' } });
    const line = stdout.split('\n').find((l) => l.startsWith('node 2 '));
    expect(line).toMatch(/^node 2 up pid \d+ client \S+ admin not answering \(no answer in 1000 ms\): readiness unknown$/);
    expect(stdout).not.toMatch(/ready false/);
  } finally {
    process.kill(pidOf(2), 'SIGCONT');
  }
}, 60_000);

it('a refused drain prints the reason; moves follows a rebalance', async () => {
  const moves = await sh('moves'); // nothing to rebalance: says so and returns
  expect(moves.code).toBe(0);
  expect(moves.stderr).toBe('rebalance: 0/0 moves done, 0 in flight\n');

  const drain = await sh('drain', '1');
  expect(drain.code).toBe(1);
  expect(drain.stderr).toMatch(/drain of node 1 refused: draining node 1 would leave 2 up nodes < 3 replicas/);
}, 60_000);

it('a fully crashed cluster comes back one node at a time, with restart all, and with start', async () => {
  const c = await TextClient.connect(base);
  expect(await c.set('survivor', 'of two crashes')).toBe('STORED\r\n');
  c.close();

  for (const i of [1, 2, 3]) expect((await sh('kill', String(i))).code).toBe(0);
  const one = await sh('restart', '1');
  expect(one.code).toBe(0);
  expect(one.stderr).toMatch(/node 1 started; not waiting until it is ready: 1 of 3 nodes run/);
  const two = await sh('restart', '2'); // 2 of 3: waits, and is ready
  expect(two.code, two.stderr).toBe(0);
  const three = await sh('restart', '3');
  expect(three.code, three.stderr).toBe(0);

  for (const i of [1, 2, 3]) expect((await sh('kill', String(i))).code).toBe(0);
  const all = await sh('restart', 'all');
  expect(all.code).toBe(0);
  expect(all.stdout.trim()).toBe(nodeLines());
  const d = await TextClient.connect(base + 2);
  expect(await d.get('survivor')).toBe('of two crashes');
  d.close();

  // And `start` (npm start) on the crashed cluster's directory.
  for (const i of [1, 2, 3]) expect((await sh('kill', String(i))).code).toBe(0);
  const again = await sh('start');
  expect(again.code).toBe(0);
  expect(again.stdout.trim()).toBe(nodeLines());
  const e = await TextClient.connect(base + 1);
  expect(await e.get('survivor')).toBe('of two crashes');
  e.close();
}, 180_000);
