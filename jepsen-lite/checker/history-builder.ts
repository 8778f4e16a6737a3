/**
 * Builders of histories for the checker's tests and benchmark: hand-written ops with
 * explicit intervals, and generated histories made by running a random concurrent schedule
 * against a plain sequential register (linearizable by construction).
 */
import { mulberry32 } from '../../src/raft/prng.js';
import type { HistoryEvent, OpF, OpType } from '../history/types.js';

/** One hand-written op: process, f, invoke value, [start, end] times, completion type and value. */
export interface OpSpec {
  p: number;
  f: OpF;
  key?: string;
  /** Invoke value (read: null). */
  v?: HistoryEvent['value'];
  start: number;
  /** Completion time; omit for an op that never completed. */
  end?: number;
  type?: Exclude<OpType, 'invoke'>;
  /** Completion value (default: the invoke value). */
  out?: HistoryEvent['value'];
  /** write: its exptime in seconds (HistoryEvent.ttlSec). */
  ttl?: number;
}

/** The events of hand-written ops, sorted by time (invokes first at equal times). */
export function history(ops: OpSpec[]): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (const op of ops) {
    const key = op.key ?? 'k';
    const value = op.v === undefined ? null : op.v;
    const invoke: HistoryEvent = { process: op.p, type: 'invoke', f: op.f, key, value, time: op.start };
    if (op.ttl !== undefined) invoke.ttlSec = op.ttl;
    events.push(invoke);
    if (op.end === undefined) continue;
    events.push({ process: op.p, type: op.type ?? 'ok', f: op.f, key, value: op.out === undefined ? value : op.out, time: op.end });
  }
  return events.sort((a, b) => a.time - b.time || Number(a.type !== 'invoke') - Number(b.type !== 'invoke'));
}

/** Parameters of a generated history. */
export interface GenerateOptions {
  processes: number;
  ops: number;
  keys: readonly string[];
  /** Chance that a completion is reported as info (the op may or may not have been applied). */
  infoChance: number;
  /** Values written are drawn from this many distinct strings (fewer = more cas/add hits); 0 = every value unique. */
  values: number;
  /** Op mix: 'memcached' uses every register op (replace, touch, decr and cas-delete too); 'register' is 50% read, 30% write, 20% cas. */
  mix?: 'memcached' | 'register';
}

/** A deterministic stream of choices in [0, 1) (e.g. from fast-check, or a seeded PRNG). */
export type Choose = () => number;

type Pending = { key: string; f: OpF; value: HistoryEvent['value']; applied: boolean; result?: HistoryEvent['value']; failed?: boolean };

/**
 * memcached's incr / decr on the digits the generator stores (a plain decimal, maybe space
 * padded by an earlier decr): incr wraps at 2^64, decr floors at 0, and a shorter result is
 * stored space padded to the old length. null when the value is not such a number.
 */
export function arithmetic(current: string | null, incr: boolean, delta: string): { reply: string; stored: string } | null {
  if (current === null || !/^\d+ *$/.test(current)) return null;
  const value = BigInt(current.trim());
  const d = BigInt(delta);
  const result = incr ? (value + d) % (1n << 64n) : value > d ? value - d : 0n;
  const reply = result.toString();
  return { reply, stored: reply.length < current.length ? reply.padEnd(current.length, ' ') : reply };
}

/** A plain memcached-like register per key, independent of the checker's model. */
class Registers {
  private readonly values = new Map<string, string>();

  /** Applies an op; returns [failed, result]. */
  apply(key: string, f: OpF, arg: HistoryEvent['value']): [boolean, HistoryEvent['value']] {
    const current = this.values.get(key) ?? null;
    switch (f) {
      case 'read':
        return [false, current];
      case 'write':
        this.values.set(key, arg as string);
        return [false, arg];
      case 'cas': {
        const [expected, next] = arg as [string | null, string];
        if (current === null || current !== expected) return [true, arg];
        this.values.set(key, next);
        return [false, arg];
      }
      case 'add':
        if (current !== null) return [true, arg];
        this.values.set(key, arg as string);
        return [false, arg];
      case 'delete':
        if (current === null) return [true, null];
        this.values.delete(key);
        return [false, null];
      case 'incr':
      case 'decr': {
        const done = arithmetic(current, f === 'incr', arg as string);
        if (done === null) return [true, arg];
        this.values.set(key, done.stored);
        return [false, done.reply];
      }
      case 'replace':
        if (current === null) return [true, arg];
        this.values.set(key, arg as string);
        return [false, arg];
      case 'touch':
        return [current === null, null];
      case 'append':
      case 'prepend':
        if (current === null) return [true, arg];
        this.values.set(key, f === 'append' ? `${current} ${arg as string}` : `${arg as string} ${current}`);
        return [false, arg];
      case 'cas-delete':
        if (current === null || current !== arg) return [true, arg];
        this.values.delete(key);
        return [false, arg];
      default:
        throw new Error(`no register op ${f}`);
    }
  }

