/**
 * The safety checker. It keeps the history the Raft invariants are stated over (leaders per
 * term, every (index, term) ever made durable, every committed entry, acknowledged writes)
 * and is told about every state change as it happens — each Ready persisted, entry applied,
 * message sent, read served — so an invariant is checked the moment a step could break it.
 */
import {
  EntryType,
  MessageType,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Snapshot,
} from './raft-api.js';
import { type MemoryStorage } from './raft-api.js';
import { AppliedState, decodeWrite, digestEntry } from './state-machine.js';

/** A broken invariant: a Raft bug (or a simulator bug). `invariant` is a stable name. */
export class SimViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`invariant "${invariant}" violated: ${detail}`);
    this.name = 'SimViolation';
  }
}

/** What the checker needs to see of a simulated node. */
export interface CheckedNode {
  readonly id: NodeId;
  readonly durable: MemoryStorage;
  /** The node's role and term as of its latest Ready. */
  readonly role: string;
  readonly term: number;
  /** Commit index of the node's durable hard state. */
  readonly durableCommit: number;
}

/** The term of `index` in a storage, or undefined if compacted away or beyond the log. */
export function termAt(storage: MemoryStorage, index: number): number | undefined {
  if (index < storage.firstIndex() - 1 || index > storage.lastIndex()) return undefined;
  return storage.term(index);
}

const entryHashSeed = 0x2545f491;
/** Requests a follower forwards to its leader as they are (keeping the original sender). */
const forwardedTypes = new Set([MessageType.Prop, MessageType.ReadIndex, MessageType.TransferLeader]);
const leaderOnlyTypes = new Set([
  MessageType.App,
  MessageType.Heartbeat,
  MessageType.Snap,
  MessageType.TimeoutNow,
]);

function logKey(index: number, term: number): number {
  return index * 1_048_576 + term;
}

