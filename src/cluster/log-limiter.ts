/**
 * Rate limit for repeated log lines (the meta leader re-plans a move every pass while it
 * cannot start, e.g. for the whole of a partition): a key is let through at most once per
 * `intervalMs`, and the next line that passes says how many were held back. Pure: the
 * time is handed in.
 */

/** Keys remembered at most (the oldest are forgotten first). */
const keysMax = 1024;

/** Lets each key through once per interval. */
export class LogLimiter {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(private readonly intervalMs: number) {}

  /**
   * Null when `key` was let through within the interval (the line is held back); else how
   * many lines of `key` were held back since it last passed (the line goes out).
   */
  admit(key: string, nowMs: number): number | null {
    const seen = this.last.get(key);
    if (seen !== undefined && nowMs - seen.atMs < this.intervalMs) {
      seen.suppressed++;
      return null;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.last.delete(key);
    this.last.set(key, { atMs: nowMs, suppressed: 0 });
    if (this.last.size > keysMax) this.last.delete(this.last.keys().next().value!);
    return suppressed;
  }
}
