/**
 * Fuzzing at scale against real processes (`npm run fuzz`; a short run is in `npm test`).
 *
 * Targets: a 3-node cluster of `memraft serve` processes and a standalone node. Against
 * each, `inputs` generated client inputs (inputs.ts) go out over `connections` concurrent
 * connections, a batch of 1..40 inputs per connection, its bytes split at random points
 * into separate writes; the connection then half-closes and must be answered and closed by
 * the node within `hangMs`. At the same time a well-behaved client per node writes keys of
 * its own and records which writes were acknowledged (STORED). A fake peer that completed
 * the HMAC handshake sends `peerFrames` generated frames (peer-frames.ts) to cluster node 1,
 * reconnecting whenever the node resets its link (8 fake peers at once, node ids 9..16).
 *
 * Afterwards: every process is alive, no connection hung, every node still serves a set and
 * a get, every acknowledged write reads back its value, and the cluster's replicas agree
 * (equal digests at equal applied indexes, ProcessCluster.convergedDigests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { AnswerListener, FakePeer } from '../../test/support/fake-peer.js';
import { freePorts, removeTempDirs } from '../../test/cluster/helpers.js';
import { ensureBuilt, mainJs, ProcessCluster, repoRoot, terminateAll, TextClient } from '../../test/cluster/process-cluster.js';
import { Gen, batchSeed, makeBatch, type InputCounts } from './inputs.js';
import { peerFrame, type FrameKind } from './peer-frames.js';

/** What a run does. */
export interface FuzzOptions {
  seed: number;
  /** Client inputs per target. */
  inputs: number;
  /** Peer frames sent to cluster node 1. */
  peerFrames: number;
  connections: number;
  targets: Array<'cluster' | 'standalone'>;
  /** Longest a connection may stay open after its client half-closed. */
  hangMs: number;
  /** Progress lines (null: quiet). */
  log: ((line: string) => void) | null;
}

/** Per-target figures of a run. */
export interface TargetReport {
  target: 'cluster' | 'standalone';
  inputs: number;
  counts: InputCounts;
  connections: number;
  bytesSent: number;
  bytesReceived: number;
  /** Connections the node closed before the client half-closed (quit, errors, limits). */
  closedByNode: number;
  hung: string[];
  acked: number;
  lostAcks: string[];
  durationMs: number;
}

/** The whole run's result. */
export interface FuzzReport {
  seed: number;
  targets: TargetReport[];
  /**
   * Peer frames: `accepted` ones the node took (its answer to the request after them came),
   * `resets` the links it reset over a bad one, `unanswered` neither within 30 s, `abandoned`
   * raw frames whose length promised more bytes (the fake peer hangs up after them).
   */
  peer: {
    frames: number; byKind: Record<FrameKind, number>; resets: number; accepted: number; unanswered: number; abandoned: number;
    handshakeFailures: number; badMessagesCounted: number;
  } | null;
  deadProcesses: string[];
  notServing: string[];
  digests: string;
  durationMs: number;
  ok: boolean;
}

/** Node flags of the fuzz targets: memory enough that the fuzz never evicts the tracked keys. */
const nodeFlags = ['-m', '1024', '--log-level', 'error'];

