/**
 * The sequential model of one memcached key, for the linearizability search: the state is
 * the key's value (null = absent), interned to a small integer so that the search compares
 * and hashes states as numbers. incr follows memcached's rules byte for byte by reusing the
 * cache's own counter code (the value parses as a decimal uint64, wraps at 2^64, and the
 * stored text keeps its old length). append / prepend add their token with a space between,
 * as the workload sends them.
 */
import assert from 'node:assert';
import { applyDelta, counterText, parseCounter } from '../../src/cache/counter-value.js';
import type { PairedOp } from './history-ops.js';

/** Operation kinds of the model (numeric: the search dispatches on them per step). */
export const OpKind = { Read: 0, Write: 1, Cas: 2, Add: 3, Delete: 4, Incr: 5, Decr: 6, Replace: 7, Touch: 8, CasDelete: 9, Append: 10, Prepend: 11 } as const;

/** One of OpKind's values. */
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

/** The id of the absent state (null). */
export const absentState = 0;

/** Interns model states (string | null) as integers; id 0 is null. */
export class StateTable {
  private readonly ids = new Map<string, number>();
  readonly values: (string | null)[] = [null];

  /** The id of `value`, allocating one for a new value. */
  intern(value: string | null): number {
    if (value === null) return absentState;
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.ids.set(value, id);
    }
    return id;
  }
}

/** One operation compiled for the model. */
export interface ModelOp {
  kind: OpKind;
  /** Indeterminate: may have happened at any time after its invoke, or never. */
  info: boolean;
  /** read: the value read; write/add/replace: the value stored; cas/cas-delete: the expected value. */
  a: number;
  /** cas: the new value. */
  b: number;
  /** incr/decr: the delta. */
  delta: bigint;
  /** incr/decr ok: the reply (decimal text); null for an info one. */
  incrReply: string | null;
  /** incr/decr: state id -> next state id (-1 = not applicable), memoised since BigInt math is slow. */
  incrNext: Map<number, number> | null;
  /** append / prepend: the text added (" <token>" / "<token> "); "" otherwise. */
  affix: string;
  /** append / prepend: state id -> next state id, memoised (the concatenation is interned once). */
  affixNext: Map<number, number> | null;
  /** The paired events this was compiled from. */
  source: PairedOp;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

/**
 * Compiles an ok or info operation; returns null for operations that cannot affect the
 * model (an info read) and throws for a value the history format does not allow.
 */
export function compileOp(op: PairedOp, states: StateTable): ModelOp | null {
  const info = op.outcome !== 'ok';
  const completed = op.completion?.value;
  const invoked = op.invoke.value;
  const base: ModelOp = { kind: OpKind.Read, info, a: 0, b: 0, delta: 0n, incrReply: null, incrNext: null, affix: '', affixNext: null, source: op };
  switch (op.invoke.f) {
    case 'read':
      if (info) return null;
      return { ...base, a: states.intern(completed === null ? null : text(completed)) };
    case 'write':
      return { ...base, kind: OpKind.Write, a: states.intern(text(invoked)) };
    case 'cas': {
      assert(Array.isArray(invoked) && invoked.length === 2, `cas value must be [expected, new], got ${JSON.stringify(invoked)}`);
      const [expected, next] = invoked as [string | null, string];
      return { ...base, kind: OpKind.Cas, a: states.intern(expected), b: states.intern(text(next)) };
    }
    case 'add':
      return { ...base, kind: OpKind.Add, a: states.intern(text(invoked)) };
    case 'delete':
      return { ...base, kind: OpKind.Delete };
    case 'incr':
    case 'decr': {
      const kind = op.invoke.f === 'incr' ? OpKind.Incr : OpKind.Decr;
      return { ...base, kind, delta: BigInt(text(invoked)), incrReply: info ? null : text(completed), incrNext: new Map() };
    }
    case 'replace':
      return { ...base, kind: OpKind.Replace, a: states.intern(text(invoked)) };
    case 'touch':
      // An info touch (exptime 0) changes nothing whatever happened: it cannot affect the model.
      return info ? null : { ...base, kind: OpKind.Touch };
    case 'cas-delete':
      assert(typeof invoked === 'string', `cas-delete value must be the value read, got ${JSON.stringify(invoked)}`);
      return { ...base, kind: OpKind.CasDelete, a: states.intern(invoked) };
    case 'append':
      return { ...base, kind: OpKind.Append, affix: ` ${text(invoked)}`, affixNext: new Map() };
    case 'prepend':
      return { ...base, kind: OpKind.Prepend, affix: `${text(invoked)} `, affixNext: new Map() };
    case 'acquire':
    case 'renew':
    case 'release':
      assert.fail(`${op.invoke.f} is not a register operation`);
  }
}

/** The state after applying `op` in `state`, or -1 when `op` cannot take effect there. */
export function step(op: ModelOp, state: number, states: StateTable): number {
  switch (op.kind) {
    case OpKind.Read:
      return state === op.a ? state : -1;
    case OpKind.Write:
      return op.a;
    case OpKind.Cas:
      // memcached's cas of a missing key answers NOT_FOUND: it never succeeds on absent.
      return state === op.a && state !== absentState ? op.b : -1;
    case OpKind.Add:
      return state === absentState ? op.a : -1;
    case OpKind.Delete:
      // DELETED only when there was something to delete (NOT_FOUND, a fail, otherwise); an
      // info delete may have run on an absent key, which leaves it absent.
      return op.info || state !== absentState ? absentState : -1;
    case OpKind.Incr:
    case OpKind.Decr:
      return stepIncr(op, state, states);
    case OpKind.Replace:
      return state !== absentState ? op.a : -1;
    case OpKind.Touch:
      // touch <key> 0 keeps the value (and memcached's exptime 0 never expires it).
      return state !== absentState ? state : -1;
    case OpKind.CasDelete:
      // md C<cas> with the CAS of the version mg read: that version must still be there. The
      // model compares values (unique per write on register keys), which asks no more than
      // the CAS does: two versions with one value are one state here.
      return state === op.a && state !== absentState ? absentState : -1;
    case OpKind.Append:
    case OpKind.Prepend:
      return stepAffix(op, state, states);
  }
}

/** append / prepend: only a present value takes the token (NOT_STORED otherwise). */
function stepAffix(op: ModelOp, state: number, states: StateTable): number {
  if (state === absentState) return -1;
  const memo = op.affixNext!;
  let next = memo.get(state);
  if (next === undefined) {
    const current = states.values[state]!;
    next = states.intern(op.kind === OpKind.Append ? current + op.affix : op.affix + current);
    memo.set(state, next);
  }
  return next;
}

function stepIncr(op: ModelOp, state: number, states: StateTable): number {
  const memo = op.incrNext!;
  const known = memo.get(state);
  if (known !== undefined) return known;
  let next = -1;
  const current = states.values[state]!;
  const number = current === null ? null : parseCounter(current);
  if (number !== null) {
    const result = applyDelta(number, op.delta, op.kind === OpKind.Incr);
    if (op.incrReply === null || result.toString() === op.incrReply.trim()) {
      next = states.intern(counterText(result, current!.length));
    }
  }
  memo.set(state, next);
  return next;
}
