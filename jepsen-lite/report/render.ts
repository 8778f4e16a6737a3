// Reads a run directory (history.jsonl, nemesis.jsonl, results.json) and writes report.html
// next to them. The harness calls renderRunDir() at the end of every run.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryEvent, NemesisEvent } from '../history/types.js';
import { renderReport, type ReportInput } from './index.js';

/** What renderRunDir() wrote, and what it had to skip. */
export interface RenderRunDirResult {
  path: string;
  bytes: number;
  /** Lines of history.jsonl / nemesis.jsonl that did not parse (e.g. a line cut by a crash). */
  badLines: number;
}

/**
 * Renders `dir`/report.html from the run's files. A missing nemesis.jsonl or results.json (an
 * aborted run) still gives a report; a missing history.jsonl is an error.
 */
export function renderRunDir(dir: string): RenderRunDirResult {
  const history = readJsonLines<HistoryEvent>(join(dir, 'history.jsonl'), true);
  const nemesis = readJsonLines<NemesisEvent>(join(dir, 'nemesis.jsonl'), false);
  const resultsPath = join(dir, 'results.json');
  const results = existsSync(resultsPath) ? (JSON.parse(readFileSync(resultsPath, 'utf8')) as ReportInput['results']) : {};
  const html = renderReport({ history: history.items, nemesis: nemesis.items, results });
  const path = join(dir, 'report.html');
  writeFileSync(path, html);
  return { path, bytes: Buffer.byteLength(html), badLines: history.bad + nemesis.bad };
}

/** Parses JSON Lines, skipping blank lines and counting lines that do not parse. */
export function parseJsonLines<T>(text: string): { items: T[]; bad: number } {
  const items: T[] = [];
  let bad = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      items.push(JSON.parse(line) as T);
    } catch {
      bad++;
    }
  }
  return { items, bad };
}

function readJsonLines<T>(path: string, required: boolean): { items: T[]; bad: number } {
  if (!required && !existsSync(path)) return { items: [], bad: 0 };
  return parseJsonLines<T>(readFileSync(path, 'utf8'));
}
