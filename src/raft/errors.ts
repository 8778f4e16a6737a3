/**
 * Operating errors of the Raft core, each with a stable `code`. Programmer errors are
 * node:assert failures instead.
 */

/** Base class of every Raft operating error. */
export class RaftError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A proposal was not accepted: not leader, leadership transfer in progress, or over the uncommitted limit. */
export class ProposalDroppedError extends RaftError {
  constructor(reason: string) {
    super('ERR_RAFT_PROPOSAL_DROPPED', `raft proposal dropped: ${reason}`);
  }
}

/** The requested index is older than the storage's first index (compacted into a snapshot). */
export class CompactedError extends RaftError {
  constructor(index: number) {
    super('ERR_RAFT_COMPACTED', `requested index ${index} is unavailable due to compaction`);
  }
}

/** The requested index is beyond the last index in storage. */
export class UnavailableError extends RaftError {
  constructor(index: number) {
    super('ERR_RAFT_UNAVAILABLE', `requested entry at index ${index} is unavailable`);
  }
}

/** The snapshot is being produced; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  constructor() {
    super('ERR_RAFT_SNAPSHOT_TEMPORARILY_UNAVAILABLE', 'snapshot is temporarily unavailable');
  }
}

/** A snapshot older than the storage's current one was applied or created. */
export class SnapOutOfDateError extends RaftError {
  constructor(index: number) {
    super('ERR_RAFT_SNAP_OUT_OF_DATE', `snapshot at index ${index} is out of date`);
  }
}
