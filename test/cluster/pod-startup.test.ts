/**
 * The Kubernetes start-up path (docs/kubernetes.md) with real processes: nodes get only
 * what a StatefulSet gives a pod (MEMRAFT_HOSTNAME=memraft-N and a peer template with
 * {ordinal}, here resolving to 127.0.0.1 ports instead of the headless Service's DNS names),
 * form a cluster, serve, and a fourth pod (a scale-out) joins. Also the probes: /livez
 * answers at once, /readyz is 503 with a reason until the node can serve, then 200.
 * Then a scale-in and a scale-out again: the drained pod's node (4) is removed for good, and
 * the re-created pod comes back as a new node of the next generation (1004) and serves.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePorts, removeTempDirs, tempDir } from './helpers.js';
import { ensureBuilt, mainJs, repoRoot, terminateAll, TextClient } from './process-cluster.js';

const pods: ChildProcess[] = [];
const logs: string[] = [];
let dir = '';
let prefix = 0;
let client: number[] = [];
let admin: number[] = [];
const adminToken = 'pod-test-admin-token';

/** A port prefix X with X0..X4 free: the template `127.0.0.1:X{ordinal}` gives each pod its port. */
async function freePrefix(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const x = 2000 + Math.floor(Math.random() * 4000);
    const ok = await Promise.all([0, 1, 2, 3, 4].map((o) => bindable(x * 10 + o)));
    if (ok.every(Boolean)) return x;
  }
  throw new Error('no free port prefix');
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

