/**
 * Binds the server's Codec seam to `protocol/`.
 */
import { createConnectionParser, encodeReply } from '../protocol/index.js';
import type { Codec } from './codec.js';

/** The memcached text, meta and binary protocols, auto-detected per connection. */
export const protocolCodec: Codec = {
  createParser: createConnectionParser,
  encode: encodeReply,
};
