/**
 * Operating errors of the transport. Each has a stable `code` so callers (the cluster's
 * forwarding path, joins) can map them to memcached replies or retry decisions without
 * parsing messages.
 */

/** Base class of every transport operating error. */
export class TransportError extends Error {
  /** Stable machine-readable code. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A request got no response within its timeout (the request may or may not have run). */
export class TransportTimeoutError extends TransportError {
  constructor(to: number, timeoutMs: number) {
    super('ETIMEDOUT', `request to node ${to} timed out after ${timeoutMs} ms`);
  }
}

/** The peer is known to be down, unknown, or its connection dropped while a request was pending. */
export class TransportUnreachableError extends TransportError {
  /** True when the request surely never reached a socket (safe to retry even if it mutates). */
  readonly notSent: boolean;

  constructor(to: number, why: string, notSent: boolean) {
    super('EUNREACHABLE', `node ${to} is unreachable: ${why}`);
    this.notSent = notSent;
  }
}

/** The transport was closed while the operation was pending. */
export class TransportClosedError extends TransportError {
  constructor() {
    super('ECLOSED', 'transport closed');
  }
}

/** The remote request handler failed; `remoteCode` is the remote error's code if it had one. */
export class TransportRemoteError extends TransportError {
  /** The code of the error thrown by the remote handler ('EREMOTE' if it had none). */
  readonly remoteCode: string;

  constructor(from: number, remoteCode: string, message: string) {
    super('EREMOTE', `node ${from} failed the request: ${message}`);
    this.remoteCode = remoteCode;
  }
}

/** A frame violated the wire format (oversized, empty or undecodable): the connection is closed. */
export class FrameError extends TransportError {
  constructor(message: string) {
    super('EFRAME', message);
  }
}
