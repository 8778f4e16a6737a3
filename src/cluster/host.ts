/**
 * The multi-Raft host of one node: every group replica on this node, one tick timer, and
 * one flush per event-loop turn over all groups (DESIGN.md §2, §4).
 *
 * A flush follows the RawNode recipe for all groups at once:
 *   1. each replica proposes this turn's batched entry and one ReadIndex for its reads;
 *   2. rd = ready() per group; send rd.messagesBeforePersist (a leader's appends go out
 *      while it persists, thesis 10.2.1);
 *   3. ONE storage.write() holding every group's hard state, entries and snapshot (one
 *      fsync for the whole node);
 *   4. per group: update the in-memory log, send rd.messages (votes, acks: only now that
 *      what they promise is durable), apply committed entries, answer proposals and reads,
 *      advance.
 * Work arriving during the write (client ops, peer messages) waits for the next flush,
 * which is how proposals batch up under load (group commit).
 *
 * The meta group (0) lives here too: every node applies it, creates the data groups the
 * meta state places on it, and registers its client/admin addresses through it.
 */
import { AssertionError } from 'node:assert';
import { pino, type Logger } from 'pino';
import type { CacheOp, CacheResult, GetOp } from '../cache/ops.js';
import {
  encodeMetaCommand,
  initialPlacement,
  memoryBytesPerGroup,
  metaMembers,
  type MetaCommand,
  type MetaResult,
  type MetaStateMachine,
} from '../membership/index.js';
import { MessageType, type GroupId, type Message, type NodeId } from '../raft/types.js';
import type { CacheFigures, GroupFactory, GroupWrite, LogStoreLike, RaftReady, StoredGroup, TransportLike } from './contracts.js';
import { CacheGroupMachine, MetaGroupMachine } from './machines.js';
import { HostMetrics } from './metrics.js';
import { Replica, defaultReplicaOptions, type ReplicaDone, type ReplicaOptions } from './replica.js';
import {
  SnapshotAssembler,
  chunkSnapshot,
  decodeRaftMessage,
  decodeResults,
  encodeRaftMessage,
  encodeResults,
  isChunk,
  snapshotChunkBytes,
} from './wire.js';
import { clockNowMs } from './clock.js';

/** The meta group's id. */
export const metaGroupId: GroupId = 0;

/** A cluster member as given by --initial-cluster. */
export interface InitialMember {
  id: NodeId;
  /** Peer address "host:port". */
  peer: string;
}

/** Everything a host needs to know about its node and cluster. */
export interface HostConfig {
  nodeId: NodeId;
  /** Bootstrap members; empty when joining an existing cluster. */
  initialCluster: InitialMember[];
  peerAddress: string;
  clientAddress: string;
  adminAddress: string;
  groups: number;
  replicas: number;
  /** Node cache memory (memcached -m), split over the node's share of replicas. */
  memoryBytes: number;
  readMode: 'read-index' | 'lease';
  tickMs: number;
  /** Total time a request may spend finding its group's leader. */
  forwardTimeoutMs: number;
  /** Interval of leader-proposed bump entries. */
  bumpIntervalMs: number;
  /** Interval of leader-proposed expire entries, and items each may examine. */
  expireIntervalMs: number;
  expireScanMax: number;
  /** How often a leader checks whether another replica should lead instead. */
  balanceIntervalMs: number;
  replica: ReplicaOptions;
  /** Known-bad modes for jepsen-lite to catch (serve flags --unsafe-*); never in production. */
  unsafe?: UnsafeModes;
}

/** Test-only modes that break linearizability on purpose (jepsen-lite must catch them). */
export interface UnsafeModes {
  /** Any replica answers reads from its local state: no ReadIndex, no forwarding. */
  staleReads: boolean;
  /** A leader acknowledges a `set` as soon as it is queued, before it is committed. */
  ackBeforeCommit: boolean;
}

/** Defaults of the timing-related fields. */
export const defaultHostTiming = {
  tickMs: 50,
  forwardTimeoutMs: 5000,
  bumpIntervalMs: 1000,
  expireIntervalMs: 5000,
  expireScanMax: 10_000,
  balanceIntervalMs: 1000,
  replica: defaultReplicaOptions,
};

/** Called with the results of a request, or with an error message (SERVER_ERROR). */
export type GroupCallback = (results: unknown[] | null, error?: string) => void;

/** A forwarded or local request on its way to the group leader. */
interface Attempt {
  group: GroupId;
  /** Encoded data ops, or an encoded meta command. */
  /** What is sent to a remote leader; data ops are encoded only if one is needed. */
  payload: { t: 'ops'; g: GroupId; d: Uint8Array | null; k?: number } | { t: 'meta'; d: Uint8Array };
  ops: CacheOp[] | null;
  mutates: boolean;
  hint: NodeId;
  tries: number;
  deadlineMs: number;
  cb: GroupCallback;
  /** Set while waiting for a leader to be elected or learned. */
  timer?: NodeJS.Timeout;
}