/** Runs the fuzz and checks; never throws for a finding (it is in the report). */
export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  ensureBuilt();
  const started = Date.now();
  const report: FuzzReport = { seed: o.seed, targets: [], peer: null, deadProcesses: [], notServing: [], digests: 'not checked', durationMs: 0, ok: false };
  const cluster = o.targets.includes('cluster') ? await ProcessCluster.start(3, nodeFlags) : null;
  const standalone = o.targets.includes('standalone') ? await startStandalone() : null;
  try {
    const runs: Array<Promise<unknown>> = [];
    if (cluster !== null) {
      const ports = [1, 2, 3].map((id) => cluster.clientPort(id));
      runs.push(fuzzTarget(o, 'cluster', 0, ports).then((r) => report.targets.push(r)));
      if (o.peerFrames > 0) runs.push(fuzzPeer(o, cluster).then((p) => (report.peer = p)));
    }
    if (standalone !== null) runs.push(fuzzTarget(o, 'standalone', 1, [standalone.port]).then((r) => report.targets.push(r)));
    await Promise.all(runs);
    if (cluster !== null) await checkCluster(cluster, report);
    if (standalone !== null) await checkStandalone(standalone, report);
  } finally {
    if (standalone !== null) await terminateAll([standalone.child]);
    await cluster?.stop();
    await removeTempDirs();
  }
  report.durationMs = Date.now() - started;
  report.ok = report.deadProcesses.length === 0 && report.notServing.length === 0 && report.digests.startsWith('equal') &&
    (report.peer === null || report.peer.unanswered === 0) &&
    report.targets.every((t) => t.hung.length === 0 && t.lostAcks.length === 0);
  return report;
}

/** A standalone node (no Raft). */
async function startStandalone(): Promise<{ port: number; child: ChildProcess; output: () => string }> {
  const [port] = await freePorts(1);
  const child = spawn(process.execPath, [mainJs, 'serve', '--standalone', '--listen', `127.0.0.1:${port}`, ...nodeFlags], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  for (const deadline = Date.now() + 30_000; ; ) {
    if (child.exitCode !== null) throw new Error(`standalone node exited:\n${output}`);
    if (await canConnect(port!)) break;
    if (Date.now() > deadline) throw new Error('standalone node did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port: port!, child, output: () => output };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Client fuzz of one target plus its well-behaved writer. */
async function fuzzTarget(o: FuzzOptions, target: 'cluster' | 'standalone', stream: number, ports: number[]): Promise<TargetReport> {
  const started = Date.now();
  const r: TargetReport = {
    target, inputs: 0, counts: { valid: 0, malformed: 0, truncated: 0, garbage: 0 }, connections: 0, bytesSent: 0,
    bytesReceived: 0, closedByNode: 0, hung: [], acked: 0, lostAcks: [], durationMs: 0,
  };
  let nextBatch = 0;
  let done = false;
  const acked = new Map<string, string>();
  const writers = ports.map((port, i) => wellBehaved(o.seed, target, i, port, acked, () => done));
  let lastLog = Date.now();
  const worker = async (w: number): Promise<void> => {
    while (r.inputs < o.inputs) {
      const index = nextBatch++;
      const batch = makeBatch(o.seed, stream, index, o.inputs - r.inputs, r.counts);
      r.inputs += batch.inputs;
      await sendBatch(ports[(index + w) % ports.length]!, batch.stream, batch.cuts, o.hangMs, r, `${target} batch ${index}`);
      if (o.log !== null && Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        o.log(`  ${target}: ${r.inputs}/${o.inputs} inputs, ${r.connections} connections, ${acked.size} acked writes`);
      }
    }
  };
  await Promise.all(Array.from({ length: o.connections }, (_, w) => worker(w)));
  done = true;
  await Promise.all(writers);
  r.acked = acked.size;
  // Every acknowledged write, read back through every node in turn.
  const readers = await Promise.all(ports.map((p) => TextClient.connect(p)));
  let i = 0;
  for (const [key, value] of acked) {
    const got = await readers[i++ % readers.length]!.get(key).catch((err: Error) => `error: ${err.message}`);
    if (got !== value) r.lostAcks.push(`${key}: got ${JSON.stringify(got)}`);
  }
  for (const c of readers) c.close();
  r.durationMs = Date.now() - started;
  return r;
}

/** Sends one batch on a fresh connection in its pieces, half-closes, and waits for the close. */
function sendBatch(port: number, bytes: Buffer, cuts: number[], hangMs: number, r: TargetReport, name: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    r.connections++;
    let ended = false;
    let timer: NodeJS.Timeout | null = null;
    socket.on('data', (d: Buffer) => (r.bytesReceived += d.length));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (timer !== null) clearTimeout(timer);
      if (!ended) r.closedByNode++;
      resolve();
    });
    socket.on('connect', async () => {
      let at = 0;
      for (const cut of cuts) {
        if (socket.destroyed) return;
        if (cut > at) {
          socket.write(bytes.subarray(at, cut));
          r.bytesSent += cut - at;
        }
        at = cut;
        await new Promise((res) => setImmediate(res));
      }
      if (socket.destroyed) return;
      ended = true;
      socket.end();
      timer = setTimeout(() => {
        r.hung.push(`${name}: open ${hangMs} ms after the client half-closed (${bytes.length} bytes sent)`);
        socket.destroy();
      }, hangMs);
    });
  });
}

