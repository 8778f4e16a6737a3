/**
 * What a parsed client command asks for, and what the server answers it with.
 *
 * Contract between `protocol/` (parsers and encoders for text, meta and binary) and
 * `server/` (connections, dispatch, reply ordering). The server never looks inside
 * `format`: it executes `ops`, builds an Answer, and hands both back to `encodeReply`.
 */
import type { CacheOp, CacheResult } from '../cache/ops.js';

/** Which wire protocol a request arrived in. Text and meta share one connection parser. */
export type WireProtocol = 'text' | 'meta' | 'binary';

/**
 * Everything the encoder needs to format the reply (noreply/quiet, opaque, meta return
 * flags, binary opcode, whether the multi-get is `gets` ...). Opaque to the server.
 */
export interface ReplyFormat {
  readonly protocol: WireProtocol;
}

export type Request =
  /** Cache ops to execute in order; multi-key gets carry one GetOp per key. */
  | { kind: 'ops'; ops: CacheOp[]; format: ReplyFormat }
  | { kind: 'version'; format: ReplyFormat }
  /** `stats [group]` / binary stat with key; `group` is '' for the general stats. */
  | { kind: 'stats'; group: string; format: ReplyFormat }
  | { kind: 'verbosity'; format: ReplyFormat }
  /** meta `mn` / binary noop: answered in order, used by clients as a pipeline fence. */
  | { kind: 'noop'; format: ReplyFormat }
  /** The server sends the encoded reply (if any) and then closes the connection. */
  | { kind: 'quit'; format: ReplyFormat }
  /**
   * A malformed or refused command. `reply` is the protocol's own error, ready to send
   * (may be empty). With `close`, the connection is closed after it (as memcached does
   * for a line too long without a newline, or an unrecoverable binary header).
   */
  | { kind: 'error'; reply: Buffer; close: boolean };

/** What the server hands back for a request. */
export type Answer =
  | { kind: 'ops'; results: CacheResult[] }
  | { kind: 'version'; version: string }
  /** Stats as name/value pairs in memcached's order and names; `null` = unknown stats group. */
  | { kind: 'stats'; stats: Array<[string, string]> | null }
  | { kind: 'ok' }
  | { kind: 'noop' }
  | { kind: 'quit' };

/** Limits that bound what one connection may make the server hold. */
export interface ProtocolLimits {
  /** memcached's KEY_MAX_LENGTH. */
  keyBytesMax: number;
  /** `-I`: values larger than this get SERVER_ERROR object too large for cache. */
  itemBytesMax: number;
  /** A text line longer than this without a newline closes the connection (memcached: 2048). */
  lineBytesMax: number;
}

export const defaultProtocolLimits: ProtocolLimits = {
  keyBytesMax: 250,
  itemBytesMax: 1024 * 1024,
  lineBytesMax: 2048,
};
