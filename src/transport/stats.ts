/** Counters of one transport, shared by its links and connections. */

/** Cumulative transport counters (monotone; read with Transport.stats()). */
export interface TransportCounters {
  /** Batch frames written to / decoded from peer connections (handshake frames excluded). */
  framesSent: number;
  framesReceived: number;
  /** Bytes of those frames, headers included. */
  bytesSent: number;
  bytesReceived: number;
  /** Messages plus request/response envelopes in those frames. */
  messagesSent: number;
  messagesReceived: number;
  /** Messages and calls dropped because the peer was down or its send queue was full. */
  dropped: number;
  /** Messages and calls dropped by the link filter (fault injection). */
  filtered: number;
  /** Outbound connections that completed the handshake. */
  connects: number;
  /** Outbound connection attempts that failed or connections that dropped. */
  disconnects: number;
  /** Keepalive frames heard on our outbound links. */
  keepalivesReceived: number;
  /** Up links closed because the peer sent no keepalive within peerSilenceMsMax. */
  silentDisconnects: number;
  /** Inbound or outbound handshakes refused (bad secret, cluster, version, garbage, timeout). */
  handshakeFailures: number;
  /** Authenticated inbound connections closed for sending malformed frames. */
  protocolErrors: number;
  requestsSent: number;
  requestsTimedOut: number;
  requestsReceived: number;
}

/** A zeroed counter set. */
export function newCounters(): TransportCounters {
  return {
    framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0,
    messagesSent: 0, messagesReceived: 0, dropped: 0, filtered: 0,
    connects: 0, disconnects: 0, keepalivesReceived: 0, silentDisconnects: 0, handshakeFailures: 0, protocolErrors: 0,
    requestsSent: 0, requestsTimedOut: 0, requestsReceived: 0,
  };
}