/** Longest wait for one forwarded read before trying elsewhere. */
const readAttemptMs = 1000;

/** Why a peer is considered alive: heard from within this many ms. */
const peerAliveMs = 2000;

/** The node's multi-Raft host. */
export class ClusterHost {
  readonly replicas = new Map<GroupId, Replica>();
  readonly metrics = new HostMetrics();
  readonly logger: Logger;
  private readonly stored = new Map<GroupId, StoredGroup>();
  private readonly assembler = new SnapshotAssembler();
  private readonly lastHeardMs = new Map<NodeId, number>();
  private readonly leaderHints = new Map<GroupId, NodeId>();
  /** Requests waiting for their group to have a leader, woken when one is known. */
  private readonly leaderWaiters = new Map<GroupId, Set<Attempt>>();
  private extraWrites: GroupWrite[] = [];
  private flushScheduled = false;
  /** Read confirmation requests of this turn per peer: flat [group, term, seq, ...]. */
  private readRoundsOut = new Map<NodeId, number[]>();
  private readRoundsFlushScheduled = false;
  /** New replicas whose bootstrap state must be durable before they run. */
  private blockedUntilDurable: Replica[] = [];
  private metaChanged = false;
  private ticker: NodeJS.Timeout | null = null;
  private ticks = 0;
  private snapshotIdNext = 1;
  private bootstrapInFlight = false;
  private registerInFlight = false;
  private closed = false;
  private readonly peersSet = new Set<NodeId>();
  /** Peers whose incoming traffic is ignored (test fault injection, with blockPeers). */
  private blockedInbound = new Set<NodeId>();
  /** Answers peer requests the host does not know (membership: moves, join, ctl); undefined = not mine. */
  requestExtension: ((from: NodeId, payload: unknown) => unknown) | null = null;

  constructor(
    readonly config: HostConfig,
    private readonly factory: GroupFactory,
    private readonly store: LogStoreLike,
    private readonly transport: TransportLike,
    logger?: Logger,
  ) {
    this.logger = (logger ?? pino({ level: 'silent' })).child({ node: config.nodeId });
  }

  /** The meta state machine (the routing table), once the meta replica exists. */
  get meta(): MetaStateMachine {
    return (this.replicas.get(metaGroupId)!.machine as MetaGroupMachine).meta;
  }

  /** Loads stored groups, creates the meta replica, wires the transport and starts ticking. */
  async start(): Promise<void> {
    for (const g of await this.store.groups()) this.stored.set(g, await this.store.load(g));
    for (const m of this.config.initialCluster) this.addPeer(m.id, m.peer);
    this.transport.onMessages((from, msgs) => this.onPeerMessages(from, msgs));
    this.transport.onRequest((from, payload) => this.onPeerRequest(from, payload));
    this.transport.onPeerStatus((id, up) => this.onPeerStatus(id, up));
    this.createMetaReplica();
    this.ensureGroups();
    this.ticker = setInterval(() => this.tick(), this.config.tickMs);
    this.scheduleFlush();
  }

  /** Stops ticking and flushing and fails waiting work (writes in flight are the store's to finish). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    for (const r of this.replicas.values()) r.failAll('node shutting down');
  }

  /** Runs `ops` (all of one data group) at the group's leader, forwarding as needed. */
  runOps(group: GroupId, ops: CacheOp[], mutates: boolean, cb: GroupCallback): void {
    if (this.config.unsafe !== undefined && this.runUnsafe(group, ops, mutates, cb)) return;
    const payload = { t: 'ops' as const, g: group, d: null };
    this.attempt({ group, payload, ops, mutates, hint: 0, tries: 0, deadlineMs: clockNowMs() + this.config.forwardTimeoutMs, cb });
  }

  /** The --unsafe-* shortcuts; true when it answered. */
  private runUnsafe(group: GroupId, ops: CacheOp[], mutates: boolean, cb: GroupCallback): boolean {
    const unsafe = this.config.unsafe!;
    const r = this.replicas.get(group);
    const machine = r?.cacheMachine ?? null;
    if (machine === null) return false;
    if (!mutates && unsafe.staleReads) {
      const atMs = Math.max(clockNowMs(), machine.lastNowMs);
      const results: CacheResult[] = [];
      for (const op of ops) {
        const res = machine.read(op as GetOp, atMs);
        if (res === null) return false;
        results.push(res);
      }
      cb(results);
      return true;
    }
    if (mutates && unsafe.ackBeforeCommit && r!.isLeader && ops.every((op) => op.type === 'store' && op.mode === 'set')) {
      this.attempt({ group, payload: { t: 'ops', g: group, d: null }, ops, mutates, hint: 0, tries: 0, deadlineMs: clockNowMs() + this.config.forwardTimeoutMs, cb: () => {} });
      cb(ops.map((op) => ({ kind: 'stored', cas: 0, size: (op as { value: Buffer }).value.length })));
      return true;
    }
    return false;
  }

