/**
 * ProgressTracker: the membership configuration and the per-member Progress, plus vote
 * counting and commit computation, as in etcd's tracker/tracker.go.
 */
import type { ConfState, NodeId } from './types.js';
import { Progress } from './progress.js';
import type { JointConfig, VoteResult } from './quorum.js';
import { jointCommitted, jointIds, jointVoteResult } from './quorum.js';

/** A membership configuration (joint when voters[1] is non-empty). */
export interface TrackerConfig {
  voters: JointConfig;
  learners: Set<NodeId>;
  /** Learners to add when leaving the joint config (voters demoted to learners). */
  learnersNext: Set<NodeId>;
  autoLeave: boolean;
}

/** An empty configuration. */
export function emptyTrackerConfig(): TrackerConfig {
  return { voters: [new Set(), new Set()], learners: new Set(), learnersNext: new Set(), autoLeave: false };
}

/** A deep copy of a configuration. */
export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: [new Set(c.voters[0]), new Set(c.voters[1])],
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

const sorted = (s: Set<NodeId>): NodeId[] => [...s].sort((a, b) => a - b);

/** Membership, progress and votes; see the module doc. */
export class ProgressTracker {
  config: TrackerConfig = emptyTrackerConfig();
  progress: Map<NodeId, Progress> = new Map();
  votes: Map<NodeId, boolean> = new Map();
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;

  constructor(maxInflightMsgs: number, maxInflightBytes: number) {
    this.maxInflightMsgs = maxInflightMsgs;
    this.maxInflightBytes = maxInflightBytes;
  }

  confState(): ConfState {
    return {
      voters: sorted(this.config.voters[0]),
      votersOutgoing: sorted(this.config.voters[1]),
      learners: sorted(this.config.learners),
      learnersNext: sorted(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  isJoint(): boolean {
    return this.config.voters[1].size > 0;
  }

  /** True when this config has exactly one voter (the leader can decide alone). */
  isSingleton(): boolean {
    return this.config.voters[0].size === 1 && this.config.voters[1].size === 0;
  }

  isVoter(id: NodeId): boolean {
    return this.config.voters[0].has(id) || this.config.voters[1].has(id);
  }

  voterIds(): NodeId[] {
    return jointIds(this.config.voters);
  }

  /** The largest index acknowledged by a quorum of voters (learners do not count). */
  committed(): number {
    const prs = this.progress;
    return jointCommitted(this.config.voters, (id) => prs.get(id)?.match);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, v: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, v);
  }

  /** Counts recorded votes: granted, rejected and the result. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    const votes = this.votes;
    return { granted, rejected, result: jointVoteResult(this.config.voters, (id) => votes.get(id)) };
  }

  /** Whether a quorum of voters was recently active (check-quorum). */
  quorumActive(selfId: NodeId): boolean {
    const prs = this.progress;
    const r = jointVoteResult(this.config.voters, (id) => {
      if (id === selfId) return true;
      const pr = prs.get(id);
      return pr === undefined ? undefined : pr.recentActive;
    });
    return r === 'won';
  }

  /**
   * Lease mode: the newest heartbeat send tick acknowledged by a quorum (by a quorum of
   * both halves of a joint config), the leader counting itself as `now`; -Infinity if none.
   */
  quorumLeaseAckTick(selfId: NodeId, now: number): number {
    const prs = this.progress;
    return jointCommitted(this.config.voters, (id) =>
      id === selfId ? now : (prs.get(id)?.leaseAckTick ?? Number.NEGATIVE_INFINITY),
    );
  }

  /** Vote result of a set of acknowledgements (ReadIndex confirmation). */
  voteResultOf(acks: ReadonlySet<NodeId>): VoteResult {
    return jointVoteResult(this.config.voters, (id) => (acks.has(id) ? true : undefined));
  }
}
