/**
 * The clients of a run: each is connected to one node and runs its planned ops through that
 * node's ClusterExecutor, one at a time, recording a jepsen-lite history (DESIGN.md §8):
 * invoke, then ok (happened), fail (surely did not) or info (may have). A process that gets
 * info never issues again; its client carries on as a new process. A multi-key get is one
 * request whose keys are recorded as reads of their own sub-processes (memcached's
 * multi-get is not atomic across keys; each key's read must be linearizable on its own).
 *
 * Classification is jepsen-lite's own (workload/ops.ts `surelyNotApplied`), by error code:
 * a failed read is a fail; a failed write is a fail only when its code says it was never
 * proposed (ERR_NO_LEADER, ERR_NOT_BOOTSTRAPPED), info otherwise. A client whose node crashes with
 * an op outstanding sees its connection drop: a read fails, a write is info.
 *
 * History times are virtual nanoseconds, made strictly increasing, so the checker sees
 * the exact real-time order of the single-threaded simulation.
 */
import type { CacheOp, CacheResult } from '../../../src/cache/ops.js';
import type { HistoryEvent, OpF } from '../../../jepsen-lite/history/types.js';
import { surelyNotApplied } from '../../../jepsen-lite/workload/ops.js';
import { harnessOwner, type Scheduler } from './scheduler.js';
import type { ClientPlan, PlannedOp } from './schedule.js';

/** What the workload needs of the cluster. */
export interface ClusterAccess {
  /** The node's executor, or null while it is down (connection refused). */
  executor(node: number): { execute(ops: CacheOp[], done: (results: CacheResult[]) => void): void } | null;
  /** Where a read of `key` arriving at `node` starts (for figures): its leader, a follower, or no replica. */
  readPath(node: number, key: string): ReadPath;
  /** The data group holding `key` (for figures). */
  groupOf(key: string): number;
}

/** Where a read starts: at the group's leader, at a follower replica (a follower read), or at a node without a replica (forwarded). */
export type ReadPath = 'leader' | 'follower' | 'remote';

/** Figures of the workload (non-vacuity). */
export interface WorkloadStats {
  invoked: number;
  ok: number;
  fail: number;
  info: number;
  /** ok completions per f. */
  okByF: Record<string, number>;
  /** Reads answered ok, by the path they started on (ReadPath). */
  readsOk: Record<ReadPath, number>;
  /** Multi-key gets whose keys spanned more than one group, answered ok in full. */
  multiGetsOk: number;
  /** Ops cut off by their node's crash. */
  cutByCrash: number;
}

/** Wait before retrying to connect to a node that is down. */
const reconnectMs = 50;

interface Outstanding {
  node: number;
  /** History ops waiting for this request's answer: [process, f, key, invoke value]. */
  ops: Array<[number, OpF, string, HistoryEvent['value']]>;
}

interface Client {
  plan: ClientPlan;
  next: number;
  process: number;
  /** Sub-processes for the extra keys of multi-key gets (reads never get info: stable). */
  readers: number[];
  outstanding: Outstanding | null;
  /** Bumped when the client's node crashes: an answer carrying an older token is dropped. */
  token: number;
}

