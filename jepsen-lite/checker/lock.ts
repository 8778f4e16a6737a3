/**
 * checkLock: the lock workload's safety properties (docs/locks.md), from the history alone.
 *
 * - Tokens increase across holders: an ok acquire or renew of a lock key must answer a
 *   token above every token answered by an acquire or renew that completed before it was
 *   invoked (the CAS of one key never repeats or goes back), and no two ok acquires share one.
 * - The fence: resource values are "<token>:…". At any time the floor is the highest token
 *   the resource is known to have accepted: of ok writes (write, add, cas) and of ok reads
 *   that completed. Every ok write must carry a token at or above the floor when it was
 *   invoked, and every ok read (the final reads included) must return one at or above it:
 *   a lower token means the resource accepted a lower token after a higher one (or served
 *   a stale read, which checkRegister reports too). An ok cas must not lower the token.
 * - Overlaps: a hold runs from its acquire's completion to its release's invoke (or the
 *   holder's last event). Two holds of one lock that overlap are two clients that believed
 *   they held it at once. That is expected only across expiry: the later acquire completed
 *   at least a TTL after the earlier holder's last (re)acquire was invoked. An overlap
 *   sooner than that is a broken lock, unless the nodes' clocks were skewed by then
 *   (`clockFaultFromNs`), which is exactly what a TTL cannot survive; either way the fence
 *   checks above must hold.
 */
import type { HistoryEvent, Outcome } from '../history/types.js';
import type { Anomaly } from './anomaly.js';
import { opEvents, pairOps, type PairedOp } from './history-ops.js';

/** Options of checkLock. */
export interface LockCheckOptions {
  /** The lock TTL the clients used. */
  ttlMs: number;
  /** ns from which node clocks may have been skewed (the first clock fault), or null. */
  clockFaultFromNs?: number | null;
  /** Allowance between the harness clock and the nodes' clocks (default 250 ms). */
  slackMs?: number;
}

/** Figures of one lock key. */
export interface LockKeyFigures {
  acquires: { ok: number; fail: number; info: number };
  renews: { ok: number; fail: number; info: number };
  releases: { ok: number; fail: number; info: number };
  holds: number;
  /** Pairs of holds that overlapped, split by whether a TTL had passed. */
  overlaps: number;
  overlapsAfterExpiry: number;
  overlapsEarly: number;
  /** Total time two holders overlapped. */
  overlapMs: number;
}

/** Figures of one fenced resource key. */
export interface ResourceFigures {
  writesOk: number;
  writesInfo: number;
  readsOk: number;
  /** Reads in a hold that found a higher token than the holder's (the fenced client then writes nothing). */
  fencedOut: number;
  /** The highest token the resource accepted, and the final reads' token (null if never read). */
  maxToken: string | null;
  finalToken: string | null;
}

/** The verdict of checkLock. */
export interface LockResult {
  outcome: Outcome;
  ttlMs: number;
  locks: { [key: string]: LockKeyFigures };
  resources: { [key: string]: ResourceFigures };
  /** Totals over all locks and resources. */
  holds: number;
  overlaps: number;
  overlapsAfterExpiry: number;
  overlapsEarly: number;
  fencedOut: number;
  /** Token order violations, fence violations, unexplained early overlaps. */
  violations: { tokenOrder: number; fence: number; earlyOverlap: number };
  /** The first anomalies found (at most anomaliesMax), the first also as `anomaly`. */
  anomalies: Anomaly[];
  anomaly?: Anomaly;
  note?: string;
}

const anomaliesMax = 10;
const lockOps: ReadonlySet<string> = new Set(['acquire', 'renew', 'release']);
const writeOps: ReadonlySet<string> = new Set(['write', 'add', 'cas']);

/** The token of an ok acquire/renew ([owner, token]) or null. */
function lockToken(op: PairedOp): bigint | null {
  const v = op.completion?.value;
  return Array.isArray(v) && typeof v[1] === 'string' && /^[0-9]+$/.test(v[1]) ? BigInt(v[1]) : null;
}

/** The token a resource value carries ("<token>:…"), or null. */
function valueToken(value: unknown): bigint | null {
  if (typeof value !== 'string') return null;
  const m = /^([0-9]+):/.exec(value);
  return m === null ? null : BigInt(m[1]!);
}

/** The value a resource op stored (write/add: the value, cas: the new value). */
function storedValue(op: PairedOp): unknown {
  const v = op.invoke.value;
  return op.invoke.f === 'cas' && Array.isArray(v) ? v[1] : v;
}

