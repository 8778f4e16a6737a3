/**
 * The load generators of scripts/bench-cluster.ts.
 *
 * memcaslap (libmemcached-tools 1.1.4, Debian's) drives the throughput rows. Two of its
 * quirks shape how it is run here (both read from its source, contrib/bin/memaslap):
 *  - each of its threads connects all of that thread's connections to ONE server, thread i
 *    to server i % servers: one `-T 2` process given three servers never reaches the third.
 *    So a row over several servers runs one memcaslap per server, side by side, with the
 *    connections split between them (`perNode`), and their counts and histograms merged.
 *  - `--tps` does not throttle: it compares (ops / elapsed microseconds, an integer
 *    division that is always 0) with the target. So latency at a given rate comes from
 *    `paced` below, not from memcaslap.
 * Its log2 latency histogram: bucket k counts latencies v with 2^(k-1) < v <= 2^k us.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';

export interface Latency {
  p50Us: number;
  p99Us: number;
  count: number;
}

export interface CaslapRun {
  /** Requests memcaslap completed (refused ones included) and its ops/s, summed over processes. */
  ops: number;
  tps: number;
  get: Latency | null;
  set: Latency | null;
  /** The memcaslap command lines (one per process). */
  commands: string[];
}

export interface CaslapOptions {
  servers: string[];
  cfg: string;
  seconds: number;
  threads: number;
  connections: number;
  /** One memcaslap per server (connections split), instead of one for all of them. */
  perNode: boolean;
}

/** The memcaslap processes for a run: each its servers, threads and connections. */
export function caslapPlan(o: CaslapOptions): Array<{ servers: string[]; threads: number; connections: number }> {
  const n = o.servers.length;
  if (n === 1 || !o.perNode) {
    if (o.connections % o.threads !== 0) throw new Error(`memcaslap: connections (${o.connections}) must be a multiple of threads (${o.threads})`);
    return [{ servers: o.servers, threads: o.threads, connections: o.connections }];
  }
  const threads = Math.max(1, Math.floor(o.threads / n));
  if (o.connections % threads !== 0) throw new Error(`memcaslap: connections (${o.connections}) must be a multiple of ${threads} threads per node`);
  const units = o.connections / threads;
  return o.servers
    .map((s, k) => ({ servers: [s], threads, connections: threads * (Math.floor(units / n) + (k < units % n ? 1 : 0)) }))
    .filter((p) => p.connections > 0);
}

export async function caslap(o: CaslapOptions): Promise<CaslapRun> {
  const plan = caslapPlan(o);
  const commands: string[] = [];
  const outs = await Promise.all(plan.map(async (p) => {
    const argv = ['-s', p.servers.join(','), '-t', `${o.seconds}s`, '-T', String(p.threads), '-c', String(p.connections), '-F', o.cfg, '-S', `${o.seconds}s`];
    commands.push(`memcaslap ${argv.join(' ')}`);
    const child = spawn('memcaslap', argv);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    await once(child, 'exit');
    return out;
  }));
  let ops = 0;
  let tps = 0;
  const get: Histogram[] = [];
  const set: Histogram[] = [];
  for (const out of outs) {
    const m = /Run time: [\d.]+s Ops: (\d+) TPS: (\d+)/.exec(out);
    if (m === null) throw new Error(`memcaslap output not understood:\n${out}`);
    ops += Number(m[1]);
    tps += Number(m[2]);
    const g = histogram(out, 'Get');
    const s = histogram(out, 'Set');
    if (g !== null) get.push(g);
    if (s !== null) set.push(s);
  }
  return { ops, tps, get: latencyOf(merge(get)), set: latencyOf(merge(set)), commands };
}

interface Histogram {
  /** counts[k]: latencies in (2^(k-1), 2^k] us. */
  counts: number[];
  minUs: number;
  maxUs: number;
}

/** memcaslap's closing "<kind> Statistics (N events)" section, or null (no such requests). */
export function histogram(out: string, kind: 'Get' | 'Set' | 'Total'): Histogram | null {
  const at = out.lastIndexOf(`${kind} Statistics (`);
  if (at < 0) return null;
  const end = out.indexOf('\n\n', at);
  const section = out.slice(at, end > 0 ? end : undefined);
  const counts: number[] = [];
  for (const m of section.matchAll(/^\s+(\d+):((?:\s+\d+)+)\s*$/gm)) {
    const base = Number(m[1]);
    m[2]!.trim().split(/\s+/).forEach((c, i) => (counts[base + i] = Number(c)));
  }
  const minUs = Number(/Min:\s+(\d+)/.exec(section)?.[1] ?? 0);
  const maxUs = Number(/Max:\s+(\d+)/.exec(section)?.[1] ?? Infinity);
  return { counts: Array.from(counts, (c) => c ?? 0), minUs, maxUs };
}

function merge(hs: Histogram[]): Histogram | null {
  if (hs.length === 0) return null;
  const counts: number[] = [];
  for (const h of hs) h.counts.forEach((c, k) => (counts[k] = (counts[k] ?? 0) + c));
  return { counts: Array.from(counts, (c) => c ?? 0), minUs: Math.min(...hs.map((h) => h.minUs)), maxUs: Math.max(...hs.map((h) => h.maxUs)) };
}

