/**
 * One simulated node: a RawNode driven by the recipe of src/raft/index.ts, its durable
 * state, and its state machine. The node's MemoryStorage holds exactly what was persisted
 * (hard state, entries, snapshot), so it *is* the durable copy: a crash throws away the
 * RawNode, the state machine and any Ready not yet persisted; a restart rebuilds all of it
 * from the storage.
 */
import {
  ConfChangeType,
  EntryType,
  MemoryStorage,
  MessageType,
  RawNode,
  decodeConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
} from './raft-api.js';
import { InvariantChecker, SimViolation, type CheckedNode } from './invariants.js';
import type { SimNetwork } from './network.js';
import { mixSeed, mulberry32 } from './prng.js';
import { AppliedState, decodeWrite } from './state-machine.js';

/** Raft settings of one run (generated per run by fast-check). */
export interface SimRaftSettings {
  electionTicks: number;
  heartbeatTicks: number;
  checkQuorum: boolean;
  preVote: boolean;
  maxSizePerMsgBytes: number;
  maxInflightMsgs: number;
  maxInflightBytes: number;
  maxUncommittedBytes: number | undefined;
  /** 'lease' only with checkQuorum; only meaningful when clocks tick in lockstep. */
  readOnlyOption: 'safe' | 'lease';
}

/** Who proposed a write (the "client" acknowledgement comes from that node applying it). */
export interface Proposal {
  node: NodeId;
  incarnation: number;
  /** Log index, once some node has applied it. */
  index?: number;
}

/** Event counts of one run (coverage figures). */
export interface SimCounters {
  writesAccepted: number;
  snapshotsInstalled: number;
  confChangesApplied: number;
  crashes: number;
}

/**
 * A deliberate bug in the host's driving of the RawNode, used only to prove the simulator
 * catches the consequences (it must find a violation within a few hundred runs).
 */
export type DriverFault = 'none' | 'send-before-persist' | 'serve-read-early';

/** What a node shares with the rest of the simulation. */
export interface SimWorld {
  readonly driverFault: DriverFault;
  readonly counters: SimCounters;
  readonly settings: SimRaftSettings;
  readonly seed: number;
  readonly network: SimNetwork;
  readonly checker: InvariantChecker;
  readonly proposals: Map<number, Proposal>;
  /** A configuration took effect at some node (applied or installed from a snapshot). */
  onConfState(cs: ConfState): void;
  /** A RemoveNode for `id` was applied at some node. */
  onRemoved(id: NodeId): void;
  trace(line: string): void;
}

interface PendingRead {
  index: number;
}

const silentLogger = { debug() {}, info() {}, warn() {} };

/** Encodes a read id as a ReadIndex context. */
export function readContext(readId: number): Uint8Array {
  const ctx = new Uint8Array(4);
  new DataView(ctx.buffer).setUint32(0, readId);
  return ctx;
}

function readIdOf(ctx: Uint8Array): number {
  if (ctx.byteLength !== 4) return -1;
  return new DataView(ctx.buffer, ctx.byteOffset, 4).getUint32(0);
}

/** A node of the simulated cluster; see the module doc. */
export class SimNode implements CheckedNode {
  raw: RawNode | undefined;
  incarnation = 0;
  sm = new AppliedState();
  confState: ConfState;
  role = 'follower';
  term = 0;
  /** Set once the node is shut down for good (removed from the group). */
  retired = false;
  private durableHs: HardState;
  private readonly reads = new Map<number, PendingRead>();
  /** The Ready taken but not yet durable (lost by a crash). */
  private persisting: Ready | undefined;
  /** Peers a send failed to (cut link), reported to the RawNode after advance(). */
  private readonly unreachable: Message[] = [];

  constructor(
    readonly id: NodeId,
    readonly durable: MemoryStorage,
    private readonly world: SimWorld,
  ) {
    const init = durable.initialState();
    this.durableHs = { ...init.hardState };
    this.confState = init.confState;
    this.start();
  }

  get durableCommit(): number {
    return this.durableHs.commit;
  }

  get alive(): boolean {
    return this.raw !== undefined;
  }

