/**
 * Framing of the text connection (classic and meta commands mixed): lines ending in \n
 * (a preceding \r is dropped, like memcached), data blocks of storage commands, and
 * swallowed data blocks of refused stores.
 *
 * Chunk boundaries never change the result: a line split over chunks is joined once its
 * newline arrives; a data block split over chunks is copied into one buffer of its exact
 * size (no quadratic re-concatenation); a line longer than lineBytesMax closes the
 * connection whether or not its newline has arrived (memcached decides on what one
 * read() returned; we decide on the line so the outcome does not depend on TCP
 * segmentation). Multi-key get lines may be longer, as in memcached, up to itemBytesMax.
 */
import type { StoreOp } from '../cache/ops.js';
import { dispatchMetaCommand } from './meta-commands.js';
import { CLOSE_SILENTLY, errorRequest, R } from './replies.js';
import type { ProtocolLimits, Request } from './request.js';
import { dispatchTextCommand, type TextContext } from './text-commands.js';
import { Tokens } from './tokenizer.js';

const LF = 0x0a;
const CR = 0x0d;
const GET_PREFIX = Buffer.from('get');
const GAT_PREFIX = Buffer.from('gat');
/** Bytes needed to recognise "get " ... "gats ". */
const PREFIX_BYTES = 5;

/** Parses the text and meta protocol from a byte stream. */
export class TextParser implements TextContext {
  readonly tokens = new Tokens();
  out: Request[] = [];
  /** Parts of a line whose newline has not arrived yet. */
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  /** The store waiting for its data block. */
  private pending: { request: Request; op: StoreOp; vlen: number; badChunkReply: Buffer } | null = null;
  private dataBuf: Buffer | null = null;
  private dataFilled = 0;
  private swallowLeft = 0;
  /** Set once a request with close: true was emitted; later input is ignored. */
  private closed = false;

  constructor(readonly limits: ProtocolLimits) {}

  /** Bytes held waiting for the rest of a line or data block. */
  get bufferedBytes(): number {
    return this.lineBytes + this.dataFilled;
  }

  /** Parses as many complete commands from `chunk` as possible, appending them to `out`. */
  feed(chunk: Buffer, out: Request[]): void {
    this.out = out;
    let p = 0;
    const n = chunk.length;
    while (p < n && !this.closed) {
      if (this.swallowLeft > 0) {
        const k = Math.min(this.swallowLeft, n - p);
        this.swallowLeft -= k;
        p += k;
      } else if (this.pending !== null) {
        p = this.readData(chunk, p);
      } else {
        p = this.readLine(chunk, p);
      }
    }
  }

  /** StoreOp `op` (inside `request`) needs vlen bytes of data plus \r\n. */
  expectData(request: Request, op: StoreOp, vlen: number, badChunkReply: Buffer): void {
    this.pending = { request, op, vlen, badChunkReply };
  }

  /** Skips the next `bytes` bytes of input. */
  swallow(bytes: number): void {
    this.swallowLeft = bytes;
  }

  /** Consumes one line from chunk[p..] (or holds a partial line); returns the new position. */
  private readLine(chunk: Buffer, p: number): number {
    const nl = chunk.indexOf(LF, p);
    if (nl < 0) {
      this.holdPartialLine(chunk, p);
      return chunk.length;
    }
    if (this.lineBytes === 0) {
      if (this.lineTooLong(chunk, p, nl - p)) return chunk.length;
      this.processLine(chunk, p, nl);
    } else {
      const tail = chunk.subarray(p, nl);
      this.lineParts.push(tail);
      const line = Buffer.concat(this.lineParts, this.lineBytes + tail.length);
      this.lineParts = [];
      this.lineBytes = 0;
      if (this.lineTooLong(line, 0, line.length)) return chunk.length;
      this.processLine(line, 0, line.length);
    }
    return nl + 1;
  }

  private holdPartialLine(chunk: Buffer, p: number): void {
    const part = chunk.subarray(p);
    this.lineParts.push(part);
    this.lineBytes += part.length;
    if (this.lineBytes > this.limits.lineBytesMax) this.lineTooLong(this.linePrefix(), 0, this.lineBytes);
  }