/** Writes its own keys one at a time until `stop()`; records each acknowledged (STORED) write. */
async function wellBehaved(seed: number, target: string, writer: number, port: number, acked: Map<string, string>, stop: () => boolean): Promise<void> {
  let client = await TextClient.connect(port);
  for (let i = 0; !stop(); i++) {
    const key = `wb-${seed}-${target}-${writer}-${i}`;
    const value = `v${i}-${'x'.repeat(i % 50)}`;
    try {
      if ((await client.set(key, value)) === 'STORED\r\n') acked.set(key, value);
    } catch {
      client.close();
      client = await TextClient.connect(port);
    }
  }
  client.close();
}

/** Fake peers at once (node ids 9, 10, ...): each frame waits for the node's verdict, so lanes bring throughput. */
const peerLanes = 8;

/** Peer frames from fake peers (node ids 9..) to cluster node 1; frame i goes out on lane i mod peerLanes. */
async function fuzzPeer(o: FuzzOptions, cluster: ProcessCluster): Promise<FuzzReport['peer']> {
  const byKind: Record<FrameKind, number> = { raft: 0, chunk: 0, 'read-round': 0, 'junk-message': 0, request: 0, raw: 0 };
  const out = { frames: 0, byKind, resets: 0, accepted: 0, unanswered: 0, abandoned: 0, handshakeFailures: 0, badMessagesCounted: 0 };
  let lastLog = Date.now();
  const lane = async (k: number): Promise<void> => {
    const nodeId = 9 + k;
    const answers = await AnswerListener.start(nodeId);
    let peer: FakePeer | null = null;
    for (let i = k; i < o.peerFrames; i += peerLanes) {
      if (o.log !== null && Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        o.log(`  peer: ${out.frames}/${o.peerFrames} frames, ${out.resets} link resets`);
      }
      if (peer === null || peer.closed) {
        peer = await FakePeer.connect({ port: cluster.ports.peer[0]!, nodeId, serverId: 1, answerPort: answers.port }).catch(() => null);
        peer?.socket.on('close', () => answers.poke());
        if (peer === null) {
          if (++out.handshakeFailures > 100) break; // the node is gone: the checks will say so
          await new Promise((r) => setTimeout(r, 50));
          i -= peerLanes; // the same frame again
          continue;
        }
      }
      const f = peerFrame(new Gen(batchSeed(o.seed, 7, i)), groups);
      byKind[f.kind]++;
      out.frames++;
      if (f.raw !== undefined) peer.write(f.raw);
      else peer.send(f.payload);
      if (f.incomplete === true) {
        // The node now waits for the rest of a frame (or refused its length): start afresh.
        out.abandoned++;
        peer.destroy();
        peer = null;
        continue;
      }
      // Then a request the node answers only if it took the frame without resetting the link:
      // each frame is known to have been processed (answered, or the link reset) before the next.
      const echo = 2 ** 40 + i; // apart from the ids of generated requests (below 2^31)
      peer.send([[], [[0, echo, { t: 'fuzz-echo' }]]]);
      const current = peer;
      const took = await answers.answer(echo, 30_000, () => current.closed);
      if (took) out.accepted++;
      else if (current.closed) out.resets++;
      else out.unanswered++;
    }
    peer?.destroy();
    answers.close();
  };
  const groups = 16;
  await Promise.all(Array.from({ length: peerLanes }, (_, k) => lane(k)));
  const text = await (await fetch(`http://127.0.0.1:${cluster.ports.admin[0]}/metrics`)).text().catch(() => '');
  out.badMessagesCounted = Number(/^memraft_peer_bad_messages_total\{[^}]*\} (\d+)$/m.exec(text)?.[1] ?? -1);
  return out;
}

