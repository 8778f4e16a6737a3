/**
 * memcached's own reply lines, as shared Buffers. Operating errors (bad input) are
 * answered with these exact bytes; the codes give tests and logs a stable name.
 */
import type { Request } from './request.js';

const line = (s: string): Buffer => Buffer.from(s + '\r\n', 'latin1');

/** Fixed text and meta replies. */
export const R = {
  ERROR: line('ERROR'),
  END: line('END'),
  STORED: line('STORED'),
  NOT_STORED: line('NOT_STORED'),
  EXISTS: line('EXISTS'),
  NOT_FOUND: line('NOT_FOUND'),
  DELETED: line('DELETED'),
  TOUCHED: line('TOUCHED'),
  OK: line('OK'),
  RESET: line('RESET'),
  DETAIL_USAGE: line('CLIENT_ERROR usage: stats detail on|off|dump'),
  MEMLIMIT_TOO_SMALL: line('MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m'),
  MEMLIMIT_NOT_MB: line('MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes'),
  MEMLIMIT_FAILED: line('MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust'),
  EN: line('EN'),
  MN: line('MN'),
  BAD_FORMAT: line('CLIENT_ERROR bad command line format'),
  BAD_DATA_CHUNK: line('CLIENT_ERROR bad data chunk'),
  TOO_LARGE: line('SERVER_ERROR object too large for cache'),
  GET_REPLY_TOO_LARGE: line('SERVER_ERROR out of memory writing get response'),
  BAD_DELTA: line('CLIENT_ERROR invalid numeric delta argument'),
  BAD_EXPTIME: line('CLIENT_ERROR invalid exptime argument'),
  DELETE_USAGE: line('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]'),
  META_INVALID_FLAG: line('CLIENT_ERROR invalid flag'),
  META_DUPLICATE_FLAG: line('CLIENT_ERROR duplicate flag'),
  META_INVALID_OR_DUPLICATE: line('CLIENT_ERROR invalid or duplicate flag'),
  META_BAD_TOKEN: line('CLIENT_ERROR bad token in command line format'),
  META_OPAQUE_TOO_LONG: line('CLIENT_ERROR opaque token too long'),
  META_DECODE_KEY: line('CLIENT_ERROR error decoding key'),
  META_M_LENGTH: line('CLIENT_ERROR incorrect length for M token'),
  META_MS_MODE: line('CLIENT_ERROR invalid mode for ms M token'),
  META_MA_MODE: line('CLIENT_ERROR invalid mode for ma M token'),
  META_BAD_INITIAL: line('CLIENT_ERROR invalid numeric initial value'),
  META_BAD_DELTA: line('CLIENT_ERROR invalid numeric delta value'),
  META_MG_TOO_MANY: line('CLIENT_ERROR options flags are too long'),
  META_TOO_MANY: line('CLIENT_ERROR options flags too long'),
  EMPTY: Buffer.alloc(0),
} as const;

/** An error request: `reply` is sent as is; with `close` the connection closes after it. */
export function errorRequest(reply: Buffer, close = false): Request {
  return { kind: 'error', reply, close };
}

/** The request that closes a connection without a reply (line too long, bad binary magic, HTTP). */
export const CLOSE_SILENTLY: Request = { kind: 'error', reply: R.EMPTY, close: true };
