/**
 * Small helpers shared by the Raft core: entry sizes, size-limited slices, message
 * classification, empty values.
 */
import type { ConfState, Entry, HardState, Message } from './types.js';
import { MessageType } from './types.js';

/** Fixed per-entry overhead counted against message size limits (term, index, type, framing). */
export const entryOverheadBytes = 16;

/** Bytes an entry costs in an App message (size limits per message). */
export function entryBytes(e: Entry): number {
  return e.data.byteLength + entryOverheadBytes;
}

/** Payload bytes of an entry (uncommitted and inflight limits; an empty entry costs 0, as in etcd). */
export function payloadBytes(e: Entry): number {
  return e.data.byteLength;
}

/** Payload bytes of entries. */
export function payloadsBytes(ents: readonly Entry[]): number {
  let total = 0;
  for (let i = 0; i < ents.length; i++) total += ents[i]!.data.byteLength;
  return total;
}

/** The longest prefix of `ents` within maxBytes, but at least one entry. Returns `ents` itself when all fit. */
export function limitSize(ents: Entry[], maxBytes: number | undefined): Entry[] {
  if (maxBytes === undefined || ents.length <= 1) return ents;
  let size = entryBytes(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entryBytes(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/**
 * Entries arr[from, to) limited to maxBytes (at least one), copying only what is returned:
 * a lagging follower's App costs the message's size, not the log's.
 */
export function sliceLimited(arr: readonly Entry[], from: number, to: number, maxBytes: number | undefined): Entry[] {
  if (maxBytes === undefined || to - from <= 1) return arr.slice(from, to);
  let size = entryBytes(arr[from]!);
  let end = from + 1;
  for (; end < to; end++) {
    size += entryBytes(arr[end]!);
    if (size > maxBytes) break;
  }
  return arr.slice(from, end);
}

/** A ConfState with no members. */
export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** The zero HardState. */
export function emptyHardState(): HardState {
  return { term: 0, vote: 0, commit: 0 };
}

/** Whether two hard states are equal. */
export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Messages a node generates for itself; never accepted from the network. */
export function isLocalMsg(t: MessageType): boolean {
  return (
    t === MessageType.Hup ||
    t === MessageType.Beat ||
    t === MessageType.Prop ||
    t === MessageType.Unreachable ||
    t === MessageType.SnapStatus ||
    t === MessageType.CheckQuorum
  );
}

/** Responses from a peer; dropped when the peer is unknown to the leader. */
export function isResponseMsg(t: MessageType): boolean {
  return (
    t === MessageType.AppResp ||
    t === MessageType.VoteResp ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.Unreachable ||
    t === MessageType.PreVoteResp
  );
}

/** Leader messages that do not depend on the leader's own persistence (sent in parallel with it). */
export function isSendBeforePersistMsg(t: MessageType): boolean {
  return (
    t === MessageType.App ||
    t === MessageType.Heartbeat ||
    t === MessageType.Snap ||
    t === MessageType.TimeoutNow
  );
}

/** The response type of a (pre-)vote request. */
export function voteRespMsgType(t: MessageType): MessageType {
  if (t === MessageType.Vote) return MessageType.VoteResp;
  if (t === MessageType.PreVote) return MessageType.PreVoteResp;
  throw new Error(`not a vote message: ${MessageType[t]}`);
}

/** A message with every field at its zero value, then `fields`. */
export function newMessage(fields: Partial<Message> & { type: MessageType }): Message {
  return {
    type: fields.type,
    to: fields.to ?? 0,
    from: fields.from ?? 0,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? noEntries,
    commit: fields.commit ?? 0,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    snapshot: fields.snapshot,
    context: fields.context,
  };
}

/** Shared empty entry list (never mutated). */
export const noEntries: Entry[] = Object.freeze([]) as unknown as Entry[];

/** Byte equality. */
export function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A Map key for a byte string (ReadIndex contexts). */
export function bytesKey(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}
