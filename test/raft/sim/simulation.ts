/**
 * The simulation harness: builds an N-node group (bootstrapped RawNodes over MemoryStorage),
 * runs a schedule of actions against it with the invariant checker watching every step,
 * then checks liveness: with the network healed and every node restarted, a leader must
 * emerge and a final write must reach every member, within a bounded number of rounds.
 */
import { formatAction, type Action, type ConfOp } from './actions.js';
import { InvariantChecker, SimViolation, describe } from './invariants.js';
import { SimNetwork, type InFlight } from './network.js';
import {
  ConfChangeType,
  MemoryStorage,
  MessageType,
  ProposalDroppedError,
  RawNode,
  type ConfChange,
  type ConfChangeSingle,
  type ConfState,
  type NodeId,
} from './raft-api.js';
import { SimNode, type DriverFault, type Proposal, type SimCounters, type SimRaftSettings, type SimWorld } from './sim-node.js';
import { encodeWrite } from './state-machine.js';

/** One generated run: the PRNG seed of the nodes, the Raft settings and the schedule. */
export interface SimInput {
  seed: number;
  settings: SimRaftSettings;
  actions: Action[];
}

/** The shape of the simulated cluster. */
export interface SimShape {
  /** Voters at bootstrap (ids 1..nodes). */
  nodes: number;
  /** Ids that membership changes may add as learners (nodes+1 .. nodes+spares). */
  spares: number;
  /** A deliberate driver bug (simulator self-test only). */
  driverFault?: DriverFault;
  /** Print every step (for replaying one failing seed). */
  trace?: (line: string) => void;
}

/** Figures of one run, to show the schedules do exercise the protocol. */
export interface SimStats extends SimCounters {
  steps: number;
  leaders: number;
  committed: number;
  readsServed: number;
  messagesSent: number;
  messagesLost: number;
  livenessRounds: number;
  /** Membership changes committed (beyond bootstrap). */
  confChangesCommitted: number;
}

/** Voters a membership change may not remove below (keeps a quorum alive sensibly). */
const removeVotersMin = 3;

/** One simulation run; see the module doc. */
export class Simulation implements SimWorld {
  readonly network = new SimNetwork();
  readonly checker: InvariantChecker;
  readonly proposals = new Map<number, Proposal>();
  readonly counters: SimCounters = { writesAccepted: 0, snapshotsInstalled: 0, confChangesApplied: 0, crashes: 0 };
  readonly hosts: SimNode[] = [];
  readonly settings: SimRaftSettings;
  readonly seed: number;
  readonly driverFault: DriverFault;
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly tracer: ((line: string) => void) | undefined;
  /** Node ids some node has applied a RemoveNode for (ids are never reused). */
  private readonly removedIds = new Set<NodeId>();
  private writeSeq = 0;
  private readSeq = 0;
  private nextSpare: NodeId;
  private readonly spareLast: NodeId;
  private readonly bootstrapEntries: number;

  constructor(
    private readonly input: SimInput,
    shape: SimShape,
  ) {
    this.settings = input.settings;
    this.seed = input.seed;
    this.tracer = shape.trace;
    this.driverFault = shape.driverFault ?? 'none';
    this.checker = new InvariantChecker(() => this.hosts, shape.nodes);
    const voters = Array.from({ length: shape.nodes }, (_, i) => i + 1);
    for (const id of voters) {
      const storage = new MemoryStorage();
      RawNode.bootstrap(storage, voters);
      this.addHost(id, storage);
    }
    this.bootstrapEntries = shape.nodes;
    this.nextSpare = shape.nodes + 1;
    this.spareLast = shape.nodes + shape.spares;
  }

  /** Records a configuration that took effect. */
  onConfState(cs: ConfState): void {
    this.checker.onConfState(cs);
  }

  /** Records that a removal of `id` was applied somewhere. */
  onRemoved(id: NodeId): void {
    this.removedIds.add(id);
  }

