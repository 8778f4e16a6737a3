/**
 * Snapshot encoding of a group's cache: every item in LRU order (tail first) plus the
 * scalars, as one msgpackr array. Fields are columns (every item's key and value bytes in
 * one binary, all expiries in one Float64 binary, ...) so a million items encode without a
 * million small objects (1M items of 14+100 bytes: 152 MB, ~1 s to encode, ~2 s to restore).
 *
 * The encoding is canonical: equal logical states give equal bytes, so the digest of a
 * state is the SHA-256 of its snapshot. Numeric columns are little-endian typed-array
 * bytes (every platform Node supports in practice is little-endian; restore asserts it).
 */
import assert from 'node:assert';
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { Packr, Unpackr } from 'msgpackr';
import { ItemTable, NIL } from './item-table.js';
import type { CacheCounters, CacheScalars } from './state-machine.js';

/** Bumped when the layout changes; restore refuses other versions. 3 added the memory limit (field 18). */
const snapshotVersion = 3;
/** The older layout restore still reads (no memory limit: the cache keeps its own). */
const snapshotVersionPrevious = 2;

const unpackr = new Unpackr({ useRecords: false, int64AsType: 'auto' as 'number' }); // 'auto' exists at runtime, not in the typings
/** Packs the scalar fields only (small): its output is copied at once. */
const scalarPackr = new Packr({ useRecords: false });

const counterNames: Array<keyof CacheCounters> = [
  'totalItems',
  'evictions',
  'evictedUnfetched',
  'expiredUnfetched',
  'reclaimed',
  'crawlerReclaimed',
  'crawlerItemsChecked',
];

/** The columns of the items, tail (least recently used) first. */
interface ItemColumns {
  count: number;
  keyLengths: Uint32Array;
  valueLengths: Uint32Array;
  /** Each item's key bytes then value bytes, items one after the other. */
  texts: Buffer;
  flags: Uint32Array;
  cas: Float64Array;
  seq: Float64Array;
  expiresAtMs: Float64Array;
  accessMs: Float64Array;
  bits: Uint8Array;
  /** Position of the expiry scan cursor in tail-first order, -1 for none. */
  scanPosition: number;
}

