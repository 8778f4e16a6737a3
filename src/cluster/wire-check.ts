/**
 * Structural checks of everything a peer sends, applied after msgpackr has decoded a frame
 * and before anything reaches Raft, the state machines or the host. A peer that knows the
 * cluster secret can still be buggy, of another version, or hostile; Raft asserts its
 * invariants (a Snap carries a snapshot, a Prop carries entries) and an assertion is a
 * crash, so nothing unchecked may be stepped. Each check returns null for a well-formed
 * value, else a short reason, which the host logs (rate-limited) and counts before it
 * drops the message and resets the link (see host.ts onPeerMessages).
 *
 * The checks are about shape and range, not about truth: a well-formed message with a term
 * from the future is Raft's to judge.
 */
import { keyBytesMax } from '../cache/item-table.js';
import { decodeCheckedEntry } from '../cache/op-check.js';
import type { CacheOp } from '../cache/ops.js';
import { decodeCheckedMetaCommand } from '../membership/meta-check.js';
import { ConfChangeType, EntryType, MessageType } from '../raft/types.js';
import { snapshotChunkBytes } from './wire.js';

/** Largest group id: --groups is at most 4096 and ranges are numbered from 1 (0 is meta). */
export const groupIdMax = 4096;

/** Most chunks one snapshot may announce (64 GiB of 1 MiB chunks). */
export const snapshotChunksMax = 65_536;

/** Longest run of entries in one message (a batch is split by Raft's maxSizePerMsg long before). */
const entriesMax = 1_000_000;

/** Message types only a node itself produces (local ticks, reports): never from a peer. */
const localOnlyTypes: ReadonlySet<number> = new Set([
  MessageType.Hup, MessageType.Beat, MessageType.Unreachable, MessageType.SnapStatus, MessageType.CheckQuorum,
]);

/** Whether `v` is a non-negative safe integer (terms, indexes, ids, counts). */
function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isNodeId(v: unknown): v is number {
  return isCount(v) && v > 0;
}

