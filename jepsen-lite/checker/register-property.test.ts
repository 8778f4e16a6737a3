import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HistoryEvent } from '../history/types.js';
import { generateHistory, type Choose, type GenerateOptions } from './history-builder.js';
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
    values: fc.integer({ min: 2, max: 6 }),
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
});
