/**
 * One history op against a node: the memcached request for it, and the reply mapped to
 * Jepsen's completion types (ok = happened, fail = surely did not, info = unknown).
 */
import assert from 'node:assert';
import { subProcessBase, type HistoryEvent, type OpF, type OpType } from '../history/types.js';
import type { HistoryWriter } from '../history/writer.js';
import { ClientError, type McClient, type PipelinedRequest, type Reply } from './client.js';

/** An op a workload wants to run. `cas` is special: the runner does a gets first (see runCas). */
export interface OpPlan {
  f: OpF;
  key: string;
  /** The invoke value (see HistoryEvent); for cas the new value alone. */
  value: HistoryEvent['value'];
  /** read / write: sent in the meta protocol (`mg` / `ms`) instead of get / set. */
  meta?: boolean;
  /** A pipeline on a key of its own (see runPipeline) with these three unique values. */
  pipeline?: [string, string, string];
  /** read: a multi-key get of these keys (`key` is the first), each a read of its own sub-process (runMultiGet). */
  keys?: string[];
  /** write: sent `noreply`, followed by a get of the key on the same connection (runNoreplyWrite). */
  noreply?: boolean;
  /** write: stored with this exptime in seconds (runTtlWrite), on a key of the expiry check. */
  ttlSec?: number;
}

/** How an op ended. */
export interface Completion {
  type: Exclude<OpType, 'invoke'>;
  value: HistoryEvent['value'];
  error?: string;
  /** The reply was unexpected or malformed (see HistoryEvent.anomaly). */
  anomaly?: string;
}

/** The completion of a reply that op `f` never expects: unknown effect, and an anomaly. */
function unexpected(f: OpF, reply: Reply, invokeValue: HistoryEvent['value']): Completion {
  const text = `unexpected reply to ${f}: ${JSON.stringify(reply)}`;
  return { type: f === 'read' ? 'fail' : 'info', value: invokeValue, error: text, anomaly: text };
}

/**
 * The cluster's error codes (src/cluster/errors.ts) that it sends only for a write it never
 * proposed: `SERVER_ERROR <code> <message>`. Every other SERVER_ERROR of a write
 * (ERR_OUTCOME_UNKNOWN, ERR_SHUTTING_DOWN, ERR_REPLICA_REMOVED, the cache's own errors, a
 * line without a code) may have been applied.
 */
const surelyNotAppliedCodes = new Set(['ERR_NO_LEADER', 'ERR_NOT_BOOTSTRAPPED']);

/** The cluster error code of a SERVER_ERROR message (its first word, when it is one), or null. */
export function errorCodeOf(message: string): string | null {
  const space = message.indexOf(' ');
  const first = space < 0 ? message : message.slice(0, space);
  return /^ERR_[A-Z_]+$/.test(first) ? first : null;
}

/** Whether a SERVER_ERROR message of a mutating op guarantees it was not applied. */
export function surelyNotApplied(message: string): boolean {
  const code = errorCodeOf(message);
  return code !== null && surelyNotAppliedCodes.has(code);
}

