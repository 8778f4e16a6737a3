/**
 * The two protocol functions a client connection needs, as the server sees them: a
 * per-connection request parser and a reply encoder. `protocol-codec.ts` binds them to
 * `protocol/`; keeping the seam here lets the connection be read (and tested) on its own.
 */
import type { Answer, ProtocolLimits, Request } from '../protocol/request.js';

/** Incremental parser for one connection's byte stream (text, meta and binary). */
export interface RequestParser {
  /** Appends received bytes. */
  push(chunk: Buffer): void;
  /** The next complete request, or null when more bytes are needed. */
  next(): Request | null;
  /** Bytes held for requests not yet returned by `next`. */
  readonly bufferedBytes: number;
}

/** Parser factory plus encoder. */
export interface Codec {
  createParser(limits: ProtocolLimits): RequestParser;
  /** Appends the reply bytes for `answer` to `out` (nothing for quiet/noreply requests). */
  encode(request: Request, answer: Answer, out: Buffer[]): void;
}
