/**
 * Inflights: the App messages sent to one follower and not yet acknowledged, as a ring of
 * (last index, payload bytes). Full when the count or the byte limit is reached; the
 * leader then stops sending to that follower until acks free slots. Modelled on etcd's
 * tracker/inflights.go.
 */
import assert from 'node:assert';

/** Flow-control window of one follower; see the module doc. */
export class Inflights {
  private start = 0;
  count = 0;
  bytes = 0;
  private readonly indexes: number[];
  private readonly sizes: number[];
  readonly msgsMax: number;
  readonly bytesMax: number;

  constructor(msgsMax: number, bytesMax: number) {
    assert(msgsMax > 0, 'maxInflightMsgs must be > 0');
    this.msgsMax = msgsMax;
    this.bytesMax = bytesMax;
    this.indexes = new Array<number>(msgsMax).fill(0);
    this.sizes = new Array<number>(msgsMax).fill(0);
  }

  /** Records an App message whose last entry is `index`. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'cannot add into a full inflights');
    const slot = (this.start + this.count) % this.msgsMax;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `to` (acknowledged). */
  freeLE(to: number): void {
    while (this.count > 0 && this.indexes[this.start]! <= to) {
      this.bytes -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.msgsMax;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest message (a heartbeat response proves the follower is alive). */
  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.indexes[this.start]!);
  }

  full(): boolean {
    return this.count === this.msgsMax || (this.bytesMax > 0 && this.bytes >= this.bytesMax);
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