/** Checks the Raft safety invariants over the whole history of one simulation run. */
export class InvariantChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** (index, term) -> [hash of the entry, term of the entry before it (-1 unknown)]. */
  private readonly logRegistry = new Map<number, [number, number]>();
  private readonly committedTerm: number[] = [];
  private readonly committedHash: number[] = [];
  /** Every leader of a term above this must hold the committed entry (see onApply). */
  private readonly committedBelowTerm: number[] = [];
  private readonly appliedDigest: number[] = [];
  private readonly leaderChecked = new Set<string>();
  private readonly readMustSee = new Map<number, number>();
  private termHighWater = 0;
  private votersMin: number;
  /** Log index of the newest write acknowledged to its client. */
  ackedWriteIndex = 0;
  /**
   * Log index of the newest write known committed (applied by any node). A safe ReadIndex
   * read must see it too: the leader that serves the read holds every committed entry and,
   * having confirmed its leadership after the read arrived, a commit index at least as high.
   */
  committedWriteIndex = 0;
  committedCount = 0;
  committedConfChanges = 0;
  readsServed = 0;
  leadersSeen = 0;

  constructor(
    private readonly nodes: () => Iterable<CheckedNode>,
    votersInitial: number,
  ) {
    this.votersMin = votersInitial;
  }

  /** Election safety: at most one leader per term, over the whole history. */
  observeLeader(id: NodeId, term: number, how: string): void {
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) {
      this.leaderOfTerm.set(term, id);
      this.leadersSeen++;
      return;
    }
    if (known !== id) {
      throw new SimViolation('election-safety', `term ${term} has leaders ${known} and ${id} (${how})`);
    }
  }

  /** A message leaving `node`; `durableTerm` is the sender's durable term at that moment. */
  onSend(node: CheckedNode, msg: Message, beforePersist: boolean, durableTerm: number): void {
    if (msg.term > this.termHighWater) this.termHighWater = msg.term;
    if (msg.to === msg.from || msg.to <= 0) {
      throw new SimViolation('message-to', `node ${node.id} sent ${describe(msg)}`);
    }
    if (msg.from !== node.id && !forwardedTypes.has(msg.type)) {
      throw new SimViolation('message-from', `node ${node.id} sent ${describe(msg)}`);
    }
    if (leaderOnlyTypes.has(msg.type)) this.observeLeader(msg.from, msg.term, MessageType[msg.type]!);
    if (!beforePersist) return;
    if (!leaderOnlyTypes.has(msg.type)) {
      throw new SimViolation('send-before-persist', `${describe(msg)} in messagesBeforePersist`);
    }
    if (msg.term > durableTerm) {
      throw new SimViolation(
        'send-before-persist',
        `${describe(msg)} sent before its term is durable (durable term ${durableTerm})`,
      );
    }
  }

  /** A hard state about to become durable: term and commit never go back, one vote per term. */
  onHardState(node: CheckedNode, prev: HardState, next: HardState): void {
    if (next.term > this.termHighWater) this.termHighWater = next.term;
    const where = `node ${node.id}: ${fmtHs(prev)} -> ${fmtHs(next)}`;
    if (next.term < prev.term) throw new SimViolation('durable-term-monotonic', where);
    if (next.term === prev.term && prev.vote !== 0 && next.vote !== prev.vote) {
      throw new SimViolation('one-vote-per-term', where);
    }
    if (next.commit < prev.commit) throw new SimViolation('durable-commit-monotonic', where);
  }

  /** Entries about to be appended to `node`'s durable log. */
  beforeAppend(node: CheckedNode, entries: Entry[]): void {
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== entries[i - 1]!.index + 1) {
        throw new SimViolation('ready-entries-contiguous', `node ${node.id}: ${fmtEntries(entries)}`);
      }
    }
    // A lagging node may hold (and overwrite) a stale entry at an index committed elsewhere,
    // but never overwrite an entry at or below its own durable commit index.
    for (const e of entries) {
      if (e.index > node.durableCommit) break;
      const t = termAt(node.durable, e.index);
      if (t !== undefined && t !== e.term) {
        throw new SimViolation(
          'committed-entry-overwritten',
          `node ${node.id} with commit ${node.durableCommit} overwrites ${e.index}/${t} with ${e.index}/${e.term}`,
        );
      }
    }
    if (node.role !== 'leader' || this.leaderOfTerm.get(node.term) !== node.id) return;
    this.checkLeaderAppendOnly(node, entries);
  }

  private checkLeaderAppendOnly(node: CheckedNode, entries: Entry[]): void {
    const last = node.durable.lastIndex();
    const first = entries[0]!.index;
    const end = entries[entries.length - 1]!.index;
    if (first > last) return;
    const where = `leader ${node.id} (term ${node.term}) with log up to ${last} appends ${fmtEntries(entries)}`;
    if (end < last) throw new SimViolation('leader-append-only', `${where}: truncates its log`);
    for (const e of entries) {
      const t = termAt(node.durable, e.index);
      if (t !== undefined && t !== e.term) throw new SimViolation('leader-append-only', `${where}: overwrites ${e.index}`);
    }
  }

  /** Entries just appended to `node`'s durable log: log matching over all durable logs, ever. */
  afterAppend(node: CheckedNode, entries: Entry[]): void {
    for (const e of entries) {
      const prevTerm = e.index === 1 ? 0 : (termAt(node.durable, e.index - 1) ?? -1);
      const hash = digestEntry(entryHashSeed, e);
      const key = logKey(e.index, e.term);
      const known = this.logRegistry.get(key);
      if (known === undefined) {
        this.logRegistry.set(key, [hash, prevTerm]);
        continue;
      }
      if (known[0] !== hash) {
        throw new SimViolation('log-matching', `node ${node.id}: two different entries at index ${e.index} term ${e.term}`);
      }
      if (known[1] === -1) known[1] = prevTerm;
      else if (prevTerm !== -1 && prevTerm !== known[1]) {
        throw new SimViolation(
          'log-matching',
          `node ${node.id}: entry ${e.index}/${e.term} follows term ${prevTerm}, elsewhere term ${known[1]}`,
        );
      }
    }
  }

  /** A snapshot about to be installed on `node` whose state machine is at `applied`. */
  onSnapshotInstall(node: CheckedNode, snap: Snapshot, applied: AppliedState): AppliedState {
    const idx = snap.meta.index;
    const where = `node ${node.id} installs snapshot ${idx}/${snap.meta.term}`;
    if (node.role === 'leader' && this.leaderOfTerm.get(node.term) === node.id) {
      throw new SimViolation('leader-append-only', `${where} while leader of term ${node.term}`);
    }
    if (idx <= applied.index) throw new SimViolation('snapshot-rollback', `${where} with applied ${applied.index}`);
    const state = AppliedState.fromSnapshot(snap);
    const digest = this.appliedDigest[idx];
    if (digest !== undefined && digest !== state.digest) {
      throw new SimViolation('state-machine-safety', `${where}: state differs from the state applied at ${idx}`);
    }
    const term = this.committedTerm[idx];
    if (term !== undefined && term !== snap.meta.term) {
      throw new SimViolation('state-machine-safety', `${where}: index ${idx} was committed with term ${term}`);
    }
    return state;
  }

  /**
   * `node` applied entry `e` and its state machine digest is now `digest`. The first time an
   * index is applied anywhere, it is known committed: it must be durable on a quorum.
   */
  onApply(node: CheckedNode, e: Entry, digest: number): void {
    const where = `node ${node.id} applies ${e.index}/${e.term}`;
    if (termAt(node.durable, e.index) !== e.term) {
      throw new SimViolation('apply-durable-only', `${where} but its durable log has term ${termAt(node.durable, e.index)}`);
    }
    const hash = digestEntry(entryHashSeed, e);
    const term = this.committedTerm[e.index];
    if (term !== undefined) {
      if (term !== e.term || this.committedHash[e.index] !== hash) {
        throw new SimViolation('state-machine-safety', `${where}; another node applied ${e.index}/${term}`);
      }
      if (this.appliedDigest[e.index] !== digest) {
        throw new SimViolation('state-machine-safety', `${where}: state digest differs from another node's at ${e.index}`);
      }
      return;
    }
    this.committedTerm[e.index] = e.term;
    this.committedHash[e.index] = hash;
    this.committedBelowTerm[e.index] = this.termHighWater;
    this.appliedDigest[e.index] = digest;
    this.committedCount++;
    if (e.type === EntryType.ConfChange) this.committedConfChanges++;
    else if (decodeWrite(e.data) !== 0 && e.index > this.committedWriteIndex) this.committedWriteIndex = e.index;
    this.checkDurableQuorum(e, where);
  }

  private checkDurableQuorum(e: Entry, where: string): void {
    let copies = 0;
    for (const n of this.nodes()) {
      const snapIndex = n.durable.firstIndex() - 1;
      if (e.index <= snapIndex || termAt(n.durable, e.index) === e.term) copies++;
    }
    const quorum = Math.floor(this.votersMin / 2) + 1;
    if (copies < quorum) {
      throw new SimViolation('commit-durable-quorum', `${where}: durable on ${copies} nodes, a quorum is ${quorum}`);
    }
  }

  /** After a Ready is durable on `node`: commit within the log; a new leader holds every committed entry. */
  afterPersist(node: CheckedNode, hs: HardState): void {
    if (hs.commit > node.durable.lastIndex()) {
      throw new SimViolation('commit-within-durable-log', `node ${node.id}: commit ${hs.commit} > last index ${node.durable.lastIndex()}`);
    }
    if (node.role !== 'leader') return;
    const key = `${node.id}:${node.term}`;
    if (this.leaderChecked.has(key)) return;
    this.leaderChecked.add(key);
    this.checkLeaderCompleteness(node);
  }

  private checkLeaderCompleteness(node: CheckedNode): void {
    const first = node.durable.firstIndex();
    for (let i = first; i < this.committedTerm.length; i++) {
      const t = this.committedTerm[i];
      if (t === undefined || this.committedBelowTerm[i]! >= node.term) continue;
      if (termAt(node.durable, i) !== t) {
        throw new SimViolation(
          'leader-completeness',
          `leader ${node.id} of term ${node.term} lacks committed entry ${i}/${t} (has ${termAt(node.durable, i)})`,
        );
      }
    }
  }

  /** A configuration took effect somewhere; quorum sizes are judged against the smallest ever. */
  onConfState(cs: ConfState): void {
    if (cs.voters.length > 0) this.votersMin = Math.min(this.votersMin, cs.voters.length);
    if (cs.votersOutgoing.length > 0) this.votersMin = Math.min(this.votersMin, cs.votersOutgoing.length);
  }

  /** A write's proposer applied it: its client has been told it succeeded. */
  onWriteAcked(index: number): void {
    if (index > this.ackedWriteIndex) this.ackedWriteIndex = index;
  }

  /** A ReadIndex read was issued: it must see every write committed (or acknowledged) so far. */
  onReadIssued(readId: number): void {
    this.readMustSee.set(readId, Math.max(this.ackedWriteIndex, this.committedWriteIndex));
  }

  /** A read was served from a state whose newest write is at `lastWriteIndex`. */
  onReadServed(node: CheckedNode, readId: number, lastWriteIndex: number): void {
    const mustSee = this.readMustSee.get(readId);
    if (mustSee === undefined) return;
    this.readMustSee.delete(readId);
    this.readsServed++;
    if (lastWriteIndex < mustSee) {
      throw new SimViolation(
        'linearizable-read',
        `read ${readId} at node ${node.id} saw the write at ${lastWriteIndex}, but the write at ${mustSee} was committed before it was issued`,
      );
    }
  }
}

/** A short description of a message for violations and traces. */
export function describe(m: Message): string {
  const ents = m.entries.length > 0 ? ` ents=${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}` : '';
  const snap = m.snapshot !== undefined ? ` snap=${m.snapshot.meta.index}/${m.snapshot.meta.term}` : '';
  const rej = m.reject ? ` reject(hint ${m.rejectHint})` : '';
  return `${MessageType[m.type]} ${m.from}->${m.to} t${m.term} idx=${m.index}/${m.logTerm} c=${m.commit}${ents}${snap}${rej}`;
}

function fmtHs(hs: HardState): string {
  return `{term ${hs.term}, vote ${hs.vote}, commit ${hs.commit}}`;
}

function fmtEntries(entries: Entry[]): string {
  return entries.map((e) => `${e.index}/${e.term}`).join(',');
}
