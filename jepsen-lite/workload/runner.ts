/**
 * The client side of a run: `concurrency` worker slots, each a single-threaded history
 * process with its own connection, spread over the nodes and paced to `--rate` ops/s in
 * total. A process that gets `info` never issues again: a new process id (old + concurrency)
 * takes its slot, on a new connection. Ops that send requests for other processes alongside
 * their own (multi-key gets, noreply writes) take one-shot sub-process ids from one counter
 * from subProcessBase (history/types.ts), so no id is ever used twice. Then the final reads:
 * every key through every node.
 */
import type { HistoryWriter } from '../history/writer.js';
import type { Rng } from '../random.js';
import { McClient, type Endpoint } from './client.js';
import { runCas, runCasDelete, runMetaArith, runMetaOp, runMultiGet, runNoreplyWrite, runOp, runPipeline, runTtlWrite, SubProcesses, type Completion, type OpActor } from './ops.js';
import type { Workload } from './workloads.js';

/** Options of the client side. */
export interface RunnerOptions {
  concurrency: number;
  /** Total ops/s over all slots. */
  ratePerSec: number;
  opTimeoutMs: number;
  /** The nodes clients may use now (members change during membership runs); slot s starts on nodes()[s % n]. */
  nodes: () => readonly number[];
  /** The client port of a node. */
  portOf: (node: number) => number | Endpoint;
  history: HistoryWriter;
  workload: Workload;
  rng: Rng;
}

/** Counts of completed ops. */
export interface OpCounts {
  ok: number;
  fail: number;
  info: number;
}

/** Runs the workload until stopped. */
export class Runner {
  readonly counts: OpCounts = { ok: 0, fail: 0, info: 0 };
  private stopped = false;
  private readonly wakers = new Set<() => void>();
  private readonly subProcesses = new SubProcesses();

  constructor(private readonly o: RunnerOptions) {}

  /** Runs every slot until stop() is called; resolves once all slots are idle. */
  async run(): Promise<void> {
    const slots = Array.from({ length: this.o.concurrency }, (_, s) => this.slot(s, this.o.rng.fork(s + 1)));
    await Promise.all(slots);
  }

  /** Asks every slot to finish its current op and stop. */
  stop(): void {
    this.stopped = true;
    for (const wake of this.wakers) wake();
  }

  private async slot(s: number, rng: Rng): Promise<void> {
    const { nodes, concurrency } = this.o;
    let process = s;
    let node = nodeAt(nodes(), s);
    let client: McClient | null = null;
    let misses = 0;
    const intervalMs = (1000 * concurrency) / this.o.ratePerSec;
    // Staggered starts, then issue times a random gap apart averaging the slot's share of
    // the rate, counted from the previous issue (not its completion), without catching up
    // after a slow op.
    let nextAtMs = performance.now() + rng.float(0, intervalMs);
    while (!this.stopped) {
      const nowMs = performance.now();
      if (nextAtMs > nowMs) await this.pause(nextAtMs - nowMs);
      nextAtMs = Math.max(nextAtMs, performance.now() - intervalMs) + rng.float(0, 2 * intervalMs);
      if (this.stopped) break;
      if (client === null || client.broken) {
        // The slot's own node first; while it is down or unreachable, the next ones in turn.
        node = nodeAt(nodes(), s + misses);
        client = await this.connect(node);
        if (client === null) {
          misses++;
          await this.pause(100 + rng.float(0, 100));
          continue;
        }
        misses = 0;
      }
      const done = await this.runOne(client, { process, node, history: this.o.history, subProcess: () => this.subProcesses.take() }, rng);
      this.counts[done.type]++;
      if (done.type === 'info') {
        process += concurrency;
        client.close();
        client = null;
      }
    }
    client?.close();
  }

  private runOne(client: McClient, actor: OpActor, rng: Rng): Promise<Completion> {
    const { workload } = this.o;
    if (workload.step !== undefined) return workload.step(client, actor, rng, { sleep: (ms) => this.pause(ms) });
    const plan = this.o.workload.next(actor.process, rng);
    if (plan.pipeline !== undefined) return runPipeline(client, actor, plan.key, plan.pipeline);
    if (plan.f === 'cas') return runCas(client, actor, plan.key, plan.value as string, plan.meta === true);
    if (plan.f === 'cas-delete') return runCasDelete(client, actor, plan.key);
    if (plan.keys !== undefined) return runMultiGet(client, actor, plan.keys);
    if (plan.noreply === true) return runNoreplyWrite(client, actor, plan.key, plan.value as string);
    if (plan.ttlSec !== undefined) return runTtlWrite(client, actor, plan.key, plan.value as string, plan.ttlSec, plan.meta === true);
    if (plan.meta === true && (plan.f === 'read' || plan.f === 'write')) return runMetaOp(client, actor, plan.f, plan.key, plan.value);
    if (plan.meta === true && (plan.f === 'incr' || plan.f === 'decr')) return runMetaArith(client, actor, plan.f, plan.key, plan.value as string);
    return runOp(client, actor, plan.f, plan.key, plan.value);
  }

  private async connect(node: number): Promise<McClient | null> {
    try {
      return await McClient.connect(this.o.portOf(node), this.o.opTimeoutMs, Math.min(this.o.opTimeoutMs, 2000));
    } catch {
      return null;
    }
  }

  /** Waits `ms`, or less if the run stops meanwhile. */
  private pause(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }
}

function nodeAt(nodes: readonly number[], i: number): number {
  return nodes[i % nodes.length]!;
}

/** Options of the final reads. */
export interface FinalReadOptions {
  nodes: number[];
  portOf: (node: number) => number | Endpoint;
  keys: string[];
  history: HistoryWriter;
  /** The first process id to use (above every worker's). */
  processBase: number;
  opTimeoutMs: number;
  /** Tries per key and node until a read is ok. */
  triesMax: number;
  /** No new try after this long (ms) in total: a group that never recovers must not hold the run for keys x tries x timeout. */
  budgetMs?: number;
}

/** Reads every key once through every node (retrying reads that fail), one process per node. */
export async function finalReads(o: FinalReadOptions): Promise<{ ok: number; failed: number }> {
  const tally = { ok: 0, failed: 0 };
  const deadline = performance.now() + (o.budgetMs ?? Infinity);
  await Promise.all(o.nodes.map(async (node, i) => {
    let process = o.processBase + i;
    let client: McClient | null = null;
    for (const key of o.keys) {
      let ok = false;
      for (let t = 0; t < o.triesMax && !ok && performance.now() < deadline; t++) {
        if (client === null || client.broken) {
          client = await McClient.connect(o.portOf(node), o.opTimeoutMs).catch(() => null);
          if (client === null) continue;
        }
        const done = await runOp(client, { process, node, history: o.history }, 'read', key, null);
        ok = done.type === 'ok';
        if (done.type === 'info') process += o.nodes.length;
      }
      if (ok) tally.ok++;
      else tally.failed++;
    }
    client?.close();
  }));
  return tally;
}
