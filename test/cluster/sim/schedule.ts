/**
 * A run's schedule as plain data: cluster shape, timing, the faults (when, what, for how
 * long) and every client's list of operations. Generated from a seed; a failing schedule
 * is shrunk by deleting faults, clients and operations (shrink.ts), and a schedule printed
 * as JSON replays exactly (`npm run sim:cluster -- --schedule FILE`).
 *
 * Faults name their victims as data resolved when they fire (`leaderOf` a group, a
 * minority), so a shrunk schedule still aims where the original did. Times are virtual
 * milliseconds from the start of the workload (every node ready).
 */
import { Rng } from './scheduler.js';

/** A set of nodes, resolved when the fault fires. */
export type NodePick =
  | { node: number }
  /** The node leading this data group (or the meta group, 0) then; any node if none. */
  | { leaderOf: number }
  /** `count` nodes starting at index `from` (modulo the cluster size). */
  | { from: number; count: number }
  | { all: true };

/** One fault: starts at `atMs`, undone `forMs` later (or when everything heals). */
export type Fault =
  /** Both directions between the picked nodes and the rest are cut. */
  | { kind: 'isolate'; atMs: number; forMs: number; nodes: NodePick }
  /** Only the picked nodes' outgoing (mute) or incoming (deafen) links are cut. */
  | { kind: 'oneway'; atMs: number; forMs: number; nodes: NodePick; dir: 'mute' | 'deafen' }
  /** Frames lost, duplicated, reordered, delayed on every link. */
  | { kind: 'links'; atMs: number; forMs: number; dropP: number; dupP: number; reorderP: number; reorderMsMax: number; slowMsMax: number }
  /** The picked nodes crash (unsynced writes lost) and restart `forMs` later. */
  | { kind: 'crash'; atMs: number; forMs: number; nodes: NodePick }
  /** A node's wall clock jumps by `jumpMs` (either way) and jumps back `forMs` later. */
  | { kind: 'clock'; atMs: number; forMs: number; node: number; jumpMs: number }
  /** A node's fsyncs take up to `slowMsMax` longer. */
  | { kind: 'disk'; atMs: number; forMs: number; node: number; slowMsMax: number };

/** The fault kinds. */
export type FaultKind = Fault['kind'];

/** A client operation. `cas`: a gets, then a cas with its token (two history ops). */
export type PlannedOp =
  | { f: 'get'; keys: string[]; thinkMs: number }
  | { f: 'cas'; key: string; value: string; thinkMs: number }
  | { f: 'set' | 'add'; key: string; value: string; thinkMs: number }
  | { f: 'delete'; key: string; thinkMs: number }
  | { f: 'incr'; key: string; delta: number; thinkMs: number };

/** A client: connected to one node, runs its ops in order, one at a time. */
export interface ClientPlan {
  node: number;
  ops: PlannedOp[];
}

/** Everything that determines a run (with the bug variant, if any, chosen apart). */
export interface Schedule {
  /** Seed of the run's own randomness: network and disk timing, Raft election timeouts. */
  seed: number;
  nodes: number;
  groups: number;
  /** Snapshot every this many applied entries (small: compaction and InstallSnapshot often). */
  snapshotEntriesMin: number;
  netDelayUsMin: number;
  netDelayUsMax: number;
  fsyncUsMin: number;
  fsyncUsMax: number;
  keys: string[];
  /** Virtual ms the workload may run before everything is healed. */
  runMs: number;
  faults: Fault[];
  clients: ClientPlan[];
}

/** Knobs of schedule generation. */
export interface ScheduleShape {
  nodes: number;
  /** Fault counts scale with this (1 = the default mix). */
  faultFactor?: number;
}

const opWeights = { get: 24, multiget: 8, cas: 12, set: 24, add: 8, delete: 8, incr: 10 };
const faultWeights = { isolate: 4, oneway: 2, links: 3, crash: 5, clock: 2, disk: 2 };

/** A seeded schedule (the same seed and shape give the same schedule). */
export function generateSchedule(seed: number, shape: ScheduleShape): Schedule {
  const rng = new Rng(seed, 0x736368);
  const nodes = shape.nodes;
  const keys = Array.from({ length: rng.int(4, 8) }, (_, i) => `k${i}`);
  const runMs = rng.int(3000, 6000);
  const faultCount = Math.round(rng.int(2, 6) * (shape.faultFactor ?? 1));
  const faults = Array.from({ length: faultCount }, () => generateFault(rng, nodes, runMs)).sort((a, b) => a.atMs - b.atMs);
  const values = { next: 100 };
  const clients = Array.from({ length: nodes * 2 }, (_, i) => generateClient(rng, (i % nodes) + 1, keys, runMs, values));
  const fsyncUsMax = rng.pick([1000, 3000, 8000]);
  return {
    seed,
    nodes,
    groups: rng.int(2, 4),
    snapshotEntriesMin: rng.pick([8, 24, 64, 20_000]),
    netDelayUsMin: 50,
    netDelayUsMax: rng.pick([300, 1000, 3000]),
    fsyncUsMin: Math.floor(fsyncUsMax / 4),
    fsyncUsMax,
    keys,
    runMs,
    faults,
    clients,
  };
}

