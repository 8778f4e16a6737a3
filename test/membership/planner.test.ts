/**
 * Property tests of the rebalancing planner (fast-check prints the seed and the shrunk
 * counterexample of any failure; replay with `{ seed, path }` in fc.assert's options).
 *
 * Random cluster states: 1..9 nodes in random states (up, joining, dead, dead past
 * --dead-after, draining, removed), 1..64 groups, RF 1..5, placements either the initial
 * one (then node states changed) or random (under/over-replicated, replicas on dead,
 * draining, removed or unknown nodes), random leaders, moves in flight. Planning then
 * completing every planned move, round after round, must converge to a placement that
 * meets every rule (planner-harness.ts: checkRound, checkFinal), and the planner must
 * move no more than needed. PLANNER_RUNS_SCALE=20 runs twenty times as many cases.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeState } from '../../src/membership/meta-state.js';
import { initialPlacement } from '../../src/membership/placement.js';
import {
  placementStats,
  planMoves,
  planPlacement,
  type MoveInFlight,
  type PlannerGroup,
  type PlannerInput,
} from '../../src/membership/planner.js';
import type { NodeId } from '../../src/raft/types.js';
import { checkFinal, clusterOf, converge, convergeWithMovesInFlight, replicaMoves, withNode } from './planner-harness.js';

/** A node state, with "dead" split by whether --dead-after has passed. */
type NodeSpec = NodeState | 'dead-expired';

const nodeSpecArb: fc.Arbitrary<NodeSpec> = fc.oneof(
  { weight: 14, arbitrary: fc.constant<NodeSpec>('up') },
  { weight: 1, arbitrary: fc.constant<NodeSpec>('joining') },
  { weight: 1, arbitrary: fc.constant<NodeSpec>('dead') },
  { weight: 1, arbitrary: fc.constant<NodeSpec>('dead-expired') },
  { weight: 1, arbitrary: fc.constant<NodeSpec>('draining') },
  { weight: 1, arbitrary: fc.constant<NodeSpec>('removed') },
);

interface GroupSpec {
  /** Node indexes; an index past the last node is an unknown node. */
  picks: number[];
  leader: number;
}

interface ClusterSpec {
  nodes: NodeSpec[];
  /** Node ids are 1 + i * idStride (ids need not be contiguous). */
  idStride: number;
  rf: number;
  maxMoves: number;
  initial: boolean;
  groups: GroupSpec[];
  inFlight: Array<{ group: number; from: number; to: number }>;
}

const clusterSpecArb: fc.Arbitrary<ClusterSpec> = fc.record({
  nodes: fc.array(nodeSpecArb, { minLength: 1, maxLength: 9 }),
  idStride: fc.integer({ min: 1, max: 3 }),
  rf: fc.integer({ min: 1, max: 5 }),
  maxMoves: fc.integer({ min: 1, max: 4 }),
  initial: fc.boolean(),
  groups: fc.array(
    fc.record({ picks: fc.array(fc.nat({ max: 9 }), { minLength: 1, maxLength: 7 }), leader: fc.nat({ max: 6 }) }),
    { minLength: 1, maxLength: 64 },
  ),
  inFlight: fc.array(fc.record({ group: fc.nat(), from: fc.nat(), to: fc.nat() }), { maxLength: 3 }),
});

const unknownNode = 1000;

/** PLANNER_RUNS_SCALE=20 multiplies every property's runs (a longer soak). */
const scale = Number(process.env.PLANNER_RUNS_SCALE ?? '1');
const runs = (n: number): { numRuns: number } => ({ numRuns: Math.ceil(n * scale) });

