/**
 * Framing and decoding of the binary protocol: 24-byte headers, then extras, key and
 * value. Header checks follow memcached 1.6.18's dispatch_bin_command: a malformed
 * header (wrong extras/key/body lengths for the opcode, key over the limit) is answered
 * with "Invalid arguments" and the connection is closed, a bad magic byte closes it
 * silently, an unknown opcode (SASL included) is answered and its body skipped, and a
 * value over itemBytesMax is answered "Too large." with the value skipped.
 *
 * With credentials (`-Y`), SASL is on as in memcached with `-S`: LIST_MECHS offers PLAIN,
 * SASL_AUTH PLAIN checks the user and password, and until it succeeds any command other
 * than the SASL ones and VERSION is answered "Auth failure." (status 0x20) and the
 * connection closed. Without credentials the SASL opcodes are unknown commands.
 */
import { checkSaslPlain, saslMechanisms, type CredentialCheck } from './auth.js';
import type { ArithOp, CacheOp, StoreMode, StoreOp } from '../cache/ops.js';
import { errorPacket, HEADER_BYTES, MAGIC_REQUEST, Op, packet, Status } from './binary-codec.js';
import type { BinaryFormat } from './formats.js';
import { CLOSE_SILENTLY, errorRequest } from './replies.js';
import type { ProtocolLimits, Request } from './request.js';
import { copyValue } from './text-parser.js';

const TWO_32 = 4294967296;
/** CAS high words at or above this do not fit a safe integer (2^53). */
const CAS_HI_SAFE_MAX = 1 << 21;
const NO_VIVIFY = 0xffffffff;
const EMPTY = Buffer.alloc(0);

/** What to do with the body once the header is known. */
const enum Next {
  /** Collect the whole body and build the request. */
  Request,
  /** Collect extras + key, answer Too large, skip the value. */
  TooLarge,
}

/** Parses the binary protocol from a byte stream. */
export class BinaryParser {
  private out: Request[] = [];
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFilled = 0;
  private opcode = 0;
  private keyBytes = 0;
  private extrasBytes = 0;
  private bodyBytes = 0;
  private opaque = 0;
  private cas = 0;
  /** Body collection in progress: bytes wanted, what follows, and the partial copy. */
  private bodyWanted = -1;
  private next = Next.Request;
  private bodyBuf: Buffer | null = null;
  private bodyFilled = 0;
  private swallowLeft = 0;
  private closed = false;
  /** SASL PLAIN succeeded on this connection (always true without credentials). */
  private authenticated: boolean;

  constructor(
    private readonly limits: ProtocolLimits,
    private readonly auth: CredentialCheck | null = null,
  ) {
    this.authenticated = auth === null;
  }

  /** Bytes held waiting for the rest of a header or body. */
  get bufferedBytes(): number {
    return this.headerFilled + this.bodyFilled;
  }

  /** Parses as many complete packets from `chunk` as possible, appending requests to `out`. */
  feed(chunk: Buffer, out: Request[]): void {
    this.out = out;
    let p = 0;
    const n = chunk.length;
    while (p < n && !this.closed) {
      if (this.swallowLeft > 0) {
        const k = Math.min(this.swallowLeft, n - p);
        this.swallowLeft -= k;
        p += k;
      } else if (this.bodyWanted >= 0) {
        p = this.readBody(chunk, p);
      } else {
        p = this.readHeader(chunk, p);
      }
    }
  }

  private readHeader(chunk: Buffer, p: number): number {
    let h = chunk;
    let at = p;
    if (this.headerFilled > 0 || chunk.length - p < HEADER_BYTES) {
      const k = Math.min(HEADER_BYTES - this.headerFilled, chunk.length - p);
      chunk.copy(this.header, this.headerFilled, p, p + k);
      this.headerFilled += k;
      p += k;
      if (this.headerFilled < HEADER_BYTES) return p;
      h = this.header;
      at = 0;
      this.headerFilled = 0;
    } else {
      p += HEADER_BYTES;
    }
    this.onHeader(h, at);
    return p;
  }