function latencyOf(h: Histogram | null): Latency | null {
  if (h === null) return null;
  const count = h.counts.reduce((a, b) => a + b, 0);
  return count === 0 ? null : { p50Us: percentile(h, 0.5), p99Us: percentile(h, 0.99), count };
}

/** Quantile q of a log2 histogram, interpolated linearly within its bucket, within [min, max]. */
export function percentile(h: Histogram, q: number): number {
  const total = h.counts.reduce((a, b) => a + b, 0);
  let seen = 0;
  for (let k = 0; k < h.counts.length; k++) {
    const c = h.counts[k]!;
    if (c > 0 && seen + c >= q * total) {
      const lo = k === 0 ? 0 : 2 ** (k - 1);
      const v = lo + ((q * total - seen) / c) * (2 ** k - lo);
      return Math.min(h.maxUs, Math.max(h.minUs, v));
    }
    seen += c;
  }
  return 0;
}

// ---- paced 90/10 ------------------------------------------------------------------------

export interface PacedOptions {
  servers: string[];
  /** Requests per second offered, over all connections together. */
  rate: number;
  seconds: number;
  connections: number;
  setShare: number;
  keys: number;
}

export interface PacedRun {
  offered: number;
  tps: number;
  /** Requests answered (any reply). */
  ops: number;
  /** Replies that were not STORED / VALUE..END / END. */
  errors: number;
  firstError: string | null;
  get: Latency | null;
  set: Latency | null;
}

const value = 'v'.repeat(100);
const keyOf = (i: number): string => `key-${String(i).padStart(12, '0')}`; // 16 bytes, as memcaslap's

/** Stores every key of the paced generator's key space (not part of any measurement). */
export async function prefill(servers: string[], keys: number, connections: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: connections }, async (_, w) => {
    const c = await Client.open(servers[w % servers.length]!);
    try {
      for (let i = next++; i < keys; i = next++) {
        const reply = await c.set(keyOf(i));
        if (reply !== 'STORED') throw new Error(`prefill: set answered ${JSON.stringify(reply)}`);
      }
    } finally {
      c.close();
    }
  }));
}

/**
 * Offers `rate` requests/s for `seconds`: request i is due at start + i / rate and goes out
 * on the next idle connection (each connection has one request in flight, as memcaslap's).
 * Latency is from the write to the end of the reply, as memcaslap measures it.
 */
export async function paced(o: PacedOptions): Promise<PacedRun> {
  const clients = await Promise.all(Array.from({ length: o.connections }, (_, w) => Client.open(o.servers[w % o.servers.length]!)));
  const gets: number[] = [];
  const sets: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let slot = 0;
  const startAt = performance.now() + 20;
  const endAt = startAt + o.seconds * 1000;
  await Promise.all(clients.map(async (c) => {
    for (;;) {
      const due = startAt + (slot++ / o.rate) * 1000;
      if (due >= endAt) break;
      const wait = due - performance.now();
      if (wait > 0.5) await sleep(wait);
      const isSet = Math.random() < o.setShare;
      const key = keyOf(Math.floor(Math.random() * o.keys));
      const t0 = performance.now();
      const reply = isSet ? await c.set(key) : await c.get(key);
      (isSet ? sets : gets).push((performance.now() - t0) * 1000);
      const ok = isSet ? reply === 'STORED' : reply === 'END' || reply.startsWith('VALUE ');
      if (!ok) {
        errors++;
        firstError ??= reply;
      }
    }
  }));
  const elapsed = (Math.max(performance.now(), endAt) - startAt) / 1000;
  for (const c of clients) c.close();
  const ops = gets.length + sets.length;
  return { offered: o.rate, tps: ops / elapsed, ops, errors, firstError, get: exact(gets), set: exact(sets) };
}

function exact(us: number[]): Latency | null {
  if (us.length === 0) return null;
  const sorted = Float64Array.from(us).sort();
  const q = (x: number): number => sorted[Math.min(sorted.length - 1, Math.floor(x * sorted.length))]!;
  return { p50Us: q(0.5), p99Us: q(0.99), count: sorted.length };
}

/** One text-protocol connection with one request in flight. */
class Client {
  private buf = '';
  private wake: (() => void) | null = null;
  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.wake?.();
    });
    socket.on('error', () => this.wake?.());
    socket.on('close', () => this.wake?.());
  }

  static async open(server: string): Promise<Client> {
    const [host, port] = server.split(':');
    return new Client(await connect(Number(port), host));
  }

  async set(key: string): Promise<string> {
    this.socket.write(`set ${key} 0 0 100\r\n${value}\r\n`);
    return this.line();
  }

  /** The first line of the reply ('VALUE ...' or 'END' or an error); the rest is consumed. */
  async get(key: string): Promise<string> {
    this.socket.write(`get ${key}\r\n`);
    const first = await this.line();
    if (first.startsWith('VALUE ')) {
      for (;;) if ((await this.line()) === 'END') break;
    }
    return first;
  }

  close(): void {
    this.socket.destroy();
  }

  private async line(): Promise<string> {
    for (;;) {
      const at = this.buf.indexOf('\r\n');
      if (at >= 0) {
        const line = this.buf.slice(0, at);
        this.buf = this.buf.slice(at + 2);
        return line;
      }
      if (this.socket.destroyed) return 'connection closed';
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}

export async function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  const s = net.connect(port, host);
  await once(s, 'connect');
  return s;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
