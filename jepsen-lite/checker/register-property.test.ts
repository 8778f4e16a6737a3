import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../history/types.js';
import { arithmetic, generateHistory, type Choose, type GenerateOptions } from './history-builder.js';
import { pairOps, type PairedOp } from './history-ops.js';
import { checkRegister } from './index.js';

// Histories made by running a random concurrent schedule against a plain sequential
// register (history-builder.ts) are linearizable by construction: the checker must say
// 'valid' (never 'unknown' at these sizes). fast-check prints the seed and the choices of a
// failing case; `fc.assert(..., { seed, path })` replays it.

/** A history generator driven by fast-check's choices (so failures shrink). */
const historyArb = fc
  .record({
    processes: fc.integer({ min: 1, max: 8 }),
    ops: fc.integer({ min: 1, max: 60 }),
    keys: fc.constantFrom(['k'], ['k', 'j']),
    infoChance: fc.constantFrom(0, 0.05, 0.2),
    values: fc.integer({ min: 0, max: 6 }),
    choices: fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 64 }),
  })
  .map((params) => {
    const opts: GenerateOptions = params;
    return generateHistory(cycle(params.choices), opts);
  });

/** An endless choice stream from a finite list (each pass is perturbed so it does not repeat exactly). */
function cycle(choices: number[]): Choose {
  let at = 0;
  return () => {
    const base = choices[at % choices.length]!;
    const pass = Math.floor(at / choices.length);
    at++;
    return (base + pass * 0.6180339887) % 1;
  };
}

/**
 * A brute-force linearizability oracle for small histories, independent of the checker's
 * model and search: tries every order of the ops that respects real time, with info ops
 * optional (they may take effect at any time after their invoke, or never).
 */
function bruteForceLinearizable(history: HistoryEvent[]): boolean {
  const ops = [...pairOps(history).byKey.values()].flat().filter((op) => op.outcome !== 'fail');
  const byKey = new Map<string, PairedOp[]>();
  for (const op of ops) byKey.set(op.invoke.key, [...(byKey.get(op.invoke.key) ?? []), op]);
  return [...byKey.values()].every((keyOps) => search(keyOps, null));
}

function search(remaining: PairedOp[], state: string | null): boolean {
  const okLeft = remaining.filter((op) => op.outcome === 'ok');
  if (okLeft.length === 0) return true;
  const deadline = Math.min(...okLeft.map((op) => op.completion!.time));
  return remaining.some((op, i) => {
    if (op.invoke.time > deadline) return false;
    const after = apply(op, state);
    return after !== undefined && search(remaining.filter((_, j) => j !== i), after);
  });
}

/** The state after op, or undefined when it cannot take effect (ok ops must also match their reply). */
function apply(op: PairedOp, state: string | null): string | null | undefined {
  const ok = op.outcome === 'ok';
  const v = op.invoke.value;
  switch (op.invoke.f) {
    case 'read':
      return !ok || op.completion!.value === state ? state : undefined;
    case 'write':
      return v as string;
    case 'cas': {
      const [expected, next] = v as [string | null, string];
      return state !== null && state === expected ? next : undefined;
    }
    case 'add':
      return state === null ? (v as string) : undefined;
    case 'delete':
      return !ok || state !== null ? null : undefined;
    case 'incr':
    case 'decr': {
      const done = arithmetic(state, op.invoke.f === 'incr', v as string);
      if (done === undefined || done === null) return undefined;
      return !ok || op.completion!.value === done.reply ? done.stored : undefined;
    }
    case 'replace':
      return state !== null ? (v as string) : undefined;
    case 'touch':
      return state !== null ? state : undefined;
    case 'cas-delete':
      return state !== null && state === v ? null : undefined;
    case 'append':
      return state !== null ? `${state} ${v as string}` : undefined;
    case 'prepend':
      return state !== null ? `${v as string} ${state}` : undefined;
    default:
      throw new Error(`unexpected ${op.invoke.f}`);
  }
}

/** Small histories and a mutation of one completion: a read's value, or an ok/fail/info flip. */
const mutatedSmallArb = fc
  .record({
    processes: fc.integer({ min: 1, max: 5 }),
    ops: fc.integer({ min: 1, max: 10 }),
    keys: fc.constant(['k']),
    infoChance: fc.constantFrom(0, 0.2, 0.4),
    values: fc.integer({ min: 0, max: 3 }),
    choices: fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 32 }),
    mutation: fc.tuple(fc.nat(), fc.constantFrom('value', 'ok', 'fail', 'info', 'none'), fc.constantFrom(null, '0', '1', '2', 'u1')),
  })
  .map(({ mutation: [pick, how, value], ...params }) => {
    const history = generateHistory(cycle(params.choices), params);
    const completions = history.flatMap((event, index) => (event.type === 'invoke' ? [] : [index]));
    if (how === 'none' || completions.length === 0) return history;
    const index = completions[pick % completions.length]!;
    const event = history[index]!;
    const changed: HistoryEvent = how === 'value' ? (event.f === 'read' ? { ...event, value } : event) : { ...event, type: how };
    return history.map((e, i) => (i === index ? changed : e));
  });

/** The ok reads of a history, as indexes into it. */
function okReads(history: HistoryEvent[]): number[] {
  return history.flatMap((event, index) => (event.type === 'ok' && event.f === 'read' ? [index] : []));
}

describe('checkRegister on generated histories', () => {
  it('accepts every history produced by a sequential register', () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const result = checkRegister(history);
        expect(result.outcome, JSON.stringify(result.keys)).toBe('valid');
      }),
      { numRuns: 300 },
    );
  });

  it('rejects it once a read returns a value that was never written', () => {
    const withRead = historyArb.filter((history) => okReads(history).length > 0);
    fc.assert(
      fc.property(withRead, fc.nat(), (history, pick) => {
        const reads = okReads(history);
        const index = reads[pick % reads.length]!;
        const mutated = history.map((event, i) => (i === index ? { ...event, value: 'never-written' } : event));
        const result = checkRegister(mutated);
        expect(result.outcome).toBe('invalid');
        const anomaly = result.keys[history[index]!.key]!.anomaly!;
        expect(anomaly.message).toContain('"never-written"');
      }),
      { numRuns: 200 },
    );
  });

  it('agrees with a brute-force search on small, randomly mutated histories', () => {
    fc.assert(
      fc.property(mutatedSmallArb, (history) => {
        const expected = bruteForceLinearizable(history) ? 'valid' : 'invalid';
        expect(checkRegister(history).outcome).toBe(expected);
      }),
      { numRuns: 1500 },
    );
  });
});
