/**
 * What this host puts on the transport, compactly.
 *
 * Raft messages travel as flat tuples tagged with their group id, so the transport's
 * per-peer frame of one event-loop turn carries every group's messages (heartbeats
 * included) together, and an idle group's heartbeat costs ~15 bytes instead of a keyed
 * object's ~120. `to` and `from` are implied by the connection and not sent.
 *
 *   [group, type, term, logTerm, index, entries, commit, reject, rejectHint, context, snapshot]
 *   entries: flat [term, index, type, data, term, index, type, data, ...] or 0
 *
 * A Snap message whose data exceeds `snapshotChunkBytes` is split into chunks sent on
 * successive event-loop turns (so one frame never holds a whole large snapshot) and
 * reassembled by the receiver before it steps the message:
 *   ['c', group, snapshotId, seq, total, bytes, header-tuple (seq 0 only)]
 */
import type { CacheResult } from '../cache/ops.js';
import type { Entry, GroupId, Message, NodeId, Snapshot } from '../raft/types.js';
import type { WireError } from './errors.js';

/** Snapshot data above this is chunked (and each chunk is this size). */
export const snapshotChunkBytes = 1024 * 1024;

/** A Raft message tuple on the wire. */
export type RaftTuple = [
  GroupId,
  number,
  number,
  number,
  number,
  Array<number | Uint8Array> | 0,
  number,
  0 | 1,
  number,
  Uint8Array | 0,
  Snapshot | 0,
];

/** A snapshot chunk on the wire. */
export type ChunkTuple = ['c', GroupId, number, number, number, Uint8Array, RaftTuple | 0];

/** Encodes a Raft message of `group`. */
export function encodeRaftMessage(group: GroupId, m: Message): RaftTuple {
  return [
    group,
    m.type,
    m.term,
    m.logTerm,
    m.index,
    m.entries.length === 0 ? 0 : flattenEntries(m.entries),
    m.commit,
    m.reject ? 1 : 0,
    m.rejectHint,
    m.context === undefined || m.context.length === 0 ? 0 : m.context,
    m.snapshot === undefined ? 0 : m.snapshot,
  ];
}

/** Decodes a Raft tuple sent by `from` to `to`; null when it is not one. */
export function decodeRaftMessage(t: unknown, from: NodeId, to: NodeId): { group: GroupId; msg: Message } | null {
  if (!Array.isArray(t) || t.length !== 11 || typeof t[0] !== 'number') return null;
  const msg: Message = {
    type: t[1],
    to,
    from,
    term: t[2],
    logTerm: t[3],
    index: t[4],
    entries: t[5] === 0 ? [] : unflattenEntries(t[5]),
    commit: t[6],
    reject: t[7] === 1,
    rejectHint: t[8],
  };
  if (t[9] !== 0) msg.context = t[9];
  if (t[10] !== 0) msg.snapshot = t[10];
  return { group: t[0], msg };
}

function flattenEntries(entries: Entry[]): Array<number | Uint8Array> {
  const flat: Array<number | Uint8Array> = new Array(entries.length * 4);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    flat[i * 4] = e.term;
    flat[i * 4 + 1] = e.index;
    flat[i * 4 + 2] = e.type;
    flat[i * 4 + 3] = e.data;
  }
  return flat;
}

function unflattenEntries(flat: unknown[]): Entry[] {
  const entries: Entry[] = new Array(flat.length >> 2);
  for (let i = 0; i < entries.length; i++) {
    entries[i] = {
      term: flat[i * 4] as number,
      index: flat[i * 4 + 1] as number,
      type: flat[i * 4 + 2] as number,
      data: flat[i * 4 + 3] as Uint8Array,
    };
  }
  return entries;
}

/** Splits a Snap message into chunk tuples. */
export function chunkSnapshot(group: GroupId, m: Message, snapshotId: number): ChunkTuple[] {
  const snap = m.snapshot!;
  const data = snap.data;
  const total = Math.max(1, Math.ceil(data.length / snapshotChunkBytes));
  const header = encodeRaftMessage(group, { ...m, snapshot: { meta: snap.meta, data: new Uint8Array(0) } });
  const chunks: ChunkTuple[] = [];
  for (let seq = 0; seq < total; seq++) {
    const bytes = data.subarray(seq * snapshotChunkBytes, (seq + 1) * snapshotChunkBytes);
    chunks.push(['c', group, snapshotId, seq, total, bytes, seq === 0 ? header : 0]);
  }
  return chunks;
}

/** Reassembles chunked snapshots per (peer, group); a new snapshot id discards a partial one. */
export class SnapshotAssembler {
  private readonly partial = new Map<string, { id: number; header: RaftTuple; parts: Uint8Array[]; next: number }>();

