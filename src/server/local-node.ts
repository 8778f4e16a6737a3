/**
 * Builds the single-node executor: a CacheStateMachine behind a LocalExecutor, with the
 * machine's figures exposed as memcached `stats` (general, items, slabs, settings).
 */
import { CacheStateMachine } from '../cache/state-machine.js';
import type { CacheStats } from '../cache/state-machine.js';
import type { CacheOp, CacheResult } from '../cache/ops.js';
import { LocalExecutor } from './local-executor.js';
import type { ItemStatsSource, StateMachine } from './local-executor.js';

// The protocol enforces -I on the value, as clients expect (a 1 MiB - 1 value fits under
// -I 1m); the cache's own check counts the item header and key too, so give it that room.
const itemOverheadBytes = 1024;

/** A LocalExecutor over a fresh cache of `memoryBytesMax`, accepting values up to `itemBytesMax`. */
export function createLocalExecutor(memoryBytesMax: number, itemBytesMax: number): LocalExecutor {
  const machine = new CacheStateMachine({ memoryBytesMax, itemBytesMax: itemBytesMax + itemOverheadBytes });
  return new LocalExecutor(adaptMachine(machine), cacheStatsSource(machine, itemBytesMax));
}

function adaptMachine(machine: CacheStateMachine): StateMachine {
  return {
    apply: (op: CacheOp, index: number, nowMs: number): CacheResult => machine.apply(op, index, nowMs),
    // The machine reads only pure gets; anything else goes through apply.
    read: (op: CacheOp, nowMs: number): CacheResult | null => (op.type === 'get' ? machine.read(op, nowMs) : null),
  };
}

/** The counters memcached's `stats reset` zeroes (its item_stats_reset and total_items). */
const resettableStats = [
  'total_items', 'evictions', 'evicted_unfetched', 'expired_unfetched', 'reclaimed', 'crawler_reclaimed', 'crawler_items_checked',
] as const;

function cacheStatsSource(machine: CacheStateMachine, itemBytesMax: number): ItemStatsSource {
  // The machine's counters are state (the same code runs replicated): `stats reset` keeps
  // their values at the reset and reports the growth since.
  let baseline: Partial<CacheStats> = {};
  const stats = (): CacheStats => {
    const s = machine.stats();
    for (const name of resettableStats) s[name] -= baseline[name] ?? 0;
    return s;
  };
  return {
    general: () => generalItemStats(stats()),
    group: (group) => groupStats(group, stats(), itemBytesMax),
    reset: () => {
      baseline = machine.stats();
    },
  };
}

function generalItemStats(s: CacheStats): Array<[string, string]> {
  return [
    ['limit_maxbytes', String(s.limit_maxbytes)],
    ['threads', '1'],
    ['bytes', String(s.bytes)],
    ['curr_items', String(s.curr_items)],
    ['total_items', String(s.total_items)],
    ['expired_unfetched', String(s.expired_unfetched)],
    ['evicted_unfetched', String(s.evicted_unfetched)],
    ['evictions', String(s.evictions)],
    ['reclaimed', String(s.reclaimed)],
    ['crawler_reclaimed', String(s.crawler_reclaimed)],
    ['crawler_items_checked', String(s.crawler_items_checked)],
  ];
}

/** `stats items` / `stats slabs` as one summary class (the cache has no slab classes). */
function groupStats(group: string, s: CacheStats, itemBytesMax: number): Array<[string, string]> | null {
  switch (group) {
    case 'items':
      return [
        ['items:1:number', String(s.curr_items)],
        ['items:1:evicted', String(s.evictions)],
        ['items:1:evicted_unfetched', String(s.evicted_unfetched)],
        ['items:1:expired_unfetched', String(s.expired_unfetched)],
        ['items:1:reclaimed', String(s.reclaimed)],
        ['items:1:crawler_reclaimed', String(s.crawler_reclaimed)],
      ];
    case 'slabs':
      return [
        ['1:chunk_size', String(itemBytesMax)],
        ['1:used_chunks', String(s.curr_items)],
        ['1:mem_requested', String(s.bytes)],
        ['active_slabs', s.curr_items > 0 ? '1' : '0'],
        ['total_malloced', String(s.bytes)],
      ];
    case 'settings':
      return [
        ['maxbytes', String(s.limit_maxbytes)],
        ['item_size_max', String(itemBytesMax)],
      ];
    default:
      return null;
  }
}
