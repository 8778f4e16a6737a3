/**
 * Crash test: a child process appends with fsync and prints each acknowledged write; the
 * parent SIGKILLs it after a seeded number of acks, reopens the store, and checks that the
 * disk holds exactly the state after some prefix of the issued writes that includes every
 * acknowledged one (so: every acked entry present, the log contiguous, no torn batch).
 * Replay a failure with MEMRAFT_SEED=<seed printed on failure>.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LevelLogStore, MemoryLogStore, type LogStore } from '../../src/storage/index.js';
import { normalize } from './log-store-contract.js';
import { inflightWritesMax, prng, recoverView, snapshotChunkBytes, workload, workloadGroups } from './fixtures/crash-workload.mjs';

const rounds = 10;
const seed = Number(process.env.MEMRAFT_SEED ?? Math.floor(Math.random() * 2 ** 32));
const root = resolve(import.meta.dirname, '../..');
const buildDir = join(root, 'node_modules', '.cache', `memraft-storage-crash-${process.pid}`);
const writer = join(import.meta.dirname, 'fixtures', 'crash-writer.mjs');
let dataDir = '';

beforeAll(async () => {
  // The child runs plain JS: compile src/storage (and the types it imports) on its own, so
  // the test neither depends on a fresh `npm run build` nor on other folders compiling.
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  const flags = ['--ignoreConfig', '--rootDir', 'src', '--outDir', buildDir, '--module', 'nodenext'];
  flags.push('--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck');
  execFileSync(tsc, [...flags, 'src/storage/index.ts'], { cwd: root, stdio: 'pipe' });
  dataDir = await mkdtemp(join(tmpdir(), 'memraft-crash-'));
});

afterAll(async () => {
  await rm(buildDir, { recursive: true, force: true });
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
});

interface RoundResult {
  acked: number;
  stderr: string;
}

/** Runs the writer until it has printed `killAfterAcks` acks, SIGKILLs it, returns the last ack seen. */
function runWriter(roundSeed: number, killAfterAcks: number): Promise<RoundResult> {
  const storageModule = join(buildDir, 'storage', 'index.js');
  const child = spawn(process.execPath, [writer, storageModule, dataDir, String(roundSeed)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let acked = 0;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.startsWith('ack ')) return;
    acked = Math.max(acked, Number(line.slice(4)));
    if (acked >= killAfterAcks) child.kill('SIGKILL');
  });
  // 'close' comes after the exit and after stdout is drained: every printed ack is counted.
  return new Promise((done) => child.on('close', () => done({ acked, stderr })));
}

async function snapshotOfStore(store: LogStore): Promise<unknown> {
  const groups = await store.groups();
  const states = await Promise.all(workloadGroups.map(async (g) => normalize(await store.load(g))));
  return { groups, states };
}

/** A model store holding what the disk held at the start of a round. */
async function modelOf(state: LogStore): Promise<MemoryLogStore> {
  const model = new MemoryLogStore();
  for (const g of await state.groups()) {
    const st = await state.load(g);
    const zero = st.hardState.term === 0 && st.hardState.vote === 0 && st.hardState.commit === 0;
    await model.write([
      {
        group: g,
        ...(st.snapshot === undefined ? {} : { snapshot: st.snapshot }),
        entries: st.entries,
        ...(zero ? {} : { hardState: st.hardState }),
      },
    ]);
  }
  return model;
}

/** The prefix length k in [acked, acked + inflight max] whose model state equals the disk, or -1. */
async function matchingPrefix(model: MemoryLogStore, roundSeed: number, acked: number, disk: unknown): Promise<number> {
  const writes = workload(roundSeed, await recoverView(model));
  for (let k = 0; k < acked; k++) await model.write(writes.next().value);
  for (let k = acked; k <= acked + inflightWritesMax; k++) {
    if (JSON.stringify(await snapshotOfStore(model)) === JSON.stringify(disk)) return k;
    await model.write(writes.next().value);
  }
  return -1;
}

it(`keeps every acknowledged write across SIGKILL, as a clean prefix (seed ${seed})`, async () => {
  const rand = prng(seed);
  for (let round = 0; round < rounds; round++) {
    const roundSeed = Math.floor(rand() * 2 ** 32);
    const killAfterAcks = 10 + Math.floor(rand() * 150);
    let store = await LevelLogStore.open(dataDir, { fsync: true, snapshotChunkBytes });
    const model = await modelOf(store);
    await store.close();

    const { acked, stderr } = await runWriter(roundSeed, killAfterAcks);
    const context = `seed ${seed} round ${round} (round seed ${roundSeed}), ${acked} acks; child stderr: ${stderr}`;
    expect(acked, context).toBeGreaterThanOrEqual(killAfterAcks);

    store = await LevelLogStore.open(dataDir, { fsync: true, snapshotChunkBytes });
    const disk = await snapshotOfStore(store);
    await store.close();
    const k = await matchingPrefix(model, roundSeed, acked, disk);
    expect(k, `disk state is not the state after ${acked}..${acked + inflightWritesMax} writes: ${context}`).toBeGreaterThanOrEqual(acked);
  }
});
