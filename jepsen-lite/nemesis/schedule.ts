/**
 * The fault schedule of a run: a pure function of the seed, the node ids, the enabled
 * nemeses and the run time, so a run replays its faults from `--seed`. Faults come one at a
 * time: quiet for 2-4 s, a fault for 3-6 s, heal, and so on; the last one stops before the
 * run's time is up. Choices that depend on the live cluster (who leads now) are resolved
 * when the fault starts.
 *
 * Membership steps (`join`, `drain`) change which nodes later faults pick from: a join adds
 * the next spare node, a drain takes a member out at once (its drain and stop then run in
 * the background, under the faults that follow). The cluster grows up to two nodes beyond
 * its initial size and never shrinks below it.
 */
import { Rng } from '../random.js';

/** The faults the harness can inject (the `fault` field of nemesis.jsonl). */
export type FaultKind =
  | 'partition'
  | 'isolate'
  | 'isolate-leaders'
  | 'majority-ring'
  | 'bridge'
  | 'delay'
  | 'loss'
  | 'kill'
  | 'kill-all'
  | 'pause'
  | 'clock'
  | 'join'
  | 'drain';

/** Every fault kind. */
export const faultKinds: readonly FaultKind[] = ['partition', 'isolate', 'isolate-leaders', 'majority-ring', 'bridge', 'delay', 'loss', 'kill', 'kill-all', 'pause', 'clock', 'join', 'drain'];

/** The membership steps: they need spare nodes, and are picked apart from the faults. */
export const membershipKinds: readonly FaultKind[] = ['join', 'drain'];

/** `--nemesis` names that stand for several faults. */
export const nemesisFamilies: Record<string, readonly FaultKind[]> = {
  partition: ['partition', 'isolate', 'isolate-leaders', 'majority-ring', 'bridge'],
  halves: ['partition'],
  net: ['partition', 'isolate', 'isolate-leaders', 'majority-ring', 'bridge', 'delay', 'loss'],
  membership: membershipKinds,
  // kill-all (a whole-cluster outage) stays out of `all`: name it on its own.
  all: faultKinds.filter((k) => !membershipKinds.includes(k) && k !== 'kill-all'),
  none: [],
};

/** Every name `--nemesis` accepts (families first), each once. */
export function nemesisNames(): string[] {
  return [...new Set([...Object.keys(nemesisFamilies), ...faultKinds])];
}

/** Expands `--nemesis a,b,c` into fault kinds; throws on an unknown name. */
export function expandNemeses(names: readonly string[]): FaultKind[] {
  const out = new Set<FaultKind>();
  for (const name of names) {
    const family = nemesisFamilies[name];
    if (family !== undefined) {
      for (const k of family) out.add(k);
    } else if ((faultKinds as readonly string[]).includes(name)) {
      out.add(name as FaultKind);
    } else {
      throw new Error(`unknown nemesis ${JSON.stringify(name)}; one of ${nemesisNames().join(', ')}`);
    }
  }
  return [...out];
}

/** Which nodes a process fault hits. */
export type ProcessTarget = { kind: 'nodes'; nodes: number[] } | { kind: 'leaders'; countMax: number };

/** One fault with its concrete parameters. */
export type Fault =
  | { kind: 'partition'; halves: [number[], number[]] }
  | { kind: 'isolate'; node: number }
  | { kind: 'isolate-leaders'; countMax: number }
  | { kind: 'majority-ring'; ring: number[] }
  | { kind: 'bridge'; order: number[] }
  | { kind: 'delay'; delayMs: number; jitterMs: number }
  | { kind: 'loss'; lossP: number; stallMs: number; resetP: number }
  | { kind: 'kill'; target: ProcessTarget }
  /** Every member SIGKILLed at once; at the stop restarted one by one in `order` (members not in it last). */
  | { kind: 'kill-all'; order: number[] }
  | { kind: 'pause'; target: ProcessTarget }
  | { kind: 'clock'; offsetsMs: Array<[node: number, offsetMs: number]>; strobeMs: number }
  | { kind: 'join'; node: number }
  | { kind: 'drain'; node: number };

/** A fault and when it runs (ms since the workload started). */
export interface FaultStep {
  startMs: number;
  stopMs: number;
  fault: Fault;
}

/** Timing of the schedule. */
export interface ScheduleTiming {
  quietMsMin: number;
  quietMsMax: number;
  faultMsMin: number;
  faultMsMax: number;
}

/** 2-4 s quiet, 3-6 s faults. */
export const defaultTiming: ScheduleTiming = { quietMsMin: 2000, quietMsMax: 4000, faultMsMin: 3000, faultMsMax: 6000 };

/** Share of the steps that are membership steps when faults are enabled too. */
const membershipShare = 0.4;

/** The schedule of a run; `spareIds` are the nodes joins may start, in order. */
export function makeSchedule(
  seed: number,
  nodes: readonly number[],
  kinds: readonly FaultKind[],
  runMs: number,
  timing: ScheduleTiming = defaultTiming,
  spareIds: readonly number[] = [],
): FaultStep[] {
  const rng = new Rng(seed ^ 0x5eed);
  const steps: FaultStep[] = [];
  const faults = kinds.filter((k) => !membershipKinds.includes(k));
  const membership = new MembershipPlan(nodes, spareIds, kinds);
  if (kinds.length === 0) return steps;
  let atMs = 0;
  for (;;) {
    const startMs = atMs + rng.int(timing.quietMsMin, timing.quietMsMax);
    const stopMs = startMs + rng.int(timing.faultMsMin, timing.faultMsMax);
    if (stopMs > runMs) break;
    const step = membership.enabled && (faults.length === 0 || rng.chance(membershipShare)) ? membership.next(rng) : null;
    const fault = step ?? (faults.length > 0 ? makeFault(rng.pick(faults), membership.members, rng) : null);
    if (fault !== null) steps.push({ startMs, stopMs, fault });
    atMs = stopMs;
  }
  return steps;
}

