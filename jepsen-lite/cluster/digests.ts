/**
 * End-of-run state comparison: every replica of a group at the same applied index must
 * hold the same state digest (admin GET /status?digest=1). Polls until each group's
 * replicas report equal applied indexes (bounded), then compares. The run is valid only
 * if they converged: every member answered /status (a silent node is not skipped: it is
 * listed in `unanswered` and makes `converged` false) and every replica of every group
 * reached the same applied index within the wait.
 */
import type { Cluster, NodeStatus } from './cluster.js';
import { delay } from './cluster.js';

/** One group's replicas at the end. */
export interface GroupDigests {
  converged: boolean;
  agree: boolean;
  replicas: Array<{ node: number; applied: number; digest: string | null }>;
}

/** The digest check's result (results.json `digests`). */
export interface DigestReport {
  agree: boolean;
  converged: boolean;
  /** Members that did not answer /status at the last poll. */
  unanswered?: number[];
  groups: Record<string, GroupDigests>;
}

/** Waits (at most `timeoutMs`) for applied indexes to converge, then compares digests. */
export async function compareDigests(cluster: Cluster, timeoutMs: number): Promise<DigestReport> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(cluster.members().map(async (id) => [id, await cluster.status(id, true)] as const));
    const report = evaluate(statuses);
    if (report.converged || performance.now() > deadline) return report;
    await delay(250);
  }
}

/** Groups the statuses by group and judges each (pure). */
export function evaluate(statuses: ReadonlyArray<readonly [number, NodeStatus | null]>): DigestReport {
  const groups: Record<string, GroupDigests> = {};
  for (const [node, s] of statuses) {
    if (s === null) continue;
    for (const g of s.groups) {
      const entry = (groups[String(g.id)] ??= { converged: true, agree: true, replicas: [] });
      entry.replicas.push({ node, applied: g.applied, digest: g.digest ?? null });
    }
  }
  let agree = true;
  const unanswered = statuses.filter(([, s]) => s === null).map(([node]) => node);
  let converged = unanswered.length === 0;
  for (const g of Object.values(groups)) {
    g.converged = g.replicas.every((r) => r.applied === g.replicas[0]!.applied);
    const byApplied = new Map<number, string | null>();
    for (const r of g.replicas) {
      const seen = byApplied.get(r.applied);
      if (seen === undefined) byApplied.set(r.applied, r.digest);
      else if (seen !== r.digest) g.agree = false;
    }
    agree &&= g.agree;
    converged &&= g.converged;
  }
  return { agree, converged, unanswered, groups };
}
