// Shared jepsen-lite file formats: the contract between the harness, the checker and the report.
// Field meanings follow DESIGN.md section 8 (history) and docs/jepsen-lite.md (nemesis, results).

/** The kind of a history event: invoke, then exactly one of ok (happened), fail (did not), info (unknown). */
export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

/** The operation a history event describes. */
export type OpF =
  | 'read'
  | 'write'
  | 'cas'
  | 'add'
  | 'delete'
  | 'incr'
  | 'decr'
  | 'replace'
  | 'touch'
  | 'cas-delete'
  | 'append'
  | 'prepend'
  | 'acquire'
  | 'renew'
  | 'release';

/**
 * Process ids from here up are sub-processes: one-shot processes an op of a worker spawns
 * for a request it sends alongside its own (each key of a multi-key get, the noreply set
 * sent before a get). Each is used for exactly one operation, from a counter over the
 * whole run, so none collides with a worker (slot s, s + concurrency, ...: far below),
 * the final reads (from 1 000 000) or the setup writes (from 2 000 000).
 */
export const subProcessBase = 10_000_000;

/** Whether a process id belongs to the workload phase (a worker or a sub-process; not a final read or setup write). */
export function isWorkloadProcess(process: number): boolean {
  return process < 1_000_000 || process >= subProcessBase;
}

/** One line of history.jsonl. */
export interface HistoryEvent {
  process: number;
  type: OpType;
  f: OpF;
  key: string;
  /**
   * read: invoke null, ok string|null (null = absent). write: string. cas: [expected, new].
   * add: string. delete: null. incr: invoke delta (decimal string), ok the result (decimal string).
   * decr: like incr (memcached's decr: floors at 0; the stored text keeps the old length,
   * space padded, so a later read of "100" decremented by 1 returns "99 "); sent as text
   * `decr` or meta `ma <key> MD D<delta> v` (a meta `ma` incr is recorded as incr).
   * replace: string (ok = STORED: the key was present; fail = NOT_STORED).
   * touch (`touch <key> 0`): null both (ok = TOUCHED: present, value unchanged; fail = NOT_FOUND).
   * cas-delete (`md <key> C<cas>` with the CAS an `mg <key> c v` returned, recorded as a read
   * first): the value that mg read, both (ok = HD: deleted while the value was still that
   * version; fail = EX / NF).
   * Sub-processes (subProcessBase): each key of a multi-key get is a read of its own process
   * (a multi-get is not atomic across keys); a noreply set is an info write of its own process.
   * append: the unique token appended, sent after a space (`append <key>` of " <token>").
   * prepend: the unique token prepended, sent before a space (`prepend <key>` of "<token> ").
   * On register keys both are register ops (STORED: the key was present; NOT_STORED: absent).
   * A write with `ttlSec` (register workload, keys `t<n>`): the value stored with that
   * exptime (`set <key> 0 <ttl>` or `ms <key> T<ttl>`); checked by checkExpiry, not as a register.
   * Lock workload (on a lock key; docs/locks.md): acquire: invoke the owner id, ok
   * [owner, token] (token = the CAS the add answered, decimal). renew: [owner, token], ok
   * [owner, new token]. release: [owner, token] both.
   */
  value: string | null | [string | null, string] | number | string[];
  /** ns since the run started (monotonic, process.hrtime.bigint based). */
  time: number;
  /** write: the exptime in seconds it was sent with (absent: 0, never expires). On the invoke. */
  ttlSec?: number;
  /** Which node the client talked to (optional extra field). */
  node?: number;
  /** Reply or exception text for fail/info (optional extra field). */
  error?: string;
  /**
   * Set on a completion whose reply was unexpected or malformed (an unknown reply kind, a
   * VALUE line naming another key or a wrong byte count, bytes nobody asked for): the run
   * is invalid (checkReplies), whatever the type says.
   */
  anomaly?: string;
}

/** One line of nemesis.jsonl: the start or stop of a fault. */
export interface NemesisEvent {
  /** ns since the run started, on the same clock as the history. */
  time: number;
  /** 'partition' | 'isolate' | 'isolate-leaders' | 'majority-ring' | 'bridge' | 'delay' | 'loss' | 'kill' | 'pause' | 'clock' | 'heal' | ... */
  fault: string;
  phase: 'start' | 'stop';
  nodes?: number[];
  detail?: string;
  /** clock: each skewed node's offset in ms (with a strobe, the offset is on and off), on start and stop. */
  offsetsMs?: Array<[node: number, offsetMs: number]>;
}

/** The verdict of a run or a single check. */
export type Outcome = 'valid' | 'invalid' | 'unknown';

/** results.json: the summary of one run. */
export interface Results {
  outcome: Outcome;
  seed: number;
  commit: string;
  nodes: number;
  timeSec: number;
  nemeses: string[];
  workload: string;
  serverArgs: string;
  ops: number;
  okOps: number;
  failOps: number;
  infoOps: number;
  opsPerSec: number;
  checkerMs: number;
  checks: { [name: string]: { outcome: Outcome; [detail: string]: unknown } };
  crashes: { node: number; line: string }[];
  digests: { agree: boolean; converged?: boolean; unanswered?: number[]; groups: { [group: string]: unknown } };
}