  /** Builds the RawNode and state machine from durable state (first start and restarts). */
  private start(): void {
    const init = this.durable.initialState();
    this.durableHs = { ...init.hardState };
    this.confState = init.confState;
    this.term = init.hardState.term;
    this.role = 'follower';
    this.sm = AppliedState.fromSnapshot(this.durable.snapshot());
    const s = this.world.settings;
    this.raw = new RawNode({
      id: this.id,
      electionTicks: s.electionTicks,
      heartbeatTicks: s.heartbeatTicks,
      storage: this.durable,
      applied: this.sm.index,
      maxSizePerMsgBytes: s.maxSizePerMsgBytes,
      maxInflightMsgs: s.maxInflightMsgs,
      maxInflightBytes: s.maxInflightBytes,
      maxUncommittedBytes: s.maxUncommittedBytes,
      checkQuorum: s.checkQuorum,
      preVote: s.preVote,
      readOnlyOption: s.readOnlyOption,
      random: mulberry32(mixSeed(this.world.seed, this.id, this.incarnation)),
      logger: silentLogger,
    });
  }

  /** Loses every volatile thing: the RawNode, the state machine, reads in progress. */
  crash(): void {
    this.raw = undefined;
    this.persisting = undefined;
    this.unreachable.length = 0;
    this.reads.clear();
    this.role = 'follower';
    this.world.counters.crashes++;
    this.world.trace(`  node ${this.id} crashed`);
  }

  /** Starts again from durable state. */
  restart(): void {
    if (this.alive || this.retired) return;
    this.incarnation++;
    this.start();
    this.world.trace(`  node ${this.id} restarted (incarnation ${this.incarnation}, applied ${this.sm.index})`);
  }

  /** Issues a ReadIndex read. */
  read(readId: number): void {
    const raw = this.raw;
    if (raw === undefined) return;
    this.world.checker.onReadIssued(readId);
    this.reads.set(readId, { index: -1 });
    raw.readIndex(readContext(readId));
  }

  /** Finishes the Ready being persisted, then handles every pending Ready (bounded). */
  processAll(): void {
    this.finishReady();
    for (let i = 0; i < 16 && this.beginReady(); i++) this.finishReady();
  }

  /**
   * Half a step of Ready handling: finishes the Ready being persisted if there is one, else
   * begins the next. Between the halves the node keeps stepping messages and ticking, like
   * a host whose disk write is in progress; a crash in between loses that Ready.
   */
  halfReady(): void {
    if (!this.finishReady()) this.beginReady();
  }

  /** Whether a Ready is being persisted or waiting. */
  hasWork(): boolean {
    return this.persisting !== undefined || (this.raw?.hasReady() ?? false);
  }

  /** Begins persisting a Ready (if any) and crashes before it is durable. */
  crashMidReady(): void {
    this.beginReady();
    this.crash();
  }

  /** Ready handling, first half: take the Ready, send what may go before persistence. */
  private beginReady(): boolean {
    const raw = this.raw;
    if (raw === undefined || this.persisting !== undefined || !raw.hasReady()) return false;
    const rd = raw.ready();
    if (rd.hardState !== undefined) this.term = rd.hardState.term;
    if (rd.softState !== undefined && rd.softState.role !== this.role) {
      this.role = rd.softState.role;
      this.world.trace(`  node ${this.id} is ${this.role} in term ${this.term}`);
    }
    if (this.role === 'leader') this.world.checker.observeLeader(this.id, this.term, 'softState');
    this.persisting = rd;
    this.sendAll(rd.messagesBeforePersist, true);
    // The canary fault: acks and votes leave before they are durable.
    if (this.world.driverFault === 'send-before-persist') this.sendAll(rd.messages, false);
    return true;
  }

  /** Ready handling, second half: persist, send, apply, serve reads, advance. */
  private finishReady(): boolean {
    const raw = this.raw;
    const rd = this.persisting;
    if (raw === undefined || rd === undefined) return false;
    this.persisting = undefined;
    this.persist(rd);
    if (this.world.driverFault !== 'send-before-persist') this.sendAll(rd.messages, false);
    this.applyCommitted(raw, rd.committedEntries);
    this.collectReadStates(rd);
    raw.advance(rd);
    this.serveReads();
    this.reportUnreachable(raw);
    return true;
  }

  private sendAll(msgs: Message[], beforePersist: boolean): void {
    for (const m of msgs) {
      this.world.checker.onSend(this, m, beforePersist, this.durableHs.term);
      if (!this.world.network.send(m, this.incarnation)) this.unreachable.push(m);
    }
  }

