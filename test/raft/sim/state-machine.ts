/**
 * The simulated state machine of one node: the sequence of applied entries, summarised by
 * a rolling digest (so two nodes at the same applied index can be compared in O(1)) and the
 * latest applied write (what a read returns). Snapshots carry exactly this summary.
 */
import assert from 'node:assert';
import { EntryType, type Entry, type Snapshot } from './raft-api.js';

const writeTag = 0x77; // 'w'
const writeHeaderBytes = 5;
const snapshotBytes = 40;
const digestSeed = 0x811c9dc5;

/** The payload of a proposed write: a tag, the write's unique sequence number, then padding. */
export function encodeWrite(seq: number, padBytes: number): Uint8Array {
  const data = new Uint8Array(writeHeaderBytes + padBytes);
  data[0] = writeTag;
  new DataView(data.buffer).setUint32(1, seq);
  return data;
}

/** The write sequence number carried by an entry's data, or 0 when the entry is not a write. */
export function decodeWrite(data: Uint8Array): number {
  if (data.byteLength < writeHeaderBytes || data[0] !== writeTag) return 0;
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
}

/** FNV-1a style mix of one entry into a digest; covers index, term, type and every data byte. */
export function digestEntry(digest: number, e: Entry): number {
  let h = digest;
  h = Math.imul(h ^ e.index, 0x01000193);
  h = Math.imul(h ^ e.term, 0x01000193);
  h = Math.imul(h ^ e.type, 0x01000193);
  for (let i = 0; i < e.data.byteLength; i++) h = Math.imul(h ^ e.data[i]!, 0x01000193);
  return h >>> 0;
}

/** The state machine: applied index, digest of everything applied, latest write. */
export class AppliedState {
  index = 0;
  digest = digestSeed;
  lastWriteSeq = 0;
  lastWriteIndex = 0;

  /** Applies the next entry; the caller has checked it is exactly index + 1. */
  apply(e: Entry): void {
    assert.equal(e.index, this.index + 1, 'apply out of order');
    this.index = e.index;
    this.digest = digestEntry(this.digest, e);
    if (e.type !== EntryType.Normal) return;
    const seq = decodeWrite(e.data);
    if (seq === 0) return;
    this.lastWriteSeq = seq;
    this.lastWriteIndex = e.index;
  }

  /** Snapshot data describing this state. */
  encode(): Uint8Array {
    const data = new Uint8Array(snapshotBytes);
    const view = new DataView(data.buffer);
    view.setFloat64(0, this.index);
    view.setFloat64(8, this.digest);
    view.setFloat64(16, this.lastWriteSeq);
    view.setFloat64(24, this.lastWriteIndex);
    return data;
  }

  /**
   * Replaces the state with a snapshot's. A snapshot without data (e.g. one written by
   * bootstrap) stands for "nothing applied yet but the index", identical on every node.
   */
  static fromSnapshot(snap: Snapshot): AppliedState {
    const s = new AppliedState();
    if (snap.data.byteLength !== snapshotBytes) {
      s.index = snap.meta.index;
      s.digest = digestSeed ^ snap.meta.index;
      return s;
    }
    const view = new DataView(snap.data.buffer, snap.data.byteOffset, snap.data.byteLength);
    s.index = view.getFloat64(0);
    s.digest = view.getFloat64(8);
    s.lastWriteSeq = view.getFloat64(16);
    s.lastWriteIndex = view.getFloat64(24);
    assert.equal(s.index, snap.meta.index, 'snapshot data index differs from its metadata');
    return s;
  }
}