async function checkCluster(cluster: ProcessCluster, report: FuzzReport): Promise<void> {
  for (const [id, child] of cluster.children) {
    if (child.exitCode !== null || child.signalCode !== null) report.deadProcesses.push(`cluster node ${id}:\n${cluster.logOf(id).slice(-3000)}`);
  }
  if (report.deadProcesses.length > 0) return;
  try {
    await cluster.waitReady(undefined, 60_000);
  } catch (err) {
    report.notServing.push(`cluster not ready: ${(err as Error).message.slice(0, 500)}`);
  }
  for (let id = 1; id <= 3; id++) await checkServes(cluster.clientPort(id), `cluster node ${id}`, report);
  try {
    const digests = await cluster.convergedDigests(60_000);
    report.digests = `equal on every replica of ${digests.size} groups`;
  } catch (err) {
    report.digests = `DIFFER: ${(err as Error).message}`;
  }
}

async function checkStandalone(node: { port: number; child: ChildProcess; output: () => string }, report: FuzzReport): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) report.deadProcesses.push(`standalone:\n${node.output().slice(-3000)}`);
  else await checkServes(node.port, 'standalone', report);
  if (!report.targets.some((t) => t.target === 'cluster')) report.digests = 'equal (no cluster target)';
}

async function checkServes(port: number, name: string, report: FuzzReport): Promise<void> {
  try {
    const c = await TextClient.connect(port);
    const stored = await c.set('fuzz-after', name);
    const got = await c.get('fuzz-after');
    c.close();
    if (stored !== 'STORED\r\n' || got !== name) report.notServing.push(`${name}: set ${JSON.stringify(stored)}, get ${JSON.stringify(got)}`);
  } catch (err) {
    report.notServing.push(`${name}: ${(err as Error).message}`);
  }
}

/** The report as lines of text. */
export function formatReport(r: FuzzReport): string {
  const lines = [`fuzz seed ${r.seed}: ${r.ok ? 'PASS' : 'FAIL'} in ${(r.durationMs / 1000).toFixed(1)} s`];
  for (const t of r.targets) {
    const c = t.counts;
    lines.push(
      `  ${t.target}: ${t.inputs} inputs (valid ${c.valid}, malformed ${c.malformed}, truncated ${c.truncated}, garbage ${c.garbage}) ` +
        `over ${t.connections} connections in ${(t.durationMs / 1000).toFixed(1)} s; ${t.bytesSent} bytes sent, ${t.bytesReceived} received; ` +
        `${t.closedByNode} closed by the node early; hung ${t.hung.length}; acknowledged writes ${t.acked}, lost ${t.lostAcks.length}`,
    );
    for (const h of t.hung.slice(0, 5)) lines.push(`    hung: ${h}`);
    for (const l of t.lostAcks.slice(0, 5)) lines.push(`    lost: ${l}`);
  }
  if (r.peer !== null) {
    const p = r.peer;
    const kinds = Object.entries(p.byKind).map(([k, n]) => `${k} ${n}`).join(', ');
    lines.push(
      `  peer: ${p.frames} frames (${kinds}) to node 1: ${p.accepted} taken, ${p.resets} reset the link, ${p.abandoned} incomplete, ${p.unanswered} unanswered; ` +
        `${p.handshakeFailures} failed reconnects; node 1 counted ${p.badMessagesCounted} bad peer messages`,
    );
  }
  lines.push(`  processes: ${r.deadProcesses.length === 0 ? 'all alive' : `DEAD: ${r.deadProcesses.join('\n')}`}`);
  lines.push(`  serving afterwards: ${r.notServing.length === 0 ? 'every node' : `NOT: ${r.notServing.join('; ')}`}`);
  lines.push(`  replica digests: ${r.digests}`);
  return lines.join('\n');
}
