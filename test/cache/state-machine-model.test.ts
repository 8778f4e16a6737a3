/**
 * Property: the state machine answers every command exactly as the reference model
 * (test/cache/reference-model.ts) does, for random sequences of every op kind, with time
 * advancing, TTLs of each kind, CAS tokens real and stale, and batched entries. Pure gets
 * go through read() as a leader would, and through apply when read() declines.
 * On failure fast-check prints the seed and the shrunk command list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CacheOp, CacheResult } from '../../src/cache/ops.js';
import { opMutates } from '../../src/cache/ops.js';
import { CacheStateMachine } from '../../src/cache/state-machine.js';
import { type Command, commandArb, concreteOp, keyPool } from './op-arbitraries.js';
import { ReferenceCache } from './reference-model.js';

const itemBytesMax = 320;
/** Outcomes seen across all runs, to prove the generator reaches every kind of reply. */
const seen = new Set<string>();

function noteOutcome(result: CacheResult | null): void {
  if (result === null) return void seen.add('declined');
  seen.add(result.kind);
  if (result.kind === 'hit') {
    if (result.win !== null) seen.add(`win:${result.win}`);
    if (result.item.stale) seen.add('stale');
    if (result.item.fetched) seen.add('fetched');
  }
}
const startMs = 1_700_000_000_123;

/** Runs one command list on both, comparing every reply; returns the final pair. */
function runBoth(commands: Command[]): void {
  const machine = new CacheStateMachine({ memoryBytesMax: 1e12, itemBytesMax });
  const model = new ReferenceCache(itemBytesMax);
  let nowMs = startMs;
  let index = 0;
  let entryNowMs = nowMs;
  const step = (op: CacheOp, sameEntry: boolean, skip: number): void => {
    let expected: CacheResult | null = null;
    let actual: CacheResult | null = null;
    if (op.type === 'get' && !opMutates(op)) {
      expected = model.read(op, nowMs);
      actual = machine.read(op, nowMs);
      expect(actual).toEqual(expected);
      noteOutcome(actual);
      if (actual !== null) return;
    }
    if (!sameEntry || index === 0) {
      index += 1 + skip;
      entryNowMs = nowMs;
    }
    expected = model.apply(op, index, entryNowMs);
    actual = machine.apply(op, index, entryNowMs);
    expect(actual).toEqual(expected);
    noteOutcome(actual);
  };
  for (const command of commands) {
    if (command.t === 'advance') {
      nowMs += command.ms;
      continue;
    }
    const op = concreteOp(command.op, nowMs, (key) => model.casOf(key, nowMs));
    step(op, command.sameEntry, command.skipIndexes);
  }
  // Final state: every key reads the same.
  for (const key of keyPool) {
    const op: CacheOp = { type: 'get', key, noBump: true };
    expect(machine.read(op, nowMs)).toEqual(model.read(op, nowMs));
  }
}

describe('CacheStateMachine against the reference model', () => {
  it('answers every command like the model', () => {
    fc.assert(
      fc.property(fc.array(commandArb, { minLength: 1, maxLength: 80, size: 'max' }), (commands) => {
        runBoth(commands);
      }),
      { numRuns: 400 },
    );
    const kinds = ['hit', 'miss', 'stored', 'not_stored', 'exists', 'not_found', 'deleted', 'touched', 'number', 'ok'];
    const extras = ['client_error', 'server_error', 'declined', 'win:W', 'win:Z', 'stale', 'fetched'];
    expect([...seen].sort()).toEqual([...kinds, ...extras].sort());
  });
});