  /** Proposes a meta command at the meta leader. */
  proposeMeta(cmd: MetaCommand): Promise<MetaResult> {
    return new Promise((resolve) => {
      const payload = { t: 'meta' as const, d: encodeMetaCommand(cmd) };
      const cb: GroupCallback = (results, error) =>
        resolve(results === null ? { ok: false, reason: error ?? 'failed' } : (results[0] as MetaResult));
      this.attempt({ group: metaGroupId, payload, ops: null, mutates: true, hint: 0, tries: 0, deadlineMs: clockNowMs() + this.config.forwardTimeoutMs, cb });
    });
  }

  /** Whether every data group (and the meta group) has a known leader, as this node sees it. */
  allGroupsHaveLeaders(): boolean {
    if (!this.meta.view.bootstrapped) return false;
    for (const r of this.replicas.values()) if (r.lead === 0) return false;
    return this.replicas.size === this.meta.groupsOf(this.config.nodeId).length + 1;
  }

  /** When we last heard from `id` (ms, clockNowMs), if ever. */
  lastHeardOf(id: NodeId): number | undefined {
    return this.lastHeardMs.get(id);
  }

  /** The leader of `group` as this node knows it (0 = unknown). */
  leaderOf(group: GroupId): NodeId {
    const r = this.replicas.get(group);
    if (r !== undefined && r.lead !== 0) return r.lead;
    return this.leaderHints.get(group) ?? 0;
  }

  /** Notes who leads `group` (learned from a membership request's answer). */
  noteLeader(group: GroupId, lead: NodeId): void {
    // Our own leadership is our replica's to say: a hint naming us outlives the replica
    // once the group moves away.
    if (lead === 0 || lead === this.config.nodeId) this.leaderHints.delete(group);
    else this.leaderHints.set(group, lead);
  }

  /** A transport request to a peer (membership requests). */
  peerRequest(to: NodeId, payload: unknown, timeoutMs: number): Promise<unknown> {
    return this.transport.request(to, payload, timeoutMs);
  }

  /** Adds a peer address (a joining node learns the members from its join answer). */
  knowPeer(id: NodeId, peer: string): void {
    this.addPeer(id, peer);
  }

  /** Item figures of a data replica (null for the meta group). */
  figuresOf(r: Replica): CacheFigures | null {
    const m = r.cacheMachine;
    return m === null ? null : this.factory.cacheFigures(m.cache);
  }

  /** Drops outgoing traffic to the given peers (test fault injection); empty = deliver all. */
  blockPeers(peers: NodeId[]): void {
    const blocked = new Set(peers);
    this.transport.setLinkFilter(blocked.size === 0 ? null : (to) => !blocked.has(to));
    this.blockedInbound = blocked;
  }

  // ---- the flush -------------------------------------------------------------------

