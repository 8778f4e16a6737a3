/**
 * The planner's working copy of the cluster: the input with its moves in flight settled,
 * replica counts per up node, and the moves planned so far (each applied to the copy at
 * once, so later decisions see it). Internal to the planner.
 */
import assert from 'node:assert';
import { NONE, type NodeId } from '../raft/types.js';
import { groupAfterMove, settleMovesInFlight } from './planner-state.js';
import {
  hasQuorum,
  nodeRoles,
  roleOf,
  zoneOf,
  type NodeRole,
  type PlannedMove,
  type PlannerGroup,
  type PlannerInput,
} from './planner-types.js';

/** Mutable planning state for one `planPlacement` call. */
export class PlanWork {
  readonly roles: Map<NodeId, NodeRole>;
  /** Up nodes, ascending ids. */
  readonly up: NodeId[];
  readonly rf: number;
  /** Groups by ascending id, in-flight moves settled; replaced as moves are planned. */
  readonly groups: PlannerGroup[];
  /** Replicas per up node. */
  readonly counts = new Map<NodeId, number>();
  /** Groups with a move in flight or planned in this plan: no further move for them. */
  readonly busy: Set<number>;
  readonly inFlight: number;
  /** Replica changes still allowed in this plan. */
  budget: number;
  readonly moves: PlannedMove[] = [];
  readonly notes: string[] = [];
  /** Zones of the known nodes (zoneOf); an unknown node is a zone of its own. */
  private readonly zones = new Map<NodeId, string>();
  /** Up nodes that take no new leadership yet (PlannerInput.leaderHoldNodes). */
  readonly leaderHold: Set<NodeId>;
  /** Distinct zones with an up node. */
  readonly upZones: number;
  private readonly indexOf = new Map<number, number>();

  constructor(input: PlannerInput) {
    assert(input.replicas >= 1, 'replicas (RF) must be >= 1');
    assert(input.maxMoves >= 0, 'maxMoves must be >= 0');
    this.roles = nodeRoles(input);
    this.up = input.nodes.filter((n) => this.roles.get(n.id) === 'up').map((n) => n.id).sort((a, b) => a - b);
    for (const n of input.nodes) this.zones.set(n.id, zoneOf(n));
    this.leaderHold = new Set(input.leaderHoldNodes ?? []);
    this.upZones = new Set(this.up.map((id) => this.zone(id))).size;
    this.rf = input.replicas;
    const settled = settleMovesInFlight(input);
    this.groups = [...settled.groups].sort((a, b) => a.id - b.id);
    this.groups.forEach((g, i) => {
      assert(new Set(g.replicas).size === g.replicas.length, `group ${g.id} lists a node twice`);
      assert(!this.indexOf.has(g.id), `group ${g.id} listed twice`);
      this.indexOf.set(g.id, i);
    });
    for (const m of input.movesInFlight) assert(m.from !== NONE && m.to !== NONE, 'a move in flight names node 0: absent sides are undefined');
    this.busy = new Set(input.movesInFlight.map((m) => m.group));
    this.inFlight = input.movesInFlight.length;
    this.budget = Math.max(0, input.maxMoves - this.inFlight);
    for (const id of this.up) this.counts.set(id, 0);
    for (const g of this.groups) for (const id of g.replicas) this.bump(id, 1);
  }

  /** The role of a node (unknown ids are `gone`). */
  role(id: NodeId): NodeRole {
    return roleOf(this.roles, id);
  }

  /** The zone of node `id`. */
  zone(id: NodeId): string {
    return this.zones.get(id) ?? zoneOf({ id });
  }

  /** Distinct zones among `ids`. */
  zoneCount(ids: readonly NodeId[]): number {
    return new Set(ids.map((id) => this.zone(id))).size;
  }

  /**
   * Up nodes that may take a replica of `group` once the replicas in `leaving` are gone:
   * not holding it, and in a zone none of the staying replicas is in when there is such a
   * node (else any up node not holding it: fewer zones than replicas). Ascending ids.
   */
  targetsFor(group: PlannerGroup, leaving: readonly NodeId[]): NodeId[] {
    const free = this.up.filter((id) => !group.replicas.includes(id));
    const taken = new Set(group.replicas.filter((id) => !leaving.includes(id)).map((id) => this.zone(id)));
    const spread = free.filter((id) => !taken.has(this.zone(id)));
    return spread.length > 0 ? spread : free;
  }

  /** Replicas on up node `id`. */
  count(id: NodeId): number {
    return this.counts.get(id) ?? 0;
  }

  /** True when the group can commit a config change. */
  quorate(group: PlannerGroup): boolean {
    return hasQuorum(this.roles, group.replicas);
  }

  /** Records `move` and applies it to the working copy. */
  plan(move: PlannedMove): void {
    assert(!this.busy.has(move.group), `second move for group ${move.group} in one plan`);
    const i = this.indexOf.get(move.group)!;
    const before = this.groups[i]!;
    const after = groupAfterMove(before, move);
    this.groups[i] = after;
    for (const id of before.replicas) this.bump(id, -1);
    for (const id of after.replicas) this.bump(id, 1);
    this.busy.add(move.group);
    if (move.kind !== 'transfer-leader') {
      assert(this.budget > 0, 'replica move beyond maxMoves');
      this.budget--;
    }
    this.moves.push(move);
  }

  private bump(id: NodeId, by: number): void {
    const count = this.counts.get(id);
    if (count !== undefined) this.counts.set(id, count + by);
  }
}
