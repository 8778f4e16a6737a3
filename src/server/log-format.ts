/**
 * `--log-format pretty`: pino's JSON lines turned into one human line each, written to
 * stdout. Built in rather than pino-pretty: a dozen lines of formatting against a dozen
 * runtime packages (pino-pretty's dependency tree) in every install and container image.
 *
 * A line reads `2026-12-07 20:30:01.123 INFO  node=1 group=3: message key=value ...`:
 * time (UTC), level, the fields child loggers add (node, group, peer), the message, then
 * the other fields; an error's stack follows on its own lines. JSON that does not parse
 * is passed through unchanged.
 */
import type { DestinationStream } from 'pino';

const levelNames: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const levelColors: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields that say where a line comes from; printed before the message. */
const contextKeys = ['node', 'group', 'peer'];
/** Fields the line shows elsewhere, or that say nothing to a reader. */
const skippedKeys = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v', ...contextKeys]);

/** A field value as text: strings bare unless they hold spaces, the rest as JSON. */
function valueText(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/** One pino JSON line as a human line (with a trailing newline); `color` adds ANSI level colours. */
export function prettyLine(json: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : json + '\n';
  }
  const level = Number(rec.level);
  const name = (levelNames[level] ?? `L${String(rec.level)}`).padEnd(5);
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().replace('T', ' ').replace('Z', '') : '-';
  const parts = [time, color ? `\u001b[${levelColors[level] ?? '0'}m${name}\u001b[0m` : name];
  const context = contextKeys.filter((k) => rec[k] !== undefined).map((k) => `${k}=${valueText(rec[k])}`);
  const message = typeof rec.msg === 'string' ? rec.msg : '';
  parts.push(context.length > 0 ? `${context.join(' ')}: ${message}` : message);
  let stack = '';
  for (const [key, value] of Object.entries(rec)) {
    if (skippedKeys.has(key)) continue;
    const err = value as { stack?: unknown; message?: unknown } | null;
    if (typeof err === 'object' && err !== null && typeof err.stack === 'string') {
      parts.push(`${key}=${valueText(err.message ?? '')}`);
      stack += '\n    ' + err.stack.split('\n').join('\n    ');
      continue;
    }
    parts.push(`${key}=${valueText(value)}`);
  }
  return parts.join(' ') + stack + '\n';
}

/** A pino destination that writes pretty lines to `out` (stdout by default). */
export function prettyDestination(out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): DestinationStream {
  const color = out.isTTY === true;
  return { write: (line: string) => void out.write(prettyLine(line, color)) };
}
