/**
 * Cluster control: N `memraft serve` child processes on loopback, every node-to-node link
 * through the harness's proxies (net/network.ts). Kill -9 and restart, pause (SIGSTOP) and
 * resume (SIGCONT), readiness and state through the admin HTTP, each node's stdout and
 * stderr appended to node-<id>.log in the run's directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { GroupStatus as ServerGroupStatus } from '../../src/server/cluster-status.js';
import { NetnsNetwork } from '../net/netns.js';
import { Network } from '../net/network.js';
import type { Endpoint } from '../workload/client.js';

/** How node-to-node links are made and broken: TCP proxies (default) or namespaces and nftables. */
export type NetMode = 'proxy' | 'netns';

/** Either network: the same faults, made by proxies or by the kernel. */
export type NodeNetwork = Network | NetnsNetwork;

/** The fields of a group in a node's admin /status that the harness reads (the server's own type). */
export type GroupStatus = Pick<ServerGroupStatus, 'id' | 'role' | 'term' | 'commit' | 'applied' | 'leader' | 'digest'>;

/** The part of admin /status the harness reads. */
export interface NodeStatus {
  node: { id: number; pid: number };
  ready: boolean;
  leaderOf: number;
  groups: GroupStatus[];
}

/**
 * What a node is doing, as far as the harness made it: `absent` is a spare node that has
 * not joined yet, `gone` one that was drained and stopped for good.
 */
export type NodeState = 'up' | 'killed' | 'paused' | 'absent' | 'gone';

/** One node process. */
interface NodeProc {
  id: number;
  clientPort: number;
  peerPort: number;
  adminPort: number;
  child: ChildProcess | null;
  state: NodeState;
  /** A node that joined: the node whose peer port its --join names. */
  joinVia: number | null;
  /** Set just before the harness kills or stops the node: its exit is expected. */
  expectExit: boolean;
  starts: number;
}

/** An exit the nemesis did not cause. */
export interface UnexpectedExit {
  node: number;
  code: number | null;
  signal: string | null;
  timeMs: number;
}

/** Options of a cluster. */
export interface ClusterOptions {
  nodes: number;
  /** Nodes nodes+1..nodes+spareNodes: ports and link proxies reserved, started by join(). */
  spareNodes?: number;
  /** The run directory: node data in node-<id>/, logs in node-<id>.log. */
  dir: string;
  /** Extra `memraft serve` flags for every node. */
  serverArgs: string[];
  /** Seeds the proxies' randomness (delay jitter, loss). */
  seed: number;
  /** The memraft entry point (dist/cli/main.js). */
  mainJs: string;
  /** Extra environment of every node. */
  env?: Record<string, string>;
  /** How links are made and broken (default proxy; netns needs root: net/netns.ts). */
  net?: NetMode;
}

/** Longest wait for one admin HTTP answer (a paused node never answers). */
const adminTimeoutMs = 1500;

/** A running cluster. */
export class Cluster {
  readonly unexpectedExits: UnexpectedExit[] = [];
  private readonly procs = new Map<number, NodeProc>();
  private stopping = false;
  private readonly startMs = performance.now();
  /** The nodes' admin token (handed over in the environment): admin mutations carry it. */
  private readonly adminToken = randomBytes(16).toString('hex');
  private readonly exitHook = (): void => this.killAllNow();

  private constructor(
    readonly options: ClusterOptions,
    readonly network: NodeNetwork,
  ) {}

