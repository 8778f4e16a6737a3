/**
 * Client TLS benchmark (not a test): the same Node load client against a 3-node memraft
 * cluster started plaintext and started with --tls-cert/--tls-key, alternating round by
 * round in one run, so the two rows share whatever else the machine was doing. memcaslap
 * (bench-cluster.ts) does not speak TLS, hence this client of its own.
 *
 *   npm run build && npm run bench:tls -- [--seconds 10] [--rounds 2] [--connections 32]
 *       [--depth 4] [--fsync never|always] [--groups 16] [--warmup 3] [--standalone]
 *
 * `--standalone` measures one `memraft serve --standalone` (no Raft) instead of the cluster:
 * with less work per op behind it, TLS's share of the cost shows more.
 *
 * Load: `connections` connections spread over the 3 nodes, each keeping `depth` requests in
 * flight (closed loop), 90% get / 10% set of 10,000 prefilled 16-byte keys with 100-byte
 * values. Per row: ops/s, and CPU per op of the three server processes (utime + stime from
 * /proc/PID/stat), which shows the cost of TLS even where the client is the bottleneck.
 * Certificates are made with `openssl` into a temporary directory (ECDSA P-256; TLS 1.3).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
    depth: { type: 'string', default: '4' },
    fsync: { type: 'string', default: 'never' },
    groups: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '3' },
    standalone: { type: 'boolean', default: false },
  },
});

const root = resolve(import.meta.dirname, '..');
const mainJs = join(root, 'dist/cli/main.js');
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const keyCount = 10_000;
const value = 'v'.repeat(100);
const keyOf = (i: number): string => `key-${String(i).padStart(12, '0')}`;

type Mode = 'plaintext' | 'tls';

interface Certs {
  ca: Buffer;
  files: string[];
}

interface Row {
  ops: number;
  seconds: number;
  cpuSeconds: number;
}

const children = new Set<ChildProcess>();

function makeCerts(dir: string): Certs {
  const ssl = (a: string[]): void => void execFileSync('openssl', a, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=bench-ca']);
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=bench-node']);
  ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext']);
  return { ca: readFileSync(join(dir, 'ca.crt')), files: ['--tls-cert', join(dir, 'server.crt'), '--tls-key', join(dir, 'server.key')] };
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((res) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => res(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** One `serve --standalone`, three times in the port list (the load spreads over "nodes"). */
async function startStandalone(extra: string[]): Promise<{ ports: number[]; nodes: ChildProcess[] }> {
  const [port] = await freePorts(1);
  const child = track(spawn(process.execPath, [mainJs, 'serve', '--standalone', '--listen', `127.0.0.1:${port}`, '-m', '1024', '--log-level', 'warn', ...extra],
    { stdio: ['ignore', 'ignore', 'inherit'] }));
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((res) => {
      const s = net.connect(port!, '127.0.0.1');
      s.once('connect', () => (s.destroy(), res(true)));
      s.once('error', () => res(false));
    });
    if (up) break;
    if (i > 400) throw new Error('standalone server did not start');
    await sleep(50);
  }
  return { ports: [port!, port!, port!], nodes: [child] };
}

