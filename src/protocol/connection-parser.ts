/**
 * One parser per client connection. The first byte picks the protocol, as memcached's
 * auto-negotiation does: 0x80 is the binary request magic, anything else is text (classic
 * and meta commands mix freely on a text connection).
 *
 * With credentials (`-Y`), a text connection must first pass memcached's ASCII auth
 * (ascii-auth-parser.ts) and a binary one SASL PLAIN (binary-parser.ts).
 */
import { AsciiAuthParser } from './ascii-auth-parser.js';
import type { CredentialCheck } from './auth.js';
import { MAGIC_REQUEST } from './binary-codec.js';
import { BinaryParser } from './binary-parser.js';
import type { ProtocolLimits, Request } from './request.js';
import { TextParser } from './text-parser.js';

/** Incremental parser of one connection's byte stream. */
export interface ConnectionParser {
  /** Parses as many complete commands as possible; partial input is kept for the next call. */
  feed(chunk: Buffer): Request[];
  /** Bytes held waiting for the rest of a command. */
  readonly bufferedBytes: number;
}

/** A parser for a new connection; with `auth`, the connection must authenticate first. */
export function createConnectionParser(limits: ProtocolLimits, auth: CredentialCheck | null = null): ConnectionParser {
  let inner: TextParser | BinaryParser | AsciiAuthParser | null = null;
  return {
    feed(chunk: Buffer): Request[] {
      const out: Request[] = [];
      if (chunk.length === 0) return out;
      if (inner === null) inner = newParser(chunk[0] === MAGIC_REQUEST, limits, auth);
      inner.feed(chunk, out);
      return out;
    },
    get bufferedBytes(): number {
      return inner === null ? 0 : inner.bufferedBytes;
    },
  };
}

function newParser(binary: boolean, limits: ProtocolLimits, auth: CredentialCheck | null): TextParser | BinaryParser | AsciiAuthParser {
  if (binary) return new BinaryParser(limits, auth);
  return auth === null ? new TextParser(limits) : new AsciiAuthParser(limits, auth);
}
