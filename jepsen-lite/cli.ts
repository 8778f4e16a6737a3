/**
 * `npm run jepsen -- [flags]`: one jepsen-lite run (see docs/jepsen-lite.md).
 *
 *   --nodes 3|5  --time SEC  --nemesis partition,kill,pause,clock  --workload register|counter|set
 *   --seed N  --out DIR  [--server-args "--read-mode lease"]  [--concurrency N]  [--rate OPS]
 *   [--op-timeout MS]
 *
 * Exit 0 valid, 1 invalid, 2 unknown or harness error. Prints the seed and the commit at the
 * start and the outcome at the end; the same seed replays the same fault schedule.
 * (Node 20 has no TypeScript loader; the npm script loads this file through Vite's module
 * runner, as `npm run sim` does.)
 */
import { parseArgs } from 'node:util';
import { runDefaults, runTest, type RunOptions } from './run.js';
import { workloadNames, type WorkloadName } from './workload/workloads.js';

const usage = `Usage: npm run jepsen -- [--nodes 3] [--time 60] [--nemesis partition,kill] [--workload register|counter|set]
       [--seed N] [--out runs/NAME] [--server-args "--read-mode lease"] [--concurrency 10] [--rate 500] [--op-timeout 6000]
Nemeses: partition (halves, isolate, isolate-leaders, majority-ring, bridge), halves, isolate, isolate-leaders,
         majority-ring, bridge, delay, loss, net (all network faults), kill, pause, clock, all, none.
Exit: 0 valid, 1 invalid, 2 unknown or harness error.`;

class CliError extends Error {}

function intFlag(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^-?[0-9]+$/.test(value)) throw new CliError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new CliError(`--${name} must be between ${min} and ${max}`);
  return n;
}

/** `--server-args "--read-mode lease"`: its value starts with dashes, which parseArgs refuses unless joined with `=`. */
function joinServerArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--server-args' && i + 1 < argv.length) out.push(`--server-args=${argv[++i]}`);
    else out.push(argv[i]!);
  }
  return out;
}

/** Parses the CLI flags into run options. */
export function parseCli(argv: string[]): RunOptions | 'help' {
  const { values } = parseArgs({
    args: joinServerArgs(argv),
    options: {
      nodes: { type: 'string' },
      time: { type: 'string' },
      nemesis: { type: 'string' },
      workload: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      'server-args': { type: 'string' },
      concurrency: { type: 'string' },
      rate: { type: 'string' },
      'op-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  const workload = values.workload ?? runDefaults.workload;
  if (!(workloadNames as readonly string[]).includes(workload)) throw new CliError(`--workload must be one of ${workloadNames.join(', ')}`);
  const seed = intFlag(values.seed, 'seed', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1);
  return {
    nodes: intFlag(values.nodes, 'nodes', runDefaults.nodes, 1, 9),
    timeSec: intFlag(values.time, 'time', runDefaults.timeSec, 1, 24 * 3600),
    nemeses: (values.nemesis ?? runDefaults.nemeses.join(',')).split(',').map((s) => s.trim()).filter((s) => s !== ''),
    workload: workload as WorkloadName,
    seed,
    out: values.out ?? `runs/${new Date().toISOString().replace(/[:.]/g, '-')}-seed${seed}`,
    serverArgs: values['server-args'] ?? '',
    concurrency: intFlag(values.concurrency, 'concurrency', runDefaults.concurrency, 1, 1000),
    rate: intFlag(values.rate, 'rate', runDefaults.rate, 1, 1_000_000),
    opTimeoutMs: intFlag(values['op-timeout'], 'op-timeout', runDefaults.opTimeoutMs, 100, 600_000),
    recoveryTimeoutMs: runDefaults.recoveryTimeoutMs,
  };
}

async function main(argv: string[]): Promise<number> {
  let options: RunOptions | 'help';
  try {
    options = parseCli(argv);
  } catch (err) {
    process.stderr.write(`jepsen-lite: ${(err as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const { results } = await runTest(options);
  process.stdout.write(`results: ${options.out}/results.json  report: ${options.out}/report.html\n`);
  return results.outcome === 'valid' ? 0 : results.outcome === 'invalid' ? 1 : 2;
}

// A Ctrl-C or kill ends the run; the cluster's exit hook kills the nodes.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(2));

try {
  process.exitCode = await main(process.argv.slice(1).filter((a) => a !== '--'));
} catch (err) {
  process.stderr.write(`jepsen-lite: harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 2;
}