  /** Feeds one chunk; returns the whole message once the last chunk arrived. */
  add(from: NodeId, to: NodeId, c: ChunkTuple): { group: GroupId; msg: Message } | null {
    const [, group, id, seq, total, bytes, header] = c;
    const key = `${from}/${group}`;
    let p = this.partial.get(key);
    if (seq === 0 && header !== 0) {
      p = { id, header, parts: [], next: 0 };
      this.partial.set(key, p);
    }
    if (p === undefined || p.id !== id || p.next !== seq) {
      // A chunk was lost (send queue overflow) or we joined mid-way: wait for a resend.
      this.partial.delete(key);
      return null;
    }
    p.parts.push(bytes);
    p.next++;
    if (p.next < total) return null;
    this.partial.delete(key);
    const decoded = decodeRaftMessage(p.header, from, to);
    if (decoded === null || decoded.msg.snapshot === undefined) return null;
    decoded.msg.snapshot = { meta: decoded.msg.snapshot.meta, data: Buffer.concat(p.parts) };
    return decoded;
  }
}

/** True for a chunk tuple. */
export function isChunk(t: unknown): t is ChunkTuple {
  return Array.isArray(t) && t[0] === 'c' && t.length === 7;
}

/**
 * Results as plain msgpack-safe values: the 64-bit counter of a `number` result travels
 * as a decimal string, because the transport's msgpack decodes 64-bit ints as doubles.
 */
export function encodeResults(results: CacheResult[]): unknown[] {
  return results.map((r) => (r.kind === 'number' ? { ...r, value: r.value.toString() } : r));
}

/** Inverse of encodeResults. */
export function decodeResults(raw: unknown): CacheResult[] {
  return (raw as Array<Record<string, unknown>>).map((r) =>
    r.kind === 'number' ? ({ ...r, value: BigInt(r.value as string) } as unknown as CacheResult) : (r as unknown as CacheResult),
  );
}

/**
 * A client request forwarded to a group's leader (transport request). `d` is the encoded
 * entry of the ops (null until a forward needs it); `k` is the sender's read ack: "you lead
 * me in term k" (see Replica.servesWithAck).
 */
export type ForwardRequest = { t: 'ops'; g: GroupId; d: Uint8Array | null; k?: number } | { t: 'meta'; d: Uint8Array };

/** A forwarded request as it arrives: its data always present. */
export type ArrivedForwardRequest = { t: 'ops'; g: GroupId; d: Uint8Array; k?: number } | { t: 'meta'; d: Uint8Array };

/** The leader's answer: results, "not leader" with a hint (0 = unknown), or an error. */
export type ForwardAnswer = { r: unknown } | { nl: NodeId } | { e: WireError };

/** True for a well-formed forwarded request. */
export function isForwardRequest(p: unknown): p is ArrivedForwardRequest {
  if (typeof p !== 'object' || p === null) return false;
  const q = p as { t?: unknown; g?: unknown; d?: unknown; k?: unknown };
  if (!(q.d instanceof Uint8Array)) return false;
  if (q.t === 'meta') return true;
  return q.t === 'ops' && typeof q.g === 'number' && (q.k === undefined || typeof q.k === 'number');
}

/** True for a well-formed answer to a forwarded request. */
export function isForwardAnswer(p: unknown): p is ForwardAnswer {
  if (typeof p !== 'object' || p === null) return false;
  const q = p as { r?: unknown; nl?: unknown; e?: unknown };
  return q.r !== undefined || typeof q.nl === 'number' || q.e !== undefined;
}

/**
 * Read confirmation messages, one per peer per turn, each a flat array over groups:
 *   ['rc', [group, term, seq, ...]]          leader -> voter: "do you still follow me in term?"
 *   ['ra', [group, term, seq, ok, ...]]      the voter's answers (ok 1/0)
 *   ['ri', [group, term, seq, ...]]          follower -> leader: "your read index, please"
 *                                            (the question is itself an ack of term)
 *   ['ia', [group, seq, index, ...]]         the leader's answers (index -1 = refused)
 */
export type ReadRoundMessage = ['rc' | 'ra' | 'ri' | 'ia', number[]];

/** True for a read confirmation message. */
export function isReadRoundMessage(t: unknown): t is ReadRoundMessage {
  return Array.isArray(t) && t.length === 2 && (t[0] === 'rc' || t[0] === 'ra' || t[0] === 'ri' || t[0] === 'ia') && Array.isArray(t[1]);
}

/**
 * ['fm', group, [key, ...]]: follower -> leader, the keys of the reads the follower is
 * about to serve (sent before their read index question): the leader notes them as
 * fetches, for meta h/l and its bump entries (see cache/fetch-marks.ts).
 */
export type FetchMarksMessage = ['fm', GroupId, Uint8Array[]];

/** True for a fetch marks message. */
export function isFetchMarksMessage(t: unknown): t is FetchMarksMessage {
  return Array.isArray(t) && t.length === 3 && t[0] === 'fm' && typeof t[1] === 'number' && Array.isArray(t[2]) && t[2].every((k) => k instanceof Uint8Array);
}