/** The clients and the history they write. */
export class Workload {
  readonly history: HistoryEvent[] = [];
  readonly stats: WorkloadStats = {
    invoked: 0, ok: 0, fail: 0, info: 0, okByF: {}, readsOk: { leader: 0, follower: 0, remote: 0 }, multiGetsOk: 0, cutByCrash: 0,
  };
  /** Told of every write acknowledged to a client (the nemesis aims crashes at them). */
  readonly writeAckListeners = new Set<() => void>();
  private readonly clients: Client[];
  private processNext = 0;
  private lastNs = 0;
  private stopped = false;
  private finalPending = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly cluster: ClusterAccess,
    plans: ClientPlan[],
    /** Every history event as it is recorded (replays with --verbose). */
    private readonly trace?: (line: string) => void,
  ) {
    this.clients = plans.map((plan) => ({ plan, next: 0, process: this.newProcess(), readers: [], outstanding: null, token: 0 }));
  }

  /** Starts every client (its first op after its think time). */
  start(): void {
    for (const c of this.clients) this.scheduleNext(c);
  }

  /** No client starts a new op from now on (outstanding ones still complete). */
  stop(): void {
    this.stopped = true;
  }

  /** Client ops still waiting for an answer. */
  get outstanding(): number {
    return this.clients.filter((c) => c.outstanding !== null).length + this.finalPending;
  }

  /** `node` crashed: its clients' connections drop. */
  onCrash(node: number): void {
    for (const c of this.clients) {
      const out = c.outstanding;
      if (out === null || out.node !== node) continue;
      c.outstanding = null;
      c.token++;
      this.stats.cutByCrash++;
      for (const [process, f, key, value] of out.ops) {
        this.record({ process, type: f === 'read' ? 'fail' : 'info', f, key, value, node, error: 'connection lost: node crashed' });
      }
      if (out.ops.some(([, f]) => f !== 'read')) c.process = this.newProcess();
      this.scheduleNext(c);
    }
  }

  /** Reads every key once more, through the given nodes in turn (after healing). */
  finalReads(keys: string[], nodes: number[]): void {
    keys.forEach((key, i) => {
      const node = nodes[i % nodes.length]!;
      const exec = this.cluster.executor(node);
      if (exec === null) return;
      const process = this.newProcess();
      this.finalPending++;
      this.invoke(process, 'read', key, null, node);
      exec.execute([{ type: 'get', key: Buffer.from(key) }], (results) => {
        this.finalPending--;
        this.completeRead(process, key, results[0]!, node);
      });
    });
  }

  private newProcess(): number {
    return this.processNext++;
  }

  private scheduleNext(c: Client): void {
    const op = c.plan.ops[c.next];
    if (op === undefined || this.stopped) return;
    this.scheduler.at(op.thinkMs * 1000, harnessOwner, () => this.runNext(c));
  }

  private runNext(c: Client): void {
    if (this.stopped || c.outstanding !== null) return;
    const exec = this.cluster.executor(c.plan.node);
    if (exec === null) {
      this.scheduler.at(reconnectMs * 1000, harnessOwner, () => this.runNext(c));
      return;
    }
    const op = c.plan.ops[c.next++]!;
    if (op.f === 'get') return this.runGet(c, op.keys, false);
    if (op.f === 'cas') return this.runGet(c, [op.key], true, op);
    this.runWrite(c, op);
  }

  /** Sends a request for client `c` and routes its answer (unless a crash cut it off). */
  private send(c: Client, ops: CacheOp[], history: Outstanding['ops'], onDone: (results: CacheResult[]) => void): void {
    const node = c.plan.node;
    const exec = this.cluster.executor(node)!;
    const token = c.token;
    c.outstanding = { node, ops: history };
    exec.execute(ops, (results) => {
      if (c.token !== token || c.outstanding === null) return;
      c.outstanding = null;
      onDone(results);
    });
  }

  private runGet(c: Client, keys: string[], thenCas: boolean, cas?: Extract<PlannedOp, { f: 'cas' }>): void {
    const node = c.plan.node;
    while (c.readers.length < keys.length - 1) c.readers.push(this.newProcess());
    const procs = keys.map((_, i) => (i === 0 ? c.process : c.readers[i - 1]!));
    const paths = keys.map((k) => this.cluster.readPath(node, k));
    keys.forEach((key, i) => this.invoke(procs[i]!, 'read', key, null, node));
    const ops: CacheOp[] = keys.map((k) => ({ type: 'get', key: Buffer.from(k) }));
    this.send(c, ops, keys.map((k, i) => [procs[i]!, 'read', k, null]), (results) => {
      let allOk = true;
      keys.forEach((key, i) => {
        const ok = this.completeRead(procs[i]!, key, results[i]!, node);
        allOk &&= ok;
        if (ok) this.stats.readsOk[paths[i]!]++;
      });
      if (allOk && new Set(keys.map((k) => this.cluster.groupOf(k))).size > 1) this.stats.multiGetsOk++;
      const first = results[0]!;
      if (thenCas && first.kind === 'hit') return this.runCas(c, cas!, first.item.value.toString(), first.item.cas);
      this.scheduleNext(c);
    });
  }

  private runCas(c: Client, planned: Extract<PlannedOp, { f: 'cas' }>, expected: string, cas: number): void {
    const { key, value, exptime } = planned;
    const node = c.plan.node;
    const invokeValue: [string, string] = [expected, value];
    this.invoke(c.process, 'cas', key, invokeValue, node);
    const op: CacheOp = { type: 'store', mode: 'cas', key: Buffer.from(key), flags: 0, exptime, value: Buffer.from(value), cas };
    this.send(c, [op], [[c.process, 'cas', key, invokeValue]], (results) => this.completeWrite(c, 'cas', key, invokeValue, results[0]!));
  }

  private runWrite(c: Client, op: Exclude<PlannedOp, { f: 'get' } | { f: 'cas' }>): void {
    const node = c.plan.node;
    const key = Buffer.from(op.key);
    let f: OpF;
    let value: HistoryEvent['value'];
    let cacheOp: CacheOp;
    switch (op.f) {
      case 'set':
      case 'add':
        [f, value] = [op.f === 'set' ? 'write' : 'add', op.value];
        cacheOp = { type: 'store', mode: op.f, key, flags: 0, exptime: op.exptime, value: Buffer.from(op.value) };
        break;
      case 'delete':
        [f, value, cacheOp] = ['delete', null, { type: 'delete', key }];
        break;
      case 'incr':
        [f, value] = ['incr', String(op.delta)];
        cacheOp = { type: 'arith', key, incr: true, delta: BigInt(op.delta) };
        break;
    }
    this.invoke(c.process, f, op.key, value, node);
    this.send(c, [cacheOp], [[c.process, f, op.key, value]], (results) => this.completeWrite(c, f, op.key, value, results[0]!));
  }

  /** Records a read's completion; true when ok. */
  private completeRead(process: number, key: string, r: CacheResult, node: number): boolean {
    if (r.kind === 'hit') return this.recordOk(process, 'read', key, r.item.value.toString(), node);
    if (r.kind === 'miss') return this.recordOk(process, 'read', key, null, node);
    this.record({ process, type: 'fail', f: 'read', key, value: null, node, error: errorText(r) });
    return false;
  }

  private completeWrite(c: Client, f: OpF, key: string, value: HistoryEvent['value'], r: CacheResult): void {
    const node = c.plan.node;
    const outcome = writeOutcome(f, r);
    if (outcome.type === 'ok') {
      this.recordOk(c.process, f, key, outcome.value ?? value, node);
      for (const listener of this.writeAckListeners) listener();
    }
    else this.record({ process: c.process, type: outcome.type, f, key, value, node, error: errorText(r) });
    if (outcome.type === 'info') c.process = this.newProcess();
    this.scheduleNext(c);
  }

  private invoke(process: number, f: OpF, key: string, value: HistoryEvent['value'], node: number): void {
    this.stats.invoked++;
    this.push({ process, type: 'invoke', f, key, value, time: this.nowNs(), node });
  }

  private recordOk(process: number, f: OpF, key: string, value: HistoryEvent['value'], node: number): true {
    this.stats.okByF[f] = (this.stats.okByF[f] ?? 0) + 1;
    this.record({ process, type: 'ok', f, key, value, node });
    return true;
  }

  private record(e: Omit<HistoryEvent, 'time'>): void {
    this.stats[e.type as 'ok' | 'fail' | 'info']++;
    this.push({ ...e, time: this.nowNs() });
  }

  private push(e: HistoryEvent): void {
    this.history.push(e);
    if (this.trace === undefined) return;
    const error = e.error === undefined ? '' : ` (${e.error})`;
    this.trace(`[${String(this.scheduler.nowMs).padStart(6)} ms]   client p${e.process} at node ${e.node}: ${e.type} ${e.f} ${e.key} ${JSON.stringify(e.value)}${error}`);
  }

  /** Virtual ns, strictly increasing: events at one instant keep their real order. */
  private nowNs(): number {
    this.lastNs = Math.max(this.scheduler.nowUs * 1000, this.lastNs + 1);
    return this.lastNs;
  }
}

/** How a write op ended, from its result. */
function writeOutcome(f: OpF, r: CacheResult): { type: 'ok' | 'fail' | 'info'; value?: string } {
  if (r.kind === 'server_error') return { type: surelyNotApplied(r.message) ? 'fail' : 'info' };
  if (r.kind === 'client_error') return { type: 'fail' };
  switch (f) {
    case 'write':
    case 'add':
    case 'cas':
      if (r.kind === 'stored') return { type: 'ok' };
      if (r.kind === 'not_stored' || r.kind === 'exists' || r.kind === 'not_found') return { type: 'fail' };
      break;
    case 'delete':
      if (r.kind === 'deleted') return { type: 'ok' };
      if (r.kind === 'not_found') return { type: 'fail' };
      break;
    case 'incr':
      if (r.kind === 'number') return { type: 'ok', value: r.value.toString() };
      if (r.kind === 'not_found') return { type: 'fail' };
      break;
  }
  return { type: 'info' };
}

function errorText(r: CacheResult): string {
  if (r.kind === 'server_error') return `SERVER_ERROR ${r.message}`;
  if (r.kind === 'client_error') return `CLIENT_ERROR ${r.message}`;
  return r.kind.toUpperCase();
}
