/**
 * Shrinks a failing schedule: deletes faults, whole clients and runs of client ops for as
 * long as the run still fails the same way, greedily and in a fixed order, so shrinking is
 * as deterministic as the runs themselves. Each attempt is a full run, so the number of
 * attempts is bounded; the result is the smallest schedule found that still fails.
 *
 * Deleting an op changes what the run's random streams are used for after it (the network
 * and disk streams are per link and per node, which keeps most of a run's timing in place,
 * but not all of it), so a deletion that makes the failure vanish is simply not kept.
 */
import type { Schedule } from './schedule.js';

/** Options of a shrink. */
export interface ShrinkOptions {
  /** Full runs allowed (default 120). */
  attemptsMax?: number;
  /** Told about each kept deletion. */
  onProgress?: (what: string, s: Schedule) => void;
}

/** The shrunk schedule and the attempts it took. */
export interface ShrinkResult {
  schedule: Schedule;
  attempts: number;
}

/** Greedy deletion (see the module doc). `fails` runs a candidate. */
export async function shrinkSchedule(start: Schedule, fails: (s: Schedule) => Promise<boolean>, opts: ShrinkOptions = {}): Promise<ShrinkResult> {
  const attemptsMax = opts.attemptsMax ?? 120;
  let best = start;
  let attempts = 0;
  const tryKeep = async (candidate: Schedule, what: string): Promise<boolean> => {
    if (attempts >= attemptsMax) return false;
    attempts++;
    if (!(await fails(candidate))) return false;
    best = candidate;
    opts.onProgress?.(what, candidate);
    return true;
  };
  let progress = true;
  while (progress && attempts < attemptsMax) {
    progress = false;
    for (let i = best.faults.length - 1; i >= 0; i--) {
      if (await tryKeep({ ...best, faults: best.faults.filter((_, k) => k !== i) }, `fault ${i} dropped`)) progress = true;
    }
    for (let c = best.clients.length - 1; c >= 0; c--) {
      if (best.clients.length > 1 && (await tryKeep({ ...best, clients: best.clients.filter((_, k) => k !== c) }, `client ${c} dropped`))) progress = true;
    }
    for (let c = 0; c < best.clients.length; c++) {
      if (await shrinkClientOps(c)) progress = true;
    }
  }
  return { schedule: best, attempts };

  /** Deletes runs of client c's ops, halving the run length down to single ops. */
  async function shrinkClientOps(c: number): Promise<boolean> {
    let kept = false;
    for (let size = Math.max(1, best.clients[c]!.ops.length >> 1); size >= 1; size >>= 1) {
      for (let from = best.clients[c]!.ops.length - size; from >= 0; from -= size) {
        const clients = best.clients.map((cl, k) => (k === c ? { ...cl, ops: cl.ops.filter((_, i) => i < from || i >= from + size) } : cl));
        if (await tryKeep({ ...best, clients }, `client ${c}: ops ${from}..${from + size - 1} dropped`)) kept = true;
      }
    }
    return kept;
  }
}

/** The schedule as compact JSON (one fault or client per line), for reports and --schedule. */
export function formatSchedule(s: Schedule): string {
  const { faults, clients, ...shape } = s;
  const lines = [
    `{`,
    `  ${JSON.stringify(shape).slice(1, -1)},`,
    `  "faults": [`,
    faults.map((f) => `    ${JSON.stringify(f)}`).join(',\n'),
    `  ],`,
    `  "clients": [`,
    clients.map((c) => `    ${JSON.stringify(c)}`).join(',\n'),
    `  ]`,
    `}`,
  ];
  return lines.join('\n');
}