/** Starts a 3-node cluster in `dir`; resolves with its client ports and pids once ready. */
async function startCluster(dir: string, extra: string[]): Promise<{ ports: number[]; nodes: ChildProcess[] }> {
  if (args.standalone) return startStandalone(extra);
  const p = await freePorts(9);
  const initial = [1, 2, 3].map((i) => `${i}=127.0.0.1:${p[2 + i]}`).join(',');
  const nodes = [1, 2, 3].map((id) => {
    const child = spawn(process.execPath, [mainJs, 'serve', '--id', String(id), '--listen', `127.0.0.1:${p[id - 1]}`,
      '--peer-listen', `127.0.0.1:${p[2 + id]}`, '--admin-listen', `127.0.0.1:${p[5 + id]}`, '--initial-cluster', initial,
      '--groups', args.groups!, '--fsync', args.fsync!, '-m', '1024', '--data-dir', join(dir, `node-${id}`), '--log-level', 'warn', ...extra],
    { stdio: ['ignore', 'ignore', 'inherit'] });
    return track(child);
  });
  const deadline = Date.now() + 60_000;
  for (const id of [1, 2, 3]) {
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${p[5 + id]}/status`).then((r) => r.json() as Promise<{ ready?: boolean }>, () => null);
      if (ready?.ready === true) break;
      if (Date.now() > deadline) throw new Error(`node ${id} not ready`);
      await sleep(100);
    }
  }
  return { ports: p.slice(0, 3), nodes };
}

async function stopCluster(nodes: ChildProcess[]): Promise<void> {
  await Promise.all(nodes.map(async (c) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }));
}

function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / clockTicks;
}

/** One plaintext or TLS socket, connected (handshake done). */
async function open(port: number, mode: Mode, ca: Buffer): Promise<net.Socket> {
  if (mode === 'plaintext') {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    s.setNoDelay(true);
    return s;
  }
  const s = tls.connect({ host: '127.0.0.1', port, ca });
  await once(s, 'secureConnect');
  s.setNoDelay(true);
  return s;
}

/**
 * A closed-loop connection: `depth` requests in flight, a new one sent per reply. Replies
 * are counted by their terminators (END or STORED): values are 'v's and never contain them.
 */
class LoadConnection {
  replies = 0;
  private tail = '';
  private running = true;
  private seq: number;

  constructor(
    private readonly socket: net.Socket,
    seed: number,
    depth: number,
  ) {
    this.seq = seed;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => this.onData(text));
    socket.on('error', () => {});
    let batch = '';
    for (let i = 0; i < depth; i++) batch += this.nextRequest();
    socket.write(batch);
  }

  private nextRequest(): string {
    this.seq = (this.seq * 1103515245 + 12345) >>> 0;
    const key = keyOf(this.seq % keyCount);
    return this.seq % 10 === 0 ? `set ${key} 0 0 ${value.length}\r\n${value}\r\n` : `get ${key}\r\n`;
  }

  private onData(chunk: string): void {
    const text = this.tail + chunk;
    let done = 0;
    let at = 0;
    let matchEnd = 0;
    for (;;) {
      const end = text.indexOf('END\r\n', at);
      const stored = text.indexOf('STORED\r\n', at);
      if (end < 0 && stored < 0) break;
      if (stored >= 0 && (end < 0 || stored < end)) {
        matchEnd = stored + 8;
      } else {
        matchEnd = end + 5;
      }
      at = matchEnd;
      done++;
    }
    // A terminator split over chunks starts within the last 7 unmatched bytes.
    this.tail = text.slice(Math.max(matchEnd, text.length - 7));
    this.replies += done;
    if (!this.running || done === 0) return;
    let batch = '';
    for (let i = 0; i < done; i++) batch += this.nextRequest();
    this.socket.write(batch);
  }

  stop(): void {
    this.running = false;
    this.socket.destroy();
  }
}

async function prefill(port: number, mode: Mode, ca: Buffer): Promise<void> {
  const s = await open(port, mode, ca);
  s.setEncoding('latin1');
  let stored = 0;
  s.on('data', (t: string) => (stored += t.split('STORED\r\n').length - 1));
  for (let i = 0; i < keyCount; i += 500) {
    let batch = '';
    for (let k = i; k < Math.min(keyCount, i + 500); k++) batch += `set ${keyOf(k)} 0 0 ${value.length}\r\n${value}\r\n`;
    s.write(batch);
    while (stored < Math.min(keyCount, i + 500)) await sleep(5);
  }
  s.destroy();
}

async function measure(mode: Mode, certs: Certs): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), `memraft-bench-tls-${mode}-`));
  const { ports, nodes } = await startCluster(dir, mode === 'tls' ? certs.files : []);
  try {
    await prefill(ports[0]!, mode, certs.ca);
    const connections = Number(args.connections);
    const sockets = await Promise.all(Array.from({ length: connections }, (_, i) => open(ports[i % 3]!, mode, certs.ca)));
    const load = sockets.map((s, i) => new LoadConnection(s, i * 7919 + 1, Number(args.depth)));
    await sleep(Number(args.warmup) * 1000);
    const pids = nodes.map((n) => n.pid!);
    const replies0 = load.reduce((sum, c) => sum + c.replies, 0);
    const cpu0 = cpuSeconds(pids);
    const t0 = performance.now();
    await sleep(Number(args.seconds) * 1000);
    const replies1 = load.reduce((sum, c) => sum + c.replies, 0);
    const cpu1 = cpuSeconds(pids);
    const t1 = performance.now();
    for (const c of load) c.stop();
    return { ops: replies1 - replies0, seconds: (t1 - t0) / 1000, cpuSeconds: cpu1 - cpu0 };
  } finally {
    await stopCluster(nodes);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const certDir = mkdtempSync(join(tmpdir(), 'memraft-bench-tls-certs-'));
  const certs = makeCerts(certDir);
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
  console.log(`bench:tls  commit ${commit}  node ${process.version}  ${args.connections} connections x depth ${args.depth}, 90/10 get/set, ` +
    `${args.seconds} s per row, ${args.rounds} rounds, ` + (args.standalone ? 'one serve --standalone' : `3 nodes, --fsync ${args.fsync}, --groups ${args.groups}`));
  const rows: Record<Mode, Row[]> = { plaintext: [], tls: [] };
  try {
    for (let round = 1; round <= Number(args.rounds); round++) {
      for (const mode of ['plaintext', 'tls'] as const) {
        const row = await measure(mode, certs);
        rows[mode].push(row);
        console.log(`round ${round} ${mode.padEnd(9)} ${Math.round(row.ops / row.seconds).toLocaleString('en-US').padStart(8)} ops/s  ` +
          `${((row.cpuSeconds / row.ops) * 1e6).toFixed(1)} server CPU µs/op`);
      }
    }
  } finally {
    rmSync(certDir, { recursive: true, force: true });
  }
  const total = (rs: Row[]): { opsPerS: number; cpuUsPerOp: number } => {
    const ops = rs.reduce((s, r) => s + r.ops, 0);
    return { opsPerS: ops / rs.reduce((s, r) => s + r.seconds, 0), cpuUsPerOp: (rs.reduce((s, r) => s + r.cpuSeconds, 0) / ops) * 1e6 };
  };
  const plain = total(rows.plaintext);
  const secure = total(rows.tls);
  console.log('\n| client port | ops/s | server CPU µs/op |\n| --- | --- | --- |');
  console.log(`| plaintext | ${Math.round(plain.opsPerS).toLocaleString('en-US')} | ${plain.cpuUsPerOp.toFixed(1)} |`);
  console.log(`| TLS 1.3 | ${Math.round(secure.opsPerS).toLocaleString('en-US')} | ${secure.cpuUsPerOp.toFixed(1)} |`);
  console.log(`\nTLS / plaintext: ${(secure.opsPerS / plain.opsPerS).toFixed(2)} x ops/s, ${(secure.cpuUsPerOp / plain.cpuUsPerOp).toFixed(2)} x server CPU per op`);
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

const onExit = (): void => {
  for (const c of children) c.kill('SIGKILL');
};
process.on('exit', onExit);
process.on('SIGINT', () => process.exit(130));
await main();