/** Something that raises a floor when it completes, and what it is checked against when invoked. */
interface Point {
  op: PairedOp;
  token: bigint;
}

/**
 * For each point in invoke order, the highest-token point that completed before its invoke
 * (null when none); calls `visit(point, floor)`.
 */
function sweepFloors(points: Point[], visit: (p: Point, floor: Point | null) => void): void {
  const byReturn = [...points].sort((a, b) => a.op.completion!.time - b.op.completion!.time);
  const byInvoke = [...points].sort((a, b) => a.op.invoke.time - b.op.invoke.time);
  let floor: Point | null = null;
  let r = 0;
  for (const p of byInvoke) {
    while (r < byReturn.length && byReturn[r]!.op.completion!.time < p.op.invoke.time) {
      const q = byReturn[r++]!;
      if (floor === null || q.token > floor.token) floor = q;
    }
    visit(p, floor);
  }
}

/** A hold: one client's belief that it holds a lock. */
interface Hold {
  lock: string;
  process: number;
  token: bigint;
  /** The token the acquire answered (a renew raises `token`). */
  acquireToken: bigint;
  acquire: PairedOp;
  /** Invoke times of the holder's ok renews. */
  renewInvokes: number[];
  startNs: number;
  endNs: number;
}

/** Checks a lock workload history. */
export function checkLock(history: readonly HistoryEvent[], o: LockCheckOptions): LockResult {
  const slackNs = (o.slackMs ?? 250) * 1e6;
  const ttlNs = o.ttlMs * 1e6;
  const result: LockResult = {
    outcome: 'valid', ttlMs: o.ttlMs, locks: {}, resources: {}, holds: 0, overlaps: 0, overlapsAfterExpiry: 0, overlapsEarly: 0, fencedOut: 0,
    violations: { tokenOrder: 0, fence: 0, earlyOverlap: 0 }, anomalies: [],
  };
  const report = (kind: keyof LockResult['violations'], anomaly: Anomaly): void => {
    result.violations[kind]++;
    if (result.anomalies.length < anomaliesMax) result.anomalies.push(anomaly);
  };
  const { byKey, malformed } = pairOps(history);
  const lockKeys = [...byKey].filter(([, ops]) => ops.some((op) => lockOps.has(op.invoke.f))).map(([key]) => key);
  const resourceKeys = [...byKey].filter(([key, ops]) => !lockKeys.includes(key) && ops.some((op) => writeOps.has(op.invoke.f))).map(([key]) => key);

  for (const key of lockKeys) result.locks[key] = checkTokens(key, byKey.get(key)!, report);
  const holds = collectHolds(history, new Set(lockKeys));
  for (const key of lockKeys) {
    const figures = result.locks[key]!;
    checkOverlaps(holds.filter((h) => h.lock === key), figures, { ttlNs, slackNs, clockFaultFromNs: o.clockFaultFromNs ?? null }, report);
  }
  for (const key of resourceKeys) result.resources[key] = checkFence(key, byKey.get(key)!, report);
  result.fencedOut = countFencedOut(history, new Set(lockKeys), new Set(resourceKeys), result.resources);

  for (const f of Object.values(result.locks)) {
    result.holds += f.holds;
    result.overlaps += f.overlaps;
    result.overlapsAfterExpiry += f.overlapsAfterExpiry;
    result.overlapsEarly += f.overlapsEarly;
  }
  const v = result.violations;
  if (v.tokenOrder + v.fence + v.earlyOverlap > 0) {
    result.outcome = 'invalid';
    result.anomaly = result.anomalies[0];
  } else if ([...lockKeys, ...resourceKeys].some((k) => malformed.has(k))) {
    result.outcome = 'unknown';
    result.note = `malformed history: ${[...malformed.values()][0]}`;
  } else if (result.holds === 0) {
    result.outcome = 'unknown';
    result.note = 'no lock was ever acquired';
  }
  return result;
}

type Report = (kind: keyof LockResult['violations'], anomaly: Anomaly) => void;