  /** Allocates ports, starts the proxies and every node, waits until all are ready. */
  static async start(options: ClusterOptions, readyTimeoutMs = 60_000): Promise<Cluster> {
    const n = options.nodes + (options.spareNodes ?? 0);
    // Hold the nodes' ports while the proxies pick theirs, so they cannot collide.
    const { ports, release } = await reservePorts(3 * n);
    const peerPorts = new Map<number, number>();
    for (let id = 1; id <= n; id++) peerPorts.set(id, ports[n + id - 1]!);
    const network = options.net === 'netns'
      ? NetnsNetwork.start(Array.from({ length: n }, (_, i) => i + 1))
      : await Network.start(peerPorts, options.seed);
    await release();
    const cluster = new Cluster(options, network);
    // Never leave nodes behind when the harness itself dies or is interrupted.
    process.once('exit', cluster.exitHook);
    for (let id = 1; id <= n; id++) {
      cluster.procs.set(id, {
        id, clientPort: ports[id - 1]!, peerPort: peerPorts.get(id)!, adminPort: ports[2 * n + id - 1]!,
        child: null, state: 'absent', joinVia: null, expectExit: false, starts: 0,
      });
    }
    try {
      for (let id = 1; id <= options.nodes; id++) cluster.spawn(id);
      await cluster.waitReady(cluster.ids, readyTimeoutMs);
    } catch (err) {
      // Nodes that did start and the proxies would keep the harness alive.
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Ids of the nodes ever started (gone ones included: their logs are the run's), ascending. */
  get ids(): number[] {
    return [...this.procs.values()].filter((p) => p.state !== 'absent').map((p) => p.id);
  }

  /** The nodes in the cluster now: started and not gone (killed and paused ones included). */
  members(): number[] {
    return [...this.procs.values()].filter((p) => p.state !== 'absent' && p.state !== 'gone').map((p) => p.id);
  }

  /** Starts spare node `id`, joining the cluster through node `via`'s peer port (through their link's proxy). */
  join(id: number, via: number): void {
    const p = this.proc(id);
    if (p.state !== 'absent') throw new Error(`node ${id} has already been started`);
    p.joinVia = via;
    this.spawn(id);
  }

  /** Stops a drained node for good (SIGTERM) and leaves it out of members(). */
  /** Node `id` is about to exit by itself (a drained node exits once it is removed): not a crash. */
  expectExit(id: number): void {
    this.proc(id).expectExit = true;
  }

  async retire(id: number, graceMs = 5000): Promise<void> {
    await this.stopNode(id, graceMs);
    this.proc(id).state = 'gone';
  }

  /** The client (memcached) port of a node. */
  clientPort(id: number): number {
    return this.proc(id).clientPort;
  }

  /** Where a client reaches node `id`'s memcached port. */
  clientEndpoint(id: number): Endpoint {
    return { host: this.network.hostOf(id), port: this.proc(id).clientPort };
  }

  /** What the harness last did to a node. */
  state(id: number): NodeState {
    return this.proc(id).state;
  }

  /** Where node `id` logs. */
  logFile(id: number): string {
    return path.join(this.options.dir, `node-${id}.log`);
  }

  /** SIGKILLs a node and waits for it to exit. */
  async kill(id: number): Promise<void> {
    const p = this.proc(id);
    if (p.child === null) return;
    const child = p.child;
    p.expectExit = true;
    if (p.state === 'paused') child.kill('SIGCONT');
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    p.state = 'killed';
  }

  /** Starts a killed node again with the same flags and data directory. */
  restart(id: number): void {
    const p = this.proc(id);
    if (p.child !== null || p.state === 'absent' || p.state === 'gone') return;
    this.spawn(id);
  }

  /** SIGSTOPs a node. */
  pause(id: number): void {
    const p = this.proc(id);
    if (p.child === null || p.state !== 'up') return;
    p.child.kill('SIGSTOP');
    p.state = 'paused';
  }

  /** SIGCONTs a paused node. */
  resume(id: number): void {
    const p = this.proc(id);
    if (p.child === null || p.state !== 'paused') return;
    p.child.kill('SIGCONT');
    p.state = 'up';
  }

  /** A node's admin /status, or null when it does not answer in time. */
  async status(id: number, digest = false): Promise<NodeStatus | null> {
    return (await this.admin(id, 'GET', `/status${digest ? '?digest=1' : ''}`)) as NodeStatus | null;
  }

  /** Calls a node's admin HTTP; the parsed JSON answer, or null on any failure. */
  async admin(id: number, method: 'GET' | 'POST', pathAndQuery: string): Promise<unknown> {
    const p = this.proc(id);
    if (p.state !== 'up') return null;
    try {
      const res = await fetch(`http://${this.network.hostOf(id)}:${p.adminPort}${pathAndQuery}`, {
        method,
        headers: { authorization: `Bearer ${this.adminToken}` },
        signal: AbortSignal.timeout(adminTimeoutMs),
      });
      if (!res.ok) return null;
      return await res.json();
    } catch {
      return null;
    }
  }

  /** Resolves once every listed node reports `ready` (a leader for every group); throws after the timeout. */
  async waitReady(ids: number[], timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (const id of ids) {
      for (;;) {
        const p = this.proc(id);
        if (p.child === null) throw new Error(`node ${id} is not running (see ${this.logFile(id)})`);
        const s = await this.status(id);
        if (s?.ready === true) break;
        if (performance.now() > deadline) throw new Error(`node ${id} not ready after ${timeoutMs} ms (see ${this.logFile(id)})`);
        await delay(100);
      }
    }
  }

  /** Which nodes lead data groups now, with how many each (nodes that do not answer are left out). */
  async leaders(): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const all = await Promise.all(this.members().map(async (id) => [id, await this.status(id)] as const));
    for (const [id, s] of all) {
      if (s === null) continue;
      const led = s.groups.filter((g) => g.id !== 0 && g.role === 'leader').length;
      if (led > 0) out.set(id, led);
    }
    return out;
  }

  /** Stops every node (SIGTERM, then SIGKILL after `graceMs`) and the proxies. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    await Promise.all(this.ids.map((id) => this.stopNode(id, graceMs)));
    await this.network.close();
    process.off('exit', this.exitHook);
  }

  /** SIGKILLs every node at once, synchronously (the process exit hook). */
  killAllNow(): void {
    this.stopping = true;
    for (const p of this.procs.values()) {
      if (p.child === null) continue;
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
  }

  private async stopNode(id: number, graceMs: number): Promise<void> {
    const p = this.proc(id);
    const child = p.child;
    if (child === null) return;
    p.expectExit = true;
    const exited = once(child, 'exit');
    if (p.state === 'paused') child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private spawn(id: number): void {
    const p = this.proc(id);
    const o = this.options;
    const host = this.network.hostOf(id);
    const peerAddresses = this.network.peerAddressesOf(id);
    const args = [
      o.mainJs, 'serve',
      '--id', String(id),
      '--listen', `${host}:${p.clientPort}`,
      '--peer-listen', `${host}:${p.peerPort}`,
      '--admin-listen', `${host}:${p.adminPort}`,
      ...(p.joinVia === null
        ? ['--initial-cluster', this.network.initialClusterOf(id, this.initialIds(), this.peerPorts())]
        : ['--join', this.network.joinAddressOf(id, p.joinVia, this.peerPorts())]),
      ...(peerAddresses === '' ? [] : ['--peer-addresses', peerAddresses]),
      // Off loopback a node requires a cluster secret.
      ...(this.network.kind === 'netns' ? ['--cluster-secret', 'jepsen-lite-netns'] : []),
      '--data-dir', path.join(o.dir, `node-${id}`),
      ...o.serverArgs,
    ];
    const log = fs.openSync(this.logFile(id), 'a');
    fs.writeSync(log, `# jepsen-lite: start ${++p.starts} of node ${id}: node ${args.join(' ')}\n`);
    const [file, argv] = this.network.command(id, process.execPath, args);
    const child = spawn(file, argv, {
      stdio: ['ignore', log, log],
      env: { ...process.env, MEMRAFT_DEBUG_ADMIN: '1', MEMRAFT_ADMIN_TOKEN: this.adminToken, ...o.env },
    });
    fs.closeSync(log);
    p.child = child;
    p.state = 'up';
    p.expectExit = false;
    child.on('exit', (code, signal) => this.onExit(p, child, code, signal));
  }

  private onExit(p: NodeProc, child: ChildProcess, code: number | null, signal: string | null): void {
    if (p.child !== child) return;
    p.child = null;
    p.state = 'killed';
    if (p.expectExit || this.stopping) return;
    this.unexpectedExits.push({ node: p.id, code, signal, timeMs: performance.now() - this.startMs });
  }

  private initialIds(): number[] {
    return Array.from({ length: this.options.nodes }, (_, i) => i + 1);
  }

  private peerPorts(): Map<number, number> {
    return new Map([...this.procs.values()].map((p) => [p.id, p.peerPort]));
  }

  private proc(id: number): NodeProc {
    const p = this.procs.get(id);
    if (p === undefined) throw new Error(`no node ${id}`);
    return p;
  }
}

/** Free ports, held open until `release` (listen on 0, close later). */
export async function reservePorts(count: number): Promise<{ ports: number[]; release: () => Promise<void> }> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  const release = async (): Promise<void> => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  };
  return { ports, release };
}

/** Resolves after `ms` (pacing and polling only, never as synchronisation in tests). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
