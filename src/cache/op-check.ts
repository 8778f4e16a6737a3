/**
 * Structural check of a cache entry before it is proposed. Ops forwarded by a peer arrive
 * as entry bytes; once committed they are applied by every replica, and the item table
 * asserts its own limits (a key longer than it can index), so the leader proposes only
 * entries whose every op has the shape and ranges the state machine expects.
 */
import { decodeEntry, type CacheEntry } from './op-codec.js';
import type { CacheOp } from './ops.js';
import { keyBytesMax } from './item-table.js';

/** Most ops in one forwarded entry (a multi-get of many keys is one entry per group). */
export const entryOpsMax = 1_000_000;

function isKey(v: unknown): boolean {
  return Buffer.isBuffer(v) && v.length > 0 && v.length <= keyBytesMax;
}

function isNum(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v);
}

/** An optional field: absent, or of the given kind. */
function opt(v: unknown, ok: (v: unknown) => boolean): boolean {
  return v === undefined || ok(v);
}

function isBool(v: unknown): boolean {
  return typeof v === 'boolean';
}

function isBig(v: unknown): boolean {
  return typeof v === 'bigint' && v >= 0n && v < 1n << 64n;
}

/** Null when `op` is one the state machine can apply, else why not. */
export function checkCacheOp(op: CacheOp): string | null {
  switch (op.type) {
    case 'get':
      return isKey(op.key) && opt(op.touch, isNum) && opt(op.vivify, isNum) && opt(op.recache, isNum) &&
        opt(op.noBump, isBool) && opt(op.newCas, isNum) && opt(op.token, isBool) ? null : 'bad get';
    case 'store':
      return isKey(op.key) && isNum(op.flags) && isNum(op.exptime) && Buffer.isBuffer(op.value) && opt(op.cas, isNum) &&
        opt(op.newCas, isNum) && opt(op.invalidate, isBool) && opt(op.vivify, isNum) ? null : 'bad store';
    case 'delete':
      return isKey(op.key) && opt(op.cas, isNum) && opt(op.newCas, isNum) && opt(op.invalidate, isBool) &&
        opt(op.exptime, isNum) && opt(op.removeValue, isBool) ? null : 'bad delete';
    case 'arith':
      return isKey(op.key) && isBool(op.incr) && isBig(op.delta) && opt(op.cas, isNum) && opt(op.newCas, isNum) &&
        opt(op.vivify, isNum) && opt(op.initial, isBig) && opt(op.exptime, isNum) ? null : 'bad arith';
    case 'touch':
      return isKey(op.key) && isNum(op.exptime) ? null : 'bad touch';
    case 'flush':
      return isNum(op.delay) ? null : 'bad flush';
    case 'bump':
      return Array.isArray(op.keys) && op.keys.length <= entryOpsMax && op.keys.every(isKey) ? null : 'bad bump';
    case 'expire':
      return isNum(op.scanMax) && op.scanMax >= 0 ? null : 'bad expire';
    default:
      return 'unknown op';
  }
}

/** Decodes entry bytes; null with the reason when any op is not one the state machine can apply. */
export function decodeCheckedEntry(bytes: Uint8Array): { entry: CacheEntry | null; why: string | null } {
  let entry: CacheEntry;
  try {
    entry = decodeEntry(bytes);
  } catch {
    return { entry: null, why: 'undecodable cache entry' };
  }
  if (!isNum(entry.nowMs) || !Array.isArray(entry.ops) || entry.ops.length > entryOpsMax) return { entry: null, why: 'bad cache entry' };
  for (const op of entry.ops) {
    const why = checkCacheOp(op);
    if (why !== null) return { entry: null, why };
  }
  return { entry, why: null };
}
