/**
 * A removed node never serves clients (issue 15). A node learns that it was removed
 * (`ctl remove`, or drained) from its meta state, or from the meta leader's refusal of its
 * registration (a node restarted after its removal holds a meta state from before it, and
 * gets no newer meta entries once out of the meta group). Then:
 * - at start-up (the stored meta state, replayed, says `removed`): the node refuses to
 *   start, before its client listener opens (`NodeRemovedError`, exit 1, one line);
 * - while running: `memraft serve` closes the client listener and its connections at once,
 *   stays a Raft peer until no group lists it and it does not lead the meta group (bounded
 *   by `releaseWaitMs`: the others re-create its replicas meanwhile, a leader hands its
 *   groups away), then exits with the same one-line reason.
 */
import type { ClusterHost } from '../cluster/host.js';
import { metaGroupId } from '../cluster/host.js';
import type { NodeId } from '../raft/types.js';

/** This node was removed from the cluster: it must not serve clients. */
export class NodeRemovedError extends Error {
  /** Stable code (main.ts prints coded errors as one line). */
  readonly code = 'E_NODE_REMOVED';
  constructor(readonly nodeId: NodeId) {
    super(
      `node ${nodeId} was removed from the cluster (ctl remove or drain) and serves no clients; ` +
        'to bring this machine back, start it as a new node: a new --id, an empty --data-dir, --join',
    );
    this.name = 'NodeRemovedError';
  }
}

/** How often a running node checks whether it was removed. */
const removalCheckMs = 250;

/** Longest a start waits for the stored meta log to be applied before checking. */
const metaReplayWaitMs = 5000;

/** Longest a removed node stays a Raft peer (no clients) so its replicas move first. */
const releaseWaitMs = 30_000;

/** True when this node's meta view, or the meta leader's answer to its registration, says removed. */
export function isRemoved(host: ClusterHost): boolean {
  return host.removedFromCluster || host.meta.node(host.config.nodeId)?.state === 'removed';
}

/**
 * Waits until the meta replica has applied what was committed when the node started (the
 * stored meta state), then throws NodeRemovedError if it records this node as removed.
 */
export async function refuseIfRemoved(host: ClusterHost): Promise<void> {
  const meta = host.replicas.get(metaGroupId)!;
  const committed = meta.raft.status().commit;
  const deadline = Date.now() + metaReplayWaitMs;
  while (host.meta.appliedIndex < committed && Date.now() < deadline) await sleep(20);
  if (isRemoved(host)) throw new NodeRemovedError(host.config.nodeId);
}

/** Resolves with NodeRemovedError once the running node is removed (never, if `stop` is called first). */
export function watchRemoval(host: ClusterHost): { removed: Promise<NodeRemovedError>; stop: () => void } {
  let timer: NodeJS.Timeout | null = null;
  const removed = new Promise<NodeRemovedError>((resolve) => {
    timer = setInterval(() => {
      if (host.closed || !isRemoved(host)) return;
      clearInterval(timer!);
      resolve(new NodeRemovedError(host.config.nodeId));
    }, removalCheckMs);
    timer.unref();
  });
  return { removed, stop: () => (timer !== null ? clearInterval(timer) : undefined) };
}

/**
 * A removed node's last duty before it exits: it stays a peer until no group lists it, no
 * move names it and it does not lead the meta group (or `releaseWaitMs` passed).
 */
export async function waitReleased(host: ClusterHost): Promise<void> {
  // Told so by the meta leader: our own meta view is from before the removal, and stale.
  if (host.removedFromCluster) return;
  const me = host.config.nodeId;
  const deadline = Date.now() + releaseWaitMs;
  while (Date.now() < deadline) {
    const view = host.meta.view;
    const holds = view.groups.some((g) => g.replicas.includes(me)) || view.moves.some((m) => m.from === me || m.to === me);
    if (!holds && !host.replicas.get(metaGroupId)!.isLeader) return;
    await sleep(100);
  }
  host.logger.warn({ waitedMs: releaseWaitMs }, 'removed node: its replicas did not all move away in time; exiting anyway');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
