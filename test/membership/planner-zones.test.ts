/**
 * Zones in the planner (issue 15, item 7): property tests over random topologies with
 * zones (fast-check, seeded: MEMRAFT_PLANNER_SEED replays a run, fast-check prints the
 * seed and the shrunk counterexample of any failure), and scenario checks.
 *
 * The rule: once converged, every group spans min(its replicas, zones with up nodes)
 * distinct zones, so no two replicas share a zone while enough zones exist; draining a
 * node or losing one keeps it so; a cluster without zones is planned exactly as before.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeState } from '../../src/membership/meta-state.js';
import { initialPlacement } from '../../src/membership/placement.js';
import { hasQuorum, nodeRoles, planMoves, planPlacement, zoneOf, type PlannerInput } from '../../src/membership/planner.js';
import type { NodeId } from '../../src/raft/types.js';
import { checkRound, converge, convergeWithMovesInFlight, withNode } from './planner-harness.js';

const seedFromEnv = process.env.MEMRAFT_PLANNER_SEED;
const options = (numRuns: number): fc.Parameters<unknown> => (seedFromEnv === undefined ? { numRuns } : { numRuns, seed: Number(seedFromEnv) });

interface ZonedSpec {
  /** Zone index per node (-1: no zone). */
  zones: number[];
  /** Node states: mostly up, some draining or removed (no half-states: every replica ends on an up node). */
  states: NodeState[];
  groups: number;
  rf: number;
  maxMoves: number;
}

const zonedSpecArb: fc.Arbitrary<ZonedSpec> = fc
  .integer({ min: 1, max: 9 })
  .chain((n) =>
    fc.record({
      zones: fc.array(fc.integer({ min: -1, max: 3 }), { minLength: n, maxLength: n }),
      states: fc.array(
        fc.oneof(
          { weight: 8, arbitrary: fc.constant<NodeState>('up') },
          { weight: 1, arbitrary: fc.constant<NodeState>('draining') },
          { weight: 1, arbitrary: fc.constant<NodeState>('removed') },
        ),
        { minLength: n, maxLength: n },
      ),
      groups: fc.integer({ min: 1, max: 24 }),
      rf: fc.integer({ min: 1, max: 4 }),
      maxMoves: fc.integer({ min: 1, max: 4 }),
    }),
  );

function buildZoned(spec: ZonedSpec): PlannerInput {
  const ids = spec.zones.map((_, i) => i + 1);
  return {
    nodes: ids.map((id, i) => ({ id, state: spec.states[i]!, zone: spec.zones[i]! < 0 ? undefined : `z${spec.zones[i]}` })),
    groups: initialPlacement(ids, spec.groups, spec.rf).map((g) => ({ id: g.id, replicas: g.replicas })),
    movesInFlight: [],
    replicas: spec.rf,
    maxMoves: spec.maxMoves,
  };
}

function roundsBound(state: PlannerInput): number {
  return Math.ceil((4 * state.groups.length * state.replicas) / state.maxMoves) + 20;
}

/** Every group with a quorum on up nodes only, RF replicas (or every up node), over min(replicas, up zones) zones. */
function checkZoned(state: PlannerInput): void {
  const byId = new Map(state.nodes.map((n) => [n.id, n]));
  const up = state.nodes.filter((n) => n.state === 'up');
  const upZones = new Set(up.map(zoneOf)).size;
  const roles = nodeRoles(state);
  for (const g of state.groups) {
    const nodes = g.replicas.map((id) => byId.get(id)!);
    // A group without a quorum of live replicas can commit no change: the planner leaves it.
    if (up.length === 0 || !hasQuorum(roles, g.replicas)) continue;
    expect(nodes.every((n) => n.state === 'up'), `group ${g.id} on [${g.replicas}]`).toBe(true);
    expect(g.replicas.length).toBe(Math.min(state.replicas, up.length));
    const zones = new Set(nodes.map(zoneOf)).size;
    expect(zones, `group ${g.id} on [${g.replicas}] spans ${zones} zones of ${upZones}`).toBe(Math.min(g.replicas.length, upZones));
  }
}

function zonedCluster(zones: string[], groups: number, rf: number): PlannerInput {
  const ids = zones.map((_, i) => i + 1);
  return {
    nodes: ids.map((id, i) => ({ id, state: 'up' as NodeState, zone: zones[i] })),
    groups: initialPlacement(ids, groups, rf).map((g) => ({ id: g.id, replicas: g.replicas })),
    movesInFlight: [],
    replicas: rf,
    maxMoves: 2,
  };
}

