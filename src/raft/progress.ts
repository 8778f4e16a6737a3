/**
 * Progress: the leader's view of one follower's log. States, as in etcd's
 * tracker/progress.go:
 * - probe: one App at a time until the follower's match point is found;
 * - replicate: optimistic streaming, limited by Inflights;
 * - snapshot: a snapshot is on its way; nothing else is sent until it is reported.
 */
import { Inflights } from './inflights.js';
import type { ProgressState, ProgressStatus } from './types.js';

/** One follower's replication progress; see the module doc. */
export class Progress {
  match: number;
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from in the current election timeout (check-quorum). */
  recentActive = false;
  /**
   * Lease mode: the leader's tick when it sent the newest heartbeat this follower
   * acknowledged in the current term (-Infinity: none).
   */
  leaseAckTick = Number.NEGATIVE_INFINITY;
  /** Probe state: an App is outstanding, send no more until a response or heartbeat response. */
  msgAppFlowPaused = false;
  inflights: Inflights;
  isLearner: boolean;

  constructor(match: number, next: number, inflights: Inflights, isLearner: boolean) {
    this.match = match;
    this.next = next;
    this.inflights = inflights;
    this.isLearner = isLearner;
  }

  /** A shallow copy sharing the inflights (for config changes, which copy-on-write). */
  clone(): Progress {
    const p = new Progress(this.match, this.next, this.inflights, this.isLearner);
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.recentActive = this.recentActive;
    p.leaseAckTick = this.leaseAckTick;
    p.msgAppFlowPaused = this.msgAppFlowPaused;
    return p;
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it: the follower has applied it or will report failure.
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** An App up to `n` was acknowledged; returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /** Replicate state: entries up to n were sent; next goes past them without waiting. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * An App at index `rejected` was rejected; `matchHint` is the leader's guess of the
   * follower's last matching index. Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    // Never probe at or below what the follower is known to have.
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /** Whether sending App to this follower must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.msgAppFlowPaused;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  status(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      recentActive: this.recentActive,
      isLearner: this.isLearner,
      pendingSnapshot: this.pendingSnapshot,
      inflightMsgs: this.inflights.count,
    };
  }
}