/** Builds the planner input a spec describes. */
function buildState(spec: ClusterSpec): PlannerInput {
  const ids = spec.nodes.map((_, i) => 1 + i * spec.idStride);
  const nodes = spec.nodes.map((s, i) => ({ id: ids[i]!, state: (s === 'dead-expired' ? 'dead' : s) as NodeState }));
  const deadNodes = ids.filter((_, i) => spec.nodes[i] === 'dead-expired');
  const initial = initialPlacement(ids, spec.groups.length, spec.rf);
  const groups = spec.groups.map((g, i): PlannerGroup => {
    const picked = g.picks.map((p) => (p < ids.length ? ids[p]! : p === 9 ? unknownNode : ids[p % ids.length]!));
    // The initial placement, with a pick or two off (an extra replica, one missing).
    const base = spec.initial ? initial[i]!.replicas.slice(0, g.picks.length > 5 ? Math.max(1, spec.rf - 1) : undefined) : [];
    const extra = spec.initial ? picked.slice(0, g.picks.length === 4 ? 1 : 0) : picked;
    const replicas = [...new Set([...base, ...extra])];
    return { id: i + 1, replicas, leader: g.leader < replicas.length ? replicas[g.leader] : undefined };
  });
  return { nodes, groups, movesInFlight: inFlight(spec, ids, groups), replicas: spec.rf, maxMoves: spec.maxMoves, deadNodes };
}

/** Moves in flight as the meta state would record them: one per group, from a replica to a non-replica. */
function inFlight(spec: ClusterSpec, ids: NodeId[], groups: PlannerGroup[]): MoveInFlight[] {
  const moves = new Map<number, MoveInFlight>();
  for (const m of spec.inFlight) {
    const group = groups[m.group % groups.length]!;
    const to = ids[m.to % ids.length]!;
    if (moves.has(group.id) || group.replicas.includes(to)) continue;
    const from = m.from % 3 === 0 || group.replicas.length === 0 ? undefined : group.replicas[m.from % group.replicas.length];
    moves.set(group.id, { group: group.id, from, to });
  }
  return [...moves.values()];
}

/** An upper bound on rounds: every replica may need a few changes, and leaders a few rounds. */
function roundsBound(state: PlannerInput): number {
  const replicas = state.groups.reduce((sum, g) => sum + g.replicas.length, 0);
  const changes = replicas + 2 * state.groups.length * state.replicas;
  return Math.ceil(changes / state.maxMoves) + 10;
}

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** All nodes up, every group at min(RF, n) replicas on distinct nodes: a healthy cluster. */
const healthyArb = fc.record({
  n: fc.integer({ min: 1, max: 9 }),
  groups: fc.integer({ min: 1, max: 64 }),
  rf: fc.integer({ min: 1, max: 5 }),
  maxMoves: fc.integer({ min: 1, max: 4 }),
});

/** A valid, balanced placement built directly (not by the planner): RF least loaded nodes per group, random ties. */
const balancedArb = fc
  .record({
    n: fc.integer({ min: 1, max: 9 }),
    groups: fc.integer({ min: 1, max: 64 }),
    rf: fc.integer({ min: 1, max: 5 }),
    ties: fc.array(fc.nat(), { minLength: 64 * 9, maxLength: 64 * 9 }),
  })
  .map(({ n, groups, rf, ties }): PlannerInput => {
    const ids = Array.from({ length: n }, (_, i) => 1 + i * 2);
    const count = new Map(ids.map((id) => [id, 0]));
    const list = Array.from({ length: groups }, (_, g): PlannerGroup => {
      const key = (id: NodeId): number => count.get(id)! * 1e6 + (ties[g * 9 + ids.indexOf(id)]! % 1e6);
      const replicas = [...ids].sort((a, b) => key(a) - key(b)).slice(0, rf);
      for (const id of replicas) count.set(id, count.get(id)! + 1);
      return { id: g + 1, replicas };
    });
    return { nodes: ids.map((id) => ({ id, state: 'up' as NodeState })), groups: list, movesInFlight: [], replicas: rf, maxMoves: 2 };
  });

let roundsMaxSeen = 0;

