/**
 * A real cluster of `memraft serve` child processes on loopback for the cluster tests:
 * spawn, wait until every group has a leader (admin /status), SIGKILL, restart, and a
 * minimal memcached text client over a raw socket.
 */
import type { GroupStatus } from '../../src/server/cluster-status.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { clusterPorts, serveArgs, tempDir, type ClusterPorts } from './helpers.js';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const mainJs = process.env.MEMRAFT_TEST_MAIN ?? path.join(repoRoot, 'dist/cli/main.js');

/** Builds dist/ when the cluster entry point is missing (npm test builds first). */
export function ensureBuilt(): void {
  if (existsSync(mainJs) && existsSync(path.join(repoRoot, 'dist/server/cluster-node.js'))) return;
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'ignore' });
  if (!existsSync(mainJs)) throw new Error(`build did not produce ${mainJs}`);
}

/** One group in a node's /status (the server's own type). */
export type { GroupStatus };

/** A node's /status. */
export interface NodeStatus {
  ready: boolean;
  leaderOf: number;
  groups: GroupStatus[];
}

/** A running cluster of child processes. */
export class ProcessCluster {
  readonly children = new Map<number, ChildProcess>();
  private readonly output = new Map<number, string>();

  private constructor(
    readonly size: number,
    readonly ports: ClusterPorts,
    readonly dir: string,
    private readonly extra: string[],
    private readonly env: Record<string, string>,
  ) {}

  /** Starts `size` nodes and waits until each sees a leader for every group. */
  static async start(size: number, extra: string[] = [], env: Record<string, string> = {}): Promise<ProcessCluster> {
    ensureBuilt();
    const cluster = new ProcessCluster(size, await clusterPorts(size), await tempDir('cluster'), extra, env);
    for (let id = 1; id <= size; id++) cluster.spawnNode(id);
    await cluster.waitReady();
    return cluster;
  }

  /** Client port of node `id`. */
  clientPort(id: number): number {
    return this.ports.client[id - 1]!;
  }

  /** Everything node `id` printed. */
  logOf(id: number): string {
    return this.output.get(id) ?? '';
  }

