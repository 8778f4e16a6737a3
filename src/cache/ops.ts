/**
 * The operations the cache state machine applies, and what it answers.
 *
 * This is the contract between `protocol/` (which turns text, meta and binary commands
 * into these ops and formats the results back into bytes), `cache/` (which applies them
 * deterministically) and `cluster/` (which puts the mutating ones into a Raft log).
 *
 * The op model follows memcached's meta commands, which are a superset of the text and
 * binary semantics: text `set` is a StoreOp with mode 'set', `gat` is a GetOp with `touch`,
 * binary `incr` with an initial value is an ArithOp with `vivify`, and so on.
 *
 * Times: every `exptime`/`touch`/`vivify` field holds memcached's raw exptime number
 * (0 = never; 1..2592000 = seconds from now; larger = absolute unix seconds; negative =
 * already expired). The state machine converts it against the entry's `nowMs`, which the
 * leader stamps, so every replica computes the same absolute expiry.
 *
 * CAS: a number. The CAS unique of an item is the log index of the entry that last wrote
 * it, unless the op carries `newCas` (meta E flag). memcached CAS values are 64-bit; a
 * value above Number.MAX_SAFE_INTEGER never matches anything (protocol parses it as -1).
 */

/** Raw memcached exptime (see the module doc). */
export type Exptime = number;

/** A read of one key; with `touch`, `vivify` or `recache` it also writes (goes through the log). */
export interface GetOp {
  type: 'get';
  key: Buffer;
  /** gat/gats, binary touch-get, meta T: new exptime applied on hit. */
  touch?: Exptime;
  /** meta N: on miss, create an empty stub item with this exptime and hand out the win flag. */
  vivify?: Exptime;
  /** meta R: on hit, if the remaining TTL (seconds) is below this, hand out the win flag. */
  recache?: number;
  /** meta T given before R: R judges the TTL T set (memcached applies meta flags in order). */
  touchFirst?: boolean;
  /** meta u: do not bump the item in the LRU nor mark it fetched. */
  noBump?: boolean;
  /** meta E: CAS to give the item if this op modifies it. */
  newCas?: number;
  /**
   * The reply shows the item's fetch state (meta h, l; me): answered where the fetches not
   * yet logged are known (the leader, see fetch-marks.ts), never as a follower read.
   */
  access?: boolean;
  /**
   * A meta get (mg): it takes part in the recache token protocol, so a stale item hands
   * it the win token (W) and later meta gets see Z. Text and binary gets (memcached's
   * item_get) return a stale item's value and never take the token.
   */
  token?: boolean;
}

/** How a StoreOp combines with what is stored. 'cas' = set only if the item's CAS equals `cas`. */
export type StoreMode = 'set' | 'add' | 'replace' | 'append' | 'prepend' | 'cas';

/** set/add/replace/append/prepend/cas, text, binary or meta (ms with M modes). */
export interface StoreOp {
  type: 'store';
  mode: StoreMode;
  key: Buffer;
  /** Client flags, 32-bit unsigned. Ignored for append/prepend (item keeps its flags). */
  flags: number;
  exptime: Exptime;
  value: Buffer;
  /** Compare-and-swap token: required for mode 'cas'; meta C / binary CAS for other modes. */
  cas?: number;
  /** meta E. */
  newCas?: number;
  /** meta I: if `cas` is older than the item's CAS, store anyway but mark the item stale. */
  invalidate?: boolean;
  /** meta N in append/prepend mode: on miss, create the item with this exptime. */
  vivify?: Exptime;
}

/** delete / md / binary delete. */
export interface DeleteOp {
  type: 'delete';
  key: Buffer;
  cas?: number;
  newCas?: number;
  /** meta I: mark stale (and bump CAS) instead of removing. */
  invalidate?: boolean;
  /** meta T with I: new exptime for the stale item. */
  exptime?: Exptime;
  /** meta x: drop the value (and client flags) but keep the item. */
  removeValue?: boolean;
}

