/**
 * Value encodings. One shared msgpackr Packr (records off, so values are self-describing
 * plain msgpack; binary stays binary). Entries and hard states are stored as short tuples:
 * the entry's index lives in its key, and tuples skip the field names of every value.
 */
import { Packr } from 'msgpackr';
import type { ConfState, Entry, EntryType, HardState, SnapshotMeta } from '../raft/types.js';
import { StorageError } from './types.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** On-disk format version, stored under `formatKey`; bump on incompatible changes. */
export const formatVersion = 1;

/** What is stored under a group's `snap` key: the metadata and how the data is chunked. */
export interface StoredSnapshotMeta {
  meta: SnapshotMeta;
  chunks: number;
  bytes: number;
}

/** Encodes any small value with the shared Packr. */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes a value written by `encodeValue`. */
export function decodeValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** Encodes an entry without its index (which is in the key). */
export function encodeEntry(entry: Entry): Uint8Array {
  return packr.pack([entry.term, entry.type, entry.data]);
}

/** Decodes an entry stored at `index`. */
export function decodeEntry(index: number, bytes: Uint8Array): Entry {
  const v = packr.unpack(bytes) as [number, EntryType, Uint8Array];
  if (!Array.isArray(v) || v.length !== 3 || !(v[2] instanceof Uint8Array)) {
    throw new StorageError('STORAGE_CORRUPT', `log entry ${index} does not decode`);
  }
  return { term: v[0], index, type: v[1], data: v[2] };
}

/** Encodes a hard state as [term, vote, commit]. */
export function encodeHardState(hs: HardState): Uint8Array {
  return packr.pack([hs.term, hs.vote, hs.commit]);
}

/** Decodes a hard state. */
export function decodeHardState(bytes: Uint8Array): HardState {
  const v = packr.unpack(bytes) as [number, number, number];
  if (!Array.isArray(v) || v.length !== 3) throw new StorageError('STORAGE_CORRUPT', 'hard state does not decode');
  return { term: v[0], vote: v[1], commit: v[2] };
}

/** Encodes snapshot metadata with its chunking. */
export function encodeSnapshotMeta(stored: StoredSnapshotMeta): Uint8Array {
  return packr.pack(stored);
}

/** Decodes snapshot metadata with its chunking. */
export function decodeSnapshotMeta(bytes: Uint8Array): StoredSnapshotMeta {
  const v = packr.unpack(bytes) as StoredSnapshotMeta;
  if (typeof v !== 'object' || v === null || typeof v.meta?.index !== 'number' || typeof v.chunks !== 'number') {
    throw new StorageError('STORAGE_CORRUPT', 'snapshot metadata does not decode');
  }
  return v;
}

/** A deep-enough copy of a ConfState (its arrays are the only mutable parts). */
export function copyConfState(cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}
