/**
 * The LevelDB key scheme (DESIGN.md section 5). Keys are ASCII strings whose byte order is
 * the order that matters: by group, then by kind, then by index. Fixed-width lower-case hex
 * makes numeric order equal byte order.
 *
 *   g/<group:8 hex>/hs                      hard state
 *   g/<group:8 hex>/log/<index:16 hex>      one log entry
 *   g/<group:8 hex>/snap                    snapshot metadata (incl. chunk count)
 *   g/<group:8 hex>/snapd/<chunk:8 hex>     snapshot data, chunked
 *   m/<key>                                 node-level metadata
 *   format                                  on-disk format version
 */
import assert from 'node:assert';
import type { GroupId } from '../raft/types.js';

const groupIdMax = 0xffff_ffff;

/** Every group key starts with this; `groupsEnd` is just past the last one. */
export const groupsStart = 'g/';
export const groupsEnd = 'g0';
/** The key holding the on-disk format version. */
export const formatKey = 'format';

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

/** The prefix of all keys of a group. */
export function groupPrefix(group: GroupId): string {
  assert(Number.isInteger(group) && group >= 0 && group <= groupIdMax, `bad group id ${group}`);
  return `g/${hex8(group)}/`;
}

/** The first key after all keys of a group (not itself a group's key). */
export function groupEnd(group: GroupId): string {
  return `g/${hex8(group)}0`;
}

/** Key of a group's hard state. */
export function hardStateKey(group: GroupId): string {
  return groupPrefix(group) + 'hs';
}

/** Key of a group's snapshot metadata. */
export function snapshotKey(group: GroupId): string {
  return groupPrefix(group) + 'snap';
}

/** Key of one chunk of a group's snapshot data. */
export function snapshotChunkKey(group: GroupId, chunk: number): string {
  return groupPrefix(group) + 'snapd/' + hex8(chunk);
}

/** Range [start, end) of a group's snapshot chunk keys. */
export function snapshotChunkRange(group: GroupId): { gte: string; lt: string } {
  const prefix = groupPrefix(group) + 'snapd/';
  return { gte: prefix, lt: prefix + 'g' };
}

/** Key of a group's log entry. */
export function logKey(group: GroupId, index: number): string {
  assert(Number.isSafeInteger(index) && index > 0, `bad log index ${index}`);
  return groupPrefix(group) + 'log/' + hex16(index);
}

/**
 * Range [start, end) of a group's log keys from index `from` on. Scans start at the first
 * live index, not at the prefix: compaction leaves a run of tombstones below it (LevelDB's
 * queue pattern) that a scan from the prefix would have to step over until they compact away.
 */
export function logRange(group: GroupId, from: number): { gte: string; lt: string } {
  const prefix = groupPrefix(group) + 'log/';
  return { gte: logKey(group, from), lt: prefix + 'g' };
}

/** The index encoded in a log key. */
export function logKeyIndex(key: string): number {
  return parseInt(key.slice(key.length - 16), 16);
}

/** The group encoded in any group key (`g/<group>/...`). */
export function keyGroup(key: string): GroupId {
  return parseInt(key.slice(2, 10), 16);
}

/** Key of a node-level metadata item. */
export function metaKey(key: string): string {
  return 'm/' + key;
}
