/**
 * Linearizability of one key's history: Wing & Gong's depth-first search with Lowe's
 * improvements, as in Porcupine ("Testing for linearizability", Lowe 2017):
 *
 * - The history is a doubly linked list of call and return entries in time order. The
 *   candidates for the next linearized op are the calls before the first return; linearizing
 *   one "lifts" its call and return out of the list, backtracking "unlifts" them
 *   (dancing links, O(1) both ways).
 * - Configurations (set of linearized ops as a bitset, model state) that failed are
 *   memoised, so that the search never explores the same configuration twice.
 *
 * Indeterminate (info) ops have no return entry: they may take effect at any point after
 * their invoke, or never, so the search is done when every ok op is linearized. They live
 * in a list of their own, and a configuration's candidates are tried ok ops first (pass 1:
 * the ok list up to its first return entry), then info ops (pass 2: info calls up to that
 * return's time), so that the configurations that do not use an info op fail (and are
 * memoised) before those that do.
 *
 * Reductions, each of which keeps some linearization whenever one exists:
 * - FailedConfigs prunes configurations that used a superset of a failed one's info ops.
 * - An info op is never followed directly by a blind overwrite (write, info delete), which would
 *   make it pointless, nor linearized where it leaves the state unchanged.
 * - Identical info ops are used in invoke order only; info ops whose value no op could
 *   observe are dropped (info-ops.ts).
 * - A read (any op that never changes the state) that applies is linearized at once with
 *   no alternatives: a linearization from here can always be reordered to start with it.
 *   With 10-20 concurrent clients this cut the steps of the hardest keys 5x or more.
 * fail ops did not happen and are removed beforehand.
 *
 * Worked example: w1 = write "1" [0,10], r = read -> "1" [5,20], w2 = write "2" [6,8].
 * List: call w1, call r, call w2, ret w2, ret w1, ret r. From (∅, absent): try w1 ->
 * ({w1}, "1"); try r -> ({w1,r}, "1"); try w2 -> ({w1,r,w2}, "2"), all three ok ops done:
 * linearizable (w1, r, w2). Had r returned "3", every branch would block at a return
 * entry and the search would report r as the op that could not be linearized.
 */
import assert from 'node:assert';
import { FailedConfigs } from './failed-configs.js';
import { dropUnobservableInfo, infoClassPrev } from './info-ops.js';
import type { PairedOp } from './history-ops.js';
import { compileOp, step, StateTable, absentState, OpKind, type ModelOp } from './register-model.js';

/** The verdict for one key. */
export type KeyOutcome = 'valid' | 'invalid' | 'unknown';

/** Where the search failed deepest: the op that could not be linearized and the states it met. */
export interface Blocked {
  op: ModelOp;
  /** Model states (values, null = absent) in which the op was tried and could not take effect. */
  states: (string | null)[];
  /** True when more states were seen than are listed. */
  statesTruncated: boolean;
}

/** The result of searching one key. */
export interface SearchResult {
  outcome: KeyOutcome;
  /** Model steps and backtracks spent. */
  steps: number;
  /** The compiled ops (ok and info, without fail ops and info reads). */
  ops: ModelOp[];
  /** Failed configurations memoised. */
  configs: number;
  /** Why an 'unknown' search stopped: the step limit or the memo's size limit. */
  stopped?: 'steps' | 'memo';
  blocked?: Blocked;
}

/** Distinct states remembered per blocked op: enough for a readable anomaly message. */
const blockedStatesMax = 8;