/** The members as the schedule's membership steps leave them (pure bookkeeping). */
class MembershipPlan {
  readonly members: number[];
  private readonly spare: number[];
  private readonly growMax: number;
  private readonly joins: boolean;
  private readonly drains: boolean;

  constructor(private readonly initial: readonly number[], spareIds: readonly number[], kinds: readonly FaultKind[]) {
    this.members = [...initial];
    this.spare = [...spareIds];
    this.growMax = initial.length + 2;
    this.joins = kinds.includes('join');
    this.drains = kinds.includes('drain');
  }

  get enabled(): boolean {
    return this.joins || this.drains;
  }

  /** The next join or drain, or null when neither is possible now. */
  next(rng: Rng): Fault | null {
    const canJoin = this.joins && this.spare.length > 0 && this.members.length < this.growMax;
    const canDrain = this.drains && this.members.length > this.initial.length;
    if (canJoin && (!canDrain || rng.chance(0.5))) {
      const node = this.spare.shift()!;
      this.members.push(node);
      return { kind: 'join', node };
    }
    if (!canDrain) return null;
    const node = rng.pick(this.members);
    this.members.splice(this.members.indexOf(node), 1);
    return { kind: 'drain', node };
  }
}

/** The largest number of nodes that is still a minority. */
export function minorityOf(n: number): number {
  return Math.floor((n - 1) / 2);
}

function makeFault(kind: FaultKind, nodes: readonly number[], rng: Rng): Fault {
  const n = nodes.length;
  switch (kind) {
    case 'join':
    case 'drain':
      throw new Error(`${kind} is a membership step (MembershipPlan)`);
    case 'partition': {
      const shuffled = rng.shuffle(nodes);
      const cut = rng.int(1, Math.floor(n / 2));
      return { kind, halves: [shuffled.slice(0, cut).sort(byNumber), shuffled.slice(cut).sort(byNumber)] };
    }
    case 'isolate':
      return { kind, node: rng.pick(nodes) };
    case 'isolate-leaders':
      return { kind, countMax: Math.max(1, minorityOf(n)) };
    case 'majority-ring':
      return { kind, ring: rng.shuffle(nodes) };
    case 'bridge':
      return { kind, order: rng.shuffle(nodes) };
    case 'delay':
      return { kind, delayMs: rng.int(20, 200), jitterMs: rng.int(0, 50) };
    case 'loss':
      return { kind, lossP: rng.float(0.05, 0.3), stallMs: rng.int(200, 600), resetP: 0.002 };
    case 'kill':
    case 'pause':
      return { kind, target: processTarget(nodes, rng) };
    case 'kill-all':
      return { kind, order: rng.shuffle(nodes) };
    case 'clock':
      return clockFault(nodes, rng);
  }
}

function processTarget(nodes: readonly number[], rng: Rng): ProcessTarget {
  const minority = Math.max(1, minorityOf(nodes.length));
  switch (rng.int(0, 2)) {
    case 0:
      return { kind: 'nodes', nodes: [rng.pick(nodes)] };
    case 1:
      return { kind: 'nodes', nodes: rng.shuffle(nodes).slice(0, minority).sort(byNumber) };
    default:
      return { kind: 'leaders', countMax: minority };
  }
}

function clockFault(nodes: readonly number[], rng: Rng): Fault {
  const count = rng.int(1, nodes.length);
  const offsetsMs = rng.shuffle(nodes).slice(0, count).sort(byNumber).map((id): [number, number] => {
    // Mostly small skews (around the election timeout), sometimes large jumps either way.
    const magnitudeMs = rng.chance(0.7) ? rng.int(50, 1500) : rng.int(5000, 60_000);
    return [id, rng.chance(0.5) ? magnitudeMs : -magnitudeMs];
  });
  return { kind: 'clock', offsetsMs, strobeMs: rng.chance(0.3) ? rng.int(10, 200) : 0 };
}

function byNumber(a: number, b: number): number {
  return a - b;
}

/** A short human-readable description of a fault (nemesis.jsonl `detail`, progress lines). */
export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'partition':
      return `${f.halves[0].join(',')} | ${f.halves[1].join(',')}`;
    case 'isolate':
      return `node ${f.node} alone`;
    case 'isolate-leaders':
      return `up to ${f.countMax} leading node(s), each alone`;
    case 'majority-ring':
      return `ring ${f.ring.join(',')}`;
    case 'bridge':
      return `bridge ${f.order.join(',')}`;
    case 'delay':
      return `${f.delayMs}±${f.jitterMs} ms on every link`;
    case 'loss':
      return `loss p=${f.lossP.toFixed(2)} stall ${f.stallMs} ms on every link`;
    case 'kill':
    case 'pause':
      return f.target.kind === 'nodes' ? `nodes ${f.target.nodes.join(',')}` : `up to ${f.target.countMax} leading node(s)`;
    case 'kill-all':
      return `every node; restart order ${f.order.join(',')}`;
    case 'clock':
      return f.offsetsMs.map(([id, ms]) => `${id}:${ms > 0 ? '+' : ''}${ms}ms`).join(' ') + (f.strobeMs > 0 ? ` strobe ${f.strobeMs} ms` : '');
    case 'join':
      return `node ${f.node} joins`;
    case 'drain':
      return `node ${f.node} drained and stopped`;
  }
}
