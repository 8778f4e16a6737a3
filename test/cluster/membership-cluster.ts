/**
 * A growable cluster of `memraft serve` child processes for the membership tests: the
 * first nodes start with --initial-cluster, later ones with --join; `ctl` calls the admin
 * /ctl endpoints; a writer records acknowledged writes (unique keys) and `readAll` checks
 * each of them through a node. `restart` re-runs a node with the very same arguments,
 * `terminate` SIGTERMs one and reports how it exited, `runCli` runs `memraft` itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { clusterPorts, tempDir, type ClusterPorts } from './helpers.js';
import { ensureBuilt, mainJs, repoRoot, terminateAll, TextClient } from './process-cluster.js';

/** `ctl status` JSON. */
export interface CtlStatus {
  nodes: Array<{ id: number; state: string; client: string; peer?: string; zone?: string }>;
  /** Group 0 is the meta group; its entry also carries `voters` and `learners`. */
  groups: Array<{ id: number; replicas: number[]; leader: number; voters?: number[]; learners?: number[] }>;
  moves: Array<{ group: number; from: number; to: number; phase: string }>;
}

/** Per-node spawn options. */
export interface SpawnOptions {
  /** Flags for this node only, after the cluster's. */
  extra?: string[];
  /** The node whose peer port a joining node's --join names (default: the lowest other running node). */
  via?: number;
}

/** How a child process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A cluster whose nodes 1..initial bootstrap it and the others join. */
export class MemberCluster {
  /** Every node's --admin-token: the ctl mutations below carry it. */
  readonly adminToken = randomBytes(16).toString('hex');
  readonly children = new Map<number, ChildProcess>();
  private readonly output = new Map<number, string>();
  private readonly argsOf = new Map<number, string[]>();

  private constructor(
    readonly initial: number,
    readonly ports: ClusterPorts,
    readonly dir: string,
    private readonly extra: string[],
  ) {}

  /**
   * Starts nodes 1..initial (ports for up to `maxNodes`; `nodeOptions` by node id) and waits
   * for ctl status to answer with every node up.
   */
  static async start(initial: number, maxNodes: number, extra: string[], nodeOptions: Record<number, SpawnOptions> = {}): Promise<MemberCluster> {
    ensureBuilt();
    const c = new MemberCluster(initial, await clusterPorts(maxNodes), await tempDir('membership'), extra);
    for (let id = 1; id <= initial; id++) c.spawn(id, nodeOptions[id]);
    try {
      await c.until((s) => s.nodes.filter((n) => n.state === 'up').length === initial && (s.groups.find((g) => g.id === 0)?.leader ?? 0) !== 0, 'cluster up');
      // Leaders as each node sees them: ctl status knows only the meta leader's own groups' leaders.
      await c.ready([...c.children.keys()]);
    } catch (err) {
      await c.stop(); // the caller never gets `c`: its afterAll could not stop these processes
      throw err;
    }
    return c;
  }