function bytesOf(view: Uint32Array | Float64Array | Uint8Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

function collectColumns(items: ItemTable): ItemColumns {
  const count = items.size;
  const c: ItemColumns = {
    count,
    keyLengths: new Uint32Array(count),
    valueLengths: new Uint32Array(count),
    texts: Buffer.alloc(0),
    flags: new Uint32Array(count),
    cas: new Float64Array(count),
    seq: new Float64Array(count),
    expiresAtMs: new Float64Array(count),
    accessMs: new Float64Array(count),
    bits: new Uint8Array(count),
    scanPosition: -1,
  };
  let textBytes = 0;
  let i = 0;
  for (let slot = items.tail; slot !== NIL; slot = items.newerOf(slot), i++) {
    c.keyLengths[i] = items.keyLength(slot);
    c.valueLengths[i] = items.valueLength(slot);
    textBytes += c.keyLengths[i]! + c.valueLengths[i]!;
    c.flags[i] = items.flags[slot]!;
    c.cas[i] = items.cas[slot]!;
    c.seq[i] = items.seq[slot]!;
    c.expiresAtMs[i] = items.expiresAtMs[slot]!;
    c.accessMs[i] = items.accessMs[slot]!;
    c.bits[i] = items.bits[slot]!;
    if (slot === items.scanCursor) c.scanPosition = i;
  }
  assert(i === count, 'LRU list and index disagree on the item count');
  c.texts = Buffer.allocUnsafe(textBytes);
  let at = 0;
  for (let slot = items.tail; slot !== NIL; slot = items.newerOf(slot)) at += items.writeItem(slot, c.texts, at);
  assert(at === textBytes, 'item lengths and written bytes disagree');
  return c;
}

/** A msgpack array header for `count` elements (array16: snapshots have more than 15). */
function arrayHeader(count: number): Buffer {
  const h = Buffer.allocUnsafe(3);
  h[0] = 0xdc;
  h.writeUInt16BE(count, 1);
  return h;
}

/** A msgpack bin32 header. */
function binHeader(length: number): Buffer {
  const h = Buffer.allocUnsafe(5);
  h[0] = 0xc6;
  h.writeUInt32BE(length, 1);
  return h;
}

/**
 * Encodes the items and scalars of a cache state (see the module doc). The msgpack array
 * is assembled by hand into one exactly sized buffer: msgpackr grows its (module-wide)
 * output buffer 4x at a time below 16 MiB, so an 8 MiB snapshot sat in a ~28 MiB
 * allocation, and sixteen groups snapshotting together made RSS jump by hundreds of MiB
 * (bench:memory). Scalars still go through msgpackr; bytes decode with any msgpack reader.
 */
export function encodeSnapshot(items: ItemTable, scalars: CacheScalars): Uint8Array {
  const c = collectColumns(items);
  const fields: Array<number | number[] | Buffer> = [
    snapshotVersion,
    scalars.appliedIndex,
    scalars.casLast,
    scalars.lastNowMs,
    scalars.flushSeq,
    scalars.pendingFlushAtMs,
    counterNames.map((name) => scalars.counters[name]),
    c.count,
    c.scanPosition,
    bytesOf(c.keyLengths),
    bytesOf(c.valueLengths),
    c.texts,
    bytesOf(c.flags),
    bytesOf(c.cas),
    bytesOf(c.seq),
    bytesOf(c.expiresAtMs),
    bytesOf(c.accessMs),
    bytesOf(c.bits),
    scalars.memoryBytesMax ?? 0,
  ];
  const parts: Uint8Array[] = [arrayHeader(fields.length)];
  for (const f of fields) {
    if (Buffer.isBuffer(f)) parts.push(binHeader(f.length), f);
    else parts.push(scalarPackr.pack(f));
  }
  // concat copies every part (the scalars' views into msgpackr's buffer included) into one.
  return Buffer.concat(parts);
}

/** Copies little-endian bytes into a fresh (aligned) typed array. */
function column<T extends Uint32Array | Float64Array | Uint8Array>(bytes: Uint8Array, target: T): T {
  assert(bytes.byteLength === target.byteLength, 'snapshot column has the wrong length');
  new Uint8Array(target.buffer, target.byteOffset, target.byteLength).set(bytes);
  return target;
}

/** Replaces the content of `items` by the snapshot's; returns the snapshot's scalars. */
export function decodeSnapshot(data: Uint8Array, items: ItemTable): CacheScalars {
  assert(endianness() === 'LE', 'snapshots are little-endian');
  const input = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const f = unpackr.unpack(input) as unknown[];
  assert(Array.isArray(f) && (f[0] === snapshotVersion || f[0] === snapshotVersionPrevious), 'unknown cache snapshot version');
  const counterValues = f[6] as number[];
  const counters = {} as CacheCounters;
  counterNames.forEach((name, i) => (counters[name] = counterValues[i]!));
  const count = f[7] as number;
  const keyLengths = column(f[9] as Buffer, new Uint32Array(count));
  const valueLengths = column(f[10] as Buffer, new Uint32Array(count));
  const texts = f[11] as Buffer;
  const flags = column(f[12] as Buffer, new Uint32Array(count));
  const cas = column(f[13] as Buffer, new Float64Array(count));
  const seq = column(f[14] as Buffer, new Float64Array(count));
  const expiresAtMs = column(f[15] as Buffer, new Float64Array(count));
  const accessMs = column(f[16] as Buffer, new Float64Array(count));
  const bits = column(f[17] as Buffer, new Uint8Array(count));
  const scanPosition = f[8] as number;
  items.clear();
  let at = 0;
  for (let i = 0; i < count; i++) {
    const key = texts.subarray(at, (at += keyLengths[i]!));
    const value = texts.subarray(at, (at += valueLengths[i]!));
    const slot = items.insert(key, value, flags[i]!);
    items.cas[slot] = cas[i]!;
    items.seq[slot] = seq[i]!;
    items.expiresAtMs[slot] = expiresAtMs[i]!;
    items.accessMs[slot] = accessMs[i]!;
    items.bits[slot] = bits[i]!;
    if (i === scanPosition) items.scanCursor = slot;
  }
  return {
    appliedIndex: f[1] as number,
    casLast: f[2] as number,
    lastNowMs: f[3] as number,
    flushSeq: f[4] as number,
    pendingFlushAtMs: f[5] as number,
    counters,
    memoryBytesMax: typeof f[18] === 'number' && f[18] > 0 ? f[18] : undefined,
  };
}

/** Hex SHA-256 of a snapshot: the state digest. */
export function snapshotDigest(snapshot: Uint8Array): string {
  return createHash('sha256').update(snapshot).digest('hex');
}
