/**
 * The single-node executor: one cache state machine driven directly, no Raft.
 *
 * It drives the machine exactly as a Raft leader will: every mutating op is applied with the
 * next index of a local counter (which is what becomes the Raft index, and so the CAS unique)
 * and Date.now() as the entry time; pure reads go through read() without an index. The same
 * housekeeping entries a leader proposes are applied here on timers: a deduplicated `bump`
 * of the keys read in the last second (reads never reorder the LRU by themselves, so that
 * replicas agree), and a periodic bounded `expire`. Like a leader it keeps the reads not yet
 * bumped as fetch marks (cache/fetch-marks.ts): meta h and l see them at once, and a write
 * to a marked key applies that key's bump first.
 */
import type { CacheOp, CacheResult } from '../cache/ops.js';
import { opMutates } from '../cache/ops.js';
import { FetchMarks } from '../cache/fetch-marks.js';
import type { ExecuteCallback, Executor } from './executor.js';
import { OpCounters } from './op-counters.js';

/** The slice of the cache state machine this executor drives. */
export interface StateMachine {
  /** Applies an op as log entry `index` stamped `nowMs`. */
  apply(op: CacheOp, index: number, nowMs: number): CacheResult;
  /** Answers a pure read, or null when the op must go through apply. */
  read(op: CacheOp, nowMs: number): CacheResult | null;
}

/** Item and memory figures for `stats`, supplied by the machine's owner. */
export interface ItemStatsSource {
  /** General stats after the command counters: limit_maxbytes ... evictions, in memcached order. */
  general(): Array<[string, string]>;
  /** `stats items`, `stats slabs`, `stats settings` additions; null = unknown group. */
  group(group: string): Array<[string, string]> | null;
  /** memcached `stats reset`: the item counters (total_items, evictions, ...) count from now. */
  reset(): void;
}

/** Timing and bounds of the housekeeping entries. */
export interface LocalExecutorOptions {
  bumpIntervalMs: number;
  /** Keys remembered for the next bump; more reads than this in one interval bump early. */
  bumpKeysMax: number;
  expireIntervalMs: number;
  /** Items one expire entry may examine. */
  expireScanMax: number;
}

/** The housekeeping a Raft leader will propose, at the same rates. */
export const defaultLocalExecutorOptions: LocalExecutorOptions = {
  bumpIntervalMs: 1000,
  bumpKeysMax: 65536,
  expireIntervalMs: 1000,
  expireScanMax: 10_000,
};

/** Executes every op synchronously against one local state machine. */
export class LocalExecutor implements Executor {
  /** Index of the last applied entry; the next write gets index + 1. */
  private index = 0;
  private readonly marks: FetchMarks;
  private readonly counters = new OpCounters();
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(
    private readonly machine: StateMachine,
    private readonly itemStats: ItemStatsSource,
    private readonly options: LocalExecutorOptions = defaultLocalExecutorOptions,
  ) {
    this.marks = new FetchMarks(options.bumpKeysMax);
    // unref: housekeeping must never keep the process alive on its own.
    this.timers.push(setInterval(() => this.bump(), options.bumpIntervalMs).unref());
    this.timers.push(setInterval(() => this.expire(), options.expireIntervalMs).unref());
  }

  /** The index of the last entry applied. */
  get appliedIndex(): number {
    return this.index;
  }

  execute(ops: CacheOp[], done: ExecuteCallback): void {
    const nowMs = Date.now();
    if (ops.length === 1) return done([this.executeOne(ops[0]!, nowMs)]);
    const results: CacheResult[] = new Array(ops.length);
    for (let i = 0; i < ops.length; i++) results[i] = this.executeOne(ops[i]!, nowMs);
    done(results);
  }

  stats(group: string): Array<[string, string]> | null {
    if (group !== '') return this.itemStats.group(group);
    return [...this.counters.entries(), ...this.counters.outcomeEntries(), ...this.itemStats.general()];
  }

  resetStats(): void {
    this.counters.reset();
    this.itemStats.reset();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
  }

  /** Applies the bump entry now (the timer does this every interval). */
  bump(): void {
    const bump = this.marks.takeAll();
    if (bump !== null) this.machine.apply(bump, ++this.index, Date.now());
  }

  /** Applies an expire entry now (the timer does this every interval). */
  expire(): void {
    this.machine.apply({ type: 'expire', scanMax: this.options.expireScanMax }, ++this.index, Date.now());
  }

  private executeOne(op: CacheOp, nowMs: number): CacheResult {
    let result: CacheResult | null = null;
    if (!opMutates(op)) result = this.machine.read(op, nowMs);
    if (result === null) {
      const bump = this.marks.takeFor([op]);
      if (bump !== null) this.machine.apply(bump, ++this.index, nowMs);
      result = this.machine.apply(op, ++this.index, nowMs);
    } else if (result.kind === 'hit' && op.type === 'get') {
      if (op.access === true) this.marks.merge(result, nowMs);
      // The item's own key buffer: no copy, and it does not pin the client's read chunk.
      if (op.noBump !== true) this.noteRead(result.item.key, nowMs);
    }
    this.counters.count(op, result);
    return result;
  }

  private noteRead(key: Buffer, nowMs: number): void {
    this.marks.note(key, nowMs);
    if (this.marks.full) this.bump();
  }
}
