/** readHistory: parses history.jsonl (one HistoryEvent per line, DESIGN.md section 8). */
import type { HistoryEvent } from '../history/types.js';

/** A history line that is not a valid event (a harness bug or a truncated file). */
export class HistoryParseError extends Error {
  readonly code = 'ERR_HISTORY_PARSE';

  constructor(
    readonly line: number,
    why: string,
  ) {
    super(`history line ${line}: ${why}`);
    this.name = 'HistoryParseError';
  }
}

const types = new Set(['invoke', 'ok', 'fail', 'info']);
const fs = new Set(['read', 'write', 'cas', 'add', 'delete', 'incr', 'decr', 'replace', 'touch', 'cas-delete', 'append', 'prepend', 'acquire', 'renew', 'release']);

function validate(event: unknown): string | null {
  if (typeof event !== 'object' || event === null) return 'not an object';
  const e = event as Record<string, unknown>;
  if (!Number.isInteger(e.process)) return 'process must be an integer';
  if (!types.has(e.type as string)) return `bad type ${JSON.stringify(e.type)}`;
  if (!fs.has(e.f as string)) return `bad f ${JSON.stringify(e.f)}`;
  if (typeof e.key !== 'string') return 'key must be a string';
  if (typeof e.time !== 'number' || !Number.isFinite(e.time)) return 'time must be a number';
  if (!('value' in e)) return 'value is missing';
  return null;
}

/**
 * Parses JSON Lines into events; blank lines are skipped. A truncated last line (a run
 * killed mid-write) is dropped; any other bad line throws HistoryParseError.
 */
export function readHistory(text: string): HistoryEvent[] {
  const lines = text.split('\n');
  const events: HistoryEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.length === 0) continue;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch (error) {
      const isLast = lines.slice(i + 1).every((rest) => rest.trim().length === 0);
      if (isLast && !text.endsWith('\n')) break;
      throw new HistoryParseError(i + 1, (error as Error).message);
    }
    const why = validate(event);
    if (why !== null) throw new HistoryParseError(i + 1, why);
    events.push(event as HistoryEvent);
  }
  return events;
}
