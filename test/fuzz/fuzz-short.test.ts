/**
 * The short fuzz run of `npm test` (the 1,000,000-input run is `npm run fuzz`, results in
 * docs/fuzzing.md): 20,000 generated client inputs against a 3-node process cluster and
 * 20,000 against a standalone node, over 50 connections each, and 2,000 peer frames from a
 * fake peer holding the secret; then no process died, no connection hung, every node
 * serves, every acknowledged write reads back, and replica digests agree.
 * The seed is printed; replay with FUZZ_SEED=<seed> or `npm run fuzz -- --seed <seed> --inputs 20000`.
 */
import { expect, it } from 'vitest';
import { formatReport, runFuzz } from '../../scripts/fuzz/run.js';

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

it(`survives 20,000 fuzz inputs per target and 2,000 peer frames with nothing lost (seed ${seed})`, async () => {
  const report = await runFuzz({ seed, inputs: 20_000, peerFrames: 2_000, connections: 50, targets: ['cluster', 'standalone'], hangMs: 30_000, log: null });
  const text = formatReport(report);
  console.log(text);
  expect(report.ok, text).toBe(true);
  for (const t of report.targets) expect(t.acked, `${t.target}: the well-behaved client got writes acknowledged`).toBeGreaterThan(0);
}, 180_000);