/** Starts pod `memraft-<ordinal>` with the environment a StatefulSet pod spec sets. */
function startPod(ordinal: number): void {
  const env = {
    ...process.env,
    MEMRAFT_HOSTNAME: `memraft-${ordinal}`,
    MEMRAFT_PEER_TEMPLATE: `127.0.0.1:${prefix}{ordinal}`,
    MEMRAFT_INITIAL_NODES: '3',
    MEMRAFT_CLUSTER_SECRET: 'pod-test-secret',
    MEMRAFT_LISTEN: `127.0.0.1:${client[ordinal]}`,
    MEMRAFT_ADMIN_LISTEN: `127.0.0.1:${admin[ordinal]}`,
    MEMRAFT_DATA_DIR: path.join(dir, `pod-${ordinal}`),
    MEMRAFT_GROUPS: '4',
    MEMRAFT_FSYNC: 'never',
    MEMRAFT_LOG_LEVEL: 'warn',
    MEMRAFT_ADMIN_TOKEN: adminToken,
  };
  const child = spawn(process.execPath, [mainJs, 'serve'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  logs[ordinal] = '';
  const append = (d: Buffer): void => void (logs[ordinal] += d.toString());
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  pods[ordinal] = child;
}

async function probe(ordinal: number, what: 'readyz' | 'livez'): Promise<{ code: number; body: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${admin[ordinal]}/${what}`, { signal: AbortSignal.timeout(5000) });
    return { code: res.status, body: await res.text() };
  } catch {
    return { code: 0, body: '' };
  }
}

async function waitFor(ordinal: number, what: 'readyz' | 'livez', code: number): Promise<{ code: number; body: string }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const p = await probe(ordinal, what);
    if (p.code === code) return p;
    if (pods[ordinal]!.exitCode !== null) throw new Error(`pod ${ordinal} exited:\n${logs[ordinal]}`);
    if (Date.now() > deadline) throw new Error(`pod ${ordinal} /${what} not ${code} (last ${p.code} ${p.body}):\n${logs[ordinal]}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  ensureBuilt();
  dir = await tempDir('pods');
  prefix = await freePrefix();
  const ports = await freePorts(8);
  client = ports.slice(0, 4);
  admin = ports.slice(4);
});

afterAll(async () => {
  await terminateAll(pods.filter((p) => p !== undefined));
  await removeTempDirs();
});

it('pods named memraft-N with a peer template form a cluster, serve, and a fourth pod joins', async () => {
  startPod(0);
  // Alone, pod 0 has no quorum: alive, not ready, and says why.
  expect((await waitFor(0, 'livez', 200)).body).toBe('ok\n');
  const alone = await probe(0, 'readyz');
  expect(alone.code).toBe(503);
  expect(alone.body).toMatch(/meta|leader/);

  startPod(1);
  startPod(2);
  for (const o of [0, 1, 2]) expect((await waitFor(o, 'readyz', 200)).body).toBe('ok\n');
  const c = await TextClient.connect(client[1]!);
  expect(await c.set('pod-key', 'from memraft-1')).toBe('STORED\r\n');
  c.close();

  // Scale-out: ordinal 3 is beyond MEMRAFT_INITIAL_NODES, so it joins through memraft-0.
  startPod(3);
  await waitFor(3, 'readyz', 200);
  const status = (await (await fetch(`http://127.0.0.1:${admin[0]}/ctl/status`)).json()) as {
    nodes: Array<{ id: number; state: string; peer: string }>;
  };
  expect(status.nodes.map((n) => [n.id, n.state, n.peer])).toEqual([0, 1, 2, 3].map((o) => [o + 1, 'up', `127.0.0.1:${prefix}${o}`]));
  const d = await TextClient.connect(client[3]!);
  expect(await d.get('pod-key')).toBe('from memraft-1');
  d.close();

  // The preStop hook outside Kubernetes cannot tell a scale-in from a restart: it keeps the node.
  const hook = spawnSync(process.execPath, [mainJs, 'prestop'], {
    env: { ...process.env, MEMRAFT_HOSTNAME: 'memraft-3', MEMRAFT_ADMIN_LISTEN: `127.0.0.1:${admin[3]}`, KUBERNETES_SERVICE_HOST: '' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(hook.status).toBe(0);
  expect(hook.stdout).toMatch(/treating the stop as a restart[\s\S]*node 4\) stays a member/);
  const after = (await (await fetch(`http://127.0.0.1:${admin[0]}/ctl/status`)).json()) as { nodes: Array<{ id: number; state: string }> };
  expect(after.nodes.find((n) => n.id === 4)?.state).toBe('up');
}, 120_000);

/** `p`, or a failure naming `what` with the pods' logs after a wait only a hang exceeds. */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within 50 s\n${logs.map((l, o) => `--- memraft-${o}\n${l.slice(-3000)}`).join('\n')}`)), 50_000);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function ctlStatus(): Promise<{ nodes: Array<{ id: number; state: string; peer: string }> }> {
  return (await (await fetch(`http://127.0.0.1:${admin[0]}/ctl/status`)).json()) as { nodes: Array<{ id: number; state: string; peer: string }> };
}

it('a pod drained by a scale-in comes back on a later scale-out as the next generation of its ordinal', async () => {
  // Scale-in: the preStop hook drains memraft-3 (node 4); once removed, the node exits by itself.
  const exited = once(pods[3]!, 'exit');
  const res = await fetch(`http://127.0.0.1:${admin[0]}/ctl/drain?node=4`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` } });
  expect(await res.json()).toEqual({ ok: true });
  const [code] = (await within(exited, 'memraft-3 exits after its drain')) as [number | null];
  expect(code).toBe(1);
  expect(logs[3]).toMatch(/node 4 was removed[\s\S]*joins as node 1004/);
  const volume = path.join(dir, 'pod-3');
  expect(readFileSync(path.join(volume, 'pod-generation'), 'utf8').trim()).toBe('1');
  expect((await ctlStatus()).nodes.find((n) => n.id === 4)?.state).toBe('removed');

  // The StatefulSet deletes the volume on scale-in (whenScaled: Delete): the re-created pod
  // has none, tries node 4, is refused (removed ids never rejoin), records generation 1 and
  // exits; its restart joins as node 1004.
  rmSync(volume, { recursive: true, force: true });
  startPod(3);
  const [again] = (await within(once(pods[3]!, 'exit'), 'the re-created memraft-3 exits, refused')) as [number | null];
  expect(again).toBe(1);
  expect(existsSync(path.join(volume, 'pod-generation'))).toBe(true);
  startPod(3);
  await waitFor(3, 'readyz', 200);
  const nodes = (await ctlStatus()).nodes;
  expect(nodes.find((n) => n.id === 1004)).toMatchObject({ state: 'up', peer: `127.0.0.1:${prefix}3` });
  expect(nodes.find((n) => n.id === 4)?.state).toBe('removed');
  const c = await TextClient.connect(client[3]!);
  expect(await c.get('pod-key')).toBe('from memraft-1');
  c.close();
}, 120_000);