  /** The value a process would read now (what a gets before a cas returns). */
  peek(key: string): string | null {
    return this.values.get(key) ?? null;
  }
}

function pickOp(choose: Choose, key: string, registers: Registers, opts: GenerateOptions, unique: { next: number }): { f: OpF; value: HistoryEvent['value'] } {
  const values = opts.values;
  const value = (): string => (values === 0 ? `u${unique.next++}` : String(Math.floor(choose() * values)));
  const r = choose();
  if (opts.mix === 'register') {
    if (r < 0.5) return { f: 'read', value: null };
    if (r < 0.8) return { f: 'write', value: value() };
    return { f: 'cas', value: [registers.peek(key), value()] };
  }
  if (r < 0.3) return { f: 'read', value: null };
  if (r < 0.5) return { f: 'write', value: value() };
  if (r < 0.62) return { f: 'cas', value: [choose() < 0.7 ? registers.peek(key) : value(), value()] };
  if (r < 0.68) return { f: 'add', value: value() };
  if (r < 0.73) return { f: 'delete', value: null };
  if (r < 0.8) return { f: 'incr', value: String(1 + Math.floor(choose() * 3)) };
  if (r < 0.85) return { f: 'decr', value: String(1 + Math.floor(choose() * 3)) };
  if (r < 0.9) return { f: 'replace', value: value() };
  if (r < 0.92) return { f: 'touch', value: null };
  if (r < 0.94) return { f: choose() < 0.6 ? 'append' : 'prepend', value: `a${unique.next++}` };
  // The value a mg would have read (or, now and then, a stale one).
  return { f: 'cas-delete', value: choose() < 0.7 ? registers.peek(key) ?? value() : value() };
}

/**
 * Runs a random concurrent schedule: each step invokes an op on an idle process, applies a
 * pending op to the registers (its linearization point), or completes an applied one (ok or
 * fail by the register's answer, or info). A process may also crash before its op is
 * applied (info, never applied). A process that reports info is replaced by a new process id.
 */
export function generateHistory(choose: Choose, opts: GenerateOptions): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const registers = new Registers();
  const slots: (Pending | null)[] = new Array(opts.processes).fill(null);
  const ids = slots.map((_, i) => i);
  let nextId = opts.processes;
  const unique = { next: 0 };
  let invoked = 0;
  let time = 0;
  while (invoked < opts.ops || slots.some((s) => s !== null)) {
    time += 1 + Math.floor(choose() * 3);
    const slot = Math.floor(choose() * slots.length);
    const pending = slots[slot];
    const process = ids[slot]!;
    if (pending === null || pending === undefined) {
      if (invoked >= opts.ops) continue;
      const key = opts.keys[Math.floor(choose() * opts.keys.length)]!;
      const { f, value } = pickOp(choose, key, registers, opts, unique);
      slots[slot] = { key, f, value, applied: false };
      events.push({ process, type: 'invoke', f, key, value, time });
      invoked++;
    } else if (!pending.applied) {
      if (choose() < opts.infoChance / 4) {
        events.push({ process, type: 'info', f: pending.f, key: pending.key, value: pending.value, time });
        slots[slot] = null;
        ids[slot] = nextId++;
        continue;
      }
      [pending.failed, pending.result] = registers.apply(pending.key, pending.f, pending.value);
      pending.applied = true;
    } else {
      const info = choose() < opts.infoChance;
      const type: OpType = info ? 'info' : pending.failed ? 'fail' : 'ok';
      const value = type === 'ok' && (pending.f === 'read' || pending.f === 'incr' || pending.f === 'decr') ? pending.result! : pending.value;
      events.push({ process, type, f: pending.f, key: pending.key, value, time });
      slots[slot] = null;
      if (info) ids[slot] = nextId++;
    }
  }
  return events;
}

/** A seeded choice stream (mulberry32), for benchmarks. */
export function seededChoose(seed: number): Choose {
  return mulberry32(seed);
}