  /** (Re)starts node `id` with the same flags and data directory. */
  spawnNode(id: number): void {
    const args = [mainJs, 'serve', ...serveArgs(id, this.ports, this.dir, this.extra)];
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MEMRAFT_DEBUG_ADMIN: '1', ...this.env },
    });
    this.output.set(id, '');
    const append = (d: Buffer): void => {
      this.output.set(id, (this.output.get(id) ?? '') + d.toString());
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    this.children.set(id, child);
  }

  /** SIGKILL node `id` and wait for it to be gone. */
  async kill(id: number): Promise<void> {
    const child = this.children.get(id);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    this.children.delete(id);
  }

  /** Restarts node `id` and waits until it is ready. */
  async restart(id: number): Promise<void> {
    await this.kill(id);
    this.spawnNode(id);
    await this.waitReady([id]);
  }

  /** GET /status of node `id` (null when it does not answer). */
  async status(id: number, digest = false): Promise<NodeStatus | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.ports.admin[id - 1]}/status${digest ? '?digest=1' : ''}`);
      return (await res.json()) as NodeStatus;
    } catch {
      return null;
    }
  }

  /** POST /debug/block on node `id`. */
  async block(id: number, peers: number[]): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.ports.admin[id - 1]}/debug/block?peers=${peers.join(',')}`, { method: 'POST' });
    if (res.status !== 200) throw new Error(`block failed: ${res.status}`);
  }

  /** Waits until the given nodes (default all running) report a leader for every group. */
  async waitReady(ids?: number[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const id of ids ?? [...this.children.keys()]) {
      for (;;) {
        const child = this.children.get(id);
        if (child === undefined || child.exitCode !== null) throw new Error(`node ${id} exited:\n${this.logOf(id)}`);
        const s = await this.status(id);
        if (s?.ready === true) break;
        if (Date.now() > deadline) throw new Error(`node ${id} not ready:\n${this.logOf(id)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /**
   * Waits until no group changes leader for longer than a leader-balancing interval (1 s):
   * right after start-up the nodes still hand leaderships to their preferred replicas.
   */
  async waitStableLeaders(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const leaders = async (): Promise<string> => {
      const ids = [...this.children.keys()];
      const all = await Promise.all(ids.map((id) => this.status(id)));
      return all.flatMap((st, i) => st?.groups.filter((g) => g.role === 'leader').map((g) => `${g.id}@${ids[i]}`) ?? []).sort().join(' ');
    };
    let last = await leaders();
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1200));
      const now = await leaders();
      if (now === last) return;
      last = now;
    }
    throw new Error('leaders did not settle');
  }

  /** Waits until every replica of every group has applied the same index, then returns digests by group. */
  async convergedDigests(timeoutMs = 30_000): Promise<Map<number, string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = await Promise.all([...this.children.keys()].map((id) => this.status(id, true)));
      const byGroup = new Map<number, GroupStatus[]>();
      for (const s of all) for (const g of s?.groups ?? []) byGroup.set(g.id, [...(byGroup.get(g.id) ?? []), g]);
      const converged = all.every((s) => s !== null) && [...byGroup.values()].every((gs) => gs.every((g) => g.applied === gs[0]!.applied && g.commit === gs[0]!.commit));
      if (converged) {
        const digests = new Map<number, string>();
        for (const [id, gs] of byGroup) {
          const set = new Set(gs.map((g) => g.digest));
          if (set.size !== 1) throw new Error(`group ${id}: replicas at index ${gs[0]!.applied} differ: ${[...set].join(' ')}`);
          digests.set(id, gs[0]!.digest!);
        }
        return digests;
      }
      if (Date.now() > deadline) throw new Error('replicas did not converge');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL every node. */
  async killAll(): Promise<void> {
    await Promise.all([...this.children.keys()].map((id) => this.kill(id)));
  }

  /** SIGTERM every node and wait. */
  async stop(): Promise<void> {
    await terminateAll(this.children.values());
    this.children.clear();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A minimal memcached text-protocol client: one request at a time, replies read whole. */
export class TextClient {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => {});
  }

  /** Connects to 127.0.0.1:port. */
  static async connect(port: number): Promise<TextClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new TextClient(socket);
  }

  /** Sends `line` (CRLF added) and reads one reply (through END for retrievals). */
  async call(line: string, data?: string): Promise<string> {
    this.socket.write(data === undefined ? `${line}\r\n` : `${line}\r\n${data}\r\n`);
    const multi = /^(get|gets|gat|gats|stats) /.test(line) || line === 'stats';
    for (;;) {
      const text = this.buffered.toString('latin1');
      const end = replyEnd(text, multi);
      if (end >= 0) {
        this.buffered = this.buffered.subarray(end);
        return text.slice(0, end);
      }
      if (this.closed) throw new Error(`connection closed; got '${text}'`);
      await new Promise<void>((r) => (this.waiting = r));
      this.waiting = null;
    }
  }

  /** `set key 0 0 <len>` + value; returns the reply line. */
  set(key: string, value: string): Promise<string> {
    return this.call(`set ${key} 0 0 ${Buffer.byteLength(value)}`, value);
  }

  /** The value of `key`, null on a miss; throws on any other reply. */
  async get(key: string): Promise<string | null> {
    const reply = await this.call(`get ${key}`);
    if (reply === 'END\r\n') return null;
    const m = /^VALUE \S+ \d+ (\d+)\r\n/.exec(reply);
    if (m === null) throw new Error(`get ${key}: ${reply.trim()}`);
    const start = m[0].length;
    return reply.slice(start, start + Number(m[1]));
  }

  close(): void {
    this.socket.destroy();
  }
}

function replyEnd(text: string, multi: boolean): number {
  const firstLine = text.indexOf('\r\n');
  if (firstLine < 0) return -1;
  if (/^(SERVER_ERROR|CLIENT_ERROR|ERROR)/.test(text)) return firstLine + 2;
  if (!multi) return firstLine + 2;
  const end = text.indexOf('END\r\n');
  if (end < 0) return -1;
  // END must start a line (a value could contain the letters).
  let at = end;
  while (at > 0 && text.slice(at - 2, at) !== '\r\n') {
    const next = text.indexOf('END\r\n', at + 1);
    if (next < 0) return -1;
    at = next;
  }
  return at + 5;
}

/** SIGTERMs every child still running and waits for each to exit (SIGKILL after 10 s). */
export async function terminateAll(children: Iterable<ChildProcess>): Promise<void> {
  await Promise.all(
    [...children].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}
