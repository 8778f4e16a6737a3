/**
 * Group-side steps of a replica move, run at the group's leader on the meta leader's
 * request (transport request `{t: 'mv', g, op}`): report the group's Raft config and the
 * followers' progress, propose one ConfChange, or hand leadership to another voter. Every
 * step is idempotent from the caller's side: it re-reads the config before each step.
 */
import { ConfChangeType, type ConfChange, type GroupId, type NodeId } from '../raft/types.js';
import type { RaftStatusView } from './contracts.js';
import type { ClusterHost } from './host.js';

/** A group's Raft membership as its leader sees it. */
export interface GroupConf {
  lead: NodeId;
  voters: NodeId[];
  learners: NodeId[];
  commit: number;
  /** Each follower's match index. */
  match: Record<string, number>;
}

/** A membership step asked of a group's leader. */
export type MoveOp =
  | { op: 'conf' }
  | { op: 'cc'; type: ConfChangeType; node: NodeId }
  | { op: 'transfer'; to: NodeId };

/** The request's answer: `nl` = not the leader (with a hint), `e` = refused. */
export type MoveAnswer = { conf: GroupConf } | { ok: true } | { nl: NodeId } | { e: string };

/** Runs a move step if this node leads the group (the server side of `{t: 'mv'}`). */
export function serveMoveOp(host: ClusterHost, group: GroupId, op: MoveOp): MoveAnswer {
  const r = host.replicas.get(group);
  if (r === undefined || !r.isLeader) return { nl: r?.lead ?? 0 };
  const st = r.raft.status();
  switch (op.op) {
    case 'conf':
      return { conf: confOf(st) };
    case 'cc':
      try {
        const cc: ConfChange = { changes: [{ type: op.type, nodeId: op.node }], transition: 'auto' };
        r.raft.proposeConfChange(cc);
      } catch (err) {
        return { e: (err as Error).message };
      }
      host.scheduleFlush();
      return { ok: true };
    case 'transfer':
      r.raft.transferLeader(op.to);
      host.scheduleFlush();
      return { ok: true };
  }
}

function confOf(st: RaftStatusView): GroupConf {
  const match: Record<string, number> = {};
  const p = st.progress;
  if (p instanceof Map) for (const [id, pr] of p) match[String(id)] = pr.match;
  else if (p !== undefined) for (const [id, pr] of Object.entries(p)) match[id] = pr.match;
  return { lead: st.lead, voters: [...st.confState.voters], learners: [...(st.confState.learners ?? [])], commit: st.commit, match };
}

/** Per-attempt wait for a group leader's answer. */
const moveRequestMs = 2000;

/**
 * Runs a move step at the group's leader, wherever it is: the leader we know of, else the
 * group's replicas in turn (following "not leader" hints). Null when no leader answered.
 */
export async function callGroupLeader(host: ClusterHost, group: GroupId, op: MoveOp, candidates: NodeId[]): Promise<MoveAnswer | null> {
  const tried = new Set<NodeId>();
  let target = host.leaderOf(group);
  for (let i = 0; i < candidates.length + 2; i++) {
    if (target === 0 || tried.has(target)) target = candidates.find((id) => !tried.has(id)) ?? 0;
    if (target === 0) return null;
    tried.add(target);
    const answer = await askNode(host, target, group, op);
    if (answer === null) continue;
    if ('nl' in answer) {
      host.noteLeader(group, answer.nl);
      target = answer.nl;
      continue;
    }
    host.noteLeader(group, target);
    return answer;
  }
  return null;
}

async function askNode(host: ClusterHost, target: NodeId, group: GroupId, op: MoveOp): Promise<MoveAnswer | null> {
  if (target === host.config.nodeId) return serveMoveOp(host, group, op);
  try {
    return (await host.peerRequest(target, { t: 'mv', g: group, o: op }, moveRequestMs)) as MoveAnswer;
  } catch {
    return null;
  }
}
