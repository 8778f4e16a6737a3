/**
 * The nemesis: starts each fault of a schedule at its time, undoes it `forMs` later, and
 * undoes whatever is still in force when the run heals. Victims named as data (`leaderOf`
 * a group, a minority) are resolved when the fault starts, from the nodes' state then.
 */
import { Rng, harnessOwner, type Scheduler, type SimEvent } from './scheduler.js';
import type { Fault, FaultKind, NodePick } from './schedule.js';
import type { LinkFaults, SimNetwork } from './sim-network.js';
import type { SimNode } from './sim-node.js';

/** What the nemesis acts on. */
export interface FaultWorld {
  seed: number;
  scheduler: Scheduler;
  network: SimNetwork;
  nodes: SimNode[];
  groups: number;
  /** Called right after a node crashed (its clients' connections drop). */
  onCrash(node: number): void;
  /** Listeners told of every write acknowledged to a client. */
  writeAcks: Set<() => void>;
  trace?: (line: string) => void;
}

/** How long a `busy` crash waits for a write in flight before it crashes anyway. */
const busyWaitMsMax = 1000;

interface Active {
  fault: Fault;
  undo: () => void;
  timer: SimEvent | null;
}

/** Starts and undoes the faults of a schedule. */
export class Nemesis {
  /** Faults started, per kind. */
  readonly fired: Record<FaultKind, number> = { isolate: 0, oneway: 0, links: 0, crash: 0, clock: 0, disk: 0 };
  /** Nodes actually crashed by crash faults. */
  crashes = 0;
  private readonly active = new Set<Active>();
  private readonly rng: Rng;
  /** After healAll: no fault starts any more (aimed crashes still waiting are called off). */
  private healed = false;

  constructor(private readonly w: FaultWorld) {
    this.rng = new Rng(w.seed, 0x6e656d);
  }

  /** Schedules every fault relative to now; none starts at or after `endMs` from now. */
  schedule(faults: readonly Fault[], endMs: number): void {
    for (const f of faults) {
      if (f.atMs >= endMs) continue;
      this.w.scheduler.at(f.atMs * 1000, harnessOwner, () => this.begin(f));
    }
  }

  /** Undoes every fault in force (oldest first) and stops scheduling new ones. */
  healAll(): void {
    this.healed = true;
    for (const a of [...this.active]) this.end(a);
  }

  private begin(f: Fault): void {
    if (this.healed) return;
    if (f.kind === 'crash' && f.busy) return this.crashWhenBusy(f);
    this.started(f, this.apply(f));
  }

  /** Records fault `f` as in force (unless it had no victim) until `undo` at its end. */
  private started(f: Fault, undo: (() => void) | null): void {
    if (undo === null) return;
    this.fired[f.kind]++;
    const a: Active = { fault: f, undo, timer: null };
    this.active.add(a);
    a.timer = this.w.scheduler.at(f.forMs * 1000, harnessOwner, () => this.end(a));
  }

  /**
   * Crash fault `f`, aimed at the window where durability bugs lose acknowledged writes.
   * Several victims: the moment a client is told a write happened while two of them still
   * have writes in flight to their disks. One victim: a random point of one of its writes'
   * fsync. If no such moment comes within busyWaitMsMax, they crash then.
   */
  private crashWhenBusy(f: Extract<Fault, { kind: 'crash' }>): void {
    const victims = this.resolve(f.nodes).map((id) => this.node(id));
    const scheduler = this.w.scheduler;
    let armed = true;
    const fire = (): void => {
      if (!armed) return;
      armed = false;
      this.w.writeAcks.delete(onAck);
      for (const n of victims) n.disk.writeListeners.delete(onWrite);
      if (!this.healed) this.started(f, this.crash(victims.map((n) => n.id)));
    };
    const onAck = (): void => {
      if (victims.filter((n) => n.unsyncedWrites > 0).length >= 2) scheduler.at(0, harnessOwner, fire);
    };
    // After this instant's soon events, when the write's fsync has started.
    const aim = (): void => {
      const doneUs = victims[0]!.syncDoneAtUs;
      if (armed && doneUs !== null) scheduler.at(this.rng.int(0, Math.max(0, doneUs - scheduler.nowUs - 1)), harnessOwner, fire);
    };
    const onWrite = (): void => void scheduler.at(0, harnessOwner, aim);
    if (victims.length > 1) this.w.writeAcks.add(onAck);
    else victims[0]!.disk.writeListeners.add(onWrite);
    scheduler.at(busyWaitMsMax * 1000, harnessOwner, fire);
  }