  /** What a transport does when it cannot reach a peer (a snapshot send also fails). */
  private reportUnreachable(raw: RawNode): void {
    for (const m of this.unreachable.splice(0)) {
      raw.reportUnreachable(m.to);
      if (m.type === MessageType.Snap) raw.reportSnapshot(m.to, false);
    }
  }

  private persist(rd: Ready): void {
    const checker = this.world.checker;
    if (rd.snapshot !== undefined && rd.snapshot.meta.index > 0) {
      this.sm = checker.onSnapshotInstall(this, rd.snapshot, this.sm);
      this.durable.applySnapshot(rd.snapshot);
      this.confState = rd.snapshot.meta.confState;
      this.world.onConfState(this.confState);
      this.world.counters.snapshotsInstalled++;
      this.world.trace(`  node ${this.id} installed snapshot ${rd.snapshot.meta.index}/${rd.snapshot.meta.term}`);
    }
    if (rd.entries.length > 0) {
      checker.beforeAppend(this, rd.entries);
      this.durable.append(rd.entries);
      checker.afterAppend(this, rd.entries);
    }
    if (rd.hardState !== undefined) {
      checker.onHardState(this, this.durableHs, rd.hardState);
      this.durableHs = { ...rd.hardState };
      this.durable.setHardState(rd.hardState);
    }
    checker.afterPersist(this, this.durableHs);
  }

  private applyCommitted(raw: RawNode, entries: Entry[]): void {
    for (const e of entries) {
      if (e.index !== this.sm.index + 1) {
        throw new SimViolation('apply-in-order', `node ${this.id} applied up to ${this.sm.index} is given ${e.index}`);
      }
      this.sm.apply(e);
      this.world.checker.onApply(this, e, this.sm.digest);
      if (e.type === EntryType.ConfChange) this.applyConfChange(raw, e);
      else this.ackWrite(e);
    }
  }

  private applyConfChange(raw: RawNode, e: Entry): void {
    const cc = decodeConfChange(e.data);
    this.confState = raw.applyConfChange(cc);
    this.world.counters.confChangesApplied++;
    this.world.onConfState(this.confState);
    for (const c of cc.changes) if (c.type === ConfChangeType.RemoveNode) this.world.onRemoved(c.nodeId);
    const what = cc.changes.map((c) => `${ConfChangeType[c.type]} ${c.nodeId}`).join(', ') || 'leave joint';
    this.world.trace(`  node ${this.id} applied conf change at ${e.index} (${what}): voters [${this.confState.voters}] learners [${this.confState.learners}]`);
  }

  private ackWrite(e: Entry): void {
    const seq = decodeWrite(e.data);
    if (seq === 0) return;
    const p = this.world.proposals.get(seq);
    if (p === undefined) return;
    if (p.index === undefined) p.index = e.index;
    if (p.node !== this.id || p.incarnation !== this.incarnation) return;
    this.world.checker.onWriteAcked(e.index);
  }

  private collectReadStates(rd: Ready): void {
    for (const rs of rd.readStates) {
      const read = this.reads.get(readIdOf(rs.context));
      if (read !== undefined && read.index < 0) read.index = rs.index;
    }
  }

  private serveReads(): void {
    if (this.reads.size === 0) return;
    for (const [id, read] of this.reads) {
      if (read.index < 0) continue;
      // The canary fault: serve the read without waiting for the read index to be applied.
      if (read.index > this.sm.index && this.world.driverFault !== 'serve-read-early') continue;
      this.reads.delete(id);
      this.world.trace(`  read ${id} at node ${this.id}: index ${read.index}, saw the write at ${this.sm.lastWriteIndex}`);
      this.world.checker.onReadServed(this, id, this.sm.lastWriteIndex);
    }
  }

  /**
   * Compacts the durable log: a snapshot at the applied index, keeping `keepEntries`
   * entries before it for slow followers (as etcd's example host does).
   */
  compact(keepEntries: number): void {
    const index = this.sm.index;
    if (!this.alive || index > this.durable.lastIndex()) return;
    if (index > this.durable.snapshot().meta.index) {
      this.durable.createSnapshot(index, this.confState, this.sm.encode());
    }
    const to = index - keepEntries;
    if (to < this.durable.firstIndex()) return;
    this.durable.compact(to);
    this.world.trace(`  node ${this.id} snapshot at ${index}, compacted to ${to}`);
  }

}
