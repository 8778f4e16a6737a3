/**
 * memcached's ASCII authentication (`-Y`), after proto_text.c's try_read_command_asciiauth:
 * until a connection authenticates, its first line must be `set <key> <flags> <exptime>
 * <bytes>` followed by `<user> <password>\r\n` as the data block. Key, flags and exptime
 * are ignored. The answers are memcached's:
 *
 *   right pair                      STORED (from then on the connection is a text connection)
 *   wrong pair                      CLIENT_ERROR authentication failure
 *   any other command               CLIENT_ERROR unauthenticated
 *   data without a space            CLIENT_ERROR bad authentication token format
 *   data not ending in \r\n         CLIENT_ERROR bad command line termination
 *   <bytes> over 16384              CLIENT_ERROR auth token too long
 *   a line under 6 bytes, or 2048 bytes without a newline: the connection closes.
 */
import type { CredentialCheck } from './auth.js';
import { CLOSE_SILENTLY, errorRequest } from './replies.js';
import type { ProtocolLimits, Request } from './request.js';
import { TextParser } from './text-parser.js';

/** memcached's MAX_AUTH_REQ_LEN and MIN_AUTH_REQ_LEN. */
const authTokenBytesMax = 16384;
const authLineBytesMin = 6;
/** Bytes without a newline before the connection is dropped (junk, not a client). */
const authLineBytesMax = 2048;

const line = (s: string): Request => errorRequest(Buffer.from(s + '\r\n', 'latin1'));
const STORED = line('STORED');
const UNAUTHENTICATED = line('CLIENT_ERROR unauthenticated');
const AUTH_FAILURE = line('CLIENT_ERROR authentication failure');
const BAD_TOKEN_FORMAT = line('CLIENT_ERROR bad authentication token format');
const BAD_TERMINATION = line('CLIENT_ERROR bad command line termination');
const TOKEN_TOO_LONG = line('CLIENT_ERROR auth token too long');

/** A text connection's parser while it must authenticate; a TextParser once it has. */
export class AsciiAuthParser {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of the auth data block (with its \r\n) still to come; -1 while reading a line. */
  private dataBytes = -1;
  private text: TextParser | null = null;
  private closed = false;

  constructor(
    private readonly limits: ProtocolLimits,
    private readonly check: CredentialCheck,
  ) {}

  /** Bytes held waiting for the rest of a line or data block. */
  get bufferedBytes(): number {
    return this.text === null ? this.pending.length : this.text.bufferedBytes;
  }

  /** Parses `chunk`, appending requests (here: ready replies) to `out`. */
  feed(chunk: Buffer, out: Request[]): void {
    if (this.text !== null) return this.text.feed(chunk, out);
    if (this.closed) return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (!this.closed && this.step(out)) {
      const text = this.authenticatedParser();
      if (text === null) continue;
      // Commands pipelined behind the auth block belong to the text parser.
      const rest = this.pending;
      this.pending = Buffer.alloc(0);
      if (rest.length > 0) text.feed(rest, out);
      return;
    }
  }

  /** The text parser once authenticated (a call, so the compiler does not keep feed's narrowing). */
  private authenticatedParser(): TextParser | null {
    return this.text;
  }

  /** Consumes one line or data block if complete; false when more bytes are needed. */
  private step(out: Request[]): boolean {
    if (this.dataBytes >= 0) return this.readData(out);
    const newline = this.pending.indexOf(0x0a);
    if (newline < 0) {
      if (this.pending.length > authLineBytesMax) this.close(out);
      return false;
    }
    if (newline < authLineBytesMin) {
      this.close(out);
      return false;
    }
    const text = this.pending.toString('latin1', 0, newline).replace(/\r$/, '');
    this.pending = this.pending.subarray(newline + 1);
    const tokens = text.split(' ').filter((t) => t !== '');
    const size = tokens.length >= 5 && text.startsWith('set') && /^[0-9]{1,10}$/.test(tokens[4]!) ? Number(tokens[4]) : -1;
    if (size < 0 || size > 0xffffffff) out.push(UNAUTHENTICATED);
    else if (size > authTokenBytesMax) out.push(TOKEN_TOO_LONG);
    else this.dataBytes = size + 2;
    return true;
  }

  private readData(out: Request[]): boolean {
    const want = this.dataBytes;
    if (this.pending.length < want) return false;
    const data = this.pending.subarray(0, want);
    this.pending = this.pending.subarray(want);
    this.dataBytes = -1;
    if (data[want - 2] !== 0x0d || data[want - 1] !== 0x0a) {
      out.push(BAD_TERMINATION);
      return true;
    }
    const space = data.indexOf(0x20);
    if (space < 0 || space >= want - 2) {
      out.push(BAD_TOKEN_FORMAT);
      return true;
    }
    if (!this.check(data.subarray(0, space), data.subarray(space + 1, want - 2))) {
      out.push(AUTH_FAILURE);
      return true;
    }
    out.push(STORED);
    this.text = new TextParser(this.limits);
    return true;
  }

  private close(out: Request[]): void {
    out.push(CLOSE_SILENTLY);
    this.closed = true;
    this.pending = Buffer.alloc(0);
  }
}
