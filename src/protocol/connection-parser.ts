/**
 * One parser per client connection. The first byte picks the protocol, as memcached's
 * auto-negotiation does: 0x80 is the binary request magic, anything else is text (classic
 * and meta commands mix freely on a text connection).
 */
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

/** A parser for a new connection. */
export function createConnectionParser(limits: ProtocolLimits): ConnectionParser {
  let inner: TextParser | BinaryParser | null = null;
  return {
    feed(chunk: Buffer): Request[] {
      const out: Request[] = [];
      if (chunk.length === 0) return out;
      if (inner === null) inner = chunk[0] === MAGIC_REQUEST ? new BinaryParser(limits) : new TextParser(limits);
      inner.feed(chunk, out);
      return out;
    },
    get bufferedBytes(): number {
      return inner === null ? 0 : inner.bufferedBytes;
    },
  };
}
