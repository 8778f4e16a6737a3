/**
 * Operating errors of the cluster, each with a stable `code` (undici's `UND_ERR_*` style).
 * They reach a client as one memcached line, made here and only here:
 *
 *   SERVER_ERROR <code> <message>
 *
 * so tools (jepsen-lite, operators' scripts) classify by the code, never by the wording.
 * `applied` tells whether a write that failed this way may have happened:
 *   'no'      it surely did not (never proposed): safe to retry;
 *   'unknown' it may or may not have happened (a timeout after it left this node).
 */

/** Whether a failed write may have been applied. */
export type Applied = 'no' | 'unknown';

/** Stable codes of the cluster's operating errors. */
export const ClusterErrorCode = {
  /** No leader of the group could be reached in time (nothing was proposed). */
  noLeader: 'ERR_NO_LEADER',
  /** The write left this node and no answer came: it may or may not have happened. */
  outcomeUnknown: 'ERR_OUTCOME_UNKNOWN',
  /** A read got no answer in time (reads change nothing; safe to repeat). */
  readTimeout: 'ERR_READ_TIMEOUT',
  /** The node is shutting down. */
  shuttingDown: 'ERR_SHUTTING_DOWN',
  /** The node has no routing table yet (the meta log has not created the ranges). */
  notBootstrapped: 'ERR_NOT_BOOTSTRAPPED',
  /** The group's replica left this node (a move) while the request waited on it. */
  replicaRemoved: 'ERR_REPLICA_REMOVED',
  /** A peer answered with something this node does not understand. */
  badAnswer: 'ERR_BAD_ANSWER',
} as const;

/** One of the codes above. */
export type ClusterErrorCodeValue = (typeof ClusterErrorCode)[keyof typeof ClusterErrorCode];

/** Base class of every cluster operating error. */
export class ClusterError extends Error {
  constructor(
    readonly code: ClusterErrorCodeValue,
    message: string,
    /** Whether a write failing this way may have been applied. */
    readonly applied: Applied,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** No leader answered within the deadline; the request was never proposed. */
export class NoLeaderError extends ClusterError {
  constructor(message: string) {
    super(ClusterErrorCode.noLeader, message, 'no');
  }
}

/** A write's fate is unknown (it left this node, or was proposed, and no answer came). */
export class OutcomeUnknownError extends ClusterError {
  constructor(message: string) {
    super(ClusterErrorCode.outcomeUnknown, message, 'unknown');
  }
}

/** A read got no answer in time. */
export class ReadTimeoutError extends ClusterError {
  constructor(message: string) {
    super(ClusterErrorCode.readTimeout, message, 'no');
  }
}

/** The node is shutting down; `applied` says whether the request had been proposed. */
export class ShuttingDownError extends ClusterError {
  constructor(applied: Applied = 'unknown') {
    super(ClusterErrorCode.shuttingDown, 'node shutting down', applied);
  }
}

/** The meta log has not created the ranges yet. */
export class NotBootstrappedError extends ClusterError {
  constructor() {
    super(ClusterErrorCode.notBootstrapped, 'cluster not bootstrapped yet', 'no');
  }
}

/** The replica was removed from this node while the request waited. */
export class ReplicaRemovedError extends ClusterError {
  constructor() {
    super(ClusterErrorCode.replicaRemoved, 'replica removed from this node', 'unknown');
  }
}

/** The SERVER_ERROR text of an error (the line is `SERVER_ERROR <this>`). */
export function serverErrorText(err: ClusterError): string {
  return `${err.code} ${err.message}`;
}

/** A cluster error as it travels between nodes: [code, message, applied]. */
export type WireError = [ClusterErrorCodeValue, string, Applied];

/** Encodes an error for a forwarded request's answer. */
export function toWire(err: ClusterError): WireError {
  return [err.code, err.message, err.applied];
}

const knownCodes = new Set<string>(Object.values(ClusterErrorCode));

/** Decodes a forwarded request's error; an unknown shape becomes ERR_BAD_ANSWER (outcome unknown). */
export function fromWire(raw: unknown): ClusterError {
  if (Array.isArray(raw) && raw.length === 3 && knownCodes.has(raw[0]) && typeof raw[1] === 'string' && (raw[2] === 'no' || raw[2] === 'unknown')) {
    return new ClusterError(raw[0] as ClusterErrorCodeValue, raw[1], raw[2]);
  }
  return new ClusterError(ClusterErrorCode.badAnswer, `unexpected error answer from a peer: ${String(raw).slice(0, 80)}`, 'unknown');
}
