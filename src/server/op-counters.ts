/**
 * memcached's command counters (cmd_get, get_hits, cas_badval, ...), counted from each op
 * and its result. Shared by the local executor and any executor behind the same seam, so
 * `stats` means the same thing in single-node and cluster mode.
 */
import type { CacheOp, CacheResult } from '../cache/ops.js';

/** Counter fields in memcached's `stats` order and names (snake case kept for that reason). */
export class OpCounters {
  cmd_get = 0;
  cmd_set = 0;
  cmd_flush = 0;
  cmd_touch = 0;
  get_hits = 0;
  get_misses = 0;
  delete_misses = 0;
  delete_hits = 0;
  incr_misses = 0;
  incr_hits = 0;
  decr_misses = 0;
  decr_hits = 0;
  cas_misses = 0;
  cas_hits = 0;
  cas_badval = 0;
  touch_hits = 0;
  touch_misses = 0;

  /** memcached `stats reset`: every counter back to zero. */
  reset(): void {
    Object.assign(this, new OpCounters());
  }

  /** Counts one executed op. */
  count(op: CacheOp, result: CacheResult): void {
    switch (op.type) {
      case 'get':
        return this.countGet(op.touch !== undefined, result.kind === 'hit');
      case 'store':
        return this.countStore(op.mode === 'cas', result);
      case 'delete':
        if (result.kind === 'deleted') this.delete_hits++;
        else if (result.kind === 'not_found') this.delete_misses++;
        return;
      case 'arith':
        return this.countArith(op.incr, result);
      case 'touch':
        this.cmd_touch++;
        if (result.kind === 'touched') this.touch_hits++;
        else if (result.kind === 'not_found') this.touch_misses++;
        return;
      case 'flush':
        this.cmd_flush++;
        return;
      case 'bump':
      case 'expire':
      case 'limit':
        // Internal entries, not client commands.
        return;
    }
  }

  /** The counters as memcached stat pairs, in memcached's order. */
  entries(): Array<[string, string]> {
    return [
      ['cmd_get', String(this.cmd_get)],
      ['cmd_set', String(this.cmd_set)],
      ['cmd_flush', String(this.cmd_flush)],
      ['cmd_touch', String(this.cmd_touch)],
      ['get_hits', String(this.get_hits)],
      ['get_misses', String(this.get_misses)],
    ];
  }

  /** The hit/miss counters that follow get_expired/get_flushed in memcached's order. */
  outcomeEntries(): Array<[string, string]> {
    return [
      ['delete_misses', String(this.delete_misses)],
      ['delete_hits', String(this.delete_hits)],
      ['incr_misses', String(this.incr_misses)],
      ['incr_hits', String(this.incr_hits)],
      ['decr_misses', String(this.decr_misses)],
      ['decr_hits', String(this.decr_hits)],
      ['cas_misses', String(this.cas_misses)],
      ['cas_hits', String(this.cas_hits)],
      ['cas_badval', String(this.cas_badval)],
      ['touch_hits', String(this.touch_hits)],
      ['touch_misses', String(this.touch_misses)],
    ];
  }

  private countGet(touch: boolean, hit: boolean): void {
    // memcached counts gat/gats in cmd_get and cmd_touch, and their outcome as touch hits.
    this.cmd_get++;
    if (touch) {
      this.cmd_touch++;
      if (hit) this.touch_hits++;
      else this.touch_misses++;
    } else if (hit) {
      this.get_hits++;
    } else {
      this.get_misses++;
    }
  }

  private countStore(cas: boolean, result: CacheResult): void {
    this.cmd_set++;
    if (!cas) return;
    if (result.kind === 'stored') this.cas_hits++;
    else if (result.kind === 'exists') this.cas_badval++;
    else if (result.kind === 'not_found') this.cas_misses++;
  }

  private countArith(incr: boolean, result: CacheResult): void {
    const hit = result.kind === 'number';
    const miss = result.kind === 'not_found';
    if (incr) {
      if (hit) this.incr_hits++;
      else if (miss) this.incr_misses++;
    } else if (hit) {
      this.decr_hits++;
    } else if (miss) {
      this.decr_misses++;
    }
  }
}
