/**
 * The multi-Raft host of one node: every group replica on this node, one tick timer, and
 * one flush per event-loop turn over all groups (DESIGN.md §2, §4).
 *
 * A flush follows the RawNode recipe for all groups at once:
 *   1. each replica proposes this turn's batched entry and one read round for its reads;
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
 * Around the flush, one file per job: forwarder.ts finds leaders and runs requests there,
 * read-rounds.ts carries the read confirmations between nodes, housekeeping.ts does the
 * tick duties. Time and timers come from the Runtime the host is handed (runtime.ts), so
 * the whole node runs in the simulator (test/cluster/sim) as it runs in a process.
 *
 * The meta group (0) lives here too: every node applies it, creates the data groups the
 * meta state places on it, and registers its client/admin addresses through it.
 */
import { AssertionError } from 'node:assert';
import { pino, type Logger } from 'pino';
import type { CacheOp, CacheResult, GetOp } from '../cache/ops.js';
import { encodeMetaCommand, metaMembers, type MetaCommand, type MetaResult, type MetaStateMachine } from '../membership/index.js';
import { MessageType, type GroupId, type Message, type NodeId } from '../raft/types.js';
import type { CacheFigures, GroupFactory, GroupWrite, LogStoreLike, RaftReady, StoredGroup, TransportLike } from './contracts.js';
import { ReplicaRemovedError, ShuttingDownError } from './errors.js';
import { Forwarder, metaGroupId, type GroupCallback } from './forwarder.js';
import { Housekeeping } from './housekeeping.js';
import { raftSettings } from './group-factory.js';
import { CacheGroupMachine, MetaGroupMachine } from './machines.js';
import { HostMetrics } from './metrics.js';
import { ReadRounds } from './read-rounds.js';
import { Replica, defaultReplicaOptions, type ReplicaOptions } from './replica.js';
import type { Runtime, Timer } from './runtime.js';
import { checkPeerMessage, checkPeerRequest } from './wire-check.js';
import { SnapshotAssembler, chunkSnapshot, decodeRaftMessage, encodeRaftMessage, isChunk, isFetchMarksMessage, isReadRoundMessage, snapshotChunkBytes } from './wire.js';

export { metaGroupId, type GroupCallback } from './forwarder.js';

/** At most one log line per this interval about malformed peer messages (a hostile peer could flood the log). */
const badPeerLogIntervalMs = 1000;

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
  /** `--zone`: this node's failure zone, registered in the meta state (none: a zone of its own). */
  zone?: string;
  tickMs: number;
  /** Total time a request may spend finding its group's leader. */
  forwardTimeoutMs: number;
  /**
   * Fail fast: a request still unanswered this long after it arrived, whose group has no
   * leader this node can reach (none known, the link to it down, or silent for an election
   * timeout), answers SERVER_ERROR now instead of waiting out forwardTimeoutMs.
   */
  leaderTimeoutMs: number;
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
  /** A replica sends the messages that promise durability (append acks, votes) before its fsync. */
  ackBeforeDurable?: boolean;
  /**
   * With ackBeforeDurable: hold each log write this long before handing it to the store (a
   * slow disk the early acks run ahead of), so that killing every process at once, which
   * loses nothing already written to the OS, still loses acknowledged entries (serve flag
   * --unsafe-ack-before-durable; the simulator loses unsynced writes itself and sets none).
   */
  ackBeforeDurableLagMs?: number;
  /** A group leader answers reads from its local state without a ReadIndex round (a deposed leader serves stale reads). */
  leaderReadsWithoutReadIndex?: boolean;
}

/** Defaults of the timing-related fields. */
export const defaultHostTiming = {
  tickMs: 50,
  forwardTimeoutMs: 5000,
  // Under 1 s with room for the sweep's tick (50 ms) and the client's own round trip.
  leaderTimeoutMs: 800,
  bumpIntervalMs: 1000,
  expireIntervalMs: 5000,
  expireScanMax: 10_000,
  balanceIntervalMs: 1000,
  replica: defaultReplicaOptions,
};