  /** Decodes and checks a header; sets up body collection, a skip, or closes. */
  private onHeader(h: Buffer, at: number): void {
    if (h[at] !== MAGIC_REQUEST) return this.close(CLOSE_SILENTLY);
    this.opcode = h[at + 1]!;
    this.keyBytes = h.readUInt16BE(at + 2);
    this.extrasBytes = h[at + 4]!;
    this.bodyBytes = h.readUInt32BE(at + 8);
    this.opaque = h.readUInt32BE(at + 12);
    const casHi = h.readUInt32BE(at + 16);
    this.cas = casHi >= CAS_HI_SAFE_MAX ? -1 : casHi * TWO_32 + h.readUInt32BE(at + 20);
    if (!this.authenticated && !isAuthFree(this.opcode)) {
      return this.close(errorRequest(errorPacket(this.opcode, Status.AuthError, this.opaque), true));
    }
    const known = this.auth !== null || !isSasl(this.opcode);
    const shape = known ? checkShape(this.opcode, this.keyBytes, this.extrasBytes, this.bodyBytes) : Shape.Unknown;
    if (shape === Shape.Unknown) {
      this.out.push(errorRequest(errorPacket(this.opcode, Status.UnknownCommand, this.opaque)));
      this.swallowLeft = this.bodyBytes;
      return;
    }
    if (shape === Shape.Invalid || this.keyBytes > this.limits.keyBytesMax) {
      return this.close(errorRequest(errorPacket(this.opcode, Status.InvalidArguments, this.opaque), true));
    }
    const valueBytes = this.bodyBytes - this.keyBytes - this.extrasBytes;
    if (valueBytes > this.limits.itemBytesMax) {
      this.next = Next.TooLarge;
      this.bodyWanted = this.keyBytes + this.extrasBytes;
    } else {
      this.next = Next.Request;
      this.bodyWanted = this.bodyBytes;
    }
    if (this.bodyWanted === 0) this.onBody(EMPTY, 0);
  }

  private close(request: Request): void {
    this.out.push(request);
    this.closed = true;
  }

  private readBody(chunk: Buffer, p: number): number {
    const want = this.bodyWanted;
    const available = chunk.length - p;
    if (this.bodyBuf === null && available >= want) {
      this.onBody(chunk, p);
      return p + want;
    }
    if (this.bodyBuf === null) this.bodyBuf = Buffer.allocUnsafe(want);
    const k = Math.min(want - this.bodyFilled, available);
    chunk.copy(this.bodyBuf, this.bodyFilled, p, p + k);
    this.bodyFilled += k;
    if (this.bodyFilled === want) {
      const body = this.bodyBuf;
      this.bodyBuf = null;
      this.bodyFilled = 0;
      this.onBody(body, 0);
    }
    return p + k;
  }

  /** The wanted body bytes are body[at, at + bodyWanted). */
  private onBody(body: Buffer, at: number): void {
    const wanted = this.bodyWanted;
    this.bodyWanted = -1;
    const keyAt = at + this.extrasBytes;
    const key = this.keyBytes === 0 ? EMPTY : Buffer.from(body.subarray(keyAt, keyAt + this.keyBytes));
    if (this.next === Next.TooLarge) {
      this.swallowLeft = this.bodyBytes - wanted;
      return this.refuseTooLarge(key);
    }
    this.out.push(this.buildRequest(body, at, key));
  }

  /** As memcached: a SET over the limit also deletes the key (so no stale value survives). */
  private refuseTooLarge(key: Buffer): void {
    if (this.opcode === Op.Set) {
      const format: BinaryFormat = { ...this.format(), fixedStatus: Status.TooLarge };
      this.out.push({ kind: 'ops', ops: [{ type: 'delete', key }], format });
    } else {
      this.out.push(errorRequest(errorPacket(this.opcode, Status.TooLarge, this.opaque)));
    }
  }

  private format(): BinaryFormat {
    const op = this.opcode;
    return { protocol: 'binary', opcode: op, opaque: this.opaque, quiet: isQuiet(op), withKey: isWithKey(op) };
  }

