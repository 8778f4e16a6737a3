/**
 * One whole simulated node: the real ClusterHost, its replicas and the real cluster
 * executor, over a SimRuntime, a SimTransport and a SimLogStore. Each start is a new
 * incarnation (a process): a crash kills the incarnation (its timers, its unsynced writes,
 * its connections) and a restart builds a new host from the durable disk alone.
 */
import { pino, type Logger } from 'pino';
import type { CacheOp, CacheResult } from '../../../src/cache/ops.js';
import { realGroupFactory } from '../../../src/cluster/group-factory.js';
import { ClusterHost, defaultHostTiming, type HostConfig, type UnsafeModes } from '../../../src/cluster/host.js';
import { defaultReplicaOptions } from '../../../src/cluster/replica.js';
import { ClusterExecutor } from '../../../src/server/cluster-executor.js';
import { mixSeed, type Scheduler } from './scheduler.js';
import { SimLogStore, type SimDisk } from './sim-log-store.js';
import type { SimNetwork } from './sim-network.js';
import { Life, SimRuntime, type NodeClock } from './sim-runtime.js';

/** The known-bad variants the simulator must catch (HostConfig.unsafe). */
export type BugName = 'stale-reads' | 'ack-before-commit' | 'ack-before-durable';

/** Every bug variant. */
export const bugNames: readonly BugName[] = ['stale-reads', 'ack-before-commit', 'ack-before-durable'];

/** The unsafe modes of a bug variant. */
export function unsafeModesOf(bug: BugName): UnsafeModes {
  return { staleReads: bug === 'stale-reads', ackBeforeCommit: bug === 'ack-before-commit', ackBeforeDurable: bug === 'ack-before-durable' };
}

/** What every node of a run shares. */
export interface NodeWorld {
  scheduler: Scheduler;
  network: SimNetwork;
  seed: number;
  nodeIds: number[];
  groups: number;
  snapshotEntriesMin: number;
  logBytesMax: number;
  bug: BugName | null;
  logger: Logger;
  /** A node called Runtime.fatal (a real process would exit). */
  onFatal(node: number, err: unknown): void;
}

/** Node cache memory: plenty for the workload, so nothing is ever evicted. */
const memoryBytes = 64 * 1024 * 1024;
const itemBytesMax = 1024 * 1024;

/** Figures a node keeps across incarnations. */
export interface NodeFigures {
  starts: number;
  crashes: number;
}

/** Snapshot counts of a node. */
export interface SnapshotFigures {
  taken: number;
  installed: number;
}

/** One simulated node and its successive incarnations. */
export class SimNode {
  readonly clock: NodeClock = { offsetMs: 0 };
  readonly figures: NodeFigures = { starts: 0, crashes: 0 };
  /** Snapshots of the incarnations that crashed. */
  private readonly pastSnapshots: SnapshotFigures = { taken: 0, installed: 0 };
  host: ClusterHost | null = null;
  executor: ClusterExecutor | null = null;
  private life: Life | null = null;
  private store: SimLogStore | null = null;

  constructor(
    readonly id: number,
    private readonly world: NodeWorld,
    readonly disk: SimDisk,
  ) {}

  /** True while an incarnation runs (it may still be loading its disk). */
  get up(): boolean {
    return this.life?.alive === true;
  }

  /** When the write being synced becomes durable (virtual us), if one is. */
  get syncDoneAtUs(): number | null {
    return this.store?.syncDoneAtUs ?? null;
  }

  /** Writes issued and not yet durable. */
  get unsyncedWrites(): number {
    return this.store?.unsyncedWrites ?? 0;
  }

  /** Starts a new incarnation from the durable disk. Call from inside a scheduler event. */
  start(): void {
    if (this.up) return;
    const w = this.world;
    const life = new Life(this.id, ++this.figures.starts);
    this.life = life;
    const runtime = new SimRuntime(w.scheduler, life, this.clock, (node, err) => w.onFatal(node, err));
    this.store = new SimLogStore(w.scheduler, life, this.disk);
    const transport = w.network.attach(this.id, life);
    const logger = w.logger.child({ incarnation: life.incarnation });
    const factory = realGroupFactory(this.id, 'read-index', itemBytesMax, mixSeed(w.seed, this.id, life.incarnation), logger);
    const host = new ClusterHost(this.hostConfig(), factory, this.store, transport, runtime, logger);
    this.host = host;
    void host.start().then(() => {
      if (!life.alive) return;
      this.executor = new ClusterExecutor(host, memoryBytes);
      w.network.announce(this.id);
    });
  }

  /** Kills the incarnation: timers, connections and unsynced writes are gone. */
  crash(): void {
    if (!this.up) return;
    const live = this.snapshots();
    this.pastSnapshots.taken = live.taken;
    this.pastSnapshots.installed = live.installed;
    this.life!.alive = false;
    this.store!.crash();
    this.world.network.detach(this.id);
    this.figures.crashes++;
    this.host = null;
    this.executor = null;
    this.store = null;
  }

  /** Runs ops through this node's executor (null when down or still starting). */
  execute(ops: CacheOp[], done: (results: CacheResult[]) => void): boolean {
    if (this.executor === null) return false;
    this.executor.execute(ops, done);
    return true;
  }

  /** Snapshots taken and installed by every incarnation so far. */
  snapshots(): SnapshotFigures {
    const sum = { ...this.pastSnapshots };
    for (const r of this.host?.replicas.values() ?? []) {
      sum.taken += r.snapshotsTaken;
      sum.installed += r.snapshotsInstalled;
    }
    return sum;
  }

  private hostConfig(): HostConfig {
    const w = this.world;
    const entries = w.snapshotEntriesMin;
    const config: HostConfig = {
      nodeId: this.id,
      // The simulated transport ignores addresses; the host only needs well-formed ones.
      initialCluster: w.nodeIds.map((id) => ({ id, peer: `sim-node-${id}:7000` })),
      peerAddress: `sim-node-${this.id}:7000`,
      clientAddress: `sim-node-${this.id}:11211`,
      adminAddress: '',
      groups: w.groups,
      replicas: 3,
      memoryBytes,
      readMode: 'read-index',
      ...defaultHostTiming,
      replica: {
        ...defaultReplicaOptions,
        snapshotEntriesMin: entries,
        snapshotKeepEntries: Math.min(defaultReplicaOptions.snapshotKeepEntries, entries >> 2),
        logBytesMax: w.logBytesMax,
        hostReadIndex: true,
      },
    };
    if (w.bug !== null) config.unsafe = unsafeModesOf(w.bug);
    return config;
  }
}

/** A logger that stays silent unless a level is asked for (then stamped with virtual time). */
export function simLogger(scheduler: Scheduler, level: string | undefined): Logger {
  if (level === undefined) return pino({ level: 'silent' });
  return pino({ level, base: null, timestamp: () => `,"vms":${scheduler.nowMs}` });
}