/** The node's multi-Raft host. */
export class ClusterHost {
  readonly replicas = new Map<GroupId, Replica>();
  readonly metrics = new HostMetrics();
  readonly logger: Logger;
  readonly forwarder: Forwarder;
  private readonly readRounds: ReadRounds;
  private readonly housekeeping: Housekeeping;
  private readonly stored = new Map<GroupId, StoredGroup>();
  private readonly assembler = new SnapshotAssembler();
  private readonly lastHeardMs = new Map<NodeId, number>();
  /** Peers whose outbound link the transport reported down (and not up again since). */
  private readonly linksDown = new Set<NodeId>();
  /** Peers whose link to us the transport reports up (it watches the peer's keepalives and drops a silent link). */
  private readonly linksUp = new Set<NodeId>();
  private extraWrites: GroupWrite[] = [];
  private flushScheduled = false;
  /**
   * The replicas the next flush visits: those given work since the last one (a submit, a
   * stepped message, a completed write). `allDirty` (a tick, or a wake-up from outside the
   * hot paths) visits every replica, so nothing waits longer than a tick.
   */
  private readonly dirty = new Set<Replica>();
  private allDirty = true;
  /** New replicas whose bootstrap state must be durable before they run. */
  private blockedUntilDurable: Replica[] = [];
  private metaChanged = false;
  private ticker: Timer | null = null;
  private snapshotIdNext = 1;
  private isClosed = false;
  private readonly peersSet = new Set<NodeId>();
  /** Peers whose incoming traffic is ignored (test fault injection, with blockPeers). */
  private blockedInbound = new Set<NodeId>();
  /** Set when the meta leader refused our registration because this node was removed (server/node-removal.ts). */
  removedFromCluster = false;
  /** When a malformed peer message was last logged, and how many were not logged since. */
  private badPeerLoggedMs = -Infinity;
  private badPeerUnlogged = 0;
  /** Answers peer requests the host does not know (membership: moves, join, ctl); undefined = not mine. */
  requestExtension: ((from: NodeId, payload: unknown) => unknown) | null = null;

  constructor(
    readonly config: HostConfig,
    readonly factory: GroupFactory,
    private readonly store: LogStoreLike,
    readonly transport: TransportLike,
    readonly runtime: Runtime,
    logger?: Logger,
  ) {
    this.logger = (logger ?? pino({ level: 'silent' })).child({ node: config.nodeId });
    this.forwarder = new Forwarder(this, config.forwardTimeoutMs, config.leaderTimeoutMs);
    this.readRounds = new ReadRounds(this);
    this.housekeeping = new Housekeeping(this);
  }

  /** This node's id. */
  get nodeId(): NodeId {
    return this.config.nodeId;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.isClosed;
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
    this.ticker = this.runtime.every(this.config.tickMs, () => this.tick());
    this.scheduleFlush();
  }

