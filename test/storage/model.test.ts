/**
 * Model-based property test: random valid write sequences (conflicts, snapshots, destroys,
 * merged and unawaited writes, restarts) go to LevelLogStore and MemoryLogStore alike; both
 * must load the same state after every step, and LevelLogStore also after each reopen.
 * fast-check prints the seed and shrunk counterexample of any failure; replay with
 * MEMRAFT_SEED=<seed>.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { GroupId } from '../../src/raft/types.js';
import { LevelLogStore, MemoryLogStore, type GroupWrite, type LogStore } from '../../src/storage/index.js';
import { entry, normalize, snapshot } from './log-store-contract.js';

const groups: GroupId[] = [0, 1, 2];
const seed = process.env.MEMRAFT_SEED === undefined ? undefined : Number(process.env.MEMRAFT_SEED);

/** One abstract action, interpreted against the current state so every write is valid. */
interface Action {
  kind: 'append' | 'snapshot' | 'leaderSnapshot' | 'destroy' | 'hardState' | 'compact' | 'reopen';
  group: number;
  a: number;
  b: number;
  /** Issue the write without awaiting it (it merges with the following ones). */
  noWait: boolean;
}

const actionArb: fc.Arbitrary<Action> = fc.record({
  kind: fc.constantFrom('append', 'append', 'append', 'snapshot', 'leaderSnapshot', 'destroy', 'hardState', 'compact', 'reopen'),
  group: fc.constantFrom(...groups),
  a: fc.nat({ max: 20 }),
  b: fc.nat({ max: 20 }),
  noWait: fc.boolean(),
});

interface View {
  snap: number;
  last: number;
  term: number;
}

function toWrite(x: Action, v: View): GroupWrite | undefined {
  switch (x.kind) {
    case 'append': {
      const from = v.last + 1 - Math.min(x.a % 4, v.last - v.snap);
      if (from <= v.last) v.term++;
      const es = Array.from({ length: 1 + (x.b % 6) }, (_, i) => entry(from + i, v.term, (x.a * 37 + i) % 300));
      v.last = from + es.length - 1;
      return { group: x.group, entries: es, hardState: { term: v.term, vote: 1, commit: v.snap } };
    }
    case 'snapshot':
    case 'leaderSnapshot': {
      const replaces = x.kind === 'leaderSnapshot';
      if (!replaces && v.last === v.snap) return undefined;
      const index = replaces ? v.snap + 1 + x.a : v.snap + 1 + (x.a % (v.last - v.snap));
      v.snap = index;
      v.last = replaces ? index : Math.max(v.last, index);
      return { group: x.group, snapshot: snapshot(index, v.term, x.b * 97), snapshotReplacesLog: replaces };
    }
    case 'destroy':
      Object.assign(v, { snap: 0, last: 0, term: v.term + 1 });
      return { group: x.group, destroy: true };
    case 'hardState':
      return { group: x.group, hardState: { term: v.term, vote: x.a, commit: x.b } };
    case 'compact':
      return { group: x.group, compactBefore: 1 + (x.a % (v.snap + 1)) };
    case 'reopen':
      return undefined;
  }
}

async function sameState(level: LogStore, memory: LogStore): Promise<void> {
  expect(await level.groups()).toEqual(await memory.groups());
  for (const g of groups) expect(normalize(await level.load(g))).toEqual(normalize(await memory.load(g)));
}

async function run(actions: Action[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'memraft-model-'));
  // Small chunks: snapshot replacement must delete exactly the stale chunks.
  const open = () => LevelLogStore.open(dir, { fsync: false, snapshotChunkBytes: 256 });
  let level = await open();
  let memory = new MemoryLogStore();
  const views = new Map(groups.map((g) => [g, { snap: 0, last: 0, term: 1 }]));
  const unawaited: Promise<void>[] = [];
  try {
    for (const x of actions) {
      if (x.kind === 'reopen') {
        await level.close();
        level = await open();
        memory = memory.reopen();
      } else {
        const w = toWrite(x, views.get(x.group)!);
        if (w === undefined) continue;
        const done = Promise.all([level.write([w]), memory.write([w])]).then(() => undefined);
        if (x.noWait) {
          unawaited.push(done);
          continue;
        }
        await done;
      }
      await sameState(level, memory);
    }
    await Promise.all(unawaited);
    await sameState(level, memory);
  } finally {
    await level.close();
    await rm(dir, { recursive: true, force: true });
  }
}

it('LevelLogStore matches MemoryLogStore on random write sequences with restarts', async () => {
  await fc.assert(fc.asyncProperty(fc.array(actionArb, { maxLength: 40 }), run), {
    numRuns: 100,
    ...(seed === undefined ? {} : { seed }),
  });
});
