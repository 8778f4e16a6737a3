/**
 * memcached wire protocols: text, meta and binary. Bytes in -> Requests
 * (`createConnectionParser`), Request + Answer -> bytes out (`encodeReply`).
 * Knows nothing of Raft or the cache's internals beyond the op model in cache/ops.ts.
 */
export { createConnectionParser, type ConnectionParser } from './connection-parser.js';
export { encodeReply } from './encode.js';
export { defaultProtocolLimits, type Answer, type ProtocolLimits, type ReplyFormat, type Request, type WireProtocol } from './request.js';
export type { AnyFormat, BinaryFormat, MetaFormat, TextFormat } from './formats.js';
export type { CredentialCheck } from './auth.js';