  /** Stops ticking and flushing and fails waiting work (writes in flight are the store's to finish). */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.ticker !== null) this.runtime.cancel(this.ticker);
    const err = new ShuttingDownError();
    for (const r of this.replicas.values()) r.failAll(err);
  }

  /** Runs `ops` (all of one data group) at the group's leader, forwarding as needed. */
  runOps(group: GroupId, ops: CacheOp[], mutates: boolean, cb: GroupCallback): void {
    if (this.config.unsafe !== undefined && this.runUnsafe(group, ops, mutates, cb)) return;
    this.forwarder.run(group, ops, mutates, cb);
  }

  /** The --unsafe-* shortcuts; true when it answered. */
  private runUnsafe(group: GroupId, ops: CacheOp[], mutates: boolean, cb: GroupCallback): boolean {
    const unsafe = this.config.unsafe!;
    const r = this.replicas.get(group);
    const machine = r?.cacheMachine ?? null;
    if (machine === null) return false;
    if (!mutates && (unsafe.staleReads || (unsafe.leaderReadsWithoutReadIndex === true && r!.isLeader))) {
      const atMs = Math.max(this.runtime.nowMs(), machine.lastNowMs);
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
      this.forwarder.run(group, ops, mutates, () => {});
      cb(ops.map((op) => ({ kind: 'stored', cas: 0, size: (op as { value: Buffer }).value.length })));
      return true;
    }
    return false;
  }

  /** Proposes a meta command at the meta leader. */
  proposeMeta(cmd: MetaCommand): Promise<MetaResult> {
    return new Promise((resolve) => {
      this.forwarder.runMeta(encodeMetaCommand(cmd), (results, error) =>
        resolve(results === null ? { ok: false, reason: error?.message ?? 'failed' } : (results[0] as MetaResult)),
      );
    });
  }

  /** Whether every data group (and the meta group) has a known leader, as this node sees it. */
  allGroupsHaveLeaders(): boolean {
    if (!this.meta.view.bootstrapped) return false;
    for (const r of this.replicas.values()) if (r.lead === 0) return false;
    return this.replicas.size === this.meta.groupsOf(this.config.nodeId).length + 1;
  }

  /** When we last heard from `id` (monotonic ms), if ever. */
  lastHeardOf(id: NodeId): number | undefined {
    return this.lastHeardMs.get(id);
  }

  /**
   * Whether this node can reach peer `id` now: its link is not down, and either it was
   * heard from within an election timeout (every group heartbeats every 100 ms, so a live
   * leader is heard far more often) or our link to it is up (the transport drops a link
   * whose peer stops sending keepalives). The link counts because two nodes sharing no
   * group exchange no Raft messages at all: in a 6-node cluster a node forwarding to a
   * leader it holds no group with must not take it for unreachable and fail at once.
   */
  peerReachable(id: NodeId): boolean {
    if (id === 0 || this.linksDown.has(id) || this.blockedInbound.has(id)) return false;
    const heardMs = this.lastHeardMs.get(id);
    if (heardMs !== undefined && this.runtime.monoMs() - heardMs < raftSettings.electionTicks * this.config.tickMs) return true;
    return this.linksUp.has(id);
  }

  /** The leader of `group` as this node knows it (0 = unknown). */
  leaderOf(group: GroupId): NodeId {
    return this.forwarder.leaderOf(group);
  }

  /** Notes who leads `group` (learned from a membership request's answer). */
  noteLeader(group: GroupId, lead: NodeId): void {
    this.forwarder.noteLeader(group, lead);
  }

  /** Who may lead `group` when nothing better is known: its placed replicas, or every peer. */
  candidatesOf(group: GroupId): NodeId[] {
    const placed = group === metaGroupId ? null : this.meta.group(group);
    return placed?.replicas ?? [...this.peersSet];
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

  private tick(): void {
    for (const r of this.replicas.values()) r.raft.tick();
    this.housekeeping.onTick();
    this.scheduleFlush();
  }

  // ---- the flush -------------------------------------------------------------------

  /** Asks for a flush at the end of this event-loop turn, visiting `r` (or every replica). */
  scheduleFlush(r?: Replica): void {
    if (r === undefined) this.allDirty = true;
    else this.dirty.add(r);
    this.requestFlush();
  }

  private requestFlush(): void {
    if (this.flushScheduled || this.isClosed) return;
    this.flushScheduled = true;
    this.runtime.soon(this.runFlush);
  }

  private readonly runFlush = (): void => {
    this.flushScheduled = false;
    if (this.isClosed) return;
    const visited = this.flush();
    this.readRounds.sendQueued();
    this.afterFlush(visited);
  };

  /** Flushes again soon if a visited replica still has work it could do now. */
  private afterFlush(visited: Iterable<Replica>): void {
    if (this.metaChanged) {
      this.metaChanged = false;
      this.onMetaChanged();
    }
    for (const r of visited) {
      if (!r.persisting && (r.hasQueued || r.raft.hasReady())) this.dirty.add(r);
    }
    if (this.dirty.size > 0 || this.allDirty) this.requestFlush();
  }

  /** The replicas this flush visits (see `dirty`), taken. */
  private takeDirty(): Replica[] {
    const visit = this.allDirty ? [...this.replicas.values()] : [...this.dirty];
    this.allDirty = false;
    this.dirty.clear();
    return visit;
  }

  /**
   * One pass over every group not waiting for its previous Ready's write. A Ready that
   * must be durable before its messages go out joins this flush's ONE write batch and
   * completes when the batch is on disk; one that need not (heartbeats, ReadIndex rounds,
   * commit-index-only hard states) completes at once. So a group's reads never wait for
   * another group's fsync, and batches keep flowing while one is being synced (the store
   * merges writes issued meanwhile into its next batch, in order).
   */
  private flush(): Replica[] {
    const visit = this.takeDirty();
    const nowMs = this.runtime.nowMs();
    const durable: Array<[Replica, RaftReady, boolean]> = [];
    const immediate: Array<[Replica, RaftReady]> = [];
    const writes: GroupWrite[] = [];
    const unblock = this.blockedUntilDurable;
    this.blockedUntilDurable = [];
    for (const x of this.extraWrites) writes.push(x);
    this.extraWrites = [];
    for (const r of visit) {
      // Destroyed (moved away) since it was marked.
      if (this.replicas.get(r.group) !== r) continue;
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
        // --unsafe-ack-before-durable (simulator canary): acks leave before the fsync.
        if (this.config.unsafe?.ackBeforeDurable === true) this.sendMessages(r.group, rd.messages.splice(0));
        const early = r.canApplyEarly(rd);
        if (early) r.applyEarly(rd, nowMs);
        durable.push([r, rd, early]);
      } else {
        immediate.push([r, rd]);
      }
    }
    if (writes.length > 0) this.persist(writes, durable, unblock);
    for (const [r, rd] of immediate) this.complete(r, rd);
    return visit;
  }

  /**
   * Sends what waited for durability, applies (unless `appliedEarly`: the committed entries
   * were applied while the Ready was persisted), answers, advances.
   */
  private complete(r: Replica, rd: RaftReady, appliedEarly = false): void {
    this.sendMessages(r.group, rd.messages);
    if (appliedEarly) r.finishPersisted(rd);
    else r.afterPersist(rd, this.runtime.nowMs());
    // One snapshot per flush: groups filling at the same rate cross their log share
    // together, and sixteen snapshots built at once were a burst of transient memory
    // (bench:memory); the others take theirs at their next Ready.
    if (this.extraWrites.some((w) => w.snapshot !== undefined)) return;
    const snap = r.maybeSnapshot(this.replicas.size);
    if (snap !== null) this.extraWrites.push(snap);
  }

  private persist(writes: GroupWrite[], durable: Array<[Replica, RaftReady, boolean]>, unblock: Replica[]): void {
    const lagMs = this.config.unsafe?.ackBeforeDurable === true ? (this.config.unsafe.ackBeforeDurableLagMs ?? 0) : 0;
    if (lagMs <= 0) return this.write(writes, durable, unblock);
    // --unsafe-ack-before-durable with a lag: the followers' writes (whose acks already left)
    // wait; the leaders' go at once, so a leader commits on a follower's early ack.
    const lagged = (group: GroupId): boolean => this.replicas.get(group)?.isLeader !== true;
    const laterWrites = writes.filter((w) => lagged(w.group));
    const laterDurable = durable.filter(([r]) => lagged(r.group));
    this.write(writes.filter((w) => !lagged(w.group)), durable.filter(([r]) => !lagged(r.group)), unblock);
    if (laterWrites.length > 0 || laterDurable.length > 0) this.runtime.after(lagMs, () => this.write(laterWrites, laterDurable, []));
  }

  private write(writes: GroupWrite[], durable: Array<[Replica, RaftReady, boolean]>, unblock: Replica[]): void {
    const startMs = performance.now();
    this.store.write(writes).then(
      () => {
        this.metrics.fsyncSeconds.observe((performance.now() - startMs) / 1000);
        if (this.isClosed) return;
        for (const r of unblock) r.persisting = false;
        for (const [r, rd, early] of durable) {
          r.persisting = false;
          this.complete(r, rd, early);
        }
        this.afterFlush(unblock.concat(durable.map((d) => d[0])));
      },
      (err: unknown) => this.fatal(err),
    );
  }

  /**
   * Saves the commit-index-only hard states (not needed for safety: Raft recovers the
   * commit index from the leader; etcd does not sync it either), so that a restart
   * replays about as far as the node had applied. Not awaited.
   */
  saveHardStates(): void {
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
    if (this.isClosed) return;
    // A failed durable write leaves Raft state we cannot trust: stop the node.
    this.logger.fatal({ err: String(err) }, 'log write failed');
    this.runtime.fatal(err);
  }

  private sendMessages(group: GroupId, msgs: Message[]): void {
    for (const m of msgs) {
      if (m.type === MessageType.Snap && m.snapshot !== undefined) this.countSnapshotSent(group, m.to, m.snapshot.data.length);
      if (m.type === MessageType.Snap && m.snapshot !== undefined && m.snapshot.data.length > snapshotChunkBytes) {
        this.sendChunkedSnapshot(group, m);
        continue;
      }
      this.transport.send(m.to, encodeRaftMessage(group, m));
      // Reported as sent, as etcd does: if it is lost the follower still answers from
      // behind the compaction point and the leader sends another. Unreported, a lost
      // snapshot left the follower paused forever (found by the simulator, seed 1100).
      if (m.type === MessageType.Snap) this.replicas.get(group)?.raft.reportSnapshot(m.to, true);
    }
  }

  private countSnapshotSent(group: GroupId, to: NodeId, bytes: number): void {
    const s = this.metrics.snapshots;
    s.sent++;
    s.sentBytes += bytes;
    if (this.meta.moveOf(group)?.to === to) this.metrics.bytesMoved += bytes;
  }

  private sendChunkedSnapshot(group: GroupId, m: Message): void {
    const chunks = chunkSnapshot(group, m, this.snapshotIdNext++);
    this.logger.info({ group, to: m.to, index: m.snapshot!.meta.index, chunks: chunks.length }, 'sending snapshot');
    let i = 0;
    // One chunk per event-loop turn: each leaves in its own frame.
    const next = (): void => {
      if (this.isClosed) return;
      this.transport.send(m.to, chunks[i++]);
      if (i < chunks.length) this.runtime.soon(next);
      else this.replicas.get(group)?.raft.reportSnapshot(m.to, true);
    };
    next();
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
  destroyUnplaced(): void {
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
      this.metrics.retire(r);
      r.failAll(new ReplicaRemovedError());
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
    const r = new Replica(group, this.config.nodeId, raft, storage, machine, this.factory, this.config.replica, this.runtime);
    r.onProposalLatency = (ms) => this.metrics.proposalSeconds.observe(ms / 1000);
    r.onLeaderKnown = (lead) => this.forwarder.wakeLeaderWaiters(group, lead);
    r.onReadRound = (term, seq, voters, needed) => this.readRounds.queueRound(group, term, seq, voters, needed);
    r.onReadIndexRequest = (leader, term, seq) => this.readRounds.queueIndexRequest(leader, group, term, seq);
    r.onFetchMarks = (leader, keys) => this.transport.send(leader, ['fm', group, keys]);
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
    if (this.isClosed || this.blockedInbound.has(from)) return;
    this.lastHeardMs.set(from, this.runtime.monoMs());
    const me = this.config.nodeId;
    for (const t of msgs) {
      const why = checkPeerMessage(t);
      if (why !== null) {
        // The rest of the batch is dropped with the link: its order no longer means anything.
        this.refusePeer(from, why);
        break;
      }
      try {
        this.onPeerMessage(from, me, t);
      } catch (err) {
        // A broken invariant is a bug: crash loudly. Anything else is a bad message.
        if (err instanceof AssertionError) throw err;
        this.logger.warn({ from, err: String(err) }, 'peer message refused');
      }
    }
    this.requestFlush();
  }

  /**
   * A peer sent something malformed: count it, log it (at most once per
   * `badPeerLogIntervalMs`, with how many went unlogged), and reset its link.
   */
  private refusePeer(from: NodeId, why: string): void {
    this.metrics.peerBadMessages++;
    const nowMs = this.runtime.monoMs();
    if (nowMs - this.badPeerLoggedMs >= badPeerLogIntervalMs) {
      this.logger.warn({ from, why, unlogged: this.badPeerUnlogged }, 'malformed peer message dropped; link reset');
      this.badPeerLoggedMs = nowMs;
      this.badPeerUnlogged = 0;
    } else {
      this.badPeerUnlogged++;
    }
    this.transport.resetPeer?.(from, why);
  }

  /**
   * Whether `id` is a node of this cluster as the meta state knows it (in any state);
   * before bootstrap (and on a joiner before it learned the meta state) anyone is.
   * Raft and read rounds trust what a member tells them; a node outside the cluster that
   * passed the handshake (it has the secret, and the certificate under peer TLS) could
   * otherwise play leader and make a replica overwrite committed entries, which Raft asserts
   * never happens. A member's messages are trusted to come from a correct Raft (this is not
   * Byzantine fault tolerance); only their shape is checked.
   */
  private isMember(id: NodeId): boolean {
    const view = this.meta.view;
    if (!view.bootstrapped) return true;
    const node = this.meta.node(id);
    // A removed node counts: it stays a Raft peer until no group lists it (it hands its
    // leaderships away, and the meta group removes it from its config), see
    // server/node-removal.ts; dropping its messages would stall those hand-overs.
    return node !== undefined;
  }

  // `t` passed checkPeerMessage.
  private onPeerMessage(from: NodeId, me: NodeId, t: unknown): void {
    if (!this.isMember(from)) {
      // A joiner's first messages can race its join entry's apply here: drop, Raft resends.
      this.logger.debug({ from }, 'message from a node outside the cluster dropped');
      return;
    }
    if (isReadRoundMessage(t)) return this.readRounds.onMessage(from, t);
    if (isFetchMarksMessage(t)) return this.replicas.get(t[1])?.noteFollowerFetches(t[2]);
    const decoded = isChunk(t) ? this.assembler.add(from, me, t) : decodeRaftMessage(t, from, me);
    if (decoded === null) return;
    if (decoded.msg.type === MessageType.Snap) this.metrics.snapshots.received++;
    // A group we do not hold (yet: our meta view may be behind) is skipped: Raft resends.
    const r = this.replicas.get(decoded.group);
    if (r === undefined) return;
    r.raft.step(decoded.msg);
    this.dirty.add(r);
  }

  private onPeerStatus(id: NodeId, up: boolean): void {
    if (up) {
      this.linksDown.delete(id);
      this.linksUp.add(id);
      return;
    }
    this.linksUp.delete(id);
    this.linksDown.add(id);
    for (const r of this.replicas.values()) if (r.isLeader) r.raft.reportUnreachable(id);
    this.scheduleFlush();
  }

  private onPeerRequest(from: NodeId, payload: unknown): Promise<unknown> | unknown {
    if (this.blockedInbound.has(from)) return new Promise(() => {});
    const check = checkPeerRequest(payload);
    if (check.why !== null) {
      this.refusePeer(from, check.why);
      return { e: `malformed request: ${check.why}` };
    }
    const forwarded = this.forwarder.serve(from, payload, check.ops);
    if (forwarded !== undefined) return forwarded;
    if (this.requestExtension !== null) {
      const answer = this.requestExtension(from, payload);
      if (answer !== undefined) return answer;
    }
    return { e: 'unknown request' };
  }
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