function generateClient(rng: Rng, node: number, keys: string[], runMs: number, values: { next: number }): ClientPlan {
  const count = rng.int(10, 25);
  const thinkMsMax = Math.round((2 * runMs) / count);
  const ops: PlannedOp[] = [];
  for (let i = 0; i < count; i++) {
    const thinkMs = rng.chance(0.3) ? 0 : rng.int(0, thinkMsMax);
    const key = rng.pick(keys);
    const value = String(values.next++);
    switch (rng.weighted(opWeights)) {
      case 'get':
        ops.push({ f: 'get', keys: [key], thinkMs });
        break;
      case 'multiget':
        ops.push({ f: 'get', keys: rng.sample(keys, rng.int(2, Math.min(4, keys.length))), thinkMs });
        break;
      case 'cas':
        ops.push({ f: 'cas', key, value, thinkMs });
        break;
      case 'set':
        ops.push({ f: 'set', key, value, thinkMs });
        break;
      case 'add':
        ops.push({ f: 'add', key, value, thinkMs });
        break;
      case 'delete':
        ops.push({ f: 'delete', key, thinkMs });
        break;
      case 'incr':
        ops.push({ f: 'incr', key, delta: rng.int(1, 9), thinkMs });
        break;
    }
  }
  return { node, ops };
}

function generateFault(rng: Rng, nodes: number, runMs: number): Fault {
  const atMs = rng.int(0, Math.floor(runMs * 0.8));
  const forMs = rng.pick([rng.int(50, 400), rng.int(300, 1500), rng.int(1000, 3000)]);
  const node = rng.int(1, nodes);
  switch (rng.weighted(faultWeights)) {
    case 'isolate':
      return { kind: 'isolate', atMs, forMs, nodes: pickNodes(rng, nodes) };
    case 'oneway':
      return { kind: 'oneway', atMs, forMs, nodes: pickNodes(rng, nodes), dir: rng.pick(['mute', 'deafen'] as const) };
    case 'links':
      return {
        kind: 'links',
        atMs,
        forMs,
        dropP: rng.pick([0, 0.05, 0.2, 0.5]),
        dupP: rng.pick([0, 0.1, 0.3]),
        reorderP: rng.pick([0, 0.1, 0.4]),
        reorderMsMax: rng.int(1, 30),
        slowMsMax: rng.pick([0, 5, 50]),
      };
    case 'crash':
      return { kind: 'crash', atMs, forMs, nodes: rng.chance(0.15) ? { all: true } : pickNodes(rng, nodes) };
    case 'clock':
      return { kind: 'clock', atMs, forMs, node, jumpMs: rng.pick([-1, 1]) * rng.pick([200, 2000, 20_000, 120_000]) };
    case 'disk':
      return { kind: 'disk', atMs, forMs, node, slowMsMax: rng.pick([5, 20, 60]) };
  }
}

/** A victim set: a leader most often (where faults hurt), else one node or a minority. */
function pickNodes(rng: Rng, nodes: number): NodePick {
  const minority = Math.floor((nodes - 1) / 2);
  switch (rng.weighted({ leader: 4, node: 3, minority: 2, majority: 1 })) {
    case 'leader':
      return { leaderOf: rng.int(0, 4) };
    case 'node':
      return { node: rng.int(1, nodes) };
    case 'minority':
      return { from: rng.int(0, nodes - 1), count: minority };
    case 'majority':
      return { from: rng.int(0, nodes - 1), count: nodes - minority };
  }
}

/** Ops in a schedule (client operations; a multi-key get counts once). */
export function opCount(s: Schedule): number {
  return s.clients.reduce((n, c) => n + c.ops.length, 0);
}

/** A one-line description of a fault (for traces and reports). */
export function describeFault(f: Fault): string {
  const { kind, atMs, forMs, ...rest } = f;
  return `${kind}@${atMs}ms+${forMs}ms ${JSON.stringify(rest)}`;
}