  /** Asks for a flush at the end of this event-loop turn. */
  scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(this.runFlush);
  }

  private readonly runFlush = (): void => {
    this.flushScheduled = false;
    if (this.closed) return;
    this.flush();
    this.afterFlush();
  };

  private afterFlush(): void {
    if (this.metaChanged) {
      this.metaChanged = false;
      this.onMetaChanged();
    }
    for (const r of this.replicas.values()) {
      if (!r.persisting && (r.hasQueued || r.raft.hasReady())) return this.scheduleFlush();
    }
  }

  /**
   * One pass over every group not waiting for its previous Ready's write. A Ready that
   * must be durable before its messages go out joins this flush's ONE write batch and
   * completes when the batch is on disk; one that need not (heartbeats, ReadIndex rounds,
   * commit-index-only hard states) completes at once. So a group's reads never wait for
   * another group's fsync, and batches keep flowing while one is being synced (the store
   * merges writes issued meanwhile into its next batch, in order).
   */
  private flush(): void {
    const nowMs = clockNowMs();
    const durable: Array<[Replica, RaftReady, boolean]> = [];
    const immediate: Array<[Replica, RaftReady]> = [];
    const writes: GroupWrite[] = [];
    const unblock = this.blockedUntilDurable;
    this.blockedUntilDurable = [];
    for (const x of this.extraWrites) writes.push(x);
    this.extraWrites = [];
    for (const r of this.replicas.values()) {
      if (r.persisting) {
        r.prepareReads(nowMs);
        continue;
      }
      r.prepare(nowMs);
      if (!r.raft.hasReady()) continue;
      const { rd, write } = r.collect();
      this.sendMessages(r.group, rd.messagesBeforePersist);
      if (write !== null) {
        writes.push(write);
        r.persisting = true;
        const early = r.canApplyEarly(rd);
        if (early) r.applyEarly(rd, nowMs);
        durable.push([r, rd, early]);
      } else {
        immediate.push([r, rd]);
      }
    }
    if (writes.length > 0) this.persist(writes, durable, unblock);
    for (const [r, rd] of immediate) this.complete(r, rd);
  }

  /**
   * Sends what waited for durability, applies (unless `appliedEarly`: the committed entries
   * were applied while the Ready was persisted), answers, advances.
   */
  private complete(r: Replica, rd: RaftReady, appliedEarly = false): void {
    this.sendMessages(r.group, rd.messages);
    if (appliedEarly) r.finishPersisted(rd);
    else r.afterPersist(rd, clockNowMs());
    const snap = r.maybeSnapshot();
    if (snap !== null) this.extraWrites.push(snap);
  }

  private persist(writes: GroupWrite[], durable: Array<[Replica, RaftReady, boolean]>, unblock: Replica[]): void {
    const startMs = performance.now();
    this.store.write(writes).then(
      () => {
        this.metrics.fsyncSeconds.observe((performance.now() - startMs) / 1000);
        if (this.closed) return;
        for (const r of unblock) r.persisting = false;
        for (const [r, rd, early] of durable) {
          r.persisting = false;
          this.complete(r, rd, early);
        }
        this.afterFlush();
      },
      (err: unknown) => this.fatal(err),
    );
  }

  /**
   * Saves the commit-index-only hard states (not needed for safety: Raft recovers the
   * commit index from the leader; etcd does not sync it either), so that a restart
   * replays about as far as the node had applied. Not awaited.
   */
  private saveHardStates(): void {
    const writes: GroupWrite[] = [];
    for (const r of this.replicas.values()) {
      if (r.persisting) continue;
      const w = r.takeUnsavedHardState();
      if (w !== null) writes.push(w);
    }
    if (writes.length > 0) this.store.write(writes).catch((err: unknown) => this.fatal(err));
  }

  private fatal(err: unknown): void {
    // Writes refused because we are shutting down are expected, not fatal.
    if (this.closed) return;
    // A failed durable write leaves Raft state we cannot trust: stop the node.
    this.logger.fatal({ err: String(err) }, 'log write failed');
    process.exit(70);
  }

  private sendMessages(group: GroupId, msgs: Message[]): void {
    for (const m of msgs) {
      if (m.type === MessageType.Snap && m.snapshot !== undefined && m.snapshot.data.length > snapshotChunkBytes) {
        this.sendChunkedSnapshot(group, m);
        continue;
      }
      this.transport.send(m.to, encodeRaftMessage(group, m));
    }
  }

  private sendChunkedSnapshot(group: GroupId, m: Message): void {
    const chunks = chunkSnapshot(group, m, this.snapshotIdNext++);
    this.logger.info({ group, to: m.to, index: m.snapshot!.meta.index, chunks: chunks.length }, 'sending snapshot');
    let i = 0;
    // One chunk per event-loop turn: each leaves in its own frame.
    const next = (): void => {
      if (this.closed) return;
      this.transport.send(m.to, chunks[i++]);
      if (i < chunks.length) setImmediate(next);
      else this.replicas.get(group)?.raft.reportSnapshot(m.to, true);
    };
    next();
  }

  // ---- ticks and housekeeping ------------------------------------------------------

  private tick(): void {
    this.ticks++;
    for (const r of this.replicas.values()) r.raft.tick();
    const tickMs = this.config.tickMs;
    if (this.every(this.config.bumpIntervalMs, tickMs)) this.proposeBumps();
    if (this.every(this.config.expireIntervalMs, tickMs)) this.proposeExpires();
    if (this.every(this.config.balanceIntervalMs, tickMs)) this.balanceLeaders();
    if (this.every(1000, tickMs)) {
      this.housekeepMeta();
      if (this.meta.view.bootstrapped) this.destroyUnplaced();
      this.saveHardStates();
    }
    if (this.every(500, tickMs)) {
      const nowMs = clockNowMs();
      for (const r of this.replicas.values()) r.expireWaiting(nowMs);
    }
    this.scheduleFlush();
  }

  private every(intervalMs: number, tickMs: number): boolean {
    return this.ticks % Math.max(1, Math.round(intervalMs / tickMs)) === 0;
  }

  private proposeBumps(): void {
    for (const r of this.replicas.values()) {
      if (!r.isLeader || r.cacheMachine === null) continue;
      const keys = r.takeBumpKeys();
      if (keys.length > 0) r.queueHousekeeping({ type: 'bump', keys });
    }
  }

  private proposeExpires(): void {
    for (const r of this.replicas.values()) {
      // An empty cache has nothing to expire: idle groups add nothing to their logs.
      if (!r.isLeader || r.cacheMachine === null || (this.figuresOf(r)?.currItems ?? 0) === 0) continue;
      r.queueHousekeeping({ type: 'expire', scanMax: this.config.expireScanMax });
    }
  }

  /**
   * Leader balancing: a leader hands leadership to the first replica in its group's list
   * that is alive (heard from recently). The lists rotate over the nodes (placement.ts),
   * so with every node up each leads its fair share, and after a node comes back its
   * groups return to it. Deterministic, and needs no coordination between nodes.
   */
  private balanceLeaders(): void {
    if (!this.meta.view.bootstrapped) return;
    const nowMs = clockNowMs();
    for (const r of this.replicas.values()) {
      if (!r.isLeader || r.group === metaGroupId) continue;
      const status = r.raft.status();
      if (status.leadTransferee !== 0) continue;
      const placed = this.meta.group(r.group);
      if (placed === undefined) continue;
      // The source of a move in flight is about to be removed: never hand it leadership.
      const leaving = this.meta.moveOf(r.group)?.from ?? 0;
      const preferred = placed.replicas.find((id) => id !== leaving && (id === this.config.nodeId || nowMs - (this.lastHeardMs.get(id) ?? 0) < peerAliveMs));
      if (preferred === undefined || preferred === this.config.nodeId) continue;
      if (!this.caughtUp(status, preferred)) continue;
      this.logger.info({ group: r.group, to: preferred }, 'transferring leadership to the preferred replica');
      r.raft.transferLeader(preferred);
    }
  }

  private caughtUp(status: ReturnType<Replica['raft']['status']>, id: NodeId): boolean {
    const p = status.progress;
    if (p === undefined) return false;
    const pr = p instanceof Map ? p.get(id) : p[String(id)];
    return pr !== undefined && pr.match >= status.commit;
  }

  /** Meta duties: bootstrap the ranges (first meta leader), register our addresses. */
  private housekeepMeta(): void {
    const metaReplica = this.replicas.get(metaGroupId)!;
    const view = this.meta.view;
    if (!view.bootstrapped) {
      if (metaReplica.isLeader && this.config.initialCluster.length > 0 && !this.bootstrapInFlight) this.proposeBootstrap();
      return;
    }
    const me = this.meta.node(this.config.nodeId);
    if (me === undefined || this.registerInFlight) return;
    const c = this.config;
    if (me.state === 'up' && me.peer === c.peerAddress && me.client === c.clientAddress && me.admin === c.adminAddress) return;
    this.registerInFlight = true;
    void this.proposeMeta({ type: 'register', id: c.nodeId, peer: c.peerAddress, client: c.clientAddress, admin: c.adminAddress }).then((res) => {
      this.registerInFlight = false;
      if (!res.ok) this.logger.warn({ reason: res.reason }, 'registration not applied yet');
    });
  }

  private proposeBootstrap(): void {
    const c = this.config;
    const ids = c.initialCluster.map((m) => m.id).sort((a, b) => a - b);
    const cmd: MetaCommand = {
      type: 'bootstrap',
      config: { replicas: c.replicas, groups: c.groups, memoryBytesPerGroup: memoryBytesPerGroup(c.memoryBytes, ids.length, c.groups, c.replicas) },
      nodes: c.initialCluster.map((m) => ({ id: m.id, peer: m.peer })),
      groups: initialPlacement(ids, c.groups, c.replicas),
    };
    this.bootstrapInFlight = true;
    this.logger.info({ groups: c.groups, replicas: c.replicas, nodes: ids }, 'bootstrapping the cluster ranges');
    void this.proposeMeta(cmd).then(() => {
      this.bootstrapInFlight = false;
    });
  }

  // ---- group replicas --------------------------------------------------------------

  private createMetaReplica(): void {
    const ids = this.config.initialCluster.map((m) => m.id);
    const { voters, learners } = metaMembers(ids);
    const r = this.createReplica(metaGroupId, new MetaGroupMachine(), voters, learners);
    r.onApplied = () => {
      this.metaChanged = true;
    };
    r.onRestored = () => {
      this.metaChanged = true;
    };
  }

  private onMetaChanged(): void {
    for (const n of this.meta.view.nodes) if (n.peer !== '') this.addPeer(n.id, n.peer);
    this.ensureGroups();
  }

  /**
   * Creates the replicas the meta state places on this node (the target of a move in
   * flight included: it starts empty and learns the group from its leader), and destroys
   * those it no longer places here (see destroyUnplaced).
   */
  ensureGroups(): void {
    const meta = this.meta;
    if (!meta.view.bootstrapped) return;
    const me = this.config.nodeId;
    const memoryBytes = meta.view.config.memoryBytesPerGroup;
    for (const g of meta.view.groups) {
      const target = meta.moveOf(g.id)?.to === me;
      if (this.replicas.has(g.id) || (!target && !g.replicas.includes(me))) continue;
      const machine = new CacheGroupMachine(this.factory.newCache(memoryBytes), this.factory);
      // epoch 1 = created by the bootstrap: every initial replica starts with the same voters.
      this.createReplica(g.id, machine, g.epoch === 1 && !target ? g.replicas : [], []);
      this.logger.info({ group: g.id, replicas: g.replicas, target }, 'group replica created');
    }
    this.destroyUnplaced();
    this.scheduleFlush();
  }

  /**
   * Destroys the data replicas the meta state no longer places here (the source of a
   * completed move, the target of an aborted one): they were removed from the group's
   * Raft config before the meta state changed. One waiting for its write waits a turn.
   */
  private destroyUnplaced(): void {
    const meta = this.meta;
    const me = this.config.nodeId;
    // Only from an up-to-date meta view: after a restart our view may predate the move
    // that placed a replica here, and destroying a voter's log would break Raft.
    const metaReplica = this.replicas.get(metaGroupId)!;
    const st = metaReplica.raft.status();
    if (metaReplica.lead === 0 || st.applied < st.commit) return;
    for (const [id, r] of this.replicas) {
      if (id === metaGroupId || r.persisting) continue;
      const g = meta.group(id);
      if (g === undefined || g.replicas.includes(me) || meta.moveOf(id)?.to === me) continue;
      this.replicas.delete(id);
      r.failAll('replica removed from this node');
      this.extraWrites.push({ group: id, destroy: true });
      this.logger.info({ group: id, replicas: g.replicas }, 'group replica destroyed (moved away)');
    }
  }

  private createReplica(group: GroupId, machine: CacheGroupMachine | MetaGroupMachine, voters: NodeId[], learners: NodeId[]): Replica {
    const storage = this.factory.newStorage();
    const stored = this.stored.get(group);
    let applied = 0;
    let bootstrapped = false;
    if (stored !== undefined) {
      if (stored.snapshot !== undefined) {
        storage.applySnapshot(stored.snapshot);
        machine.restore(stored.snapshot.data, stored.snapshot.meta.index);
        applied = stored.snapshot.meta.index;
      }
      storage.setHardState(stored.hardState);
      storage.append(stored.entries);
      this.stored.delete(group);
    } else if (voters.length > 0) {
      this.factory.bootstrap(storage, voters, learners);
      this.extraWrites.push(dumpStorage(group, storage));
      bootstrapped = true;
      applied = storage.firstIndex() - 1;
      if (applied > 0) machine.restore(storage.snapshot().data, applied);
    }
    const raft = this.factory.newRaft(group, storage, applied);
    const r = new Replica(group, this.config.nodeId, raft, storage, machine, this.factory, this.config.replica);
    r.onProposalLatency = (ms) => this.metrics.proposalSeconds.observe(ms / 1000);
    r.onLeaderKnown = (lead) => this.wakeLeaderWaiters(group, lead);
    r.onReadRound = (term, seq, voters) => this.queueReadRound(group, term, seq, voters);
    if (bootstrapped) {
      r.persisting = true;
      this.blockedUntilDurable.push(r);
    }
    this.replicas.set(group, r);
    return r;
  }

  // ---- peers and messages ----------------------------------------------------------

  private addPeer(id: NodeId, peer: string): void {
    if (id === this.config.nodeId || this.peersSet.has(id)) return;
    this.peersSet.add(id);
    const at = peer.lastIndexOf(':');
    this.transport.setPeer(id, { host: peer.slice(0, at), port: Number(peer.slice(at + 1)) });
  }

  private onPeerMessages(from: NodeId, msgs: unknown[]): void {
    if (this.closed || this.blockedInbound.has(from)) return;
    this.lastHeardMs.set(from, clockNowMs());
    const me = this.config.nodeId;
    for (const t of msgs) {
      try {
        this.onPeerMessage(from, me, t);
      } catch (err) {
        // A broken invariant is a bug: crash loudly. Anything else is a bad message.
        if (err instanceof AssertionError) throw err;
        this.logger.warn({ from, err: String(err) }, 'peer message refused');
      }
    }
    this.scheduleFlush();
  }

  private onPeerMessage(from: NodeId, me: NodeId, t: unknown): void {
    if (isReadRoundMessage(t)) return this.onReadRoundMessage(from, t);
    const decoded = isChunk(t) ? this.assembler.add(from, me, t) : decodeRaftMessage(t, from, me);
    if (decoded === null) return;
    // A group we do not hold (yet: our meta view may be behind) is skipped: Raft resends.
    this.replicas.get(decoded.group)?.raft.step(decoded.msg);
  }

  private onPeerStatus(id: NodeId, up: boolean): void {
    if (up) return;
    for (const r of this.replicas.values()) if (r.isLeader) r.raft.reportUnreachable(id);
  }

  private onPeerRequest(from: NodeId, payload: unknown): Promise<unknown> | unknown {
    if (this.blockedInbound.has(from)) return new Promise(() => {});
    const p = payload as { t?: string; g?: number; d?: Uint8Array };
    if (p.t === 'ops' && typeof p.g === 'number' && p.d instanceof Uint8Array) {
      const term = (payload as { k?: unknown }).k;
      const ack = typeof term === 'number' ? { from, term } : undefined;
      return this.serveForwarded(p.g, (done) => this.replicas.get(p.g!)!.submit(this.factory.decodeEntry(p.d!).ops, done, ack));
    }
    if (p.t === 'meta' && p.d instanceof Uint8Array) {
      return this.serveForwarded(metaGroupId, (done) => this.replicas.get(metaGroupId)!.submitMeta(p.d!, done));
    }
    if (this.requestExtension !== null) {
      const answer = this.requestExtension(from, payload);
      if (answer !== undefined) return answer;
    }
    return { e: 'unknown request' };
  }

  /** Runs a forwarded request if we lead the group; never forwards again (one hop). */
  private serveForwarded(group: GroupId, submit: (done: ReplicaDone) => void): Promise<unknown> | unknown {
    const r = this.replicas.get(group);
    if (r === undefined || !r.isLeader) return { nl: r?.lead ?? 0 };
    return new Promise((resolve) => {
      submit((results, hint, error) => {
        if (results !== null) resolve({ r: group === metaGroupId ? results : encodeResults(results as CacheResult[]) });
        else if (error !== undefined) resolve({ e: error });
        else resolve({ nl: hint });
      });
      this.scheduleFlush();
    });
  }

  // ---- read confirmation rounds (see ReadRound in replica.ts) ------------------------

  private queueReadRound(group: GroupId, term: number, seq: number, voters: NodeId[]): void {
    for (const id of voters) {
      let out = this.readRoundsOut.get(id);
      if (out === undefined) {
        out = [];
        this.readRoundsOut.set(id, out);
      }
      out.push(group, term, seq);
    }
    if (this.readRoundsFlushScheduled) return;
    this.readRoundsFlushScheduled = true;
    // After this turn's flush: one message per peer carries every group's round.
    setImmediate(() => {
      this.readRoundsFlushScheduled = false;
      const out = this.readRoundsOut;
      this.readRoundsOut = new Map();
      for (const [id, flat] of out) this.transport.send(id, ['rc', flat]);
    });
  }

  private onReadRoundMessage(from: NodeId, t: ['rc' | 'ra', number[]]): void {
    const [kind, flat] = t;
    if (kind === 'rc') {
      // "Am I still your leader in this term?" from our in-memory Raft state, at once.
      const answer: number[] = new Array(flat.length + flat.length / 3);
      let k = 0;
      for (let i = 0; i + 2 < flat.length; i += 3) {
        const r = this.replicas.get(flat[i]!);
        const ok = r !== undefined && r.lead === from && r.raft.status().term === flat[i + 1];
        answer[k++] = flat[i]!;
        answer[k++] = flat[i + 1]!;
        answer[k++] = flat[i + 2]!;
        answer[k++] = ok ? 1 : 0;
      }
      this.transport.send(from, ['ra', answer]);
      return;
    }
    for (let i = 0; i + 3 < flat.length; i += 4) {
      this.replicas.get(flat[i]!)?.onReadAck(from, flat[i + 1]!, flat[i + 2]!, flat[i + 3] === 1);
    }
  }

  // ---- finding the leader ----------------------------------------------------------

  private attempt(a: Attempt): void {
    if (this.closed) return a.cb(null, 'node shutting down');
    if (clockNowMs() >= a.deadlineMs) {
      return a.cb(null, `no leader of group ${a.group} answered within ${this.config.forwardTimeoutMs} ms`);
    }
    const target = this.pickTarget(a);
    if (target === this.config.nodeId) return this.attemptLocal(a);
    if (target === 0) return this.retryLater(a);
    this.attemptRemote(a, target);
  }

  /** Where to send the attempt: us only when our replica leads; a hint naming us (stale) is skipped. */
  private pickTarget(a: Attempt): NodeId {
    const me = this.config.nodeId;
    const r = this.replicas.get(a.group);
    if (r !== undefined && r.isLeader) return me;
    if (a.hint !== 0 && a.hint !== me) return a.hint;
    if (r !== undefined && r.lead !== 0 && r.lead !== me) return r.lead;
    const hinted = this.leaderHints.get(a.group);
    if (hinted !== undefined && hinted !== 0 && hinted !== me) return hinted;
    // No idea who leads: ask the replicas in turn (they answer with their leader).
    const placed = a.group === metaGroupId ? null : this.meta.group(a.group);
    const candidates = (placed?.replicas ?? [...this.peersSet]).filter((id) => id !== this.config.nodeId);
    if (candidates.length === 0) return 0;
    return candidates[a.tries % candidates.length]!;
  }

  private attemptLocal(a: Attempt): void {
    const r = this.replicas.get(a.group)!;
    let answered = false;
    // The same bound as a forwarded request: a leader cut off from its quorum must not
    // hold its own clients longer than the deadline (its proposal stays in the log and
    // may still commit, so the outcome is unknown).
    const timer = setTimeout(() => {
      answered = true;
      a.cb(null, `${a.mutates ? 'outcome unknown: ' : ''}no answer from group ${a.group} within ${this.config.forwardTimeoutMs} ms`);
    }, Math.max(1, a.deadlineMs - clockNowMs()));
    const done: ReplicaDone = (results, hint, error) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (results !== null) return a.cb(results);
      if (error !== undefined) return a.cb(null, error);
      this.retry(a, hint === this.config.nodeId ? 0 : hint);
    };
    if (a.payload.t === 'meta') r.submitMeta(a.payload.d, done);
    else r.submit(a.ops!, done);
    this.scheduleFlush();
  }

  private attemptRemote(a: Attempt, target: NodeId): void {
    const remainingMs = Math.max(1, a.deadlineMs - clockNowMs());
    // A read may be retried elsewhere, so it does not give one silent node all its time;
    // a write's timeout is final (its outcome is unknown), so it waits as long as allowed.
    const timeoutMs = a.mutates ? remainingMs : Math.min(remainingMs, readAttemptMs);
    if (a.payload.t === 'ops' && a.payload.d === null) a.payload.d = this.factory.encodeEntry(0, a.ops!);
    const payload = a.mutates ? a.payload : this.withReadAck(a.payload, a.group, target);
    this.transport.request(target, payload, timeoutMs).then(
      (resp) => this.onRemoteAnswer(a, target, resp as { r?: unknown; nl?: NodeId; e?: string }),
      (err: unknown) => this.onRemoteError(a, target, err),
    );
  }

  /**
   * A forwarded read carries our ack for its leader (see Replica.servesWithAck) when our
   * own replica of the group follows `target` in its current term: read now, after the
   * client invoked the read here.
   */
  private withReadAck(payload: Attempt['payload'], group: GroupId, target: NodeId): Attempt['payload'] {
    const r = this.replicas.get(group);
    if (payload.t !== 'ops' || r === undefined || r.lead !== target || r.isLeader) return payload;
    const st = r.raft.status();
    if (st.lead !== target || !st.confState.voters.includes(this.config.nodeId)) return payload;
    return { ...payload, k: st.term };
  }

  private onRemoteAnswer(a: Attempt, target: NodeId, resp: { r?: unknown; nl?: NodeId; e?: string }): void {
    if (resp.r !== undefined) {
      this.leaderHints.set(a.group, target);
      return a.cb(a.payload.t === 'meta' ? (resp.r as unknown[]) : decodeResults(resp.r));
    }
    if (resp.e !== undefined) return a.cb(null, resp.e);
    const hint = resp.nl ?? 0;
    this.leaderHints.delete(a.group);
    this.retry(a, hint === target ? 0 : hint);
  }

  private onRemoteError(a: Attempt, target: NodeId, err: unknown): void {
    this.leaderHints.delete(a.group);
    const e = err as { code?: string; message?: string; notSent?: boolean };
    // Reads are safe to repeat; a write may be repeated only when it surely never left.
    const neverSent = e.code === 'EUNREACHABLE' && e.notSent === true;
    if (a.mutates && !neverSent) return a.cb(null, `outcome unknown: ${e.message ?? String(err)}`);
    this.logger.debug({ group: a.group, target, err: e.message }, 'forward failed, retrying');
    this.retry(a, 0);
  }

  private retry(a: Attempt, hint: NodeId): void {
    a.tries++;
    a.hint = hint;
    if (hint !== 0 && a.tries < 3) return this.attempt(a);
    this.retryLater(a);
  }

  private retryLater(a: Attempt): void {
    a.tries++;
    // An election is probably under way (~0.5-1 s): wait for our replica to learn the new
    // leader (wakeLeaderWaiters), polling gently meanwhile until the deadline.
    const delayMs = Math.min(100, 10 * 2 ** Math.min(a.tries, 4));
    let waiters = this.leaderWaiters.get(a.group);
    if (waiters === undefined) {
      waiters = new Set();
      this.leaderWaiters.set(a.group, waiters);
    }
    waiters.add(a);
    a.timer = setTimeout(() => {
      waiters.delete(a);
      this.attempt(a);
    }, delayMs);
  }

  private wakeLeaderWaiters(group: GroupId, lead: NodeId): void {
    const waiters = this.leaderWaiters.get(group);
    if (waiters === undefined || waiters.size === 0) return;
    const woken = [...waiters];
    waiters.clear();
    for (const a of woken) {
      clearTimeout(a.timer);
      a.hint = lead === this.config.nodeId ? 0 : lead;
    }
    // Not from inside the flush that learned the leader: the next turn.
    setImmediate(() => {
      for (const a of woken) this.attempt(a);
    });
  }
}

function isReadRoundMessage(t: unknown): t is ['rc' | 'ra', number[]] {
  return Array.isArray(t) && t.length === 2 && (t[0] === 'rc' || t[0] === 'ra') && Array.isArray(t[1]);
}

/** Everything a freshly bootstrapped in-memory log holds, as one durable write. */
function dumpStorage(group: GroupId, storage: GroupFactoryStorage): GroupWrite {
  const write: GroupWrite = { group, hardState: storage.initialState().hardState };
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  if (first > 1) {
    write.snapshot = storage.snapshot();
    write.snapshotReplacesLog = true;
  }
  if (last >= first) write.entries = storage.entries(first, last + 1);
  return write;
}

type GroupFactoryStorage = ReturnType<GroupFactory['newStorage']>;