function zoneSpans(state: PlannerInput): number[] {
  const byId = new Map(state.nodes.map((n) => [n.id, n]));
  return state.groups.map((g) => new Set(g.replicas.map((id) => zoneOf(byId.get(id)!))).size);
}

describe('planner zones', () => {
  it('6 nodes in 3 zones: every group ends in 3 zones, and stays so when a node drains or dies', () => {
    const start = zonedCluster(['a', 'a', 'b', 'b', 'c', 'c'], 16, 3);
    expect(Math.min(...zoneSpans(start)), 'the initial placement puts two replicas in one zone').toBe(2);
    let done = converge(start, 200);
    expect(zoneSpans(done.state).every((z) => z === 3)).toBe(true);
    expect(done.moves.some((m) => m.reason === 'zone-spread')).toBe(true);
    const drained = converge(withNode(done.state, 1, 'draining'), 200);
    expect(zoneSpans(drained.state).every((z) => z === 3)).toBe(true);
    // Node 2, node 1's zone-mate, holds every group's zone-a replica now.
    expect(drained.state.groups.every((g) => g.replicas.includes(2))).toBe(true);
    done = converge({ ...done.state, deadNodes: [4] }, 200);
    expect(zoneSpans(done.state).every((z) => z === 3)).toBe(true);
  });

  it('fewer zones than RF: groups span every zone there is, and the plan says so', () => {
    const done = converge(zonedCluster(['a', 'a', 'a', 'b', 'b', 'b'], 12, 3), 200);
    expect(zoneSpans(done.state).every((z) => z === 2)).toBe(true);
    expect(done.notes.some((n) => n.includes('only 2 zones have up nodes for RF 3'))).toBe(true);
  });

  it('a cluster without zones is planned as before: every node is a zone of its own', () => {
    const plain = zonedCluster(['', '', '', ''], 8, 3);
    const none = { ...plain, nodes: plain.nodes.map((n) => ({ id: n.id, state: n.state })) };
    expect(planPlacement(plain)).toEqual(planPlacement(none));
    expect(planMoves(none).some((m) => m.reason === 'zone-spread')).toBe(false);
  });

  it('random topologies with zones: converges, each round within the rules, to a zone-spread placement', () => {
    let spreadChecked = 0;
    fc.assert(
      fc.property(zonedSpecArb, (spec) => {
        const state = buildZoned(spec);
        const done = converge(state, roundsBound(state));
        expect(planMoves(done.state)).toEqual([]);
        checkZoned(done.state);
        spreadChecked++;
      }),
      options(300),
    );
    expect(spreadChecked).toBeGreaterThan(0);
  });

  it('random topologies with zones and moves in flight for a while: the same placement rules', () => {
    fc.assert(
      fc.property(zonedSpecArb, fc.integer(), (spec, seed) => {
        const state = buildZoned(spec);
        const done = convergeWithMovesInFlight(state, 4 * roundsBound(state), seed);
        checkZoned(done.state);
      }),
      options(150),
    );
  });

  it('random topologies with zones: draining one more node keeps every group spread', () => {
    fc.assert(
      fc.property(zonedSpecArb, fc.nat(), (spec, pick) => {
        const settled = converge(buildZoned(spec), roundsBound(buildZoned(spec))).state;
        const up = settled.nodes.filter((n) => n.state === 'up').map((n) => n.id);
        if (up.length <= spec.rf) return;
        const victim: NodeId = up[pick % up.length]!;
        const next = converge(withNode({ ...settled, nodes: settled.nodes.map((n) => ({ ...n })) }, victim, 'draining'), roundsBound(settled));
        // withNode drops the zone of the node it replaces: keep it.
        const zoneOfVictim = settled.nodes.find((n) => n.id === victim)!.zone;
        const fixed = { ...next.state, nodes: next.state.nodes.map((n) => (n.id === victim ? { ...n, zone: zoneOfVictim } : n)) };
        checkZoned(fixed);
      }),
      options(150),
    );
  });

  it('each round of a zone spread keeps quorum and the budget (checkRound)', () => {
    const start = zonedCluster(['a', 'a', 'a', 'b', 'c', 'c', 'c'], 20, 3);
    checkRound(start, planMoves(start));
  });
});