/** Tokens of one lock key: strictly increasing in real-time order, never repeated. */
function checkTokens(key: string, ops: PairedOp[], report: Report): LockKeyFigures {
  const figures: LockKeyFigures = {
    acquires: { ok: 0, fail: 0, info: 0 }, renews: { ok: 0, fail: 0, info: 0 }, releases: { ok: 0, fail: 0, info: 0 },
    holds: 0, overlaps: 0, overlapsAfterExpiry: 0, overlapsEarly: 0, overlapMs: 0,
  };
  const points: Point[] = [];
  const seen = new Map<bigint, PairedOp>();
  for (const op of ops) {
    const f = op.invoke.f;
    if (f === 'acquire') figures.acquires[op.outcome]++;
    else if (f === 'renew') figures.renews[op.outcome]++;
    else if (f === 'release') figures.releases[op.outcome]++;
    if (op.outcome !== 'ok' || (f !== 'acquire' && f !== 'renew')) continue;
    const token = lockToken(op);
    if (token === null) continue;
    const twin = seen.get(token);
    if (twin !== undefined) {
      report('tokenOrder', {
        kind: 'token-repeated',
        message: `two ${f === twin.invoke.f ? f + 's' : 'grants'} of ${JSON.stringify(key)} answered the same token ${token}`,
        ops: [...opEvents(op), ...opEvents(twin)],
      });
    }
    seen.set(token, op);
    points.push({ op, token });
  }
  sweepFloors(points, (p, floor) => {
    if (floor !== null && p.token <= floor.token) {
      report('tokenOrder', {
        kind: 'token-not-increasing',
        message: `${p.op.invoke.f} of ${JSON.stringify(key)} answered token ${p.token}, not above token ${floor.token} answered before it was invoked`,
        ops: [...opEvents(p.op), ...opEvents(floor.op)],
      });
    }
  });
  return figures;
}

/** The fence of one resource key: no accepted write or read below the floor; no cas lowering the token. */
function checkFence(key: string, ops: PairedOp[], report: Report): ResourceFigures {
  const figures: ResourceFigures = { writesOk: 0, writesInfo: 0, readsOk: 0, fencedOut: 0, maxToken: null, finalToken: null };
  const points: Point[] = [];
  let max: bigint | null = null;
  let lastRead: PairedOp | null = null;
  for (const op of ops) {
    const f = op.invoke.f;
    if (writeOps.has(f)) {
      if (op.outcome === 'info') figures.writesInfo++;
      if (op.outcome !== 'ok') continue;
      figures.writesOk++;
      const token = valueToken(storedValue(op));
      if (token === null) continue;
      if (max === null || token > max) max = token;
      points.push({ op, token });
      if (f === 'cas') {
        const before = valueToken((op.invoke.value as [unknown, unknown])[0]);
        if (before !== null && token < before) {
          report('fence', { kind: 'lower-token-accepted', message: `cas of ${JSON.stringify(key)} replaced token ${before} with the lower token ${token}`, ops: opEvents(op) });
        }
      }
    } else if (f === 'read' && op.outcome === 'ok') {
      figures.readsOk++;
      if (lastRead === null || op.invoke.time >= lastRead.invoke.time) lastRead = op;
      const token = valueToken(op.completion!.value);
      if (token !== null) points.push({ op, token });
    }
  }
  figures.maxToken = max === null ? null : String(max);
  const finalToken = lastRead === null ? null : valueToken(lastRead.completion!.value);
  figures.finalToken = finalToken === null ? null : String(finalToken);
  sweepFloors(points, (p, floor) => {
    if (floor === null || p.token >= floor.token) return;
    const what = p.op.invoke.f === 'read' ? `a read of ${JSON.stringify(key)} returned token ${p.token}` : `${JSON.stringify(key)} accepted a ${p.op.invoke.f} with token ${p.token}`;
    const had = floor.op.invoke.f === 'read' ? `a read had returned token ${floor.token}` : `it had accepted token ${floor.token}`;
    report('fence', {
      kind: 'lower-token-accepted',
      message: `${what} after ${had}: a lower token was accepted after a higher one`,
      ops: [...opEvents(p.op), ...opEvents(floor.op)],
    });
  });
  return figures;
}