  /** Trace output, when tracing. */
  trace(line: string): void {
    this.tracer?.(line);
  }

  /** Runs the schedule, then the liveness check. Throws SimViolation on a broken invariant. */
  run(): SimStats {
    const actions = this.input.actions;
    for (let i = 0; i < actions.length; i++) {
      if (this.tracer !== undefined) this.tracer(`step ${i}: ${formatAction(actions[i]!)}`);
      try {
        this.execute(actions[i]!);
      } catch (err) {
        throw annotate(err, `at step ${i} ${formatAction(actions[i]!)}`);
      }
    }
    const livenessRounds = this.liveness();
    return {
      steps: actions.length,
      leaders: this.checker.leadersSeen,
      committed: this.checker.committedCount,
      readsServed: this.checker.readsServed,
      messagesSent: this.network.sentCount,
      messagesLost: this.network.lostCount,
      livenessRounds,
      ...this.counters,
      confChangesCommitted: this.checker.committedConfChanges - this.bootstrapEntries,
    };
  }

  private addHost(id: NodeId, storage: MemoryStorage): SimNode {
    const host = new SimNode(id, storage, this);
    this.hosts.push(host);
    this.byId.set(id, host);
    return host;
  }

  /** The dispatcher: one named handler per action. */
  private execute(a: Action): void {
    switch (a.t) {
      case 'tick':
        return this.onTick(a.node, a.n, a.rd);
      case 'tickAll':
        return this.onTickAll(a.n);
      case 'deliver':
        return this.onDeliver(a.pick, a.rd);
      case 'deliverAll':
        return this.onDeliverAll();
      case 'rounds':
        return this.onRounds(a.n);
      case 'drop':
        return this.onDrop(a.pick);
      case 'dup':
        return this.network.duplicate(a.pick);
      case 'ready':
        return a.half ? this.pickHost(a.node)?.halfReady() : this.pickHost(a.node)?.processAll();
      case 'readyAll':
        return this.processAllHosts();
      case 'propose':
        return this.onPropose(a.node, a.padBytes, a.count, a.rd);
      case 'read':
        return this.onRead(a.node);
      case 'partition':
        return this.onPartition(a.kind, a.a, a.b);
      case 'heal':
        return this.network.heal();
      case 'crash':
        return this.onCrash(a.node, a.midReady);
      case 'restart':
        return this.pickHost(a.node)?.restart();
      case 'transfer':
        return this.onTransfer(a.to);
      case 'conf':
        return this.onConf(a.op, a.pick);
      case 'compact':
        return this.pickHost(a.node)?.compact(a.keep);
      case 'campaign':
        return this.pickHost(a.node)?.raw?.campaign();
    }
  }

  /** Host by pick: -1 the current leader, -2 the oldest leader (if any), else pick modulo the host count. */
  private pickHost(pick: number): SimNode | undefined {
    if (pick === -2) return this.oldestLeader();
    if (pick < 0) return this.leader();
    return this.hosts[pick % this.hosts.length];
  }