  private buildRequest(body: Buffer, at: number, key: Buffer): Request {
    const format = this.format();
    switch (this.opcode) {
      case Op.Noop:
        return { kind: 'noop', format };
      case Op.Version:
        return { kind: 'version', format };
      case Op.Quit:
      case Op.QuitQ:
        return { kind: 'quit', format };
      case Op.Stat:
        return { kind: 'stats', group: key.toString('latin1'), format };
      case Op.Verbosity:
        return { kind: 'verbosity', format };
      case Op.SaslListMechs:
        return errorRequest(packet(this.opcode, Status.Ok, this.opaque, 0, null, null, saslMechanisms));
      case Op.SaslAuth:
      case Op.SaslStep:
        return this.saslAuth(body, at, key);
      default:
        return { kind: 'ops', ops: [this.buildOp(body, at, key)], format };
    }
  }

  /**
   * SASL_AUTH with PLAIN checks the credentials at once (PLAIN has one step, so SASL_STEP
   * always fails, as memcached's does without a started exchange). A failure leaves the
   * connection unauthenticated but open, as in memcached.
   */
  private saslAuth(body: Buffer, at: number, key: Buffer): Request {
    const message = body.subarray(at + this.keyBytes, at + this.bodyBytes);
    const plain = this.opcode === Op.SaslAuth && key.toString('latin1') === 'PLAIN';
    if (plain && checkSaslPlain(message, this.auth!)) {
      this.authenticated = true;
      return errorRequest(packet(this.opcode, Status.Ok, this.opaque, 0, null, null, 'Authenticated'));
    }
    return errorRequest(errorPacket(this.opcode, Status.AuthError, this.opaque));
  }

  private buildOp(body: Buffer, at: number, key: Buffer): CacheOp {
    const op = this.opcode;
    switch (op) {
      case Op.Get:
      case Op.GetQ:
      case Op.GetK:
      case Op.GetKQ:
        return { type: 'get', key };
      case Op.Gat:
      case Op.GatQ:
      case Op.GatK:
      case Op.GatKQ:
        return { type: 'get', key, touch: body.readUInt32BE(at) };
      case Op.Touch:
        return { type: 'touch', key, exptime: body.readUInt32BE(at) };
      case Op.Delete:
      case Op.DeleteQ:
        return this.cas !== 0 ? { type: 'delete', key, cas: this.cas } : { type: 'delete', key };
      case Op.Incr:
      case Op.IncrQ:
      case Op.Decr:
      case Op.DecrQ:
        return this.arithOp(body, at, key, op === Op.Incr || op === Op.IncrQ);
      case Op.Flush:
      case Op.FlushQ:
        return { type: 'flush', delay: this.extrasBytes === 4 ? body.readUInt32BE(at) : 0 };
      default:
        return this.storeOp(body, at, key);
    }
  }

  private arithOp(body: Buffer, at: number, key: Buffer, incr: boolean): CacheOp {
    const exptime = body.readUInt32BE(at + 16);
    const op: ArithOp = { type: 'arith', key, incr, delta: body.readBigUInt64BE(at) };
    if (exptime !== NO_VIVIFY) {
      op.vivify = exptime;
      op.initial = body.readBigUInt64BE(at + 8);
    }
    if (this.cas !== 0) op.cas = this.cas;
    return op;
  }

  /** set/add/replace carry flags and exptime; any of them with a CAS becomes a CAS store. */
  private storeOp(body: Buffer, at: number, key: Buffer): CacheOp {
    const mode = storeMode(this.opcode);
    const value = copyValue(body, at + this.extrasBytes + this.keyBytes, at + this.bodyBytes);
    if (mode === 'append' || mode === 'prepend') {
      const op: StoreOp = { type: 'store', mode, key, flags: 0, exptime: 0, value };
      if (this.cas !== 0) op.cas = this.cas;
      return op;
    }
    const flags = body.readUInt32BE(at);
    const exptime = body.readUInt32BE(at + 4);
    if (this.cas !== 0) return { type: 'store', mode: 'cas', key, flags, exptime, value, cas: this.cas };
    return { type: 'store', mode, key, flags, exptime, value };
  }
}