function isGroupId(v: unknown): v is number {
  return isCount(v) && v <= groupIdMax;
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

function isNodeList(v: unknown): boolean {
  return Array.isArray(v) && v.length <= 1024 && v.every(isNodeId);
}

/** A Raft message tuple (wire.ts RaftTuple). */
export function checkRaftTuple(t: unknown): string | null {
  if (!Array.isArray(t) || t.length !== 11) return 'not a Raft tuple';
  if (!isGroupId(t[0])) return 'bad group id';
  const type = t[1];
  if (!isCount(type) || MessageType[type] === undefined) return 'unknown message type';
  if (localOnlyTypes.has(type)) return `local-only message type ${MessageType[type]}`;
  for (const i of [2, 3, 4, 6, 8]) if (!isCount(t[i])) return 'term, index, commit or hint out of range';
  if (t[7] !== 0 && t[7] !== 1) return 'bad reject flag';
  if (t[9] !== 0 && !isBytes(t[9])) return 'bad context';
  const entries = checkEntries(t[5], type, t[4] as number, t[2] as number);
  if (entries !== null) return entries;
  if (type === MessageType.Snap) return checkSnapshot(t[10]);
  return t[10] === 0 ? null : 'snapshot on a message that is not Snap';
}

/** The flat entries of a tuple: 0 or [term, index, type, data, ...]. */
function checkEntries(flat: unknown, type: MessageType, prevIndex: number, term: number): string | null {
  if (flat === 0) return type === MessageType.Prop ? 'Prop without entries' : null;
  if (!Array.isArray(flat) || flat.length === 0 || flat.length % 4 !== 0) return 'entries not a list of (term, index, type, data)';
  if (flat.length / 4 > entriesMax) return 'too many entries';
  for (let i = 0; i < flat.length; i += 4) {
    if (!isCount(flat[i]) || !isCount(flat[i + 1])) return 'entry term or index out of range';
    if (flat[i + 2] !== EntryType.Normal && flat[i + 2] !== EntryType.ConfChange) return 'unknown entry type';
    if (!isBytes(flat[i + 3])) return 'entry data not bytes';
  }
  if (type !== MessageType.App) return null;
  // An append carries consecutive entries after its (index, logTerm), none newer than its term.
  for (let i = 0; i < flat.length; i += 4) {
    if (flat[i + 1] !== prevIndex + 1 + i / 4) return 'append entries not consecutive';
    if ((flat[i] as number) > term) return 'entry term above the message term';
  }
  return null;
}

/** The snapshot of a Snap tuple (its data may be empty: chunks carry it). */
function checkSnapshot(s: unknown): string | null {
  if (typeof s !== 'object' || s === null) return 'Snap without a snapshot';
  const { meta, data } = s as { meta?: unknown; data?: unknown };
  if (!isBytes(data)) return 'snapshot data not bytes';
  if (typeof meta !== 'object' || meta === null) return 'snapshot without meta';
  const m = meta as { index?: unknown; term?: unknown; confState?: unknown };
  if (!isNodeId(m.index) || !isCount(m.term)) return 'snapshot index or term out of range';
  const c = m.confState as Record<string, unknown> | null | undefined;
  if (typeof c !== 'object' || c === null) return 'snapshot without a membership';
  if (!isNodeList(c['voters']) || !isNodeList(c['learners'] ?? [])) return 'bad snapshot membership';
  if (!isNodeList(c['votersOutgoing'] ?? []) || !isNodeList(c['learnersNext'] ?? [])) return 'bad snapshot membership';
  if (c['autoLeave'] !== undefined && typeof c['autoLeave'] !== 'boolean') return 'bad snapshot membership';
  return null;
}

/** A snapshot chunk (wire.ts ChunkTuple): ['c', group, snapshotId, seq, total, bytes, header|0]. */
export function checkChunk(t: unknown): string | null {
  if (!Array.isArray(t) || t.length !== 7 || t[0] !== 'c') return 'not a chunk';
  if (!isGroupId(t[1]) || !isCount(t[2])) return 'bad chunk group or snapshot id';
  const seq = t[3];
  const total = t[4];
  if (!isCount(seq) || !isCount(total) || total < 1 || total > snapshotChunksMax || seq >= total) return 'bad chunk sequence';
  if (!isBytes(t[5]) || t[5].length > snapshotChunkBytes) return 'bad chunk bytes';
  if (seq !== 0) return t[6] === 0 ? null : 'header on a chunk after the first';
  const header = checkRaftTuple(t[6]);
  if (header !== null) return `bad chunk header: ${header}`;
  const h = t[6] as unknown[];
  return h[1] === MessageType.Snap && h[0] === t[1] ? null : 'chunk header is not a Snap of its group';
}

/** Most keys one fetch marks message may carry (a follower sends those of one turn's reads). */
const fetchMarksKeysMax = 1_000_000;

/** A fetch marks message (wire.ts FetchMarksMessage): ['fm', group, keys]. */
export function checkFetchMarks(t: unknown): string | null {
  if (!Array.isArray(t) || t.length !== 3 || !isGroupId(t[1]) || !Array.isArray(t[2])) return 'not a fetch marks message';
  if (t[2].length > fetchMarksKeysMax) return 'too many fetch marks';
  for (const k of t[2] as unknown[]) {
    if (!(k instanceof Uint8Array) || k.length === 0 || k.length > keyBytesMax) return 'bad fetch mark key';
  }
  return null;
}

/**
 * Any message of a peer's batch: a read round, fetch marks, a snapshot chunk or a Raft
 * tuple (the shapes host.ts onPeerMessage dispatches on).
 */
export function checkPeerMessage(t: unknown): string | null {
  if (!Array.isArray(t)) return 'message not a list';
  if (t[0] === 'c') return checkChunk(t);
  if (t[0] === 'fm') return checkFetchMarks(t);
  if (typeof t[0] === 'string') return checkReadRound(t);
  return checkRaftTuple(t);
}

/** Numbers per group in each kind of read round message (wire.ts ReadRoundMessage). */
const readRoundStride: Readonly<Record<string, number>> = { rc: 3, ra: 4, ri: 3, ia: 3 };

/** A read round message: ['rc'|'ra'|'ri'|'ia', flat numbers]. */
export function checkReadRound(t: unknown): string | null {
  if (!Array.isArray(t) || t.length !== 2 || typeof t[0] !== 'string' || !Array.isArray(t[1])) return 'not a read round';
  const stride = readRoundStride[t[0]];
  const flat = t[1] as unknown[];
  if (stride === undefined) return 'unknown read round kind';
  if (flat.length % stride !== 0) return 'read round of the wrong length';
  for (let i = 0; i < flat.length; i += stride) {
    if (!isGroupId(flat[i])) return 'bad read round group';
    for (let j = 1; j < stride; j++) {
      const v = flat[i + j];
      // 'ia' answers index -1 for "refused"; 'ra' answers ok as 1/0.
      const ok = t[0] === 'ia' && j === 2 ? typeof v === 'number' && Number.isSafeInteger(v) && v >= -1 : isCount(v);
      if (!ok) return 'read round field out of range';
    }
    if (t[0] === 'ra' && flat[i + 3] !== 0 && flat[i + 3] !== 1) return 'bad read round answer';
  }
  return null;
}

/** A membership move step (moves.ts MoveOp) inside a `{t: 'mv'}` request. */
export function checkMoveOp(o: unknown): string | null {
  if (typeof o !== 'object' || o === null) return 'move op not an object';
  const op = o as { op?: unknown; type?: unknown; node?: unknown; to?: unknown };
  switch (op.op) {
    case 'conf':
      return null;
    case 'cc':
      if (op.type !== ConfChangeType.AddNode && op.type !== ConfChangeType.RemoveNode && op.type !== ConfChangeType.AddLearnerNode) {
        return 'unknown conf change type';
      }
      return isNodeId(op.node) ? null : 'bad conf change node';
    case 'transfer':
      return isNodeId(op.to) ? null : 'bad transfer target';
    default:
      return 'unknown move op';
  }
}

/** What checking a peer request found: why it is refused, or the decoded ops of a forward. */
export interface RequestCheck {
  why: string | null;
  /** The ops of a well-formed forwarded `{t: 'ops'}` request, decoded once here. */
  ops?: CacheOp[];
}

/**
 * A transport request from a peer. Forwarded ops and meta commands are decoded and checked
 * here, before they can be proposed: once committed, every node would apply them.
 * Requests of a kind this node does not know pass (their handler answers "unknown").
 */
export function checkPeerRequest(p: unknown): RequestCheck {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return { why: 'request not an object' };
  const q = p as { t?: unknown; g?: unknown; d?: unknown; k?: unknown; o?: unknown };
  switch (q.t) {
    case 'ops': {
      if (!isGroupId(q.g) || q.g === 0 || !isBytes(q.d)) return { why: 'bad forwarded ops request' };
      if (q.k !== undefined && !isCount(q.k)) return { why: 'bad forwarded read ack' };
      const { entry, why } = decodeCheckedEntry(q.d);
      return entry === null ? { why } : { why: null, ops: entry.ops };
    }
    case 'meta':
      return isBytes(q.d) ? { why: decodeCheckedMetaCommand(q.d).why } : { why: 'bad forwarded meta request' };
    case 'mv':
      return { why: isGroupId(q.g) ? checkMoveOp(q.o) : 'bad move group' };
    default:
      return { why: null };
  }
}
