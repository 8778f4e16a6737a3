/**
 * Microbenchmark of the durable log store (not a test): batches/s and entries/s of
 * LevelLogStore on this machine, with and without fsync, plus recovery speed.
 *
 *   npm run bench:storage -- [--seconds 3] [--groups 4] [--entries 8] [--bytes 256] [--dir /tmp/x]
 *
 * Scenarios:
 *   serial:     one write() at a time, awaited (latency-bound: one fsync per write).
 *   pipelined:  16 writers each issuing its next write as soon as its previous one is durable,
 *               so group commit merges them (what a busy node does).
 *   recovery:   open + load() of every group, on the database the last run left.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EntryType, type Entry } from '../src/raft/types.js';
import { LevelLogStore, type GroupWrite } from '../src/storage/index.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    groups: { type: 'string', default: '4' },
    entries: { type: 'string', default: '8' },
    bytes: { type: 'string', default: '256' },
    /** Scratch directory for the databases (wiped before each run and at the end). */
    dir: { type: 'string' },
  },
});
const seconds = Number(args.seconds);
const groupCount = Number(args.groups);
const entriesPerGroup = Number(args.entries);
const entryBytes = Number(args.bytes);
const pipelinedWriters = 16;

/** Next index per group: the benchmark keeps appending to the same logs across scenarios. */
const nextIndex = new Map<number, number>();

function nextWrite(): GroupWrite[] {
  const writes: GroupWrite[] = [];
  for (let g = 1; g <= groupCount; g++) {
    const first = nextIndex.get(g) ?? 1;
    const entries: Entry[] = [];
    for (let i = 0; i < entriesPerGroup; i++) {
      entries.push({ term: 1, index: first + i, type: EntryType.Normal, data: new Uint8Array(entryBytes).fill(i) });
    }
    nextIndex.set(g, first + entriesPerGroup);
    writes.push({ group: g, entries, hardState: { term: 1, vote: 1, commit: first - 1 } });
  }
  return writes;
}

interface Result {
  writes: number;
  batches: number;
  ms: number;
}

async function serial(store: LevelLogStore): Promise<Result> {
  const start = performance.now();
  const batches0 = store.batchCount;
  let writes = 0;
  while (performance.now() - start < seconds * 1000) {
    await store.write(nextWrite());
    writes++;
  }
  return { writes, batches: store.batchCount - batches0, ms: performance.now() - start };
}

async function pipelined(store: LevelLogStore): Promise<Result> {
  const start = performance.now();
  const batches0 = store.batchCount;
  let writes = 0;
  const writer = async () => {
    while (performance.now() - start < seconds * 1000) {
      await store.write(nextWrite());
      writes++;
    }
  };
  await Promise.all(Array.from({ length: pipelinedWriters }, writer));
  return { writes, batches: store.batchCount - batches0, ms: performance.now() - start };
}

function report(name: string, r: Result): void {
  const perS = (n: number) => Math.round((n * 1000) / r.ms);
  const entries = r.writes * groupCount * entriesPerGroup;
  const mibPerS = (entries * entryBytes) / 1024 / 1024 / (r.ms / 1000);
  console.log(
    `${name.padEnd(22)} ${String(perS(r.batches)).padStart(7)} batches/s ${String(perS(r.writes)).padStart(7)} writes/s ` +
      `${String(perS(entries)).padStart(8)} entries/s ${mibPerS.toFixed(1).padStart(6)} MiB/s  ` +
      `(${(r.ms / Math.max(1, r.batches)).toFixed(2)} ms/batch)`,
  );
}

async function recovery(dir: string): Promise<void> {
  const start = performance.now();
  const store = await LevelLogStore.open(dir, { fsync: true });
  const opened = performance.now();
  let entries = 0;
  for (const g of await store.groups()) entries += (await store.load(g)).entries.length;
  const ms = performance.now() - start;
  await store.close();
  console.log(
    `recovery               open ${(opened - start).toFixed(0)} ms, load ${entries} entries in ${ms.toFixed(0)} ms ` +
      `(${Math.round((entries * 1000) / ms)} entries/s)`,
  );
}

/** Runs one scenario on a fresh database in `dir` (so compaction debt of one run does not slow the next). */
async function scenario(dir: string, fsync: boolean, run: (s: LevelLogStore) => Promise<Result>): Promise<Result> {
  await rm(dir, { recursive: true, force: true });
  nextIndex.clear();
  const store = await LevelLogStore.open(dir, { fsync });
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const dir = args.dir ?? (await mkdtemp(join(tmpdir(), 'memraft-bench-storage-')));
  console.log(
    `LevelLogStore in ${dir}: ${groupCount} groups x ${entriesPerGroup} entries x ${entryBytes} B per write, ${seconds} s per run`,
  );
  try {
    for (const fsync of [true, false]) {
      const label = fsync ? 'fsync' : 'NO fsync (unsafe)';
      report(`serial ${label}`, await scenario(dir, fsync, serial));
      report(`pipelined ${label}`, await scenario(dir, fsync, pipelined));
    }
    await recovery(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
