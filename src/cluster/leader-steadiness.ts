/**
 * Hysteresis for leader balancing (issue 10, "no flapping"). Right after a partition heals
 * a returning node is reachable again but behind, its links may still be settling, and the
 * meta leader's view of who leads what is stale; handing it leadership at once made
 * leadership bounce between nodes several times a second. So:
 * - a peer is *steady* once it has been continuously reachable (heard from within
 *   `aliveMs` at every check) for `steadyMs`; any gap starts the clock again;
 * - a leader hands a group to its preferred replica only when that replica is steady, up
 *   in the meta state, not leaving the group, and caught up (its match is the commit
 *   index), and only after it has itself led the group for `steadyMs`: every leadership
 *   thus lasts at least that long, and a group's leadership moves at most once per heal.
 * Pure: the caller hands in the time and what it heard; nothing here reads a clock.
 */
import type { GroupId, NodeId } from '../raft/types.js';

/** Steadiness settings. */
export interface SteadinessOptions {
  /** A peer heard from within this long is reachable. */
  aliveMs: number;
  /** Continuously reachable this long: steady (and a leader keeps a group at least this long). */
  steadyMs: number;
}

/** Defaults: reachable = heard within 2 s; steady after 5 s. */
export const defaultSteadiness: SteadinessOptions = { aliveMs: 2000, steadyMs: 5000 };

/** When each peer became continuously reachable. */
export class PeerSteadiness {
  private readonly reachableSinceMs = new Map<NodeId, number>();

  constructor(private readonly options: SteadinessOptions = defaultSteadiness) {}

  /** Records what we know of `id` at `nowMs` (`heardMs`: when we last heard from it, if ever). */
  observe(id: NodeId, heardMs: number | undefined, nowMs: number): void {
    if (heardMs === undefined || nowMs - heardMs >= this.options.aliveMs) {
      this.reachableSinceMs.delete(id);
      return;
    }
    if (!this.reachableSinceMs.has(id)) this.reachableSinceMs.set(id, nowMs);
  }

  /** True when `id` has been reachable at every observation for `steadyMs`. */
  isSteady(id: NodeId, nowMs: number): boolean {
    const since = this.reachableSinceMs.get(id);
    return since !== undefined && nowMs - since >= this.options.steadyMs;
  }

  /** Peers observed reachable but not steady yet (ascending ids). */
  unsteady(ids: readonly NodeId[], nowMs: number): NodeId[] {
    return ids.filter((id) => !this.isSteady(id, nowMs)).sort((a, b) => a - b);
  }
}

/** When this node became leader of each group (per term). */
export class LeadershipAges {
  private readonly since = new Map<GroupId, { term: number; sinceMs: number }>();

  /** Records that we lead `group` at `term` (call on every check while leading). */
  observe(group: GroupId, term: number, nowMs: number): void {
    const known = this.since.get(group);
    if (known === undefined || known.term !== term) this.since.set(group, { term, sinceMs: nowMs });
  }

  /** Milliseconds we have led `group` (0 if not observed). */
  ageMs(group: GroupId, nowMs: number): number {
    const known = this.since.get(group);
    return known === undefined ? 0 : nowMs - known.sinceMs;
  }

  /** Forgets groups we no longer lead. */
  forget(group: GroupId): void {
    this.since.delete(group);
  }
}

/** What a leader knows when it considers handing a group to its preferred replica. */
export interface HandOffInput {
  me: NodeId;
  /** The group's replica list (the first eligible one is preferred). */
  replicas: readonly NodeId[];
  /** The replica a move in flight removes (0: none): never given leadership. */
  leaving: NodeId;
  /** How long we have led the group. */
  ledMs: number;
  steadyMs: number;
  /** Reachable now (heard within aliveMs) and up in the meta state. */
  eligible: (id: NodeId) => boolean;
  steady: (id: NodeId) => boolean;
  caughtUp: (id: NodeId) => boolean;
}

/**
 * The replica to hand leadership to, or null to keep it: the first eligible replica of the
 * list, if it is not us, is steady and caught up, and we have led for `steadyMs`. While the
 * preferred replica is not steady yet we keep leading (no hand-off to a second choice
 * either: that would be a move now and another once the first choice is steady).
 */
export function handOffTarget(input: HandOffInput): NodeId | null {
  const preferred = input.replicas.find((id) => id !== input.leaving && (id === input.me || input.eligible(id)));
  if (preferred === undefined || preferred === input.me) return null;
  if (input.ledMs < input.steadyMs || !input.steady(preferred) || !input.caughtUp(preferred)) return null;
  return preferred;
}