  private end(a: Active): void {
    if (!this.active.delete(a)) return;
    if (a.timer !== null) a.timer.cancelled = true;
    this.trace(`end ${a.fault.kind}`);
    a.undo();
  }

  /** Puts fault `f` in force; returns how to undo it, or null if it had no victim. */
  private apply(f: Fault): (() => void) | null {
    switch (f.kind) {
      case 'isolate':
        return this.cutLinks(this.resolve(f.nodes), 'both', f);
      case 'oneway':
        return this.cutLinks(this.resolve(f.nodes), f.dir, f);
      case 'links':
        return this.linkFaults(f);
      case 'crash':
        return this.crash(this.resolve(f.nodes));
      case 'clock':
        return this.jumpClock(f.node, f.jumpMs);
      case 'disk':
        return this.slowDisk(f.node, f.slowMsMax);
    }
  }

  private cutLinks(victims: number[], dir: 'both' | 'mute' | 'deafen', f: Fault): (() => void) | null {
    const ids = this.w.nodes.map((n) => n.id);
    const others = ids.filter((id) => !victims.includes(id));
    if (victims.length === 0 || others.length === 0) return null;
    const pairs: Array<[number, number]> = [];
    for (const v of victims) {
      for (const o of others) {
        if (dir !== 'deafen') pairs.push([v, o]);
        if (dir !== 'mute') pairs.push([o, v]);
      }
    }
    const net = this.w.network;
    for (const [a, b] of pairs) net.cut(a, b);
    this.trace(`start ${f.kind} ${dir} [${victims}] | [${others}]`);
    return () => {
      for (const [a, b] of pairs) net.uncut(a, b);
    };
  }

  private linkFaults(f: Extract<Fault, { kind: 'links' }>): () => void {
    const lf: LinkFaults = { dropP: f.dropP, dupP: f.dupP, reorderP: f.reorderP, reorderUsMax: f.reorderMsMax * 1000, slowUsMax: f.slowMsMax * 1000 };
    this.w.network.addFaults(lf);
    this.trace(`start links ${JSON.stringify(lf)}`);
    return () => this.w.network.removeFaults(lf);
  }

  private crash(victims: number[]): (() => void) | null {
    const crashed = victims.map((id) => this.node(id)).filter((n) => n.up);
    if (crashed.length === 0) return null;
    for (const n of crashed) {
      this.trace(`crash node ${n.id} (${n.unsyncedWrites} unsynced writes lost)`);
      n.crash();
      this.crashes++;
      this.w.onCrash(n.id);
    }
    return () => {
      for (const n of crashed) {
        this.trace(`restart node ${n.id}`);
        n.start();
      }
    };
  }

  private jumpClock(id: number, jumpMs: number): () => void {
    const clock = this.node(id).clock;
    clock.offsetMs += jumpMs;
    this.trace(`clock of node ${id} jumps ${jumpMs} ms`);
    return () => {
      clock.offsetMs -= jumpMs;
    };
  }

  private slowDisk(id: number, slowMsMax: number): () => void {
    const disk = this.node(id).disk;
    disk.slowUsMax += slowMsMax * 1000;
    this.trace(`disk of node ${id} slow by up to ${slowMsMax} ms`);
    return () => {
      disk.slowUsMax -= slowMsMax * 1000;
    };
  }

  /** The node ids a pick names now. */
  resolve(pick: NodePick): number[] {
    const ids = this.w.nodes.map((n) => n.id);
    if ('node' in pick) return [ids[(pick.node - 1) % ids.length]!];
    if ('all' in pick) return ids;
    if ('count' in pick) return Array.from({ length: pick.count }, (_, i) => ids[(pick.from + i) % ids.length]!);
    const group = pick.leaderOf % (this.w.groups + 1);
    const leader = this.w.nodes.find((n) => n.host?.replicas.get(group)?.isLeader === true);
    return [leader?.id ?? ids[pick.leaderOf % ids.length]!];
  }

  private node(id: number): SimNode {
    return this.w.nodes.find((n) => n.id === id)!;
  }

  private trace(line: string): void {
    this.w.trace?.(`[${String(this.w.scheduler.nowMs).padStart(6)} ms] ${line}`);
  }
}
