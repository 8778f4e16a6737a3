/**
 * A small deterministic network of RawNodes for the Raft scenario tests (in the spirit of
 * etcd's rafttest interaction env): message queue, cut links, crash/restart, hosts that
 * persist to MemoryStorage and apply to an in-memory list, optional held persistence.
 */
import { mulberry32 } from '../../src/raft/prng.js';
import assert from 'node:assert';
import {
  ConfChangeType,
  decodeConfChange,
  EntryType,
  MemoryStorage,
  MessageType,
  RawNode,
  type ConfChange,
  type ConfState,
  type Message,
  type NodeId,
  type RaftConfig,
  type Ready,
  type ReadState,
} from '../../src/raft/index.js';

export { mulberry32 };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Bytes of a string. */
export const b = (s: string): Uint8Array => enc.encode(s);
/** String of bytes. */
export const s = (u: Uint8Array): string => dec.decode(u);

/** One simulated host: storage, node, and the applied state machine (a list of strings). */
export interface Host {
  id: NodeId;
  storage: MemoryStorage;
  node: RawNode;
  /** Data of applied Normal entries (empty entries skipped). */
  applied: string[];
  appliedIndex: number;
  confState: ConfState;
  readStates: ReadState[];
  down: boolean;
  /** When set, Readies are taken but not persisted/advanced until release(). */
  holdPersist: boolean;
  held: Ready | undefined;
}

export type ConfigOverrides = Partial<Omit<RaftConfig, 'id' | 'storage' | 'random'>>;

/** The network; see the module doc. */
export class Network {
  readonly hosts = new Map<NodeId, Host>();
  /** Messages in flight, in send order. */
  queue: Message[] = [];
  private readonly cut = new Set<string>();
  readonly seed: number;
  private readonly overrides: ConfigOverrides;
  /** Every message delivered, for assertions on traffic. */
  delivered: Message[] = [];
  /** When set, matching messages are dropped at delivery (lost in the network). */
  dropIf: ((m: Message) => boolean) | undefined = undefined;
  /** Every message sent (queued), for assertions on traffic. */
  sent: Message[] = [];

  constructor(voters: NodeId[], opts: { seed?: number; config?: ConfigOverrides; learners?: NodeId[] } = {}) {
    this.seed = opts.seed ?? 1;
    this.overrides = opts.config ?? {};
    const learners = opts.learners ?? [];
    for (const id of [...voters, ...learners]) {
      const storage = new MemoryStorage();
      RawNode.bootstrap(storage, voters, learners);
      this.addHost(id, storage);
    }
  }

  /** Adds a host with an empty storage (a node joining an existing group). */
  addEmptyHost(id: NodeId): Host {
    return this.addHost(id, new MemoryStorage());
  }

  private addHost(id: NodeId, storage: MemoryStorage): Host {
    const h: Host = {
      id,
      storage,
      node: this.newNode(id, storage, 0),
      applied: [],
      appliedIndex: 0,
      confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      readStates: [],
      down: false,
      holdPersist: false,
      held: undefined,
    };
    this.hosts.set(id, h);
    return h;
  }

  private newNode(id: NodeId, storage: MemoryStorage, applied: number): RawNode {
    return new RawNode({
      id,
      storage,
      applied,
      electionTicks: 10,
      heartbeatTicks: 1,
      maxSizePerMsgBytes: 1024 * 1024,
      maxInflightMsgs: 256,
      maxInflightBytes: 0,
      checkQuorum: true,
      preVote: true,
      readOnlyOption: 'safe',
      random: mulberry32(this.seed * 7919 + id),
      ...this.overrides,
    });
  }

  host(id: NodeId): Host {
    const h = this.hosts.get(id);
    assert(h !== undefined, `no host ${id}`);
    return h;
  }

  node(id: NodeId): RawNode {
    return this.host(id).node;
  }

  /** The current leader among live hosts that agree on the highest term, or 0. */
  leader(): NodeId {
    let best = 0;
    let bestTerm = -1;
    for (const h of this.hosts.values()) {
      if (h.down) continue;
      const st = h.node.status();
      if (st.role === 'leader' && st.term > bestTerm) {
        best = h.id;
        bestTerm = st.term;
      }
    }
    return best;
  }

  // ---- links ----

  private key(from: NodeId, to: NodeId): string {
    return `${from}>${to}`;
  }

