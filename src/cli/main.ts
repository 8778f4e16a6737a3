#!/usr/bin/env node
/**
 * The `memraft` command: `memraft serve [flags]` runs a node (the single-node cache unless
 * cluster flags are given). Bad flags print a usage error and exit 2.
 */
import { UsageError, parseServeArgs, serveUsage } from '../server/config.js';
import { NodeRemovedError } from '../server/node-removal.js';
import { retirePodData } from '../server/pod-identity.js';
import { runServe } from '../server/serve.js';
import { memraftVersion } from '../server/version.js';
import { ctlCommand } from './ctl.js';
import { prestopCommand } from './prestop.js';

const topUsage = `Usage: memraft <command> [options]

Commands:
  serve     run a memraft node (memraft serve --help for its flags)
  ctl       cluster operations: status, drain, remove (memraft ctl --help)
  prestop   Kubernetes preStop hook: drains this pod's node on a scale-in (docs/kubernetes.md)
  version   print the version`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serveCommand(rest);
    case 'ctl':
      return ctlCommand(rest);
    case 'prestop':
      return prestopCommand(process.env);
    case 'version':
    case '--version':
      process.stdout.write(`memraft ${memraftVersion}\n`);
      return 0;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(topUsage + '\n');
      return 0;
    default:
      return usageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`, topUsage);
  }
}

async function serveCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseServeArgs(args, process.env);
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message, serveUsage);
    throw err;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(serveUsage + '\n');
    return 0;
  }
  try {
    await runServe(parsed.config);
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message, serveUsage);
    // Not a crash: the node was removed from its cluster and says so in one line.
    if (err instanceof NodeRemovedError) {
      process.stderr.write(`memraft: ${err.message}\n`);
      const pod = parsed.config.cluster?.pod ?? null;
      if (pod !== null) {
        // A pod restarts in place: make that restart a new node rather than a refused one.
        const next = retirePodData(parsed.config.dataDir, pod);
        process.stderr.write(`memraft: pod data directory ${parsed.config.dataDir} emptied: on its restart this pod joins as node ${next}\n`);
      }
      // Exit now: a join refused at start-up leaves the half-started node's timers and sockets open.
      process.exit(1);
    }
    throw err;
  }
  return 0;
}

function usageError(message: string, usage: string): number {
  process.stderr.write(`memraft: ${message}\n\n${usage}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // Operating errors with a code (EADDRINUSE, EACCES ...) need no stack trace.
    const coded = err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
    const text = err instanceof Error ? (coded ? err.message : (err.stack ?? err.message)) : String(err);
    process.stderr.write(`memraft: fatal: ${text}\n`);
    process.exit(1);
  },
);