/** Maps a reply of op `f` to its completion. */
export function classify(f: OpF, reply: Reply, invokeValue: HistoryEvent['value']): Completion {
  if (reply.kind === 'server_error') {
    // A read has no effect, so a read that failed surely did not happen.
    if (f === 'read' || surelyNotApplied(reply.message)) return { type: 'fail', value: invokeValue, error: `SERVER_ERROR ${reply.message}` };
    return { type: 'info', value: invokeValue, error: `SERVER_ERROR ${reply.message}` };
  }
  // The server refused to parse or run it: nothing happened.
  if (reply.kind === 'client_error') return { type: 'fail', value: invokeValue, error: `CLIENT_ERROR ${reply.message}` };
  if (reply.kind === 'error') return { type: 'fail', value: invokeValue, error: 'ERROR' };
  switch (f) {
    case 'read':
      if (reply.kind === 'value') return { type: 'ok', value: reply.value };
      break;
    case 'write':
    case 'add':
    case 'cas':
      if (reply.kind === 'stored') return { type: 'ok', value: invokeValue };
      // A write sent as meta `ms` (plain set mode), or a cas as `ms ... C<cas>`: HD.
      if ((f === 'write' || f === 'cas') && reply.kind === 'meta' && reply.code === 'HD') return { type: 'ok', value: invokeValue };
      // A meta cas: EX another version, NF gone.
      if (f === 'cas' && reply.kind === 'meta' && (reply.code === 'EX' || reply.code === 'NF')) return { type: 'fail', value: invokeValue, error: reply.code };
      if (reply.kind === 'not_stored' || reply.kind === 'exists' || reply.kind === 'not_found') {
        return { type: 'fail', value: invokeValue, error: reply.kind.toUpperCase() };
      }
      break;
    case 'replace':
    case 'append':
    case 'prepend':
      // STORED: the key was there; NOT_STORED: absent. Nothing else (no CAS is sent).
      if (reply.kind === 'stored') return { type: 'ok', value: invokeValue };
      if (reply.kind === 'not_stored') return { type: 'fail', value: invokeValue, error: 'NOT_STORED' };
      break;
    case 'touch':
      if (reply.kind === 'touched') return { type: 'ok', value: null };
      if (reply.kind === 'not_found') return { type: 'fail', value: null, error: 'NOT_FOUND' };
      break;
    case 'incr':
    case 'decr':
      if (reply.kind === 'number') return { type: 'ok', value: reply.value };
      if (reply.kind === 'not_found') return { type: 'fail', value: invokeValue, error: 'NOT_FOUND' };
      // Meta `ma ... v`: VA with the digits, NF when absent.
      if (reply.kind === 'value' && reply.value !== null && /^[0-9]+$/.test(reply.value)) return { type: 'ok', value: reply.value };
      if (reply.kind === 'meta' && reply.code === 'NF') return { type: 'fail', value: invokeValue, error: 'NF' };
      break;
    case 'cas-delete':
      // md C<cas>: HD deleted; EX (another version) and NF (gone) did nothing.
      if (reply.kind === 'meta' && reply.code === 'HD') return { type: 'ok', value: invokeValue };
      if (reply.kind === 'meta' && (reply.code === 'EX' || reply.code === 'NF')) return { type: 'fail', value: invokeValue, error: reply.code };
      break;
    case 'delete':
      if (reply.kind === 'deleted') return { type: 'ok', value: null };
      if (reply.kind === 'not_found') return { type: 'fail', value: null, error: 'NOT_FOUND' };
      break;
    case 'acquire':
    case 'renew':
    case 'release':
      return classifyLock(f, reply, invokeValue);
  }
  return unexpected(f, reply, invokeValue);
}

/**
 * The lock ops' meta replies: acquire (`ms ... ME c`) and renew (`ms ... C<token> c`) are
 * ok with `HD c<cas>`, recorded as [owner, new token]; release (`md ... C<token>`) is ok
 * with HD. NS (held by someone), EX (another CAS) and NF (gone) did nothing.
 */
function classifyLock(f: OpF, reply: Reply, invokeValue: HistoryEvent['value']): Completion {
  if (reply.kind === 'meta') {
    if (reply.code === 'HD') {
      if (f === 'release') return { type: 'ok', value: invokeValue };
      const owner = Array.isArray(invokeValue) ? (invokeValue[0] as string) : (invokeValue as string);
      if (reply.flags.c !== undefined && /^[0-9]+$/.test(reply.flags.c)) return { type: 'ok', value: [owner, reply.flags.c] };
    } else {
      return { type: 'fail', value: invokeValue, error: reply.code };
    }
  }
  return unexpected(f, reply, invokeValue);
}

/** Sends op `f` and waits for its reply. */
function send(client: McClient, f: OpF, key: string, value: HistoryEvent['value']): Promise<Reply> {
  switch (f) {
    case 'read':
      return client.get(key);
    case 'write':
      return client.set(key, value as string);
    case 'add':
      return client.add(key, value as string);
    case 'append':
      return client.append(key, ' ' + (value as string));
    case 'prepend':
      return client.prepend(key, (value as string) + ' ');
    case 'incr':
      return client.incr(key, value as string);
    case 'decr':
      return client.decr(key, value as string);
    case 'replace':
      return client.replace(key, value as string);
    case 'touch':
      return client.touch(key);
    case 'delete':
      return client.delete(key);
    case 'cas': {
      const [, next, token] = value as unknown as [string | null, string, string];
      return client.cas(key, next, token);
    }
    case 'acquire':
    case 'renew':
    case 'release':
      throw new Error(`${f} is sent by the lock workload (runLockOp)`);
    case 'cas-delete':
      throw new Error('cas-delete is sent by runCasDelete');
  }
}

