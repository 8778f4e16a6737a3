// A seeded generator of plausible runs (history, nemesis events, results) for the report's
// tests and sample page. It imitates closed-loop clients: faults slow ops down and turn some
// into timeouts (info), after which a new process id takes over the client slot.
import { mulberry32 } from '../../src/raft/prng.js';
import type { HistoryEvent, NemesisEvent, OpF, Results } from '../history/types.js';

/** A fault the synthetic run injects: stopSec null means it never stops. */
export interface SyntheticFault {
  fault: string;
  startSec: number;
  stopSec: number | null;
  nodes?: number[];
  detail?: string;
}

/** Shape of a synthetic run. */
export interface SyntheticOptions {
  seed: number;
  clients: number;
  durationSec: number;
  opsPerSec: number;
  keys: number;
  faults: SyntheticFault[];
  /** When true, one read is reported as a stale-read anomaly and the run is invalid. */
  anomaly: boolean;
}

/** A run as the report consumes it. */
export interface SyntheticRun {
  history: HistoryEvent[];
  nemesis: NemesisEvent[];
  results: Results;
}


const timeoutNs = 500e6;

/** Generates a run; the same options give the same run. */
export function generateRun(opts: SyntheticOptions): SyntheticRun {
  const rand = mulberry32(opts.seed);
  const endNs = opts.durationSec * 1e9;
  const inFault = (ns: number): boolean => opts.faults.some((f) => ns >= f.startSec * 1e9 && (f.stopSec === null || ns < f.stopSec * 1e9));
  const events: HistoryEvent[] = [];
  const meanNs = (opts.clients / opts.opsPerSec) * 1e9;
  for (let slot = 0; slot < opts.clients; slot++) {
    let process = slot;
    let t = rand() * meanNs;
    while (t < endNs) {
      const faulty = inFault(t);
      const latency = meanNs * Math.exp((rand() - 0.5) * 1.6) * (faulty && rand() < 0.2 ? 1 + rand() * 40 : 1);
      const timedOut = faulty && rand() < 0.03;
      const op = makeOp(rand, process, t, opts.keys, timedOut ? timeoutNs : latency, timedOut);
      events.push(op.invoke, op.completion);
      t = op.completion.time + 1000;
      if (timedOut) process += opts.clients;
    }
  }
  events.sort((a, b) => a.time - b.time);
  const nemesis = faultEvents(opts.faults);
  return { history: events, nemesis, results: makeResults(opts, events, nemesis) };
}

function makeOp(rand: () => number, process: number, t: number, keys: number, latencyNs: number, timedOut: boolean): { invoke: HistoryEvent; completion: HistoryEvent } {
  const r = rand();
  const f: OpF = r < 0.5 ? 'read' : r < 0.8 ? 'write' : 'cas';
  const key = `r${Math.floor(rand() * keys)}`;
  const v = String(Math.floor(rand() * 100));
  const node = 1 + Math.floor(rand() * 3);
  const value: HistoryEvent['value'] = f === 'read' ? null : f === 'write' ? v : [String(Math.floor(rand() * 100)), v];
  const invoke: HistoryEvent = { process, type: 'invoke', f, key, value, time: Math.round(t), node };
  const time = Math.round(t + latencyNs);
  if (timedOut) return { invoke, completion: { process, type: 'info', f, key, value, time, node, error: 'timeout after 500 ms' } };
  if (f === 'cas' && rand() < 0.4) return { invoke, completion: { process, type: 'fail', f, key, value, time, node, error: 'EXISTS' } };
  const out = f === 'read' ? (rand() < 0.1 ? null : String(Math.floor(rand() * 100))) : value;
  return { invoke, completion: { process, type: 'ok', f, key, value: out, time, node } };
}

function faultEvents(faults: SyntheticFault[]): NemesisEvent[] {
  const out: NemesisEvent[] = [];
  for (const f of faults) {
    const extra = { ...(f.nodes === undefined ? {} : { nodes: f.nodes }), ...(f.detail === undefined ? {} : { detail: f.detail }) };
    out.push({ time: f.startSec * 1e9, fault: f.fault, phase: 'start', ...extra });
    if (f.stopSec !== null) out.push({ time: f.stopSec * 1e9, fault: f.fault, phase: 'stop', ...extra });
  }
  return out.sort((a, b) => a.time - b.time);
}

function makeResults(opts: SyntheticOptions, events: HistoryEvent[], nemesis: NemesisEvent[]): Results {
  const count = (t: string): number => events.filter((e) => e.type === t).length;
  const anomalyOps = opts.anomaly ? staleRead(events) : [];
  const keys: Record<string, unknown> = {};
  for (const e of events) if (e.type === 'invoke') keys[e.key] = { outcome: 'valid', ops: 0, steps: 0 };
  if (anomalyOps.length > 0) {
    const key = anomalyOps[0]!.key;
    keys[key] = { outcome: 'invalid', ops: 10, steps: 42, anomaly: { kind: 'stale-read', message: `read of ${key} returned a value overwritten before the read began`, ops: anomalyOps } };
  }
  const outcome = opts.anomaly ? 'invalid' : 'valid';
  return {
    outcome,
    seed: opts.seed,
    commit: 'abc1234',
    nodes: 3,
    timeSec: opts.durationSec,
    nemeses: [...new Set(nemesis.map((n) => n.fault))],
    workload: 'register',
    serverArgs: '--fsync always --read-mode read-index',
    ops: count('invoke'),
    okOps: count('ok'),
    failOps: count('fail'),
    infoOps: count('info'),
    opsPerSec: count('invoke') / opts.durationSec,
    checkerMs: 123.4,
    checks: { register: { outcome, keys, ms: 123.4 } },
    crashes: [],
    digests: { agree: true, groups: { '1': 'ab12', '2': 'cd34' } },
  };
}

/** A read (the offending op, first) and an earlier write on the same key: invoke and completion events. */
function staleRead(events: HistoryEvent[]): HistoryEvent[] {
  const mid = events[Math.floor(events.length / 2)]!.time;
  const read = events.find((e) => e.type === 'ok' && e.f === 'read' && e.time > mid);
  if (read === undefined) return [];
  const readInvoke = [...events].reverse().find((e) => e.type === 'invoke' && e.process === read.process && e.time <= read.time)!;
  const write = events.find((e) => e.type === 'ok' && e.f === 'write' && e.key === read.key && e.time < readInvoke.time);
  if (write === undefined) return [readInvoke, read];
  const writeInvoke = [...events].reverse().find((e) => e.type === 'invoke' && e.process === write.process && e.time <= write.time)!;
  return [readInvoke, read, writeInvoke, write];
}
