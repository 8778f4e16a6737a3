/**
 * Health for probes (Kubernetes readiness and liveness, load balancers): pure reads of the
 * host, no I/O.
 *
 * Ready: this node can serve clients now. The meta group is bootstrapped and has a leader,
 * this node is a member that is not leaving (`up` in the meta state), and every group the
 * meta state places on it has a local replica (its log and snapshot loaded, applied up to
 * them) that knows its leader. Reads wait for the apply of what the leader has committed
 * (read index), so a replica busy under load stays ready. Any node serves any key (it
 * forwards to the leader), so replicas moving in (learners) do not count.
 *
 * Live: the event loop runs (the admin listener answering at all proves it).
 */
import type { ClusterHost } from '../cluster/host.js';

/** A readiness answer: `reason` names the first thing that is not ready. */
export interface Readiness {
  ready: boolean;
  reason: string;
}

/** Whether this node can serve clients now (see the file comment). */
export function readiness(host: ClusterHost): Readiness {
  const me = host.config.nodeId;
  const view = host.meta.view;
  if (!view.bootstrapped) return { ready: false, reason: 'meta state not known yet' };
  const meta = host.replicas.get(0);
  if (meta === undefined || meta.lead === 0) return { ready: false, reason: 'meta group has no leader' };
  const state = host.meta.node(me)?.state;
  if (state !== 'up') return { ready: false, reason: `node ${me} is ${state ?? 'not a member yet'}` };
  for (const g of host.meta.groupsOf(me)) {
    const r = host.replicas.get(g.id);
    if (r === undefined) return { ready: false, reason: `group ${g.id}: replica not created yet` };
    if (r.lead === 0) return { ready: false, reason: `group ${g.id}: no leader known` };
  }
  return { ready: true, reason: 'ok' };
}
