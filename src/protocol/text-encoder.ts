/** Replies to classic text commands, byte for byte as memcached 1.6 writes them. */
import type { CacheOp, CacheResult, ItemView } from '../cache/ops.js';
import { TextCmd, type TextFormat } from './formats.js';
import { R } from './replies.js';
import type { Answer, Request } from './request.js';

const NON_NUMERIC = Buffer.from('CLIENT_ERROR cannot increment or decrement non-numeric value\r\n');
const CRLF_END = '\r\nEND\r\n';

/** Encodes the reply to a text request (null = send nothing). */
export function encodeTextReply(request: Exclude<Request, { kind: 'error' }>, format: TextFormat, answer: Answer): Buffer | null {
  switch (request.kind) {
    case 'ops':
      return answer.kind === 'ops' ? encodeOps(request.ops, format, answer.results) : unexpected(answer);
    case 'version':
      return answer.kind === 'version' ? Buffer.from(`VERSION ${answer.version}\r\n`, 'latin1') : unexpected(answer);
    case 'stats':
      return answer.kind === 'stats' ? encodeStats(request.group, answer.stats) : unexpected(answer);
    case 'verbosity':
      return format.noreply ? null : R.OK;
    case 'noop':
      return R.MN;
    case 'quit':
      return null;
  }
}

function unexpected(answer: Answer): Buffer {
  return Buffer.from(`SERVER_ERROR unexpected answer ${answer.kind}\r\n`, 'latin1');
}

function encodeOps(ops: CacheOp[], format: TextFormat, results: CacheResult[]): Buffer | null {
  switch (format.cmd) {
    case TextCmd.Get:
      return encodeValues(results, false);
    case TextCmd.Gets:
      return encodeValues(results, true);
    case TextCmd.Fixed:
      return format.fixed === undefined || format.fixed.length === 0 ? null : format.fixed;
    default:
      if (format.noreply) return null;
      if (ops.length !== 1 || results.length !== 1) return unexpectedCount(results.length);
      return resultLine(results[0]!, format.cmd);
  }
}

function unexpectedCount(n: number): Buffer {
  return Buffer.from(`SERVER_ERROR expected one result, got ${n}\r\n`, 'latin1');
}

/** The one-line reply of a non-get command. */
function resultLine(r: CacheResult, cmd: TextCmd): Buffer {
  switch (r.kind) {
    case 'stored':
      return R.STORED;
    case 'not_stored':
      return R.NOT_STORED;
    case 'exists':
      return R.EXISTS;
    case 'not_found':
    case 'miss':
      return R.NOT_FOUND;
    case 'deleted':
      return R.DELETED;
    case 'touched':
      return R.TOUCHED;
    case 'ok':
      return R.OK;
    case 'number':
      return Buffer.from(`${r.value}\r\n`, 'latin1');
    case 'client_error':
      return cmd === TextCmd.Arith ? NON_NUMERIC : errorLine('CLIENT_ERROR', r.message);
    case 'server_error':
      return errorLine('SERVER_ERROR', r.message);
    case 'hit':
      return errorLine('SERVER_ERROR', 'unexpected hit');
  }
}

/** "CLIENT_ERROR msg\r\n" / "SERVER_ERROR msg\r\n". */
export function errorLine(prefix: string, message: string): Buffer {
  return Buffer.from(`${prefix} ${message}\r\n`, 'latin1');
}

function valueHeader(item: ItemView, withCas: boolean): string {
  const key = item.key.toString('latin1');
  return withCas
    ? `VALUE ${key} ${item.flags} ${item.value.length} ${item.cas}\r\n`
    : `VALUE ${key} ${item.flags} ${item.value.length}\r\n`;
}

/**
 * Largest multi-get reply: past it the reply stops with memcached's
 * `SERVER_ERROR out of memory writing get response` (a `get k k k ...` of one large item,
 * repeated up to the line limit, would otherwise build a reply of gigabytes).
 */
export const multiGetReplyBytesMax = 64 * 1024 * 1024;

/**
 * VALUE lines for the hits in key order, then END. An error result stops the reply there
 * with the error line instead of END, as memcached does when a multi-get fails midway.
 */
function encodeValues(results: CacheResult[], withCas: boolean): Buffer {
  if (results.length === 1) return encodeSingleValue(results[0]!, withCas);
  const parts: Buffer[] = [];
  let bytes = 0;
  for (const r of results) {
    if (r.kind === 'hit') {
      bytes += r.item.value.length + r.item.key.length + 64;
      if (bytes > multiGetReplyBytesMax && parts.length > 0) {
        parts.push(R.GET_REPLY_TOO_LARGE);
        return Buffer.concat(parts);
      }
      parts.push(Buffer.from(valueHeader(r.item, withCas), 'latin1'), r.item.value, CRLF);
    } else if (r.kind === 'client_error' || r.kind === 'server_error') {
      parts.push(resultLine(r, TextCmd.Get));
      return Buffer.concat(parts);
    }
  }
  parts.push(R.END);
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');

/** The common single-key get, written into one buffer. */
function encodeSingleValue(r: CacheResult, withCas: boolean): Buffer {
  if (r.kind !== 'hit') return r.kind === 'miss' ? R.END : resultLine(r, TextCmd.Get);
  const header = valueHeader(r.item, withCas);
  const headerBytes = Buffer.byteLength(header, 'latin1');
  const value = r.item.value;
  const buf = Buffer.allocUnsafe(headerBytes + value.length + CRLF_END.length);
  buf.write(header, 0, 'latin1');
  value.copy(buf, headerBytes);
  buf.write(CRLF_END, headerBytes + value.length, 'latin1');
  return buf;
}

/**
 * STAT lines and END; an unknown group gets ERROR (observed from memcached 1.6.18). The
 * groups that are commands answer as memcached's process_stat does: `stats reset` RESET,
 * `stats detail on|off` OK, a bad `stats detail` its usage line, and `stats detail dump`
 * the dump itself (empty: END).
 */
function encodeStats(group: string, stats: Array<[string, string]> | null): Buffer {
  if (stats === null) return group === 'detail' || group.startsWith('detail ') ? R.DETAIL_USAGE : R.ERROR;
  if (group === 'reset') return R.RESET;
  if (group === 'detail on' || group === 'detail off') return R.OK;
  let s = '';
  for (const [name, value] of stats) s += `STAT ${name} ${value}\r\n`;
  return Buffer.from(s + 'END\r\n', 'latin1');
}
