/**
 * The node's wall clock: every Date.now() of the host and its replicas (entry timestamps,
 * and through them TTLs; deadlines; liveness) goes through `clockNowMs`, so a test can skew
 * one node's clock. The offset is test-only: it is set through the admin listener's
 * `POST /debug/clock?offsetMs=N&strobeMs=P`, which exists only with MEMRAFT_DEBUG_ADMIN=1
 * (jepsen-lite's clock nemesis). One clock per process: a process runs one node.
 */

let offsetMs = 0;
let strobeMs = 0;

/** Date.now() plus the test offset; with a strobe, the offset is on and off every strobeMs. */
export function clockNowMs(): number {
  const realMs = Date.now();
  if (offsetMs === 0) return realMs;
  if (strobeMs > 0 && Math.floor(realMs / strobeMs) % 2 === 1) return realMs;
  return realMs + offsetMs;
}

/** Sets the test offset (0 = the true clock) and the strobe period (0 = steady). */
export function setClockOffset(offset: number, strobe = 0): void {
  offsetMs = offset;
  strobeMs = strobe;
}

/** The current test offset and strobe period. */
export function clockOffset(): { offsetMs: number; strobeMs: number } {
  return { offsetMs, strobeMs };
}
