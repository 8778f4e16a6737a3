/**
 * `npm run jepsen -- [flags]`: one jepsen-lite run (see docs/jepsen-lite.md).
 *
 *   --nodes 3|5  --time SEC  --nemesis partition,kill,pause,clock  --workload register|counter|set
 *   --seed N  --out DIR  [--server-args "--read-mode lease"]  [--concurrency N]  [--rate OPS]
 *   [--op-timeout MS]  [--fault-ms MIN-MAX]  [--quiet-ms MIN-MAX]  [--net proxy|netns]
 *
 * Exit 0 valid, 1 invalid, 2 unknown or harness error. Prints the seed and the commit at the
 * start and the outcome at the end; the same seed replays the same fault schedule.
 * (Node 20 has no TypeScript loader; the npm script loads this file through Vite's module
 * runner, as `npm run sim` does.)
 */
import { CliError, parseCli, usage } from './cli-args.js';
import { netnsUnavailable } from './net/netns.js';
import { runTest, type RunOptions } from './run.js';

async function main(argv: string[]): Promise<number> {
  let options: RunOptions | 'help';
  try {
    options = parseCli(argv);
  } catch (err) {
    // A bad name or value: one line saying what is accepted (no stack, no usage wall).
    if (err instanceof CliError) process.stderr.write(`jepsen-lite: ${err.message}\n`);
    else process.stderr.write(`jepsen-lite: ${(err as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(usage + '\n');
    return 0;
  }
  const refused = options.net === 'netns' ? netnsUnavailable() : null;
  if (refused !== null) {
    process.stderr.write(`jepsen-lite: ${refused}\n`);
    return 2;
  }
  const { results } = await runTest(options);
  process.stdout.write(`results: ${options.out}/results.json  report: ${options.out}/report.html\n`);
  return results.outcome === 'valid' ? 0 : results.outcome === 'invalid' ? 1 : 2;
}

// A Ctrl-C or kill ends the run; the cluster's exit hook kills the nodes.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(2));

let exitCode: number;
try {
  exitCode = await main(process.argv.slice(1).filter((a) => a !== '--'));
} catch (err) {
  process.stderr.write(`jepsen-lite: harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exitCode = 2;
}
// Nothing the run started may keep the process alive past its verdict.
process.exit(exitCode);
