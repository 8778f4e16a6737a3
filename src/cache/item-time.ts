/**
 * Time conversions of the cache: memcached's raw exptime numbers to absolute expiry times
 * in milliseconds, against the entry time `nowMs` that the leader stamped.
 *
 * Expiry encoding: `Infinity` means "never expires" and `-Infinity` "already expired", so
 * the liveness test everywhere is the single comparison `expiresAtMs > nowMs`.
 */

/** memcached's REALTIME_MAXDELTA: raw exptimes above this are absolute unix seconds. */
export const relativeExptimeSecMax = 60 * 60 * 24 * 30;

/** Absolute expiry (ms) of raw exptime `exptime` given at `nowMs`; see the module doc. */
export function expiryMs(exptime: number, nowMs: number): number {
  if (exptime === 0) return Infinity;
  if (exptime < 0) return -Infinity;
  if (exptime > relativeExptimeSecMax) return exptime * 1000;
  return nowMs + exptime * 1000;
}

/** Remaining TTL in whole seconds as memcached's meta `t` flag shows it (-1 = never). */
export function ttlSec(expiresAtMs: number, nowMs: number): number {
  if (expiresAtMs === Infinity) return -1;
  // Rounded up, so an item set with T100 shows t100 within the same second, as memcached does.
  return Math.max(0, Math.ceil((expiresAtMs - nowMs) / 1000));
}

/** Whole seconds since `accessMs` (meta `l`). */
export function elapsedSec(accessMs: number, nowMs: number): number {
  return Math.max(0, Math.floor((nowMs - accessMs) / 1000));
}

/**
 * When a `flush_all <delay>` given at `nowMs` takes effect: now for 0 or negative delays,
 * otherwise the delay read as a raw exptime (relative seconds or absolute unix seconds).
 */
export function flushAtMs(delay: number, nowMs: number): number {
  if (delay <= 0) return nowMs;
  return expiryMs(delay, nowMs);
}
