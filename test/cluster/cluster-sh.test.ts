/**
 * scripts/cluster.sh, the contract of DESIGN §8, run as an operator would: start three
 * nodes, `status --json`, `add` a fourth that joins and takes replicas, `drain` node 1
 * (its replicas move away, then it is stopped), a value written before is still read
 * through the new node, `stop`. `add` and `drain` show the moves' progress on stderr.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from './helpers.js';
import { ensureBuilt, repoRoot, TextClient } from './process-cluster.js';

const exec = promisify(execFile);
const script = path.join(repoRoot, 'scripts/cluster.sh');

interface Status {
  nodes: Array<{ id: number; state: string }>;
  groups: Array<{ id: number; replicas: number[]; leader: number }>;
  moves: unknown[];
}

let dir = '';
let base = 0;

/** Runs `cluster.sh <args> --dir D`; its stdout. */
async function sh(...args: string[]): Promise<string> {
  return (await shBoth(...args)).stdout;
}

/** Runs `cluster.sh <args> --dir D`; stdout and stderr (progress goes to stderr). */
async function shBoth(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return exec('bash', [script, ...args, '--dir', dir], { cwd: repoRoot, timeout: 180_000 });
}

async function status(): Promise<Status> {
  return JSON.parse(await sh('status', '--json')) as Status;
}

async function until(check: (s: Status) => boolean, what: string): Promise<Status> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const s = await status().catch(() => null);
    if (s !== null && check(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A base port P whose client (P..P+4), peer (P+101..P+105) and admin (P+201..P+205) ports are free now. */
async function freeBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = 20_000 + Math.floor(Math.random() * 20_000);
    const ports = [0, 1, 2, 3, 4].flatMap((i) => [p + i, p + 101 + i, p + 201 + i]);
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

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('cluster-sh');
  base = await freeBase();
});

afterAll(async () => {
  await sh('stop').catch(() => undefined);
  await removeTempDirs();
});

it('starts, grows by add, shrinks by drain and stops a local cluster', async () => {
  const started = await sh('start', '--nodes', '3', '--base-port', String(base), '--groups', '4', '--fsync', 'never');
  expect(started.trim().split('\n')).toEqual([1, 2, 3].map((i) => `node ${i} 127.0.0.1:${base + i - 1}`));
  const first = await TextClient.connect(base);
  expect(await first.set('kept', 'across membership changes')).toBe('STORED\r\n');
  first.close();

  const added = await shBoth('add');
  expect(added.stdout.trim()).toBe(`node 4 127.0.0.1:${base + 3}`);
  // Progress while replicas move: plain lines (stderr is not a terminal), ending with every move done.
  const addLines = added.stderr.trim().split('\n');
  expect(addLines.length).toBeGreaterThan(0);
  for (const line of addLines) expect(line).toMatch(/^add node 4: \d+\/\d+ moves done, \d+ in flight, [0-9.]+ [KM]iB moved$/);
  const [, addDone, addTotal] = /(\d+)\/(\d+) moves done, 0 in flight/.exec(addLines.at(-1)!)!;
  expect(Number(addDone)).toBe(Number(addTotal));
  // Every group's leader is shown, also for groups the answering meta leader holds no replica of.
  await until((s) => s.nodes.find((n) => n.id === 4)?.state === 'up' && s.groups.some((g) => g.replicas.includes(4)) && s.moves.length === 0 &&
    s.groups.every((g) => g.leader !== 0 && (g.id === 0 || g.replicas.includes(g.leader))), 'node 4 holding replicas, every leader known');

  const drained = await shBoth('drain', '1');
  expect(drained.stdout.trim()).toBe('drained node 1');
  const drainLines = drained.stderr.trim().split('\n');
  for (const line of drainLines) expect(line).toMatch(/^drain node 1: \d+\/\d+ moves done, \d+ in flight, [0-9.]+ [KM]iB moved$/);
  expect(drainLines.at(-1)).toMatch(/^drain node 1: (\d+)\/\1 moves done, 0 in flight/);
  const s = await until((x) => x.moves.length === 0, 'no moves in flight');
  expect(s.nodes.find((n) => n.id === 1)?.state).toBe('removed');
  for (const g of s.groups.filter((x) => x.id !== 0)) expect(g.replicas.sort()).toEqual([2, 3, 4]);
  expect(await bindable(base)).toBe(true); // node 1's client port: the process is gone

  const fourth = await TextClient.connect(base + 3);
  expect(await fourth.get('kept')).toBe('across membership changes');
  fourth.close();

  await sh('stop');
  expect(await bindable(base + 3)).toBe(true);
}, 240_000);
