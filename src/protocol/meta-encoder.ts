/**
 * Replies to meta commands: return code, return flags in the order the request gave
 * them, win/stale flags, value block. Which flags appear with which code was observed
 * against memcached 1.6.18 (e.g. a miss echoes only O and k: `EN kmiss O5`; ms failure
 * codes carry `c0`).
 */
import { opKey, type CacheResult } from '../cache/ops.js';
import { itemBytes } from '../cache/item-table.js';
import { MetaCmd, type MetaFormat } from './formats.js';
import { R } from './replies.js';
import type { Answer, Request } from './request.js';
import { errorLine } from './text-encoder.js';

const SPACE = 0x20;

/** Encodes the reply to a meta request (null = send nothing). */
export function encodeMetaReply(request: Exclude<Request, { kind: 'error' }>, format: MetaFormat, answer: Answer): Buffer | null {
  if (request.kind === 'noop') return R.MN;
  if (request.kind !== 'ops' || answer.kind !== 'ops' || answer.results.length !== 1) {
    return errorLine('SERVER_ERROR', 'unexpected answer');
  }
  const op = request.ops[0]!;
  const key = opKey(op) ?? R.EMPTY;
  const r = answer.results[0]!;
  if (r.kind === 'client_error') return errorLine('CLIENT_ERROR', r.message);
  if (r.kind === 'server_error') return errorLine('SERVER_ERROR', r.message);
  switch (format.cmd) {
    case MetaCmd.Get:
      return encodeGet(format, key, r);
    case MetaCmd.Set:
    case MetaCmd.Delete:
      return encodeMutation(format, key, r);
    case MetaCmd.Arith:
      return encodeArith(format, key, r);
    case MetaCmd.Debug:
      return encodeDebug(format, key, r);
    default:
      return format.fixed === undefined || format.fixed.length === 0 ? null : format.fixed;
  }
}

function line(s: string): Buffer {
  return Buffer.from(s + '\r\n', 'latin1');
}

/** Header line, then value and \r\n, in one buffer. */
function withValue(header: string, value: Buffer): Buffer {
  const headerBytes = Buffer.byteLength(header, 'latin1');
  const buf = Buffer.allocUnsafe(headerBytes + 2 + value.length + 2);
  buf.write(header, 0, 'latin1');
  buf.write('\r\n', headerBytes, 'latin1');
  value.copy(buf, headerBytes + 2);
  buf.write('\r\n', headerBytes + 2 + value.length, 'latin1');
  return buf;
}

function encodeGet(f: MetaFormat, key: Buffer, r: CacheResult): Buffer | null {
  if (r.kind !== 'hit') return f.quiet ? null : line('EN' + returnFlags(f, key, r));
  const item = r.item;
  // Z before X before W, as memcached 1.6.18 writes them.
  let tail = '';
  if (r.win === 'Z') tail += ' Z';
  if (item.stale) tail += ' X';
  if (r.win === 'W') tail += ' W';
  const sendValue = f.value && item.cas !== f.compareCas;
  if (!sendValue) return line('HD' + returnFlags(f, key, r) + tail);
  return withValue(`VA ${item.value.length}${returnFlags(f, key, r)}${tail}`, item.value);
}

/** ms and md: HD (suppressed by q), NS, EX, NF. */
function encodeMutation(f: MetaFormat, key: Buffer, r: CacheResult): Buffer | null {
  switch (r.kind) {
    case 'stored':
    case 'deleted':
      return f.quiet ? null : line('HD' + returnFlags(f, key, r));
    default:
      return line(failureCode(r) + returnFlags(f, key, r));
  }
}

function failureCode(r: CacheResult): string {
  switch (r.kind) {
    case 'not_stored':
      return 'NS';
    case 'exists':
      return 'EX';
    case 'not_found':
    case 'miss':
      return 'NF';
    default:
      return 'SERVER_ERROR unexpected result ' + r.kind;
  }
}

/** ma: with q a success says nothing, VA included (memcached 1.6.18: ma k v q -> nothing). */
function encodeArith(f: MetaFormat, key: Buffer, r: CacheResult): Buffer | null {
  if (r.kind !== 'number') return line(failureCode(r) + returnFlags(f, key, r));
  if (f.quiet) return null;
  if (!f.value) return line('HD' + returnFlags(f, key, r));
  const digits = Buffer.from(r.value.toString(), 'latin1');
  return withValue(`VA ${digits.length}${returnFlags(f, key, r)}`, digits);
}

/** me: `ME <key> exp=.. la=.. cas=.. fetch=yes|no cls=1 size=..` (size: the item's total bytes, as memcached counts them). */
function encodeDebug(f: MetaFormat, key: Buffer, r: CacheResult): Buffer {
  if (r.kind !== 'hit') return R.EN;
  const i = r.item;
  const k = f.base64 ? key.toString('base64') : key.toString('latin1');
  const fetch = i.fetched ? 'yes' : 'no';
  return line(`ME ${k} exp=${i.ttlSec} la=${i.lastAccessSec} cas=${i.cas} fetch=${fetch} cls=1 size=${itemBytes(i.key.length, i.value.length, i.flags)}`);
}

/** The requested return flags, in request order, each with its leading space. */
function returnFlags(f: MetaFormat, key: Buffer, r: CacheResult): string {
  const b = f.flags;
  const n = b.length;
  let s = '';
  let i = 0;
  while (i < n) {
    let j = i;
    while (j < n && b[j] !== SPACE) j++;
    if (j > i) s += flagText(f, key, r, i, j);
    i = j + 1;
  }
  return s;
}

/** The text of the flag token f.flags[i, j) in the reply, or '' when it returns nothing. */
function flagText(f: MetaFormat, key: Buffer, r: CacheResult, i: number, j: number): string {
  switch (f.flags[i]) {
    case 0x4f: // O: opaque echoed as sent
      return ' ' + f.flags.toString('latin1', i, j);
    case 0x6b: // k
      return f.base64 ? ` k${key.toString('base64')} b` : ' k' + key.toString('latin1');
    case 0x63: // c
      return casFlag(f, r);
    case 0x66: // f
      return r.kind === 'hit' ? ` f${r.item.flags}` : '';
    case 0x73: // s
      if (r.kind === 'hit') return ` s${r.item.value.length}`;
      return r.kind === 'stored' ? ` s${r.size}` : '';
    case 0x74: // t
      return r.kind === 'hit' || r.kind === 'number' ? ` t${r.item.ttlSec}` : '';
    case 0x68: // h
      return r.kind === 'hit' ? (r.item.fetched ? ' h1' : ' h0') : '';
    case 0x6c: // l
      return r.kind === 'hit' ? ` l${r.item.lastAccessSec}` : '';
    default:
      return '';
  }
}

function casFlag(f: MetaFormat, r: CacheResult): string {
  switch (r.kind) {
    case 'hit':
      return ` c${r.item.cas}`;
    case 'stored':
    case 'number':
      return ` c${r.cas}`;
    default:
      // memcached's ms returns c0 with a failure code; md, mg and ma return nothing.
      return f.cmd === MetaCmd.Set ? ' c0' : '';
  }
}
