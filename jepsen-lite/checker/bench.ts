/**
 * Checker benchmark: generated register histories (history-builder.ts, linearizable by
 * construction) of `--ops-per-key` ops per key over `--keys` keys with `--processes`
 * concurrent processes and `--info` chance of indeterminate completions; prints the
 * checker's time per 10k ops and the worst key. Also times a stale-read history (invalid).
 *
 *   npm run bench:checker -- [--keys 50] [--ops-per-key 200] [--processes 10] [--info 0.1] [--seed 1]
 *     [--values 5 (distinct values written; 0 = unique)] [--mix memcached|register]
 */
import { parseArgs } from 'node:util';
import type { HistoryEvent } from '../history/types.js';
import { generateHistory, seededChoose } from './history-builder.js';
import { checkRegister } from './index.js';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '50' },
    'ops-per-key': { type: 'string', default: '200' },
    processes: { type: 'string', default: '10' },
    info: { type: 'string', default: '0.1' },
    values: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    mix: { type: 'string', default: 'memcached' },
  },
});

const keyCount = Number(args.keys);
const opsPerKey = Number(args['ops-per-key']);
const processes = Number(args.processes);
const infoChance = Number(args.info);
const seed = Number(args.seed);

/** One generated history per key (each its own schedule), merged; process ids kept apart. */
function buildHistory(): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (let k = 0; k < keyCount; k++) {
    const keyEvents = generateHistory(seededChoose(seed * 1000 + k), {
      processes, ops: opsPerKey, keys: [`key-${k}`], infoChance, values: Number(args.values), mix: args.mix as 'memcached' | 'register',
    });
    for (const event of keyEvents) events.push({ ...event, process: event.process + k * 100_000 });
  }
  return events.sort((a, b) => a.time - b.time);
}

function summarise(history: HistoryEvent[]): string {
  const count = (type: string): number => history.filter((e) => e.type === type).length;
  return `${count('invoke')} ops (${count('ok')} ok, ${count('fail')} fail, ${count('info')} info)`;
}

const history = buildHistory();
const ops = history.filter((e) => e.type === 'invoke').length;
console.log(`seed ${seed}: ${keyCount} keys x ${opsPerKey} ops, ${processes} processes, info chance ${infoChance}: ${summarise(history)}`);
/** Runs a check and returns it with its CPU ms (the machine is shared: wall time is noisy). */
function timed<T>(check: () => T): [T, number] {
  const before = process.cpuUsage();
  const result = check();
  const used = process.cpuUsage(before);
  return [result, (used.user + used.system) / 1000];
}

function per10k(ms: number): string {
  return `${ms.toFixed(0)} ms (${((ms * 10_000) / ops).toFixed(0)} ms per 10k ops)`;
}

const [result, cpuMs] = timed(() => checkRegister(history));
const keys = Object.entries(result.keys);
const worst = keys.reduce((a, b) => (b[1].steps > a[1].steps ? b : a));
console.log(`outcome ${result.outcome}: wall ${per10k(result.ms)}, cpu ${per10k(cpuMs)}`);
const slowest = keys.reduce((a, b) => ((b[1].ms ?? 0) > (a[1].ms ?? 0) ? b : a));
const perKey = keys.map(([, k]) => k.ms ?? 0).sort((a, b) => a - b);
console.log(`most steps: ${worst[0]} ${worst[1].steps} steps (${worst[1].ops} ops, ${worst[1].outcome})`);
console.log(`per key: median ${perKey[perKey.length >> 1]} ms, slowest ${slowest[0]} ${slowest[1].ms} ms (${slowest[1].steps} steps)`);
const unknown = keys.filter(([, k]) => k.outcome !== 'valid').map(([key]) => key);
if (unknown.length > 0) console.log(`not valid: ${unknown.join(', ')}`);

// The same history with one read per key made stale (its value replaced by a never-written
// one): how long an invalid verdict with its anomaly takes.
const seenKeys = new Set<string>();
const mutated = history.map((event) => {
  if (event.type !== 'ok' || event.f !== 'read' || seenKeys.has(event.key)) return event;
  seenKeys.add(event.key);
  return { ...event, value: 'stale' };
});
const [invalid, invalidCpuMs] = timed(() => checkRegister(mutated));
const invalidKeys = Object.values(invalid.keys).filter((k) => k.outcome === 'invalid').length;
console.log(`mutated: outcome ${invalid.outcome} (${invalidKeys} keys invalid): wall ${per10k(invalid.ms)}, cpu ${per10k(invalidCpuMs)}`);
