/**
 * The two protocol functions a client connection needs, as the server sees them: a
 * per-connection request parser and a reply encoder. `protocol-codec.ts` binds them to
 * `protocol/`; keeping the seam here lets the connection be read (and tested) on its own.
 */
import type { CredentialCheck } from '../protocol/auth.js';
import type { Answer, ProtocolLimits, Request } from '../protocol/request.js';

/** Incremental parser for one connection's byte stream (text, meta and binary). */
export interface RequestParser {
  /** Parses every complete request in `chunk` (plus what was held); keeps partial input. */
  feed(chunk: Buffer): Request[];
  /** Bytes held for a request not yet complete. */
  readonly bufferedBytes: number;
}

/** Parser factory plus encoder. */
export interface Codec {
  /** With `auth`, the connection must authenticate first (ASCII auth or SASL PLAIN). */
  createParser(limits: ProtocolLimits, auth?: CredentialCheck | null): RequestParser;
  /** The reply bytes for `answer`, or null when nothing is sent (noreply, quiet, quit). */
  encode(request: Request, answer: Answer): Buffer | null;
}
