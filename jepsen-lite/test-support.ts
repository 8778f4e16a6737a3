/**
 * Helpers of the jepsen-lite CI tests: a built dist/, a temporary run directory, a quiet
 * run with sensible test-sized defaults, and a seed whose schedule holds the wanted faults.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandNemeses, makeSchedule, type FaultKind } from './nemesis/schedule.js';
import { repoRoot, runDefaults, runTest, type RunOptions, type RunOutput } from './run.js';

/** Builds dist/ when the memraft entry point is missing (npm test builds first). */
export function ensureBuilt(): void {
  const mainJs = path.join(repoRoot, 'dist/cli/main.js');
  if (fs.existsSync(mainJs) && fs.existsSync(path.join(repoRoot, 'dist/cluster/clock.js'))) return;
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'ignore' });
  if (!fs.existsSync(mainJs)) throw new Error(`build did not produce ${mainJs}`);
}

/** The first seed from `from` whose schedule (nodes 1..n, `timeSec`) contains every fault in `needed`. */
export function seedWith(needed: FaultKind[], nemeses: string[], nodes: number, timeSec: number, from = 1): number {
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  for (let seed = from; ; seed++) {
    const spareIds = Array.from({ length: 8 }, (_, i) => nodes + i + 1);
    const kinds = new Set(makeSchedule(seed, ids, expandNemeses(nemeses), timeSec * 1000, undefined, spareIds).map((s) => s.fault.kind));
    if (needed.every((k) => kinds.has(k))) return seed;
  }
}

/** Runs a test quietly in a fresh temporary directory; the log lines are returned with the output. */
export async function quietRun(o: Partial<RunOptions> & Pick<RunOptions, 'timeSec' | 'nemeses' | 'seed'>): Promise<RunOutput & { lines: string[]; out: string }> {
  ensureBuilt();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'memraft-jepsen-'));
  const lines: string[] = [];
  const output = await runTest({ ...runDefaults, serverArgs: '', out, ...o, log: (l) => lines.push(l) });
  return { ...output, lines, out };
}