/** Who runs an op: the history process id and the node its connection goes to. */
export interface OpActor {
  process: number;
  node: number;
  history: HistoryWriter;
  /** A fresh sub-process id (from subProcessBase, never reused in the run): for multi-gets and noreply writes. */
  subProcess?: () => number;
}

/** Sub-process ids from subProcessBase up, each handed out once (one allocator per run). */
export class SubProcesses {
  private next = subProcessBase;

  /** The next unused id. */
  take(): number {
    return this.next++;
  }
}

/** Runs one op: records its invoke, sends it, records its completion. */
export function runOp(client: McClient, actor: OpActor, f: OpF, key: string, value: HistoryEvent['value'], wire?: HistoryEvent['value']): Promise<Completion> {
  return runRequest(actor, f, key, value, () => send(client, f, key, wire ?? value));
}

/** Runs a read (`mg`) or write (`ms`) in the meta protocol; checked like get / set. */
export function runMetaOp(client: McClient, actor: OpActor, f: 'read' | 'write', key: string, value: HistoryEvent['value']): Promise<Completion> {
  return runRequest(actor, f, key, value, () => (f === 'read' ? client.metaGet(key) : client.metaSet(key, value as string)));
}

/** Runs `incr`/`decr` in the meta protocol (`ma key [MD] D<delta> v k`); checked like the text commands. */
export function runMetaArith(client: McClient, actor: OpActor, f: 'incr' | 'decr', key: string, delta: string): Promise<Completion> {
  return runRequest(actor, f, key, delta, () => client.metaArith(key, delta, f === 'incr'));
}

/**
 * A write with an exptime (`set key 0 <ttl> n`, or `ms key n T<ttl>` when `meta`): the
 * invoke carries ttlSec, so checkExpiry knows when the value must be gone.
 */
export function runTtlWrite(client: McClient, actor: OpActor, key: string, value: string, ttlSec: number, meta: boolean): Promise<Completion> {
  const request = (): Promise<Reply> => (meta ? client.metaSet(key, value, ttlSec) : client.set(key, value, ttlSec));
  return runRequest(actor, 'write', key, value, request, { ttlSec });
}

/** Runs one op whose request the caller makes: records its invoke (with `invokeExtra`), awaits `request`, records its completion. */
export async function runRequest(
  actor: OpActor,
  f: OpF,
  key: string,
  value: HistoryEvent['value'],
  request: () => Promise<Reply>,
  invokeExtra: Pick<HistoryEvent, 'ttlSec'> = {},
): Promise<Completion> {
  const { process, node, history } = actor;
  history.record({ process, type: 'invoke', f, key, value, node, ...invokeExtra });
  let done: Completion;
  try {
    done = classify(f, await request(), value);
  } catch (err) {
    done = noReply(f, value, err);
  }
  recordCompletion(actor, process, f, key, done);
  return done;
}

/** No reply: a read still had no effect; anything else may have happened. A reply that did not parse is also an anomaly. */
function noReply(f: OpF, value: HistoryEvent['value'], err: unknown): Completion {
  const message = err instanceof ClientError ? `${err.code}: ${err.message}` : String(err);
  const done: Completion = { type: f === 'read' ? 'fail' : 'info', value, error: message };
  if (err instanceof ClientError && err.code === 'E_PROTOCOL') done.anomaly = `malformed reply: ${err.message}`;
  return done;
}

/**
 * A compare-and-set: `gets` (recorded as a read), then, if the key exists, `cas` with its
 * token, recorded as [expected, new] where expected is the value the gets returned. With
 * `meta`: `mg key c v k`, then `ms key <n> T0 C<cas> c` (HD stored, EX another version, NF
 * gone). Returns the last completion (the read's when there was nothing to cas).
 */
export async function runCas(client: McClient, actor: OpActor, key: string, next: string, meta = false): Promise<Completion> {
  const { read, value: expected, cas } = await readWithCas(client, actor, key, meta);
  if (cas === null) return read;
  if (meta) return runRequest(actor, 'cas', key, [expected, next], () => client.metaSetIfCas(key, next, 0, cas));
  return runOp(client, actor, 'cas', key, [expected, next], [expected, next, cas] as unknown as HistoryEvent['value']);
}

/**
 * A read that asks for the CAS (`gets`, or meta `mg key c v k`), recorded as a read; on a
 * hit, the value and its CAS (cas null otherwise). A hit without a CAS is an anomaly.
 */