  /** The first bytes of the held line, enough to recognise a multi-key get. */
  private linePrefix(): Buffer {
    const first = this.lineParts[0]!;
    if (first.length >= PREFIX_BYTES) return first;
    return Buffer.concat(this.lineParts.slice(0, PREFIX_BYTES)).subarray(0, PREFIX_BYTES);
  }

  /** Enforces the line limits; on violation emits a silent close and returns true. */
  private lineTooLong(start: Buffer, s: number, lineBytes: number): boolean {
    if (lineBytes <= this.limits.lineBytesMax) return false;
    if (isMultiGet(start, s) && lineBytes <= this.limits.itemBytesMax) return false;
    // memcached closes without a reply: a line this long is not a command it knows.
    this.out.push(CLOSE_SILENTLY);
    this.closed = true;
    this.lineParts = [];
    this.lineBytes = 0;
    return true;
  }

  /** Tokenizes and dispatches the line buf[s, nl). */
  private processLine(buf: Buffer, s: number, nl: number): void {
    const e = nl > s && buf[nl - 1] === CR ? nl - 1 : nl;
    const t = this.tokens;
    t.split(buf, s, e);
    if (t.count > 0 && t.len(0) === 2 && buf[t.starts[0]!] === 0x6d) {
      dispatchMetaCommand(this, buf[t.starts[0]! + 1]!);
    } else {
      dispatchTextCommand(this);
    }
    if (this.out.length > 0 && this.out[this.out.length - 1]!.kind === 'error') {
      const last = this.out[this.out.length - 1] as Extract<Request, { kind: 'error' }>;
      if (last.close) this.closed = true;
    }
  }

  /** Reads the pending store's data block from chunk[p..]; returns the new position. */
  private readData(chunk: Buffer, p: number): number {
    const pending = this.pending!;
    const need = pending.vlen + 2;
    const available = chunk.length - p;
    if (this.dataBuf === null && available >= need) {
      const ok = chunk[p + need - 2] === CR && chunk[p + need - 1] === LF;
      this.completeData(ok, ok ? copyValue(chunk, p, p + pending.vlen) : R.EMPTY);
      return p + need;
    }
    if (this.dataBuf === null) this.dataBuf = Buffer.allocUnsafe(need);
    const k = Math.min(need - this.dataFilled, available);
    chunk.copy(this.dataBuf, this.dataFilled, p, p + k);
    this.dataFilled += k;
    if (this.dataFilled === need) {
      const buf = this.dataBuf;
      const ok = buf[need - 2] === CR && buf[need - 1] === LF;
      this.dataBuf = null;
      this.dataFilled = 0;
      this.completeData(ok, buf.subarray(0, pending.vlen));
    }
    return p + k;
  }

  /** memcached consumes vlen + 2 bytes either way; without the \r\n it is a bad data chunk. */
  private completeData(ok: boolean, value: Buffer): void {
    const pending = this.pending!;
    this.pending = null;
    if (ok) {
      pending.op.value = value;
      this.out.push(pending.request);
    } else {
      this.out.push(errorRequest(pending.badChunkReply));
    }
  }
}

/** Whether the line starting at buf[s] is get/gets/gat/gats followed by a space. */
function isMultiGet(buf: Buffer, s: number): boolean {
  if (buf.length < s + 4) return false;
  const isGet = buf.compare(GET_PREFIX, 0, 3, s, s + 3) === 0 || buf.compare(GAT_PREFIX, 0, 3, s, s + 3) === 0;
  if (!isGet) return false;
  const c = buf[s + 3];
  return c === 0x20 || (c === 0x73 && s + 4 < buf.length && buf[s + 4] === 0x20);
}

/**
 * The value bytes: a view when they are most of the chunk, else a copy, so that a small
 * value stored in the cache does not pin a large read buffer.
 */
export function copyValue(chunk: Buffer, s: number, e: number): Buffer {
  const view = chunk.subarray(s, e);
  return view.length * 2 >= chunk.buffer.byteLength ? view : Buffer.from(view);
}