describe('planner properties', () => {
  it('converges on any state to a placement that meets every rule, each round within the rules', () => {
    let runsTotal = 0;
    let runsBalanced = 0;
    fc.assert(
      fc.property(clusterSpecArb, (spec) => {
        const state = buildState(spec);
        const done = converge(state, roundsBound(state));
        roundsMaxSeen = Math.max(roundsMaxSeen, done.rounds.length);
        runsTotal++;
        if (checkFinal(done.state, done.notes)) runsBalanced++;
        expect(planMoves(done.state)).toEqual([]);
      }),
      runs(400),
    );
    console.log(`most rounds to converge: ${roundsMaxSeen}; balance rules checked in ${runsBalanced} of ${runsTotal} runs`);
    // The others had blocked groups (no quorum) or a joining node holding replicas.
    expect(runsBalanced).toBeGreaterThan(runsTotal / 3);
  });

  it('converges just as well when moves stay in flight for a while', () => {
    fc.assert(
      fc.property(clusterSpecArb, fc.integer(), (spec, seed) => {
        const state = buildState(spec);
        const done = convergeWithMovesInFlight(state, 4 * roundsBound(state), seed);
        checkFinal(done.state, done.notes);
        expect(planMoves(done.state)).toEqual([]);
      }),
      runs(200),
    );
  });

  it('moves no replica of a balanced placement it did not build', () => {
    fc.assert(
      fc.property(balancedArb, (state) => {
        const stats = placementStats(state);
        expect(stats.replicasMax - stats.replicasMin).toBeLessThanOrEqual(1);
        expect(replicaMoves(planMoves(state))).toEqual([]);
        const done = converge(state, 50);
        expect(replicaMoves(done.moves)).toEqual([]);
        checkFinal(done.state, done.notes);
      }),
      runs(200),
    );
  });

  it('is deterministic and ignores the order of nodes and groups', () => {
    fc.assert(
      fc.property(clusterSpecArb, fc.integer(), (spec, seed) => {
        const state = buildState(spec);
        const reordered = { ...state, nodes: shuffled(state.nodes, seed), groups: shuffled(state.groups, seed + 1) };
        expect(planPlacement(reordered)).toEqual(planPlacement(state));
      }),
      runs(200),
    );
  });

  it('plans nothing on a balanced state', () => {
    fc.assert(
      fc.property(clusterSpecArb, (spec) => {
        const done = converge(buildState(spec), 10_000);
        // Forget the leaders: any leader spread is fixed by transfers only, never by replica moves.
        const leaderless = { ...done.state, groups: done.state.groups.map((g) => ({ ...g, leader: undefined })) };
        expect(replicaMoves(planMoves(leaderless))).toEqual([]);
        expect(planMoves(done.state)).toEqual([]);
      }),
      runs(100),
    );
  });

  it('adding an empty node moves about groups*RF/(n+1) replicas, all onto it', () => {
    fc.assert(
      fc.property(healthyArb, ({ n, groups, rf, maxMoves }) => {
        const balanced = converge(healthyCluster(n, groups, rf, maxMoves), 10_000).state;
        const added = n * 3 + 1;
        const done = converge(withNode(balanced, added, 'up'), 10_000);
        checkFinal(done.state, done.notes);
        const moves = replicaMoves(done.moves);
        const total = groups * Math.min(rf, n + 1);
        const ideal = total / (n + 1);
        // With RF > n the new node gets a new replica of every group (adds, not moves).
        expect(moves.length).toBeLessThanOrEqual(Math.ceil(ideal));
        expect(moves.every((m) => m.kind !== 'remove-replica' && m.to === added)).toBe(true);
        expect(placementStats(done.state).nodes.find((x) => x.id === added)!.replicas).toBe(moves.length);
      }),
      runs(150),
    );
  });

  it('draining a node moves exactly its replicas', () => {
    fc.assert(
      fc.property(healthyArb, fc.nat(), ({ n, groups, rf, maxMoves }, pick) => {
        fc.pre(n >= 2); // draining the only node would leave its groups nowhere
        const balanced = converge(healthyCluster(n, groups, rf, maxMoves), 10_000).state;
        const drained = 1 + (pick % n) * 3;
        const held = balanced.groups.filter((g) => g.replicas.includes(drained)).length;
        const done = converge(withNode(balanced, drained, 'draining'), 10_000);
        checkFinal(done.state, done.notes);
        const moves = replicaMoves(done.moves);
        expect(moves).toHaveLength(held);
        expect(moves.every((m) => m.kind !== 'add-replica' && m.from === drained)).toBe(true);
      }),
      runs(150),
    );
  });
});

/** Nodes 1, 4, 7, ... all up, with the initial placement. */
function healthyCluster(n: number, groups: number, rf: number, maxMoves: number): PlannerInput {
  return clusterOf(Array.from({ length: n }, (_, i) => 1 + i * 3), groups, rf, maxMoves);
}