/** Outcome of checking a header's lengths against its opcode. */
const enum Shape {
  Ok,
  Invalid,
  Unknown,
}

/** memcached's per-opcode checks of extras, key and body lengths. */
function checkShape(op: number, key: number, extras: number, body: number): Shape {
  if (body < key + extras) return isKnown(op) ? Shape.Invalid : Shape.Unknown;
  switch (op) {
    case Op.Version:
    case Op.Noop:
    case Op.Quit:
    case Op.QuitQ:
      return extras === 0 && key === 0 && body === 0 ? Shape.Ok : Shape.Invalid;
    case Op.Flush:
    case Op.FlushQ:
      return key === 0 && body === extras && (extras === 0 || extras === 4) ? Shape.Ok : Shape.Invalid;
    case Op.Set:
    case Op.SetQ:
    case Op.Add:
    case Op.AddQ:
    case Op.Replace:
    case Op.ReplaceQ:
      return extras === 8 && key > 0 ? Shape.Ok : Shape.Invalid;
    case Op.Get:
    case Op.GetQ:
    case Op.GetK:
    case Op.GetKQ:
    case Op.Delete:
    case Op.DeleteQ:
      return extras === 0 && key > 0 && body === key ? Shape.Ok : Shape.Invalid;
    case Op.Incr:
    case Op.IncrQ:
    case Op.Decr:
    case Op.DecrQ:
      return extras === 20 && key > 0 && body === key + 20 ? Shape.Ok : Shape.Invalid;
    case Op.Append:
    case Op.AppendQ:
    case Op.Prepend:
    case Op.PrependQ:
      return extras === 0 && key > 0 ? Shape.Ok : Shape.Invalid;
    case Op.Stat:
      return extras === 0 && body === key ? Shape.Ok : Shape.Invalid;
    case Op.Touch:
    case Op.Gat:
    case Op.GatQ:
    case Op.GatK:
    case Op.GatKQ:
      return extras === 4 && key > 0 && body === key + 4 ? Shape.Ok : Shape.Invalid;
    case Op.Verbosity:
      return extras === 4 && key === 0 && body === 4 ? Shape.Ok : Shape.Invalid;
    case Op.SaslListMechs:
      return extras === 0 && key === 0 && body === 0 ? Shape.Ok : Shape.Invalid;
    case Op.SaslAuth:
    case Op.SaslStep:
      return extras === 0 && key > 0 ? Shape.Ok : Shape.Invalid;
    default:
      return Shape.Unknown;
  }
}

function isSasl(op: number): boolean {
  return op === Op.SaslListMechs || op === Op.SaslAuth || op === Op.SaslStep;
}

/** memcached's authenticated(): what an unauthenticated connection may send. */
function isAuthFree(op: number): boolean {
  return isSasl(op) || op === Op.Version;
}

function isKnown(op: number): boolean {
  return op <= Op.Touch + 2 || op === Op.GatK || op === Op.GatKQ;
}

/** Quiet opcodes: gets suppress misses, mutations suppress success. */
export function isQuiet(op: number): boolean {
  switch (op) {
    case Op.GetQ:
    case Op.GetKQ:
    case Op.SetQ:
    case Op.AddQ:
    case Op.ReplaceQ:
    case Op.DeleteQ:
    case Op.IncrQ:
    case Op.DecrQ:
    case Op.QuitQ:
    case Op.FlushQ:
    case Op.AppendQ:
    case Op.PrependQ:
    case Op.GatQ:
    case Op.GatKQ:
      return true;
    default:
      return false;
  }
}

function isWithKey(op: number): boolean {
  return op === Op.GetK || op === Op.GetKQ || op === Op.GatK || op === Op.GatKQ;
}

/** The store mode of a set-family opcode. */
export function storeMode(op: number): StoreMode {
  switch (op) {
    case Op.Add:
    case Op.AddQ:
      return 'add';
    case Op.Replace:
    case Op.ReplaceQ:
      return 'replace';
    case Op.Append:
    case Op.AppendQ:
      return 'append';
    case Op.Prepend:
    case Op.PrependQ:
      return 'prepend';
    default:
      return 'set';
  }
}
