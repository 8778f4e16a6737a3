/**
 * Splits a command line into tokens in place: token i is buf[starts[i], ends[i]).
 * Like memcached's tokenize_command, only ' ' separates tokens (a tab is part of a key)
 * and runs of spaces count as one. One instance per connection parser; no per-line
 * allocation unless a line has more tokens than ever before.
 */
const SPACE = 0x20;
const TOKENS_INITIAL = 32;

/** Token positions of the current line. */
export class Tokens {
  /** The line's bytes (tokens index into it). */
  buf: Buffer = Buffer.alloc(0);
  count = 0;
  starts = new Int32Array(TOKENS_INITIAL);
  ends = new Int32Array(TOKENS_INITIAL);

  /** Tokenizes buf[s, e). */
  split(buf: Buffer, s: number, e: number): void {
    this.buf = buf;
    let n = 0;
    let i = s;
    while (i < e) {
      while (i < e && buf[i] === SPACE) i++;
      if (i >= e) break;
      const start = i;
      while (i < e && buf[i] !== SPACE) i++;
      if (n === this.starts.length) this.grow();
      this.starts[n] = start;
      this.ends[n] = i;
      n++;
    }
    this.count = n;
  }

  /** Length in bytes of token i. */
  len(i: number): number {
    return this.ends[i]! - this.starts[i]!;
  }

  /** Whether token i equals the ASCII literal `lit`. */
  is(i: number, lit: Buffer): boolean {
    const s = this.starts[i]!;
    const e = this.ends[i]!;
    return e - s === lit.length && this.buf.compare(lit, 0, lit.length, s, e) === 0;
  }

  /** A copy of token i's bytes (keys must not pin the connection's read chunk). */
  copy(i: number): Buffer {
    return Buffer.from(this.buf.subarray(this.starts[i]!, this.ends[i]!));
  }

  /** Token i as a latin1 string (only for rare paths: stats group names). */
  text(i: number): string {
    return this.buf.toString('latin1', this.starts[i]!, this.ends[i]!);
  }

  private grow(): void {
    const starts = new Int32Array(this.starts.length * 2);
    const ends = new Int32Array(this.ends.length * 2);
    starts.set(this.starts);
    ends.set(this.ends);
    this.starts = starts;
    this.ends = ends;
  }
}
