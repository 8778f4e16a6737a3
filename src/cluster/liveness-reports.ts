/**
 * The observers of failure detection (issue 10; the rule is in
 * src/membership/failure-votes.ts). Every node, every `reportIntervalMs`, sends each other
 * member a small report (transport request `{t:'seen', s:[[id, silentMs], ...]}`): how long
 * it has not heard from each member. Receiving a report is hearing from its sender, so
 * every pair of members hears from each other about once a second even when they share no
 * group; every node keeps the latest report of each sender, and the meta leader (whoever
 * it is at the time) counts them: a node is dead only when a majority of meta voters have
 * not heard from it for --dead-after, never because one link (to the meta leader) is cut.
 */
import type { NodeId } from '../raft/types.js';
import { silentToMajority, type SilenceReport } from '../membership/failure-votes.js';
import type { ClusterHost } from './host.js';

/** How often each node reports its view to every other member. */
export const reportIntervalMs = 1000;

/** A report older than this says nothing (its sender is cut off from us, or slow). */
const reportTtlMs = 5000;

/** How long one report request may take before the next may go to that peer. */
const reportTimeoutMs = 2000;

/** The `seen` request between nodes. */
export interface SeenRequest {
  t: 'seen';
  /** [node, ms since the sender last heard from it]. */
  s: Array<[NodeId, number]>;
}

/** This node's reports out and the reports it received. */
export class LivenessReports {
  private readonly reports = new Map<NodeId, SilenceReport>();
  private readonly heardMs = new Map<NodeId, number>();
  private readonly firstAskedMs = new Map<NodeId, number>();
  private readonly pending = new Set<NodeId>();
  private readonly startedMs: number;

  constructor(private readonly host: ClusterHost) {
    this.startedMs = host.runtime.monoMs();
  }

  /**
   * How long this node has not heard from `id` (Raft traffic or a report), counted at the
   * earliest from our start and from when we first asked about `id` (about when it
   * appeared in our meta state): a node that joins long after we started has not been
   * silent for that long.
   */
  silentMs(id: NodeId): number {
    const now = this.host.runtime.monoMs();
    let first = this.firstAskedMs.get(id);
    if (first === undefined) this.firstAskedMs.set(id, (first = now));
    return now - Math.max(this.host.lastHeardOf(id) ?? 0, this.heardMs.get(id) ?? 0, this.startedMs, first);
  }

  /** Sends our view to every other member not removed (one request in flight per peer). */
  sendReports(): void {
    const me = this.host.config.nodeId;
    const members = this.host.meta.view.nodes.filter((n) => n.id !== me && n.state !== 'removed').map((n) => n.id);
    const request: SeenRequest = { t: 'seen', s: members.map((id) => [id, this.silentMs(id)]) };
    for (const to of members) {
      if (this.pending.has(to)) continue;
      this.pending.add(to);
      this.host.peerRequest(to, request, reportTimeoutMs).then(
        () => this.pending.delete(to),
        () => this.pending.delete(to),
      );
    }
  }

  /** A report from `from`: stored, and `from` is heard. */
  onReport(from: NodeId, request: SeenRequest): unknown {
    if (!Array.isArray(request.s)) return { e: 'bad report' };
    const now = this.host.runtime.monoMs();
    const silentMs = new Map<NodeId, number>();
    for (const entry of request.s) {
      if (Array.isArray(entry) && Number.isSafeInteger(entry[0]) && Number.isFinite(entry[1])) silentMs.set(entry[0], Math.max(0, entry[1]));
    }
    this.heardMs.set(from, now);
    this.reports.set(from, { receivedMs: now, silentMs });
    return { ok: true };
  }

  /**
   * True when a majority of the meta voters have not heard from `target` for `deadAfterMs`;
   * `selfSilentMs` is this node's (the meta leader's) own view.
   */
  isDead(target: NodeId, voters: readonly NodeId[], deadAfterMs: number, selfSilentMs: (id: NodeId) => number): boolean {
    return silentToMajority(
      { nowMs: this.host.runtime.monoMs(), deadAfterMs, reportTtlMs, voters, self: this.host.config.nodeId, selfSilentMs, reports: this.reports },
      target,
    );
  }
}
