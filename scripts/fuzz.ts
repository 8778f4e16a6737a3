/**
 * `npm run fuzz -- [--inputs N] [--seed S] [--peer-frames M] [--connections C] [--target cluster|standalone|both]`
 *
 * Fuzzing at scale (scripts/fuzz/run.ts): N generated client inputs (default 1,000,000)
 * against a 3-node cluster of processes and N against a standalone node, and M generated
 * peer frames (default N / 10) from a fake peer holding the secret, then the checks: no
 * process died, no connection hung, every node serves, every acknowledged write reads back,
 * replica digests agree. Prints the counts and the seed; exit 0 on PASS, 1 on FAIL.
 * Replay: the same --seed and --inputs generate the same batches.
 */
import { parseArgs } from 'node:util';
import { formatReport, runFuzz } from './fuzz/run.js';

const { values } = parseArgs({
  args: process.argv.slice(1).filter((a) => a !== '--'),
  options: {
    inputs: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    'peer-frames': { type: 'string' },
    connections: { type: 'string', default: '50' },
    target: { type: 'string', default: 'both' },
    'hang-ms': { type: 'string', default: '30000' },
  },
});

const inputs = Number(values.inputs);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const target = values.target;
if (!Number.isSafeInteger(inputs) || inputs < 0 || !Number.isSafeInteger(seed) || !['cluster', 'standalone', 'both'].includes(target)) {
  console.error('usage: npm run fuzz -- [--inputs N] [--seed S] [--peer-frames M] [--connections C] [--target cluster|standalone|both]');
  process.exit(2);
}
const targets = target === 'both' ? (['cluster', 'standalone'] as const) : ([target] as Array<'cluster' | 'standalone'>);
console.log(`fuzz: seed ${seed}, ${inputs} inputs per target (${targets.join(', ')}), replay: npm run fuzz -- --seed ${seed} --inputs ${inputs}`);
const report = await runFuzz({
  seed, inputs, targets: [...targets],
  peerFrames: values['peer-frames'] === undefined ? (targets.includes('cluster') ? Math.floor(inputs / 10) : 0) : Number(values['peer-frames']),
  connections: Number(values.connections), hangMs: Number(values['hang-ms']),
  log: (line) => console.log(line),
});
console.log(formatReport(report));
process.exit(report.ok ? 0 : 1);
