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
import { RoutingTable, initialPlacement } from '../../../src/membership/index.js';
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
  /**
   * The picked nodes crash (unsynced writes lost) and restart `forMs` later. `busy`: the
   * crash waits (a little) for a moment when one of them has a write not yet synced.
   */
  | { kind: 'crash'; atMs: number; forMs: number; nodes: NodePick; busy: boolean }
  /** A node's wall clock jumps by `jumpMs` (either way) and jumps back `forMs` later. */
  | { kind: 'clock'; atMs: number; forMs: number; node: number; jumpMs: number }
  /** A node's fsyncs take up to `slowMsMax` longer. */
  | { kind: 'disk'; atMs: number; forMs: number; node: number; slowMsMax: number };

/** The fault kinds. */
export type FaultKind = Fault['kind'];

/** A client operation. `cas`: a gets, then a cas with its token (two history ops). */
export type PlannedOp =
  | { f: 'get'; keys: string[]; thinkMs: number }
  | { f: 'cas'; key: string; value: string; exptime: number; thinkMs: number }
  | { f: 'set' | 'add'; key: string; value: string; exptime: number; thinkMs: number }
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
  /** The node's in-memory log budget, shared by its replicas (small: byte-triggered compaction often). */
  logBytesMax: number;
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

/** The TTL of items stored with one (memcached exptime, seconds). */
const ttlSec = 86_400;

const opWeights = { get: 24, multiget: 8, cas: 12, set: 24, add: 8, delete: 8, incr: 10 };
const faultWeights = { isolate: 4, oneway: 2, links: 3, crash: 5, clock: 2, disk: 2 };

/** A seeded schedule (the same seed and shape give the same schedule). */
export function generateSchedule(seed: number, shape: ScheduleShape): Schedule {
  const rng = new Rng(seed, 0x736368);
  const nodes = shape.nodes;
  const groups = rng.int(2, 4);
  const keys = keysOverGroups(groups, rng.int(1, 2));
  const runMs = rng.int(3000, 6000);
  const faultCount = Math.round(rng.int(2, 6) * (shape.faultFactor ?? 1));
  const faults = Array.from({ length: faultCount }, () => generateFault(rng, nodes, runMs)).sort((a, b) => a.atMs - b.atMs);
  const values = { next: 100 };
  const clients = Array.from({ length: nodes * 2 }, (_, i) => generateClient(rng, (i % nodes) + 1, keys, runMs, values));
  const fsyncUsMax = rng.pick([1000, 3000, 8000]);
  return {
    seed,
    nodes,
    groups,
    snapshotEntriesMin: rng.pick([8, 24, 64, 20_000]),
    // Its own stream, so the schedules of seeds replayed before it was added stay the same.
    logBytesMax: new Rng(seed, 0x6c6f67).pick([1200, 12_000, 32 * 1024 * 1024]),
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

/**
 * `perGroup` keys in each data group. Names are searched for, since similar short names
 * hash close together (FNV-1a): `k0`..`k7` all fall in one range of 2, 3 or 4.
 */
function keysOverGroups(groups: number, perGroup: number): string[] {
  const routing = new RoutingTable(initialPlacement([1], groups, 1));
  const counts = new Map<number, number>();
  const keys: string[] = [];
  for (let n = 0; keys.length < groups * perGroup; n++) {
    const key = `key-${n}`;
    const g = routing.groupOfKey(Buffer.from(key))!.id;
    if ((counts.get(g) ?? 0) >= perGroup) continue;
    counts.set(g, (counts.get(g) ?? 0) + 1);
    keys.push(key);
  }
  return keys;
}

/** Half the ops follow the previous one at once, most others within 10 ms, a few after a pause. */
function thinkMsOf(rng: Rng, pauseMsMax: number): number {
  if (rng.chance(0.5)) return 0;
  return rng.chance(0.6) ? rng.int(1, 10) : rng.int(0, pauseMsMax);
}

function generateClient(rng: Rng, node: number, keys: string[], runMs: number, values: { next: number }): ClientPlan {
  const count = rng.int(10, 25);
  // Bursts of back-to-back ops between pauses: races between clients need ops in flight
  // together, and the whole list still spreads over the run's faults.
  const pauseMsMax = Math.round((4 * runMs) / count);
  const ops: PlannedOp[] = [];
  for (let i = 0; i < count; i++) {
    const thinkMs = thinkMsOf(rng, pauseMsMax);
    const key = rng.pick(keys);
    const value = String(values.next++);
    // Some items carry a TTL, so expiry times are computed (at the leader, in the entry),
    // snapshotted and restored; a day is beyond any clock jump, so none expires in a run.
    const exptime = rng.chance(0.3) ? ttlSec : 0;
    switch (rng.weighted(opWeights)) {
      case 'get':
        ops.push({ f: 'get', keys: [key], thinkMs });
        break;
      case 'multiget':
        ops.push({ f: 'get', keys: rng.sample(keys, rng.int(2, Math.min(4, keys.length))), thinkMs });
        break;
      case 'cas':
        ops.push({ f: 'cas', key, value, exptime, thinkMs });
        break;
      case 'set':
        ops.push({ f: 'set', key, value, exptime, thinkMs });
        break;
      case 'add':
        ops.push({ f: 'add', key, value, exptime, thinkMs });
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
      return { kind: 'crash', atMs, forMs, nodes: pickCrashed(rng, nodes), busy: rng.chance(0.7) };
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

/**
 * Crash victims: whole-cluster and majority crashes as often as single ones, since losing
 * unsynced writes on a quorum at once is what tests durability (power loss, kill -9 all).
 */
function pickCrashed(rng: Rng, nodes: number): NodePick {
  const majority = nodes - Math.floor((nodes - 1) / 2);
  switch (rng.weighted({ all: 4, majority: 2, leader: 2, node: 2 })) {
    case 'all':
      return { all: true };
    case 'majority':
      return { from: rng.int(0, nodes - 1), count: majority };
    case 'leader':
      return { leaderOf: rng.int(0, 4) };
    case 'node':
      return { node: rng.int(1, nodes) };
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