async function readWithCas(client: McClient, actor: OpActor, key: string, meta: boolean): Promise<{ read: Completion; value: string | null; cas: string | null }> {
  const { process, node, history } = actor;
  history.record({ process, type: 'invoke', f: 'read', key, value: null, node });
  let reply: Reply | null = null;
  let read: Completion;
  try {
    reply = await (meta ? client.metaGetCas(key) : client.gets(key));
    read = classify('read', reply, null);
  } catch (err) {
    read = noReply('read', null, err);
  }
  if (read.type === 'ok' && reply?.kind === 'value' && reply.value !== null && reply.cas === null) {
    const text = `a ${meta ? 'mg with c' : 'gets'} of ${JSON.stringify(key)} answered no CAS`;
    read = { type: 'fail', value: null, error: text, anomaly: text };
  }
  recordCompletion(actor, process, 'read', key, read);
  if (read.type !== 'ok' || reply?.kind !== 'value' || reply.value === null || reply.cas === null) return { read, value: null, cas: null };
  return { read, value: reply.value, cas: reply.cas };
}

/**
 * A pipeline: ten requests on `key` (a key no other op ever uses) in one write, before any
 * reply, as clients that pipeline send them:
 *   get (miss), set v1, get, add v2 (NOT_STORED), ms v2, mg, delete, get (miss), add v3, get.
 * memcached runs a connection's commands one after another, so each must see the ones
 * before it. They are recorded as ops of one process, one after another (each invoked when
 * the previous reply arrived): later than they really were, which only asks more of the
 * server, and nobody else touches the key, so checkRegister then checks exactly that order.
 * A pipelined `get` that ran before its `set` (found in the forwarder while a group elected
 * its leader) is a linearizability failure of the key. At the first info the process ends
 * (it never issues again): the rest of the pipeline, already sent, is not recorded; the key
 * is never read again (not in the final reads), so nothing can observe it.
 */
export async function runPipeline(client: McClient, actor: OpActor, key: string, values: [string, string, string]): Promise<Completion> {
  const [v1, v2, v3] = values;
  const bytes = (v: string): number => Buffer.byteLength(v);
  const get: PipelinedRequest = { text: `get ${key}\r\n`, expect: 'retrieval', key };
  const steps: Array<{ f: OpF; value: HistoryEvent['value']; request: PipelinedRequest }> = [
    // A read first (a miss), before the write behind it: it may be served by a follower.
    { f: 'read', value: null, request: get },
    { f: 'write', value: v1, request: { text: `set ${key} 0 0 ${bytes(v1)}\r\n${v1}\r\n`, expect: 'line' } },
    { f: 'read', value: null, request: get },
    { f: 'add', value: v2, request: { text: `add ${key} 0 0 ${bytes(v2)}\r\n${v2}\r\n`, expect: 'line' } },
    { f: 'write', value: v2, request: { text: `ms ${key} ${bytes(v2)} T0\r\n${v2}\r\n`, expect: 'line' } },
    { f: 'read', value: null, request: { text: `mg ${key} v k\r\n`, expect: 'meta-get', key } },
    { f: 'delete', value: null, request: { text: `delete ${key}\r\n`, expect: 'line' } },
    { f: 'read', value: null, request: get },
    { f: 'add', value: v3, request: { text: `add ${key} 0 0 ${bytes(v3)}\r\n${v3}\r\n`, expect: 'line' } },
    { f: 'read', value: null, request: get },
  ];
  const replies = client.pipeline(steps.map((st) => st.request));
  // Replies after an early end are never awaited: no unhandled rejections.
  for (const r of replies) r.catch(() => {});
  let last: Completion = { type: 'fail', value: null };
  for (let i = 0; i < steps.length; i++) {
    const { f, value } = steps[i]!;
    // Each invoked when the previous reply arrived (see above).
    last = await runRequest(actor, f, key, value, () => replies[i]!);
    if (last.type === 'info') break;
  }
  return last;
}

/** Records a completion of `f` on `key` by `process`. */
function recordCompletion(actor: OpActor, process: number, f: OpF, key: string, done: Completion): void {
  const completion: Omit<HistoryEvent, 'time'> = { process, type: done.type, f, key, value: done.value, node: actor.node };
  if (done.error !== undefined) completion.error = done.error;
  if (done.anomaly !== undefined) completion.anomaly = done.anomaly;
  actor.history.record(completion);
}

