/**
 * The ReplyFormat subtypes each protocol attaches to its requests. The server treats
 * them as opaque; `encodeReply` reads them. Text formats without per-request data are
 * shared constants, so a text command allocates no format object.
 */
import type { ReplyFormat } from './request.js';

/** Text commands whose replies the encoder formats. */
export const enum TextCmd {
  Get,
  Gets,
  Store,
  Delete,
  Arith,
  Touch,
  Flush,
  Version,
  Verbosity,
  Stats,
  Quit,
  /** A fixed reply whatever the result (e.g. a too-large set that deletes the old item). */
  Fixed,
}

/** Format of classic text commands. */
export interface TextFormat extends ReplyFormat {
  readonly protocol: 'text';
  readonly cmd: TextCmd;
  readonly noreply: boolean;
  /** For TextCmd.Fixed: the bytes to send (the empty buffer sends nothing). */
  readonly fixed?: Buffer;
}

/** Meta commands. */
export const enum MetaCmd {
  Get,
  Set,
  Delete,
  Arith,
  Debug,
  Noop,
  Fixed,
}

/** Format of meta commands: the request's flag tokens are kept to echo return flags in order. */
export interface MetaFormat extends ReplyFormat {
  readonly protocol: 'meta';
  readonly cmd: MetaCmd;
  /** A copy of the flag tokens as sent (space separated), scanned again by the encoder. */
  readonly flags: Buffer;
  /** q: suppress the success code (HD, or EN for mg). */
  readonly quiet: boolean;
  /** b: the key was base64; k returns it base64 and echoes b. */
  readonly base64: boolean;
  /** v was given (mg, ma). */
  readonly value: boolean;
  /** mg C: when the item's CAS equals this, answer HD without the value. -2 = not given. */
  readonly compareCas: number;
  /** For MetaCmd.Fixed: the bytes to send. */
  readonly fixed?: Buffer;
}

/** Binary protocol commands. */
export interface BinaryFormat extends ReplyFormat {
  readonly protocol: 'binary';
  readonly opcode: number;
  readonly opaque: number;
  /** Quiet opcode: suppress misses (gets) or success (mutations). */
  readonly quiet: boolean;
  /** GETK/GETKQ/GATK/GATKQ: echo the key. */
  readonly withKey: boolean;
  /** For a fixed error status (a too-large SET that deletes the old item): status and message. */
  readonly fixedStatus?: number;
}

/** Any of this package's formats. */
export type AnyFormat = TextFormat | MetaFormat | BinaryFormat;
