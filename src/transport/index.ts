/**
 * Node-to-node transport: authenticated TCP links carrying msgpackr-framed batches of
 * messages and a request/response layer. See transport.ts for how to drive it.
 */
export {
  Transport, type TransportConfig, type TransportStats, type MessagesHandler, type PeerStatusHandler,
  type RequestHandler, type LinkFilter,
} from './transport.js';
export {
  TransportError, TransportTimeoutError, TransportUnreachableError, TransportClosedError,
  TransportRemoteError, FrameError,
} from './errors.js';
export { FrameDecoder, encodeFrame, decodeFrameBody, packr, frameBytesMaxDefault } from './frame.js';
export type { PeerAddress } from './handshake.js';
export type { TransportCounters } from './stats.js';
export * from './peer-tls.js';