/**
 * A compare-and-delete: `mg key c v k` (recorded as a read), then, if the key exists,
 * `md key C<cas>` with the CAS it returned, recorded as `cas-delete` of the value read: ok
 * (HD) means that version was still there when it was deleted; EX / NF did nothing.
 * Returns the last completion (the read's when there was nothing to delete).
 */
export async function runCasDelete(client: McClient, actor: OpActor, key: string): Promise<Completion> {
  const { read, value, cas } = await readWithCas(client, actor, key, true);
  if (cas === null) return read;
  return runRequest(actor, 'cas-delete', key, value, () => client.metaDeleteIfCas(key, cas));
}

/**
 * A multi-key get, `get k1 k2 ...` (keys of several groups): memcached's multi-get is not
 * atomic across keys, so each key is a read of its own sub-process (actor.subProcess),
 * invoked when the request is sent and completed when the whole reply (END) arrived: a key
 * with a VALUE line read that value, a key without one was absent. An error line ends the
 * reply midway (after some VALUE lines, not saying which key failed): every key then fails
 * (reads have no effect). A reply out of request order, naming a key not asked for, or
 * malformed is an anomaly on every key's read.
 */
export async function runMultiGet(client: McClient, actor: OpActor, keys: readonly string[]): Promise<Completion> {
  assert(actor.subProcess !== undefined, 'a multi-get needs sub-process ids');
  const { node, history } = actor;
  const readers = keys.map((key) => ({ key, process: actor.subProcess!() }));
  for (const { key, process } of readers) history.record({ process, type: 'invoke', f: 'read', key, value: null, node });
  let outcome: (key: string) => Completion;
  try {
    const reply = await client.multiGet(keys);
    if (reply.kind === 'values') outcome = (key) => ({ type: 'ok', value: reply.values.get(key) ?? null });
    else outcome = () => classify('read', reply, null);
  } catch (err) {
    const done = noReply('read', null, err);
    outcome = () => done;
  }
  for (const { key, process } of readers) recordCompletion(actor, process, 'read', key, outcome(key));
  return outcome(keys[0]!);
}

/**
 * A noreply write then a read on one connection, in one write:
 * `set key 0 0 n noreply\r\n<data>\r\nget key\r\nmn\r\n`. The set answers nothing, so its
 * outcome is unknown: an info write of a sub-process (invoked when the bytes were sent). The
 * get is a read of the actor's process, invoked then too (a new process: the set's info does
 * not end it). The meta no-op `mn` (answered `MN`) fences the replies: any bytes the server
 * sent for the noreply set shift them, so the get or the `MN` does not parse, or the `MN`
 * is something else; that is an anomaly on both ops.
 */
export async function runNoreplyWrite(client: McClient, actor: OpActor, key: string, value: string): Promise<Completion> {
  assert(actor.subProcess !== undefined, 'a noreply write needs a sub-process id');
  const { process, node, history } = actor;
  const writer = actor.subProcess();
  const set = `set ${key} 0 0 ${Buffer.byteLength(value)} noreply\r\n${value}\r\n`;
  history.record({ process: writer, type: 'invoke', f: 'write', key, value, node });
  history.record({ process, type: 'invoke', f: 'read', key, value: null, node });
  const [get, fence] = client.pipeline([
    { text: `${set}get ${key}\r\n`, expect: 'retrieval', key },
    { text: 'mn\r\n', expect: 'line' },
  ]);
  let read: Completion;
  let anomaly: string | undefined;
  try {
    read = classify('read', await get!, null);
  } catch (err) {
    read = noReply('read', null, err);
  }
  try {
    const mn = await fence!;
    if (mn.kind !== 'noop') anomaly = `the mn after a noreply set and a get answered ${JSON.stringify(mn)}`;
  } catch (err) {
    if (err instanceof ClientError && err.code === 'E_PROTOCOL' && read.anomaly === undefined) anomaly = `the replies after a noreply set do not parse: ${err.message}`;
  }
  anomaly ??= read.anomaly;
  if (anomaly !== undefined) read = { ...read, type: read.type === 'ok' ? 'fail' : read.type, anomaly, error: read.error ?? anomaly };
  const written: Completion = { type: 'info', value, error: 'noreply: outcome unknown' };
  if (anomaly !== undefined) written.anomaly = anomaly;
  recordCompletion(actor, writer, 'write', key, written);
  recordCompletion(actor, process, 'read', key, read);
  return read;
}