/** 32-bit hash finaliser (murmur3 fmix32): spreads Zobrist ^ state over the low bits the table uses. */
function mix(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

/** Deterministic Zobrist keys (mulberry32 from a fixed seed): the checker must be pure. */
function zobristKeys(count: number): Int32Array {
  const keys = new Int32Array(count);
  let seed = 0x5eed1234;
  for (let i = 0; i < count; i++) {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    keys[i] = t ^ (t >>> 14);
  }
  return keys;
}

/**
 * The history as two entry lists sharing link arrays: ok ops' calls (2i) and returns
 * (2i + 1) from okHead = 2n, info ops' calls from infoHead = 2n + 1, each in time order.
 */
interface EntryList {
  next: Int32Array;
  prev: Int32Array;
  okHead: number;
  infoHead: number;
}

function buildEntries(ops: ModelOp[]): EntryList {
  const time = (entry: number): number => {
    const op = ops[entry >> 1]!.source;
    return (entry & 1) === 0 ? op.invoke.time : op.completion!.time;
  };
  // Calls before returns at equal times: treating such ops as concurrent never rejects a
  // linearizable history.
  const byTime = (x: number, y: number): number => time(x) - time(y) || (x & 1) - (y & 1) || x - y;
  const okEntries: number[] = [];
  const infoEntries: number[] = [];
  ops.forEach((op, i) => {
    if (op.info) infoEntries.push(2 * i);
    else okEntries.push(2 * i, 2 * i + 1);
  });
  const okHead = 2 * ops.length;
  const infoHead = okHead + 1;
  const next = new Int32Array(infoHead + 1).fill(-1);
  const prev = new Int32Array(infoHead + 1).fill(-1);
  const link = (head: number, entries: number[]): void => {
    let last = head;
    for (const entry of entries.sort(byTime)) {
      next[last] = entry;
      prev[entry] = last;
      last = entry;
    }
  };
  link(okHead, okEntries);
  link(infoHead, infoEntries);
  return { next, prev, okHead, infoHead };
}

/** Compiles a key's ops for the model: fail ops and info reads drop out. */
export function compileKeyOps(paired: readonly PairedOp[], states: StateTable): ModelOp[] {
  const ops: ModelOp[] = [];
  for (const op of paired) {
    if (op.outcome === 'fail') continue;
    const compiled = compileOp(op, states);
    if (compiled !== null) ops.push(compiled);
  }
  return ops;
}

/** Limits of one key's search. */
export interface SearchLimits {
  stepsMax: number;
  /** Size limit of the failed-configuration memo, in 4-byte words. */
  memoWordsMax?: number;
}

/** Searches for a linearization of one key's ops; 'unknown' when it needs more than its limits. */
export function checkKey(paired: readonly PairedOp[], limits: SearchLimits): SearchResult {
  const states = new StateTable();
  const ops = dropUnobservableInfo(compileKeyOps(paired, states), states);
  return new Search(ops, states, limits).run();
}

function isReadOnly(op: ModelOp): boolean {
  return op.kind === OpKind.Read || op.kind === OpKind.Touch || (op.kind === OpKind.Cas && op.a === op.b) || (op.kind === OpKind.Incr && op.delta === 0n);
}

/** Where the search blocked deepest: the op whose completion it could not pass. */
interface BlockLog {
  op: number;
  depth: number;
}

/** What a step of the search leads to. */
const Next = { Continue: 0, Fail: 1, Invalid: 2, Unknown: 3 } as const;
type Next = (typeof Next)[keyof typeof Next];

/** One key's search; fields are the mutable configuration, kept flat for speed. */
class Search {
  private readonly ops: ModelOp[];
  private readonly states: StateTable;
  private readonly stepsMax: number;
  private readonly list: EntryList;
  /** Bit index of each op within the ok or the info bitset. */
  private readonly bitIndex: Int32Array;
  private readonly zobrist: Int32Array;
  private readonly okBits: Uint32Array;
  private readonly infoBits: Uint32Array;
  private readonly failed: FailedConfigs;
  /** 1 for blind overwrites (write, info delete): their result does not depend on the state. */
  private readonly blind: Uint8Array;
  /** 1 for ops that never change the state where they apply (reads, touch, cas x->x, incr by 0). */
  private readonly readOnly: Uint8Array;
  /** Per info op: the previous identical info op (by invoke time), or -1. */
  private readonly classPrev: Int32Array;
  private okHash = 0;
  private memoFull = false;
  private steps = 0;
  // The current configuration and the path to it.
  private readonly stackOp: Int32Array;
  private readonly stackState: Int32Array;
  /** 1 when the frame's op was linearized eagerly (its parent has no other child to try). */
  private readonly stackEager: Uint8Array;
  private depth = 0;
  private okDepth = 0;
  private okRemaining: number;
  private state = absentState;
  /** The last op linearized is an info op, so the next may not be a blind overwrite. */
  private restricted = false;
  /** The ok list's first return entry during pass 2, -1 during pass 1. */
  private firstReturn = -1;
  /** The candidate entry being looked at. */
  private entry: number;
  /** The deepest block at an op that was refused somewhere, and at any other op. */
  private readonly refuted: BlockLog = { op: -1, depth: -1 };
  private readonly fallback: BlockLog = { op: -1, depth: -1 };
  /** Per ok op: states in which it could not take effect (capped). */
  private readonly refusedStates: number[][];

  constructor(ops: ModelOp[], states: StateTable, limits: SearchLimits) {
    this.ops = ops;
    this.states = states;
    this.stepsMax = limits.stepsMax;
    this.list = buildEntries(ops);
    this.bitIndex = new Int32Array(ops.length);
    let okCount = 0;
    let infoCount = 0;
    ops.forEach((op, i) => (this.bitIndex[i] = op.info ? infoCount++ : okCount++));
    this.zobrist = zobristKeys(ops.length);
    this.okBits = new Uint32Array(Math.ceil(okCount / 32));
    this.infoBits = new Uint32Array(Math.ceil(infoCount / 32));
    this.failed = new FailedConfigs(limits.memoWordsMax);
    this.classPrev = infoClassPrev(ops);
    this.readOnly = Uint8Array.from(ops, (op) => (isReadOnly(op) ? 1 : 0));
    // An ok delete needs a present value (DELETED; NOT_FOUND otherwise): not blind.
    this.blind = Uint8Array.from(ops, (op) => (op.kind === OpKind.Write || (op.kind === OpKind.Delete && op.info) ? 1 : 0));
    this.refusedStates = ops.map(() => []);
    this.stackOp = new Int32Array(ops.length);
    this.stackState = new Int32Array(ops.length);
    this.stackEager = new Uint8Array(ops.length);
    this.okRemaining = okCount;
    this.entry = this.list.next[this.list.okHead]!;
  }

  run(): SearchResult {
    const outcome = this.search();
    const result: SearchResult = { outcome, steps: this.steps, ops: this.ops, configs: this.failed.size };
    if (outcome === 'unknown') result.stopped = this.memoFull ? 'memo' : 'steps';
    if (outcome === 'invalid') result.blocked = this.blocked();
    return result;
  }

  /**
   * The depth-first search (see the module comment): pass 1 walks the ok list to its first
   * return entry, pass 2 the info calls invoked before that return; when both are exhausted
   * the configuration fails and the search backtracks.
   */
  private search(): KeyOutcome {
    while (this.okRemaining > 0) {
      if (this.firstReturn === -1 && (this.entry & 1) === 1) {
        assert(this.entry !== -1, 'the ok list ends with a return entry while ok ops remain');
        this.firstReturn = this.entry;
        this.entry = this.infoCandidateFrom(this.list.next[this.list.infoHead]!);
        continue;
      }
      let next: Next;
      if (this.firstReturn !== -1 && this.entry === -1) {
        this.noteBlocked(this.firstReturn >> 1, this.okDepth);
        next = Next.Fail;
      } else {
        next = this.tryEntry();
      }
      if (next === Next.Fail) next = this.backtrack();
      if (next === Next.Invalid) return 'invalid';
      if (next === Next.Unknown) return 'unknown';
    }
    return 'valid';
  }

  /** Tries to linearize the current candidate entry's op. */
  private tryEntry(): Next {
    const index = this.entry >> 1;
    const op = this.ops[index]!;
    if (this.restricted && this.firstReturn === -1 && this.blind[index] === 1) {
      this.entry = this.list.next[this.entry]!;
      return Next.Continue;
    }
    if (++this.steps > this.stepsMax) return Next.Unknown;
    const after = step(op, this.state, this.states);
    if (after < 0 && !op.info) this.noteRefused(index, this.state);
    // An ok op that never changes the state (a read) can be linearized as soon as it
    // applies, with no alternatives tried: any linearization from here can be reordered to
    // start with it. An info op that leaves the state as it is would be pointless.
    const eager = after >= 0 && this.readOnly[index] === 1 && !op.info;
    if (after >= 0 && !(after === this.state && op.info) && this.descend(index, after, eager)) return Next.Continue;
    if (eager) return Next.Fail;
    this.entry = this.firstReturn === -1 ? this.list.next[this.entry]! : this.infoCandidateFrom(this.list.next[this.entry]!);
    return Next.Continue;
  }

  /** Linearizes op `index` (new state `after`) unless the memo knows the result fails. */
  private descend(index: number, after: number, eager: boolean): boolean {
    const info = this.ops[index]!.info;
    this.toggleBit(index);
    if (this.failed.dominates(this.configHash(after), this.okBits, this.infoBits, after, info)) {
      this.toggleBit(index);
      return false;
    }
    const depth = this.depth++;
    this.stackOp[depth] = index;
    this.stackState[depth] = this.state;
    this.stackEager[depth] = eager ? 1 : 0;
    this.state = after;
    this.restricted = info;
    this.lift(index);
    if (!info) {
      this.okRemaining--;
      this.okDepth++;
    }
    this.firstReturn = -1;
    this.entry = this.list.next[this.list.okHead]!;
    return true;
  }

  /**
   * The current configuration fails: memoise it and undo the last op, and so for its
   * parents as long as they were left eagerly; then resume after the op undone last.
   */
  private backtrack(): Next {
    const ops = this.ops;
    let index: number;
    do {
      if (++this.steps > this.stepsMax) return Next.Unknown;
      if (!this.failed.add(this.configHash(this.state), this.okBits, this.infoBits, this.state, this.restricted)) {
        this.memoFull = true;
        return Next.Unknown;
      }
      if (this.depth === 0) return Next.Invalid;
      const depth = --this.depth;
      index = this.stackOp[depth]!;
      this.state = this.stackState[depth]!;
      this.restricted = depth > 0 && ops[this.stackOp[depth - 1]!]!.info;
      this.unlift(index);
      this.toggleBit(index);
      if (!ops[index]!.info) {
        this.okRemaining++;
        this.okDepth--;
      }
    } while (this.stackEager[this.depth] === 1);
    if (ops[index]!.info) {
      this.firstReturn = this.firstReturnEntry();
      this.entry = this.infoCandidateFrom(this.list.next[2 * index]!);
    } else {
      this.firstReturn = -1;
      this.entry = this.list.next[2 * index]!;
    }
    return Next.Continue;
  }

  /** The ok list's first return entry. */
  private firstReturnEntry(): number {
    const next = this.list.next;
    let entry = next[this.list.okHead]!;
    while ((entry & 1) === 0) entry = next[entry]!;
    return entry;
  }

  /** The first info call at or after `entry` that may be tried now (invoked before firstReturn), or -1. */
  private infoCandidateFrom(entry: number): number {
    const { ops, list, blind, classPrev } = this;
    const limit = ops[this.firstReturn >> 1]!.source.completion!.time;
    for (; entry !== -1; entry = list.next[entry]!) {
      const index = entry >> 1;
      if (ops[index]!.source.invoke.time > limit) return -1;
      if (this.restricted && blind[index] === 1) continue;
      // Identical info ops are used in invoke order: skip this one while an earlier twin is unused.
      const twin = classPrev[index]!;
      if (twin !== -1 && !this.isSet(twin)) continue;
      return entry;
    }
    return -1;
  }

  private isSet(index: number): boolean {
    const bit = this.bitIndex[index]!;
    const bits = this.ops[index]!.info ? this.infoBits : this.okBits;
    return (bits[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  private configHash(state: number): number {
    return mix(this.okHash ^ Math.imul(state + 1, 0x9e3779b1));
  }

  /** Flips op `index` in its bitset (and the ok ops' Zobrist hash). */
  private toggleBit(index: number): void {
    const bit = this.bitIndex[index]!;
    if (this.ops[index]!.info) {
      this.infoBits[bit >>> 5] ^= 1 << (bit & 31);
    } else {
      this.okBits[bit >>> 5] ^= 1 << (bit & 31);
      this.okHash ^= this.zobrist[index]!;
    }
  }

  private lift(index: number): void {
    const { next, prev } = this.list;
    const call = 2 * index;
    next[prev[call]!] = next[call]!;
    if (next[call] !== -1) prev[next[call]!] = prev[call]!;
    if (this.ops[index]!.info) return;
    const ret = call + 1;
    next[prev[ret]!] = next[ret]!;
    if (next[ret] !== -1) prev[next[ret]!] = prev[ret]!;
  }

  /** Undoes lift(index), in reverse order (dancing links). */
  private unlift(index: number): void {
    const { next, prev } = this.list;
    const call = 2 * index;
    if (!this.ops[index]!.info) {
      const ret = call + 1;
      if (next[ret] !== -1) prev[next[ret]!] = ret;
      next[prev[ret]!] = ret;
    }
    if (next[call] !== -1) prev[next[call]!] = call;
    next[prev[call]!] = call;
  }

  /** Remembers a state in which ok op `index` could not take effect (for the anomaly message). */
  private noteRefused(index: number, state: number): void {
    const seen = this.refusedStates[index]!;
    if (seen.length <= blockedStatesMax && !seen.includes(state)) seen.push(state);
  }

  /**
   * Remembers that the search blocked at op `index`'s completion with `okDepth` ok ops
   * linearized. The op blocked deepest is reported, preferring one that was refused
   * somewhere (whose own precondition failed) over one blocked only by later ops.
   */
  private noteBlocked(index: number, okDepth: number): void {
    const best = this.refusedStates[index]!.length > 0 ? this.refuted : this.fallback;
    if (best.op === -1 || okDepth > best.depth) [best.op, best.depth] = [index, okDepth];
  }

  private blocked(): Blocked {
    const op = this.refuted.op !== -1 ? this.refuted.op : this.fallback.op;
    const seen = this.refusedStates[op]!;
    return {
      op: this.ops[op]!,
      states: seen.slice(0, blockedStatesMax).map((id) => this.states.values[id] ?? null),
      statesTruncated: seen.length > blockedStatesMax,
    };
  }
}