/** incr/decr / ma / binary incr,decr. 64-bit unsigned: incr wraps, decr floors at 0. */
export interface ArithOp {
  type: 'arith';
  key: Buffer;
  incr: boolean;
  delta: bigint;
  cas?: number;
  newCas?: number;
  /** meta N / binary exptime != 0xffffffff: create on miss with `initial` and this exptime. */
  vivify?: Exptime;
  /** meta J / binary initial value (default 0n). */
  initial?: bigint;
  /** meta T: update exptime on success. */
  exptime?: Exptime;
}

/** touch / binary touch. */
export interface TouchOp {
  type: 'touch';
  key: Buffer;
  exptime: Exptime;
}

/** flush_all [delay]: every item stored before (now + delay) becomes invalid at that time. */
export interface FlushOp {
  type: 'flush';
  /** Raw exptime semantics as memcached: 0 = now. */
  delay: Exptime;
}

/** Leader-proposed: keys read since the last bump move to the LRU head and are marked fetched. */
export interface BumpOp {
  type: 'bump';
  keys: Buffer[];
  /** When each key was read (the leader's clock); absent: at the entry's time. */
  atMs?: number[];
}

/** Leader-proposed: remove items whose expiry <= the entry's time (bounded amount of work). */
export interface ExpireOp {
  type: 'expire';
  /** At most this many items are examined, so one entry never stalls apply. */
  scanMax: number;
}

/**
 * Leader-proposed: the group's memory limit (memcached -m shared over the groups a node
 * holds, see membership/placement.ts groupMemoryBytes). A log entry, so every replica
 * changes its limit, and evicts for it, at the same index.
 */
export interface LimitOp {
  type: 'limit';
  memoryBytesMax: number;
}

/** Every op the state machine knows. */
export type CacheOp = GetOp | StoreOp | DeleteOp | ArithOp | TouchOp | FlushOp | BumpOp | ExpireOp | LimitOp;

/** The item fields a reply may need, as of this apply. `value` may share memory with the store: do not mutate. */
export interface ItemView {
  key: Buffer;
  value: Buffer;
  flags: number;
  cas: number;
  /** Remaining TTL in whole seconds, -1 for never (meta t). */
  ttlSec: number;
  /** Seconds since last access, as of the last bump (meta l). */
  lastAccessSec: number;
  /** Whether the item had been fetched before this op (meta h). */
  fetched: boolean;
  /** Marked stale by a meta invalidation (meta X). */
  stale: boolean;
}

/** Win-flag outcome for meta gets: 'W' this client won the recache, 'Z' someone already did. */
export type WinFlag = 'W' | 'Z' | null;

/** What applying (or reading) an op answers. Protocol layers map `kind` to their own reply. */
export type CacheResult =
  | { kind: 'hit'; item: ItemView; win: WinFlag }
  | { kind: 'miss' }
  | { kind: 'stored'; cas: number; size: number }
  | { kind: 'not_stored' }
  | { kind: 'exists' }
  | { kind: 'not_found' }
  | { kind: 'deleted' }
  | { kind: 'touched'; item: ItemView }
  | { kind: 'number'; value: bigint; cas: number; item: ItemView }
  | { kind: 'ok' }
  | { kind: 'client_error'; message: string }
  | { kind: 'server_error'; message: string };

/** True when applying `op` can change state, so in a cluster it must go through the log. */
export function opMutates(op: CacheOp): boolean {
  if (op.type === 'get') return op.touch !== undefined || op.vivify !== undefined || op.recache !== undefined;
  return true;
}

/** The key an op addresses, or null for ops that address the whole group. */
export function opKey(op: CacheOp): Buffer | null {
  switch (op.type) {
    case 'flush':
    case 'bump':
    case 'expire':
    case 'limit':
      return null;
    default:
      return op.key;
  }
}