  /** Drops messages both ways between a and b. */
  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(this.key(a, b));
    this.cut.add(this.key(b, a));
  }

  /** Cuts every link of `id`. */
  isolate(id: NodeId): void {
    for (const other of this.hosts.keys()) if (other !== id) this.cutLink(id, other);
  }

  /** Restores every link. */
  heal(): void {
    this.cut.clear();
  }

  // ---- hosts ----

  /** Stops a host: it keeps only what it persisted; messages to it are dropped. */
  crash(id: NodeId): void {
    const h = this.host(id);
    h.down = true;
    h.held = undefined;
    h.holdPersist = false;
  }

  /**
   * Restarts a crashed host from its storage. Its state machine is in memory, so it is
   * rebuilt from the snapshot and the committed entries after it are applied again.
   */
  restart(id: NodeId): void {
    const h = this.host(id);
    h.down = false;
    const snap = h.storage.snapshot();
    h.appliedIndex = snap.meta.index;
    h.confState = snap.meta.confState;
    h.applied = snap.data.byteLength === 0 ? [] : [...(JSON.parse(s(snap.data)) as { applied: string[] }).applied];
    h.node = this.newNode(id, h.storage, h.appliedIndex);
  }

  /** Persists and advances a held Ready. */
  release(id: NodeId): void {
    const h = this.host(id);
    h.holdPersist = false;
    if (h.held !== undefined) {
      const rd = h.held;
      h.held = undefined;
      this.finishReady(h, rd);
    }
  }

  // ---- driving ----

  /** Handles every pending Ready of a host once. Returns whether anything happened. */
  process(id: NodeId): boolean {
    const h = this.host(id);
    if (h.down || h.held !== undefined) return false;
    let any = false;
    while (h.node.hasReady()) {
      any = true;
      const rd = h.node.ready();
      this.send(rd.messagesBeforePersist);
      if (h.holdPersist) {
        h.held = rd;
        return true;
      }
      this.finishReady(h, rd);
    }
    return any;
  }

  private finishReady(h: Host, rd: Ready): void {
    if (rd.snapshot !== undefined) {
      h.storage.applySnapshot(rd.snapshot);
      const st = JSON.parse(s(rd.snapshot.data)) as { applied: string[] };
      h.applied = [...st.applied];
      h.appliedIndex = rd.snapshot.meta.index;
      h.confState = rd.snapshot.meta.confState;
    }
    h.storage.append(rd.entries);
    if (rd.hardState !== undefined) h.storage.setHardState(rd.hardState);
    this.send(rd.messages);
    for (const e of rd.committedEntries) {
      assert(e.index === h.appliedIndex + 1, `host ${h.id}: applying ${e.index} after ${h.appliedIndex}`);
      h.appliedIndex = e.index;
      if (e.type === EntryType.ConfChange) {
        h.confState = h.node.applyConfChange(decodeConfChange(e.data));
      } else if (e.data.byteLength > 0) {
        h.applied.push(s(e.data));
      }
    }
    h.readStates.push(...rd.readStates);
    h.node.advance(rd);
  }

  private send(msgs: Message[]): void {
    for (const m of msgs) {
      this.queue.push(m);
      this.sent.push(m);
    }
  }

  /** Delivers the queued messages (one round); returns how many were delivered. */
  deliver(filter?: (m: Message) => boolean): number {
    const msgs = this.queue;
    this.queue = [];
    let n = 0;
    for (const m of msgs) {
      if (filter !== undefined && !filter(m)) {
        this.queue.push(m);
        continue;
      }
      const to = this.hosts.get(m.to);
      if (to === undefined || to.down || this.cut.has(this.key(m.from, m.to))) continue;
      if (this.dropIf !== undefined && this.dropIf(m)) continue;
      this.delivered.push(m);
      to.node.step(m);
      n++;
    }
    return n;
  }

  /** Processes and delivers until nothing moves (messages on cut links are dropped). */
  stabilize(roundsMax = 1000): void {
    for (let round = 0; round < roundsMax; round++) {
      let any = false;
      for (const id of this.hosts.keys()) any = this.process(id) || any;
      any = this.deliver() > 0 || any;
      if (!any && this.queue.length === 0) return;
    }
    assert.fail(`network did not stabilize in ${roundsMax} rounds (seed ${this.seed})`);
  }

  /** Ticks every live host n times, stabilizing after each tick. */
  tickAll(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const h of this.hosts.values()) if (!h.down) h.node.tick();
      this.stabilize();
    }
  }

  /** Ticks one host n times, stabilizing after each tick. */
  tick(id: NodeId, n: number): void {
    for (let i = 0; i < n; i++) {
      this.node(id).tick();
      this.stabilize();
    }
  }

  /** Applies bootstrap entries everywhere, then makes `id` campaign and settles. */
  elect(id: NodeId): void {
    this.stabilize();
    this.node(id).campaign();
    this.stabilize();
    assert.equal(this.node(id).status().role, 'leader', `${id} did not become leader (seed ${this.seed})`);
  }

  /** Proposes on `id` and settles. */
  propose(id: NodeId, data: string): void {
    this.node(id).propose(b(data));
    this.stabilize();
  }

  /** Proposes a membership change on `id` and settles. */
  changeConf(id: NodeId, cc: ConfChange): void {
    this.node(id).proposeConfChange(cc);
    this.stabilize();
  }

  /** Snapshots host `id` at its applied index and compacts its log there. */
  compact(id: NodeId): void {
    const h = this.host(id);
    const data = b(JSON.stringify({ applied: h.applied }));
    h.storage.createSnapshot(h.appliedIndex, h.confState, data);
    h.storage.compact(h.appliedIndex);
  }

  /** Asserts Raft's log matching over committed prefixes and equal applied state at equal index. */
  checkConsistency(): void {
    const hs = [...this.hosts.values()];
    for (const a of hs) {
      for (const c of hs) {
        if (a.appliedIndex === c.appliedIndex) {
          assert.deepEqual(a.applied, c.applied, `hosts ${a.id} and ${c.id} differ at index ${a.appliedIndex}`);
        }
      }
    }
  }
}

/** A single-change ConfChange. */
export function confChange(type: ConfChangeType, nodeId: NodeId): ConfChange {
  return { changes: [{ type, nodeId }], transition: 'auto' };
}

/** One ConfChange that adds `add` as voters and removes `remove`: joint consensus when it is more than one change. */
export function replaceVoters(add: NodeId[], remove: NodeId[], transition: ConfChange['transition']): ConfChange {
  return {
    changes: [
      ...add.map((nodeId) => ({ type: ConfChangeType.AddNode, nodeId })),
      ...remove.map((nodeId) => ({ type: ConfChangeType.RemoveNode, nodeId })),
    ],
    transition,
  };
}

/** Messages of a type in a list. */
export function ofType(msgs: Message[], t: MessageType): Message[] {
  return msgs.filter((m) => m.type === t);
}