/** Every hold in the history, per process in event order. */
function collectHolds(history: readonly HistoryEvent[], lockKeys: ReadonlySet<string>): Hold[] {
  const holds: Hold[] = [];
  const open = new Map<number, Hold>();
  const pendingAcquire = new Map<number, HistoryEvent>();
  const pendingRenew = new Map<number, number>();
  for (const e of history) {
    const hold = open.get(e.process);
    if (e.type === 'invoke' && e.f === 'renew') pendingRenew.set(e.process, e.time);
    if (e.type === 'invoke' && e.f === 'acquire') {
      open.delete(e.process);
      pendingAcquire.set(e.process, e);
      continue;
    }
    if (e.f === 'acquire' && e.type === 'ok' && lockKeys.has(e.key)) {
      const invoke = pendingAcquire.get(e.process);
      const token = Array.isArray(e.value) && typeof e.value[1] === 'string' ? BigInt(e.value[1]) : null;
      if (invoke !== undefined && token !== null) {
        const h: Hold = { lock: e.key, process: e.process, token, acquireToken: token, acquire: { invoke, completion: e, outcome: 'ok' }, renewInvokes: [], startNs: e.time, endNs: e.time };
        holds.push(h);
        open.set(e.process, h);
      }
      continue;
    }
    if (hold === undefined) continue;
    hold.endNs = e.time;
    if (e.f === 'renew' && e.type === 'ok' && e.key === hold.lock) {
      const renewInvoke = pendingRenew.get(e.process);
      if (renewInvoke !== undefined) hold.renewInvokes.push(renewInvoke);
      const t = Array.isArray(e.value) && typeof e.value[1] === 'string' ? BigInt(e.value[1]) : null;
      if (t !== null) hold.token = t;
    }
    if (e.type === 'invoke' && e.f === 'release') open.delete(e.process);
  }
  return holds;
}

/** Overlapping holds of one lock: counted, and those sooner than a TTL reported unless clocks were skewed by then. */
function checkOverlaps(holds: Hold[], figures: LockKeyFigures, t: { ttlNs: number; slackNs: number; clockFaultFromNs: number | null }, report: Report): void {
  figures.holds = holds.length;
  const sorted = [...holds].sort((a, b) => a.startNs - b.startNs);
  const active: Hold[] = [];
  for (const b of sorted) {
    for (let i = active.length - 1; i >= 0; i--) if (active[i]!.endNs <= b.startNs) active.splice(i, 1);
    for (const a of active) {
      figures.overlaps++;
      figures.overlapMs += (Math.min(a.endNs, b.endNs) - b.startNs) / 1e6;
      // The grant with the higher token came second (a reply can arrive after the next
      // holder's, so start order may differ): it was granted only once the first one's
      // lock had expired, at least a TTL after the first holder last (re)acquired it.
      const [first, second] = a.acquireToken < b.acquireToken ? [a, b] : [b, a];
      const granted = second.startNs;
      const refreshed = Math.max(first.acquire.invoke.time, ...first.renewInvokes.filter((r) => r < granted));
      if (granted >= refreshed + t.ttlNs - t.slackNs) {
        figures.overlapsAfterExpiry++;
        continue;
      }
      figures.overlapsEarly++;
      if (t.clockFaultFromNs !== null && granted >= t.clockFaultFromNs) continue;
      report('earlyOverlap', {
        kind: 'lock-held-twice',
        message: `process ${second.process} acquired ${JSON.stringify(second.lock)} (token ${second.acquireToken}) ${((granted - refreshed) / 1e6).toFixed(0)} ms after process ${first.process} ` +
          `(token ${first.acquireToken}) last acquired or renewed it, before its ${t.ttlNs / 1e6} ms TTL could pass, with no clock fault so far`,
        ops: [...opEvents(second.acquire), ...opEvents(first.acquire)],
      });
    }
    active.push(b);
  }
  figures.overlapMs = Math.round(figures.overlapMs);
}

/** Reads during a hold that found a token above the holder's: refusals by the fence. */
function countFencedOut(history: readonly HistoryEvent[], lockKeys: ReadonlySet<string>, resourceKeys: ReadonlySet<string>, resources: LockResult['resources']): number {
  const holding = new Map<number, bigint>();
  let total = 0;
  for (const e of history) {
    if (lockKeys.has(e.key) && e.type === 'ok' && (e.f === 'acquire' || e.f === 'renew') && Array.isArray(e.value) && typeof e.value[1] === 'string') {
      holding.set(e.process, BigInt(e.value[1]));
    } else if (lockKeys.has(e.key) && e.type === 'invoke' && (e.f === 'release' || e.f === 'acquire')) {
      holding.delete(e.process);
    } else if (resourceKeys.has(e.key) && e.f === 'read' && e.type === 'ok') {
      const mine = holding.get(e.process);
      const token = valueToken(e.value);
      if (mine !== undefined && token !== null && token > mine) {
        total++;
        resources[e.key]!.fencedOut++;
      }
    }
  }
  return total;
}
