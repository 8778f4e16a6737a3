/**
 * Reductions for indeterminate (info) ops, which may take effect at any time after their
 * invoke, or never, and so multiply the configurations the search must consider. Each
 * reduction keeps some linearization whenever one exists:
 *
 * - Unobservable info ops drop out: an info write (or add, replace, cas) whose resulting
 *   value no op could observe (no read returned it, no cas or cas-delete expected it, no
 *   incr/decr could read it, no replace, touch, append, prepend or ok delete on the key could
 *   find it present: an append makes every earlier value observable inside the later ones) can only
 *   be followed by an op that ignores the state, so leaving it out changes nothing.
 * - Identical info ops (same kind and arguments) are interchangeable once invoked, so the
 *   search only ever uses the earliest-invoked unused one of each class (classPrev).
 */
import { parseCounter } from '../../src/cache/counter-value.js';
import { absentState, OpKind, type ModelOp, type StateTable } from './register-model.js';

/** The value (state id) an info op stores when it takes effect, or -1 when it depends on the state. */
function storedState(op: ModelOp): number {
  switch (op.kind) {
    case OpKind.Write:
    case OpKind.Add:
    case OpKind.Replace:
      return op.a;
    case OpKind.Cas:
      return op.b;
    case OpKind.Delete:
    case OpKind.CasDelete:
      return absentState;
    default:
      return -1;
  }
}

/**
 * State ids some op could observe: values read, cas-expected values, absent, numbers when
 * incr/decr is used, and every present value when replace or touch is used (they succeed on
 * any present value, so an info write of a value nobody reads can still let one succeed).
 */
function observableStates(ops: readonly ModelOp[], states: StateTable): (state: number) => boolean {
  const observed = new Set<number>([absentState]);
  let counts = false;
  let presence = false;
  for (const op of ops) {
    if (op.kind === OpKind.Read || op.kind === OpKind.Cas || op.kind === OpKind.CasDelete) observed.add(op.a);
    if (op.kind === OpKind.Incr || op.kind === OpKind.Decr) counts = true;
    if (op.kind === OpKind.Replace || op.kind === OpKind.Touch || op.kind === OpKind.Append || op.kind === OpKind.Prepend) presence = true;
    if (op.kind === OpKind.Delete && !op.info) presence = true;
  }
  return (state) => presence || observed.has(state) || (counts && parseCounter(states.values[state] ?? '') !== null);
}

/** The ops without the info ops whose effect no op could observe. */
export function dropUnobservableInfo(ops: ModelOp[], states: StateTable): ModelOp[] {
  const observable = observableStates(ops, states);
  return ops.filter((op) => {
    if (!op.info) return true;
    const stored = storedState(op);
    return stored === -1 || observable(stored);
  });
}

/**
 * For each op (indexes into `ops`, ordered by invoke time): the previous info op with the
 * same effect, or -1 (ok ops and the first of each class).
 */
export function infoClassPrev(ops: readonly ModelOp[]): Int32Array {
  const prev = new Int32Array(ops.length).fill(-1);
  const last = new Map<string, number>();
  const order = ops.map((_, i) => i).sort((x, y) => ops[x]!.source.invoke.time - ops[y]!.source.invoke.time || x - y);
  for (const i of order) {
    const op = ops[i]!;
    if (!op.info) continue;
    const key = `${op.kind}:${op.a}:${op.b}:${op.delta}:${op.affix}`;
    const before = last.get(key);
    if (before !== undefined) prev[i] = before;
    last.set(key, i);
  }
  return prev;
}
