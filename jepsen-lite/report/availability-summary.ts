/**
 * `npm run jepsen:availability -- DIR...`: pools the availability figures of many runs (each
 * DIR a run directory, or a batch directory holding seed-* runs) into the figures of
 * docs/availability.md, printed as Markdown:
 *
 * - minority SERVER_ERROR latency over the windows of network partitions (partition,
 *   isolate, isolate-leaders): p50 / p99 / max, and how many minority ops got no reply;
 * - time from a heal until a node served a read and a write of every group, per fault kind,
 *   over the nodes the fault hit and over all nodes;
 * - leader changes per group per heal: the distribution;
 * - the longest client-visible unavailability.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { HistoryEvent, NemesisEvent } from '../history/types.js';
import { computeAvailability, quantiles, type Availability } from './availability.js';

const partitionFaults = new Set(['partition', 'isolate', 'isolate-leaders']);

function runDirs(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (fs.existsSync(path.join(a, 'results.json'))) out.push(a);
    else if (fs.existsSync(a)) for (const e of fs.readdirSync(a).sort()) if (fs.existsSync(path.join(a, e, 'results.json'))) out.push(path.join(a, e));
  }
  return out;
}

function jsonl<T>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').flatMap((l) => {
    try {
      return [JSON.parse(l) as T];
    } catch {
      return [];
    }
  });
}

const fmt = (q: ReturnType<typeof quantiles>): string => (q === null ? '-' : `${q.p50} / ${q.p99} / ${q.max} ms (n=${q.count})`);

function main(args: string[]): void {
  const dirs = runDirs(args);
  if (dirs.length === 0) {
    process.stderr.write('usage: npm run jepsen:availability -- RUN_OR_BATCH_DIR...\n');
    process.exitCode = 2;
    return;
  }
  const minorityErrMs: number[] = [];
  let minorityNoReply = 0;
  let minorityOps = 0;
  const servesHit = new Map<string, number[]>();
  const servesAll = new Map<string, number[]>();
  const notServed = new Map<string, number>();
  const cutShort = new Map<string, number>();
  const changes: number[] = [];
  let longest: { run: string; node: number; ms: number } | null = null;
  const outcomes: string[] = [];
  for (const dir of dirs) {
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as { outcome: string; availability?: Availability };
    outcomes.push(`${path.basename(dir)} ${results.outcome}`);
    const av = results.availability;
    if (av === undefined) continue;
    // Raw minority latencies come from the history (results.json keeps quantiles per window).
    const history = jsonl<HistoryEvent>(path.join(dir, 'history.jsonl'));
    const nemesis = jsonl<NemesisEvent>(path.join(dir, 'nemesis.jsonl'));
    const recomputed = computeAvailability(history, nemesis, [], []);
    for (const w of recomputed.windows) {
      if (!partitionFaults.has(w.fault)) continue;
      minorityOps += w.minority.ok + w.minority.answeredNotOk + w.minority.noReply;
      minorityNoReply += w.minority.noReply;
    }
    minorityErrMs.push(...minorityServerErrorMs(history, nemesis));
    for (const h of av.heals) {
      for (const [node, ms] of Object.entries(h.servesAllMs)) {
        if (ms === null) {
          // Probes stopped early (the next fault, the end of the run) are no evidence either way.
          if (h.probedMs === null || h.probedMs === undefined || h.probedMs >= 3000) notServed.set(h.fault, (notServed.get(h.fault) ?? 0) + 1);
          else cutShort.set(h.fault, (cutShort.get(h.fault) ?? 0) + 1);
          continue;
        }
        push(servesAll, h.fault, ms);
        if (h.hit.includes(Number(node))) push(servesHit, h.fault, ms);
      }
      const groups = h.nodes[0]?.groups.length ?? 0;
      const counted = Object.values(h.leaderChanges);
      changes.push(...counted, ...Array(Math.max(0, groups - counted.length)).fill(0));
    }
    const l = av.longestUnavailable;
    if (l !== null && (longest === null || l.ms > longest.ms)) longest = { run: path.basename(dir), node: l.node, ms: l.ms };
  }
  const lines = [
    `runs: ${dirs.length} (${outcomes.join(', ')})`,
    '',
    `minority SERVER_ERROR latency (network partitions), p50 / p99 / max: ${fmt(quantiles(minorityErrMs))}; minority ops without a reply: ${minorityNoReply} of ${minorityOps}`,
    '',
    '| healed fault | heals x nodes | hit nodes: serve every group, p50 / p99 / max | all nodes | not served within 3 s | probes cut short by the next fault |',
    '|---|---|---|---|---|---|',
    ...[...new Set([...servesAll.keys(), ...notServed.keys(), ...cutShort.keys()])].sort().map((f) => `| ${f} | ${(servesAll.get(f)?.length ?? 0) + (notServed.get(f) ?? 0) + (cutShort.get(f) ?? 0)} | ${fmt(quantiles(servesHit.get(f) ?? []))} | ${fmt(quantiles(servesAll.get(f) ?? []))} | ${notServed.get(f) ?? 0} | ${cutShort.get(f) ?? 0} |`),
    '',
    `leader changes per group per heal: ${histogram(changes)} (${changes.length} group-heals)`,
    `longest client-visible unavailability: ${longest === null ? '-' : `${longest.ms} ms (node ${longest.node}, ${longest.run})`}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

/** ms from invoke to SERVER_ERROR of ops on the cut-off nodes of partition windows. */
function minorityServerErrorMs(history: HistoryEvent[], nemesis: NemesisEvent[]): number[] {
  const av = computeAvailability(history, nemesis, [], []);
  const out: number[] = [];
  const open = new Map<number, HistoryEvent>();
  for (const e of history) {
    if (e.type === 'invoke') {
      open.set(e.process, e);
      continue;
    }
    const inv = open.get(e.process);
    open.delete(e.process);
    if (inv === undefined || e.node === undefined || e.error?.startsWith('SERVER_ERROR') !== true) continue;
    const atMs = inv.time / 1e6;
    const w = av.windows.find((x) => partitionFaults.has(x.fault) && atMs >= x.startMs && atMs < x.stopMs);
    if (w !== undefined && w.minority.nodes.includes(e.node)) out.push((e.time - inv.time) / 1e6);
  }
  return out;
}

function push(m: Map<string, number[]>, k: string, v: number): void {
  const a = m.get(k) ?? [];
  a.push(v);
  m.set(k, a);
}

function histogram(values: number[]): string {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => a[0] - b[0]).map(([v, n]) => `${v}: ${n}`).join(', ');
}

main(process.argv.slice(1).filter((a) => a !== '--'));
