/**
 * The crash detector: a run is invalid if a node log shows an uncaught exception, an
 * assertion failure or a fatal log line, or a node exited without the nemesis killing it.
 */
import fs from 'node:fs';
import type { UnexpectedExit } from '../cluster/cluster.js';

/** One sign of a crash. */
export interface Crash {
  node: number;
  line: string;
}

// Node prints an uncaught exception's stack to stderr and ends it with "Node.js v20.x";
// memraft's CLI prefixes fatal errors with "memraft: fatal:"; pino's fatal level is 60.
// An exception in a client connection's handler is caught (that connection is closed, the
// node keeps serving) but is a bug all the same: bad input gets error lines, not throws.
const crashPatterns: readonly RegExp[] = [
  /AssertionError/,
  /connection handler failed/,
  /"level":60\b/,
  /^memraft: fatal:/,
  /^Node\.js v\d+/,
  /Uncaught|UnhandledPromiseRejection|unhandledRejection/,
  /FATAL ERROR:/,
];

/** Lines of a node's log that show a crash (at most `linesMax`). */
export function scanLog(node: number, text: string, linesMax = 20): Crash[] {
  const out: Crash[] = [];
  for (const line of text.split('\n')) {
    if (!crashPatterns.some((p) => p.test(line))) continue;
    out.push({ node, line: line.length > 500 ? line.slice(0, 500) + '…' : line });
    if (out.length >= linesMax) break;
  }
  return out;
}

/** Every crash sign in the nodes' logs plus every exit the harness did not cause. */
export function detectCrashes(logs: Array<{ node: number; file: string }>, exits: readonly UnexpectedExit[]): Crash[] {
  const out: Crash[] = [];
  for (const { node, file } of logs) {
    if (!fs.existsSync(file)) continue;
    out.push(...scanLog(node, fs.readFileSync(file, 'utf8')));
  }
  for (const e of exits) {
    out.push({ node: e.node, line: `node exited unexpectedly (code ${e.code}, signal ${e.signal}) at ${(e.timeMs / 1000).toFixed(1)} s` });
  }
  return out;
}
