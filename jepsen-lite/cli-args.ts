/**
 * The jepsen-lite command line: flags to RunOptions (pure, no I/O), and the usage text.
 */
import { parseArgs } from 'node:util';
import { runDefaults, type RunOptions } from './run.js';
import { defaultTiming, expandNemeses, type ScheduleTiming } from './nemesis/schedule.js';
import { workloadNames, type WorkloadName } from './workload/workloads.js';

/** The usage text. */
export const usage = `Usage: npm run jepsen -- [--nodes 3] [--time 60] [--nemesis partition,kill] [--workload register|counter|set|lock]
       [--seed N] [--out runs/NAME] [--server-args "--read-mode lease"] [--concurrency 10] [--rate 500] [--op-timeout 6000]
       [--fault-ms 3000-6000] [--quiet-ms 2000-4000] [--net proxy|netns] [--unsafe-skip-fence]
Lock workload: --unsafe-skip-fence runs a known-bad client that writes the fenced resource with a plain set (must be caught).
Nemeses: partition (halves, isolate, isolate-leaders, majority-ring, bridge), halves, isolate, isolate-leaders,
         majority-ring, bridge, delay, loss, net (all network faults), kill, pause, clock, all (every fault but kill-all),
         kill-all (every node SIGKILLed at once, restarted one by one in a random order),
         membership (join spare nodes and drain members: grows by up to 2 nodes, never below --nodes), none.
Net: proxy (default: TCP proxies on loopback, no root) or netns (a network namespace per node,
     faults as nftables rules: real kernel-level cuts; needs root, iproute2 and nftables).
Exit: 0 valid, 1 invalid, 2 unknown or harness error.`;

/** A bad flag. */
export class CliError extends Error {}

function intFlag(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^-?[0-9]+$/.test(value)) throw new CliError(`--${name} must be a whole number, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new CliError(`--${name} must be between ${min} and ${max}`);
  return n;
}

/** `MIN-MAX` in ms. */
function rangeFlag(value: string | undefined, name: string, fallback: [number, number]): [number, number] {
  if (value === undefined) return fallback;
  const m = /^([0-9]+)-([0-9]+)$/.exec(value);
  if (m === null || Number(m[1]) > Number(m[2]) || Number(m[2]) <= 0) throw new CliError(`--${name} must be MIN-MAX in ms, got ${JSON.stringify(value)}`);
  return [Number(m[1]), Number(m[2])];
}

function timingOf(faultMs: string | undefined, quietMs: string | undefined): ScheduleTiming {
  const [faultMsMin, faultMsMax] = rangeFlag(faultMs, 'fault-ms', [defaultTiming.faultMsMin, defaultTiming.faultMsMax]);
  const [quietMsMin, quietMsMax] = rangeFlag(quietMs, 'quiet-ms', [defaultTiming.quietMsMin, defaultTiming.quietMsMax]);
  return { faultMsMin, faultMsMax, quietMsMin, quietMsMax };
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
      'fault-ms': { type: 'string' },
      'quiet-ms': { type: 'string' },
      'unsafe-skip-fence': { type: 'boolean' },
      net: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  const workload = values.workload ?? runDefaults.workload;
  if (!(workloadNames as readonly string[]).includes(workload)) {
    throw new CliError(`unknown workload ${JSON.stringify(workload)}; one of ${workloadNames.join(', ')}`);
  }
  const nemeses = (values.nemesis ?? runDefaults.nemeses.join(',')).split(',').map((s) => s.trim()).filter((s) => s !== '');
  try {
    expandNemeses(nemeses);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  if (values['unsafe-skip-fence'] === true && workload !== 'lock') throw new CliError('--unsafe-skip-fence needs --workload lock');
  const net = values.net ?? 'proxy';
  if (net !== 'proxy' && net !== 'netns') throw new CliError('--net must be proxy or netns');
  const seed = intFlag(values.seed, 'seed', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1);
  return {
    nodes: intFlag(values.nodes, 'nodes', runDefaults.nodes, 1, 9),
    timeSec: intFlag(values.time, 'time', runDefaults.timeSec, 1, 24 * 3600),
    nemeses,
    workload: workload as WorkloadName,
    seed,
    out: values.out ?? `runs/${new Date().toISOString().replace(/[:.]/g, '-')}-seed${seed}`,
    serverArgs: values['server-args'] ?? '',
    concurrency: intFlag(values.concurrency, 'concurrency', runDefaults.concurrency, 1, 1000),
    rate: intFlag(values.rate, 'rate', runDefaults.rate, 1, 1_000_000),
    opTimeoutMs: intFlag(values['op-timeout'], 'op-timeout', runDefaults.opTimeoutMs, 100, 600_000),
    recoveryTimeoutMs: runDefaults.recoveryTimeoutMs,
    timing: timingOf(values['fault-ms'], values['quiet-ms']),
    unsafeSkipFence: values['unsafe-skip-fence'] === true,
    net,
  };
}
