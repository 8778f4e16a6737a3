/**
 * Cache ops as bytes, for Raft log entries: msgpackr arrays with positional fields (no
 * field names on the wire), a leading type code, and null for absent optional fields.
 * Buffers travel as msgpack binaries and decode as Buffers (views into the input: the
 * state machine copies what it keeps); bigints travel as 64-bit integers and decode as
 * bigints again.
 *
 * An entry payload carries the leader's time and a batch of ops: `[nowMs, [op, op, ...]]`.
 */
import assert from 'node:assert';
import { Packr, Unpackr } from 'msgpackr';
import type { ArithOp, CacheOp, DeleteOp, GetOp, StoreMode, StoreOp } from './ops.js';

/** A Raft entry's payload for a group: the leader's clock and the ops proposed together. */
export interface CacheEntry {
  nowMs: number;
  ops: CacheOp[];
}

const packr = new Packr({ useRecords: false });
// 'auto': 64-bit integers within 2^53 decode as numbers; bigint fields are converted back.
const unpackr = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'number' }); // 'auto' exists at runtime, not in the typings

const enum OpCode {
  Get = 0,
  Store = 1,
  Delete = 2,
  Arith = 3,
  Touch = 4,
  Flush = 5,
  Bump = 6,
  Expire = 7,
  Limit = 8,
}

const storeModes: StoreMode[] = ['set', 'add', 'replace', 'append', 'prepend', 'cas'];

type Field = number | bigint | boolean | Buffer | Buffer[] | number[] | null;

function opt<T extends number | bigint | boolean>(value: T | undefined): T | null {
  return value === undefined ? null : value;
}

/** The positional array form of an op. */
function opTuple(op: CacheOp): Field[] {
  switch (op.type) {
    case 'get':
      return [OpCode.Get, op.key, opt(op.touch), opt(op.vivify), opt(op.recache), opt(op.noBump), opt(op.newCas), opt(op.token), opt(op.access), opt(op.touchFirst)];
    case 'store':
      return [
        OpCode.Store, storeModes.indexOf(op.mode), op.key, op.flags, op.exptime, op.value,
        opt(op.cas), opt(op.newCas), opt(op.invalidate), opt(op.vivify),
      ];
    case 'delete':
      return [OpCode.Delete, op.key, opt(op.cas), opt(op.newCas), opt(op.invalidate), opt(op.exptime), opt(op.removeValue)];
    case 'arith':
      return [
        OpCode.Arith, op.key, op.incr, op.delta, opt(op.cas), opt(op.newCas),
        opt(op.vivify), opt(op.initial), opt(op.exptime),
      ];
    case 'touch':
      return [OpCode.Touch, op.key, op.exptime];
    case 'flush':
      return [OpCode.Flush, op.delay];
    case 'bump':
      return op.atMs === undefined ? [OpCode.Bump, op.keys] : [OpCode.Bump, op.keys, op.atMs];
    case 'expire':
      return [OpCode.Expire, op.scanMax];
    case 'limit':
      return [OpCode.Limit, op.memoryBytesMax];
  }
}

function num(field: unknown): number | undefined {
  return field === null ? undefined : (field as number);
}

function big(field: unknown): bigint | undefined {
  return field === null || field === undefined ? undefined : BigInt(field as number | bigint);
}

function bool(field: unknown): boolean | undefined {
  return field === null ? undefined : (field as boolean);
}

/** The op of a positional array. */
function tupleOp(t: unknown[]): CacheOp {
  switch (t[0] as OpCode) {
    case OpCode.Get:
      return decodeGet(t);
    case OpCode.Store:
      return decodeStore(t);
    case OpCode.Delete:
      return decodeDelete(t);
    case OpCode.Arith:
      return decodeArith(t);
    case OpCode.Touch:
      return { type: 'touch', key: t[1] as Buffer, exptime: t[2] as number };
    case OpCode.Flush:
      return { type: 'flush', delay: t[1] as number };
    case OpCode.Bump:
      return t[2] === undefined || t[2] === null ? { type: 'bump', keys: t[1] as Buffer[] } : { type: 'bump', keys: t[1] as Buffer[], atMs: t[2] as number[] };
    case OpCode.Expire:
      return { type: 'expire', scanMax: t[1] as number };
    case OpCode.Limit:
      return { type: 'limit', memoryBytesMax: t[1] as number };
    default:
      assert.fail(`unknown cache op code ${String(t[0])}`);
  }
}

function decodeGet(t: unknown[]): GetOp {
  return {
    type: 'get', key: t[1] as Buffer, touch: num(t[2]), vivify: num(t[3]), recache: num(t[4]),
    noBump: bool(t[5]), newCas: num(t[6]), token: bool(t[7]), access: bool(t[8] ?? null), touchFirst: bool(t[9] ?? null),
  };
}

function decodeStore(t: unknown[]): StoreOp {
  const mode = storeModes[t[1] as number];
  assert(mode !== undefined, 'unknown store mode');
  return {
    type: 'store', mode, key: t[2] as Buffer, flags: t[3] as number, exptime: t[4] as number,
    value: t[5] as Buffer, cas: num(t[6]), newCas: num(t[7]), invalidate: bool(t[8]), vivify: num(t[9]),
  };
}

function decodeDelete(t: unknown[]): DeleteOp {
  return {
    type: 'delete', key: t[1] as Buffer, cas: num(t[2]), newCas: num(t[3]), invalidate: bool(t[4]),
    exptime: num(t[5]), removeValue: bool(t[6]),
  };
}

function decodeArith(t: unknown[]): ArithOp {
  return {
    type: 'arith', key: t[1] as Buffer, incr: t[2] as boolean, delta: big(t[3])!, cas: num(t[4]),
    newCas: num(t[5]), vivify: num(t[6]), initial: big(t[7]), exptime: num(t[8]),
  };
}

/** A Buffer over the same memory, so msgpackr returns Buffers (not bare Uint8Arrays). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Encodes one op. */
export function encodeOp(op: CacheOp): Uint8Array {
  return packr.pack(opTuple(op));
}

/** Decodes one op encoded by encodeOp. Absent optional fields come back as undefined. */
export function decodeOp(bytes: Uint8Array): CacheOp {
  return tupleOp(unpackr.unpack(asBuffer(bytes)) as unknown[]);
}

/** Encodes a Raft entry payload: the leader's time and a batch of ops. */
export function encodeEntry(entry: CacheEntry): Uint8Array {
  return packr.pack([entry.nowMs, entry.ops.map(opTuple)]);
}

/** Decodes a payload encoded by encodeEntry. */
export function decodeEntry(bytes: Uint8Array): CacheEntry {
  const [nowMs, tuples] = unpackr.unpack(asBuffer(bytes)) as [number, unknown[][]];
  return { nowMs, ops: tuples.map(tupleOp) };
}