  /** The live node that believes it leads the lowest term (a stale leader, if there are two). */
  private oldestLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const h of this.hosts) {
      if (h.alive && h.role === 'leader' && (best === undefined || h.term < best.term)) best = h;
    }
    return best;
  }

  /** The live node that believes it leads the highest term. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const h of this.hosts) {
      if (h.alive && h.role === 'leader' && (best === undefined || h.term > best.term)) best = h;
    }
    return best;
  }

  private onTick(pick: number, n: number, rd: boolean): void {
    const host = this.pickHost(pick);
    const raw = host?.raw;
    if (raw === undefined) return;
    for (let i = 0; i < n; i++) raw.tick();
    if (rd) host!.processAll();
  }

  private onTickAll(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const h of this.hosts) h.raw?.tick();
    }
    this.processAllHosts();
  }

  private processAllHosts(): void {
    for (const h of this.hosts) h.processAll();
  }

  private onDeliver(pick: number, rd: boolean): void {
    const f = this.network.take(pick);
    if (f !== undefined) this.deliver(f, rd);
  }

  private onDeliverAll(): void {
    for (const f of this.network.takeAll()) this.deliver(f, false);
    this.processAllHosts();
  }

  /** Orderly progress: every message delivered, every Ready handled, every node ticked. */
  private onRounds(n: number): void {
    for (let i = 0; i < n; i++) this.round();
  }

  private onDrop(pick: number): void {
    const f = this.network.take(pick);
    if (f === undefined) return;
    this.network.lostCount++;
    this.trace(`  lost ${describe(f.msg)}`);
    if (f.msg.type === MessageType.Snap) this.reportSnapshot(f, false);
  }

  /** Steps a message into its destination, or loses it (dead node, cut link). */
  private deliver(f: InFlight, rd: boolean): void {
    const m = f.msg;
    const to = this.byId.get(m.to);
    const cut = this.network.isCut(m.from, m.to);
    if (to?.raw === undefined || cut) {
      this.network.lostCount++;
      if (cut) this.senderOf(f)?.reportUnreachable(m.to);
      if (m.type === MessageType.Snap) this.reportSnapshot(f, false);
      return;
    }
    if (this.tracer !== undefined) this.trace(`  deliver ${describe(m)}`);
    to.raw.step(m);
    if (m.type === MessageType.Snap) this.reportSnapshot(f, true);
    if (rd) to.processAll();
  }

  /** The sender's RawNode, if it is still the incarnation that sent `f`. */
  private senderOf(f: InFlight): RawNode | undefined {
    const from = this.byId.get(f.msg.from);
    if (from === undefined || from.incarnation !== f.senderIncarnation) return undefined;
    return from.raw;
  }

  private reportSnapshot(f: InFlight, ok: boolean): void {
    this.senderOf(f)?.reportSnapshot(f.msg.to, ok);
  }

  private onPropose(pick: number, padBytes: number, count: number, rd: boolean): void {
    const host = this.pickHost(pick);
    if (host?.raw === undefined) return;
    if (count === 1) this.propose(host, padBytes);
    else this.proposeBatch(host, padBytes, count);
    if (rd) host.processAll();
  }

  /** Proposes `count` writes in one proposeBatch call (all accepted or all dropped). */
  private proposeBatch(host: SimNode, padBytes: number, count: number): void {
    const seqs = Array.from({ length: count }, () => ++this.writeSeq);
    const raw = host.raw!;
    const ok = tolerateDrop(() => raw.proposeBatch(seqs.map((seq) => encodeWrite(seq, padBytes))));
    this.trace(`  writes ${seqs.join(',')} proposed at ${host.id}: ${ok ? 'accepted' : 'dropped'}`);
    if (!ok) return;
    this.counters.writesAccepted += count;
    for (const seq of seqs) this.proposals.set(seq, { node: host.id, incarnation: host.incarnation });
  }

  /** Proposes a new write at `host`; returns its sequence number, or 0 if it was dropped. */
  private propose(host: SimNode, padBytes: number): number {
    const seq = ++this.writeSeq;
    const raw = host.raw!;
    const ok = tolerateDrop(() => raw.propose(encodeWrite(seq, padBytes)));
    this.trace(`  write ${seq} proposed at ${host.id}: ${ok ? 'accepted' : 'dropped'}`);
    if (!ok) return 0;
    this.counters.writesAccepted++;
    this.proposals.set(seq, { node: host.id, incarnation: host.incarnation });
    return seq;
  }

  private onRead(pick: number): void {
    const host = this.pickHost(pick);
    if (host?.raw === undefined) return;
    const readId = ++this.readSeq;
    tolerateDrop(() => host.read(readId));
  }

  private onPartition(kind: string, a: number, b: number): void {
    const ids = this.hosts.map((h) => h.id);
    const x = ids[a % ids.length]!;
    const others = ids.filter((id) => id !== x);
    switch (kind) {
      case 'isolate':
        return this.network.split([x], others);
      case 'split':
        return this.network.split(
          ids.filter((_, i) => ((b >> i) & 1) === 1),
          ids.filter((_, i) => ((b >> i) & 1) === 0),
        );
      case 'link':
        return this.network.cut(x, ids[b % ids.length]!);
      case 'mute':
        return others.forEach((y) => this.network.cut(x, y));
      case 'deafen':
        return others.forEach((y) => this.network.cut(y, x));
    }
  }

  /**
   * Crashes a node. With `midReady` the victim is one with Ready work not yet durable (the
   * window where a driver or core bug around persistence shows), and the crash lands after
   * the messages that may precede persistence went out.
   */
  private onCrash(pick: number, midReady: boolean): void {
    if (!midReady) {
      this.pickHost(pick)?.crash();
      return;
    }
    const busy = this.hosts.filter((h) => h.hasWork());
    if (busy.length > 0) busy[pick < 0 ? 0 : pick % busy.length]!.crashMidReady();
  }


  private onTransfer(to: number): void {
    const leader = this.leader();
    const target = this.hosts[to % this.hosts.length]!;
    if (leader?.raw === undefined || target === leader) return;
    tolerateDrop(() => leader.raw!.transferLeader(target.id));
  }

  /** A membership change, proposed at the leader from its applied configuration. */
  private onConf(op: ConfOp, pick: number): void {
    const leader = this.leader();
    const raw = leader?.raw;
    if (raw === undefined) return;
    const cs = leader!.confState;
    // When the op does not apply to this configuration, fall back to one that does.
    const ops: ConfOp[] = [op, 'leave', 'promote', 'addLearner', 'remove'];
    let cc: ConfChange | undefined;
    for (let i = 0; cc === undefined && i < ops.length; i++) cc = this.confChangeFor(ops[i]!, pick, cs);
    if (cc === undefined) return;
    const what = cc.changes.map((c) => `${ConfChangeType[c.type]} ${c.nodeId}`).join(', ') || 'leave joint';
    const ok = tolerateDrop(() => raw.proposeConfChange(cc));
    this.trace(`  conf change (${what}, ${cc.transition}) proposed at ${leader!.id}: ${ok ? 'accepted' : 'dropped'}`);
  }

  /** The ConfChange an op means under configuration `cs`, or undefined if it does not apply. */
  private confChangeFor(op: ConfOp, pick: number, cs: ConfState): ConfChange | undefined {
    const change = (type: ConfChangeType, nodeId: NodeId): ConfChangeSingle => ({ type, nodeId });
    const transition = pick % 2 === 0 ? 'auto' : 'explicit';
    const removable = cs.voters.length > removeVotersMin ? cs.voters : [];
    const learner = cs.learners.length > 0 ? cs.learners[pick % cs.learners.length]! : undefined;
    const voter = cs.voters[pick % cs.voters.length];
    switch (op) {
      case 'addLearner': {
        if (this.nextSpare > this.spareLast) return undefined;
        const id = this.nextSpare++;
        this.addHost(id, new MemoryStorage());
        return { changes: [change(ConfChangeType.AddLearnerNode, id)], transition: 'auto' };
      }
      case 'promote':
        return learner === undefined ? undefined : { changes: [change(ConfChangeType.AddNode, learner)], transition: 'auto' };
      case 'remove': {
        const pool = [...removable, ...cs.learners];
        if (pool.length === 0) return undefined;
        return { changes: [change(ConfChangeType.RemoveNode, pool[pick % pool.length]!)], transition: 'auto' };
      }
      case 'joint':
        if (learner === undefined || voter === undefined || cs.voters.length < removeVotersMin) return undefined;
        return {
          changes: [change(ConfChangeType.AddNode, learner), change(ConfChangeType.RemoveNode, voter)],
          transition,
        };
      case 'demote':
        if (voter === undefined || removable.length === 0) return undefined;
        return { changes: [change(ConfChangeType.AddLearnerNode, voter)], transition: 'explicit' };
      case 'leave':
        return cs.votersOutgoing.length === 0 ? undefined : { changes: [], transition: 'auto' };
    }
  }


  /**
   * Heals the network, restarts every node and runs rounds (every Ready handled, every
   * message delivered, every node ticked) until a final write is applied by every member
   * of the leader's configuration. Returns the rounds it took.
   */
  private liveness(): number {
    this.trace('liveness: heal, restart all');
    this.network.heal();
    for (const h of this.hosts) h.restart();
    const roundsMax = 60 * this.settings.electionTicks;
    const reproposeRounds = 6 * this.settings.electionTicks;
    let finalSeq = 0;
    let finalRound = 0;
    for (let round = 1; round <= roundsMax; round++) {
      this.livenessRound();
      const leader = this.leader();
      if (leader === undefined) continue;
      this.retireRemoved(leader);
      if (finalSeq !== 0 && this.finalApplied(leader, finalSeq)) return round;
      const stale = finalSeq === 0 || round - finalRound > reproposeRounds;
      if (!stale) continue;
      const seq = this.propose(leader, 0);
      if (seq !== 0) {
        finalSeq = seq;
        finalRound = round;
      }
    }
    throw new SimViolation('liveness', `no final write committed on every member within ${roundsMax} rounds (${this.describeState()})`);
  }

  private livenessRound(): void {
    try {
      this.round();
    } catch (err) {
      throw annotate(err, 'during the liveness phase');
    }
  }

  /** One round: handle every Ready, deliver every message in flight, handle Readies, tick all. */
  private round(): void {
    this.processAllHosts();
    for (const f of this.network.takeAll()) this.deliver(f, false);
    this.processAllHosts();
    for (const h of this.hosts) h.raw?.tick();
  }

  /** Nodes removed from the leader's applied configuration are shut down for good. */
  private retireRemoved(leader: SimNode): void {
    const members = membersOf(leader);
    if (!members.has(leader.id)) return;
    for (const h of this.hosts) {
      if (members.has(h.id) || h.retired || !this.removedIds.has(h.id)) continue;
      h.crash();
      h.retired = true;
    }
  }

  /** Whether the final write reached every member of the leader's configuration. */
  private finalApplied(leader: SimNode, seq: number): boolean {
    const index = this.proposals.get(seq)?.index;
    if (index === undefined) return false;
    const applied = (id: NodeId): boolean => (this.byId.get(id)?.sm.index ?? 0) >= index;
    return [...membersOf(leader)].every(applied);
  }


  /** One line per node, for liveness failures. */
  describeState(): string {
    const nodes = this.hosts.map((h) => {
      const st = h.raw?.status();
      const role = st === undefined ? (h.retired ? 'retired' : 'down') : `${st.role} t${st.term} lead ${st.lead}`;
      return `${h.id}: ${role} applied ${h.sm.index} last ${h.durable.lastIndex()} voters [${h.confState.voters}] learners [${h.confState.learners}]`;
    });
    return `${nodes.join('; ')}; in flight ${this.network.inFlight.length}`;
  }
}

function membersOf(host: SimNode): Set<NodeId> {
  const cs = host.confState;
  return new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext]);
}

/** Runs `fn`; a dropped proposal is an expected outcome (false), anything else propagates. */
function tolerateDrop(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof ProposalDroppedError) return false;
    throw err;
  }
}

/** Adds where it happened to an error's message. */
function annotate(err: unknown, where: string): unknown {
  if (err instanceof Error && !err.message.includes(' at step ')) err.message = `${err.message} (${where})`;
  return err;
}