  /** Polls each node's admin /status until it reports `ready` (a leader for every group it holds). */
  async ready(ids: number[], timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const id of ids) {
      for (;;) {
        try {
          const res = await fetch(`http://127.0.0.1:${this.adminPort(id)}/status`);
          if (((await res.json()) as { ready?: boolean }).ready === true) break;
        } catch {
          // still starting
        }
        if (Date.now() > deadline) throw new Error(`node ${id} not ready within ${timeoutMs} ms; output:\n${this.logOf(id)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Spawns node `id` (joining when beyond the initial nodes). */
  spawn(id: number, options: SpawnOptions = {}): void {
    const p = this.ports;
    const initial = p.peer.slice(0, this.initial).map((port, i) => `${i + 1}=127.0.0.1:${port}`).join(',');
    const via = options.via ?? [...this.children.keys()].find((k) => k !== id) ?? 1;
    const members = id <= this.initial ? ['--initial-cluster', initial] : ['--join', `127.0.0.1:${p.peer[via - 1]}`];
    const args = [mainJs, 'serve', '--id', String(id), '--listen', `127.0.0.1:${p.client[id - 1]}`, '--peer-listen', `127.0.0.1:${p.peer[id - 1]}`,
      '--admin-listen', `127.0.0.1:${p.admin[id - 1]}`, ...members, '--data-dir', path.join(this.dir, `node-${id}`), '--log-level', 'warn', ...this.extra,
      ...(options.extra ?? [])];
    this.run(id, args);
  }

  /** Starts node `id` again with exactly the arguments of its last start (a restart, not a new join). */
  restart(id: number): void {
    const args = this.argsOf.get(id);
    if (args === undefined) throw new Error(`node ${id} was never started`);
    if (this.children.has(id)) throw new Error(`node ${id} is running`);
    this.run(id, args);
  }

  private run(id: number, args: string[]): void {
    this.argsOf.set(id, args);
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MEMRAFT_SNAPSHOT_ENTRIES: '200', MEMRAFT_ADMIN_TOKEN: this.adminToken } });
    this.output.set(id, '');
    const append = (d: Buffer): void => void this.output.set(id, (this.output.get(id) ?? '') + d.toString());
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    this.children.set(id, child);
  }

  /** Everything node `id` printed. */
  logOf(id: number): string {
    return this.output.get(id) ?? '';
  }

  /** Client port of node `id`. */
  clientPort(id: number): number {
    return this.ports.client[id - 1]!;
  }

  /** Peer port of node `id`. */
  peerPort(id: number): number {
    return this.ports.peer[id - 1]!;
  }

  /** Admin port of node `id`. */
  adminPort(id: number): number {
    return this.ports.admin[id - 1]!;
  }

  /**
   * A text client of node `id` once its client listener accepts (it opens after the node
   * has started, e.g. after --join); fails early if the process exits meanwhile.
   */
  async connect(id: number, timeoutMs = 90_000): Promise<TextClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await TextClient.connect(this.clientPort(id));
      } catch (err) {
        const child = this.children.get(id);
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) throw new Error(`node ${id} is not running; output:\n${this.logOf(id)}`);
        if (Date.now() > deadline) throw new Error(`node ${id}'s client port did not open: ${String(err)}; output:\n${this.logOf(id)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A ctl call at the first running node that answers (`peer` for join). */
  async ctl(op: string, node = 0, peer?: string): Promise<unknown> {
    const query = `node=${node}${peer === undefined ? '' : `&peer=${encodeURIComponent(peer)}`}`;
    for (const id of [...this.children.keys()].sort((a, b) => a - b)) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.ports.admin[id - 1]}/ctl/${op}?${query}`, {
          method: op === 'status' ? 'GET' : 'POST',
          headers: { authorization: `Bearer ${this.adminToken}` },
        });
        return await res.json();
      } catch {
        // that node is down or starting: the next one
      }
    }
    throw new Error('no node answered');
  }

  /** ctl status. */
  status(): Promise<CtlStatus> {
    return this.ctl('status') as Promise<CtlStatus>;
  }

  /** Polls ctl status until `check` holds. */
  async until(check: (s: CtlStatus) => boolean, what: string, timeoutMs = 90_000): Promise<CtlStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: CtlStatus | null = null;
    for (;;) {
      try {
        last = await this.status();
        if (check(last)) return last;
      } catch {
        // between meta leaders: ask again
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** SIGKILL node `id`. */
  async kill(id: number): Promise<void> {
    const child = this.children.get(id);
    if (child === undefined) return;
    this.children.delete(id);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /**
   * SIGTERM node `id` and wait until it exits by itself (no SIGKILL fallback: a node that
   * hangs fails the test at `timeoutMs`, and `stop` cleans it up).
   */
  async terminate(id: number, timeoutMs = 120_000): Promise<Exit> {
    const child = this.children.get(id);
    if (child === undefined) throw new Error(`node ${id} is not running`);
    const exited = exitOf(child);
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`node ${id} did not exit within ${timeoutMs} ms of SIGTERM; output:\n${this.logOf(id)}`)), timeoutMs);
    });
    try {
      const exit = await Promise.race([exited, late]);
      this.children.delete(id);
      return exit;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM everything and remove the data. */
  async stop(): Promise<void> {
    await terminateAll(this.children.values());
    this.children.clear();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Resolves with how `child` ended (at once if it already has). */
function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Output and exit code of one `memraft <args>` run (e.g. `ctl join 4 127.0.0.1:7001 --admin ...`). */
export async function runCli(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  ensureBuilt();
  const child = spawn(process.execPath, [mainJs, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  // 'close', not 'exit': the pipes may still hold output when the process has exited.
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Every group has `rf` replicas, all on up nodes, none in flight. */
export function settled(s: CtlStatus, rf: number): boolean {
  const up = new Set(s.nodes.filter((n) => n.state === 'up').map((n) => n.id));
  return s.moves.length === 0 && s.groups.filter((g) => g.id !== 0).every((g) => g.replicas.length === rf && g.replicas.every((id) => up.has(id)) && new Set(g.replicas).size === rf);
}

/** Replicas per node over the data groups. */
export function loads(s: CtlStatus): Map<number, number> {
  const out = new Map<number, number>();
  for (const g of s.groups) if (g.id !== 0) for (const id of g.replicas) out.set(id, (out.get(id) ?? 0) + 1);
  return out;
}

/** Writes unique keys through the given nodes until stopped; acknowledged ones in `acked`. */
export function startWriters(c: MemberCluster, nodes: number[], acked: Map<string, string>): { stop: () => Promise<void> } {
  let stopped = false;
  const loops = nodes.map(async (id) => {
    let client: TextClient | null = null;
    for (let i = 0; !stopped; i++) {
      const key = `w${id}-${i}`;
      try {
        client ??= await TextClient.connect(c.clientPort(id));
        if ((await client.set(key, `v${i}`)) === 'STORED\r\n') acked.set(key, `v${i}`);
      } catch {
        client?.close();
        client = null;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    client?.close();
  });
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Keys per multi-key `get` in `missingThrough` (the request line stays far below memcached's 2048 bytes). */
const keysPerGetMax = 64;

/** Keys of `acked` that node `id` does not read back with their value. */
export async function missingThrough(c: MemberCluster, id: number, acked: Map<string, string>): Promise<string[]> {
  const client = await TextClient.connect(c.clientPort(id));
  const missing: string[] = [];
  const keys = [...acked.keys()];
  try {
    // Multi-key gets: one round trip per batch instead of per key (tens of thousands of keys).
    for (let i = 0; i < keys.length; i += keysPerGetMax) {
      const batch = keys.slice(i, i + keysPerGetMax);
      const got = valuesOf(await client.call(`get ${batch.join(' ')}`));
      for (const key of batch) if (got.get(key) !== acked.get(key)) missing.push(key);
    }
  } finally {
    client.close();
  }
  return missing;
}

/** The values of a `get` reply (VALUE blocks through END); throws on an error reply. */
function valuesOf(reply: string): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  for (;;) {
    if (reply.startsWith('END\r\n', at)) return out;
    const lineEnd = reply.indexOf('\r\n', at);
    const m = /^VALUE (\S+) \d+ (\d+)$/.exec(reply.slice(at, lineEnd));
    if (m === null) throw new Error(`unexpected get reply: ${reply.slice(at, at + 200).trim()}`);
    const start = lineEnd + 2;
    out.set(m[1]!, reply.slice(start, start + Number(m[2])));
    at = start + Number(m[2]) + 2;
  }
}
