#!/usr/bin/env node
/**
 * bench:single: real memcached and `memraft serve` (single node) side by side on loopback.
 *
 * 1. Throughput: memcaslap, 90% get / 10% set, 100-byte values, 32 connections, the same
 *    duration against each server in turn (never both at once: the cores are shared).
 * 2. Memory: a pipelined noreply loader stores 1,000,000 items (14-byte keys, 100-byte
 *    values) into each, then reads VmRSS from /proc/PID/status.
 *
 * Env: BENCH_SECONDS (default 20), BENCH_ITEMS (default 1000000), BENCH_CONCURRENCY (32),
 * BENCH_THREADS (memcaslap threads, default 2), BENCH_SKIP_MEMCACHED=1 to run memraft only,
 * BENCH_REFERENCE=1 to also measure two references for context: memcached with one worker
 * thread (-t 1, as single-threaded as memraft) and a bare Node TCP responder that answers
 * every read with STORED/END without parsing (the ceiling of any net.Socket server here).
 * Run through `npm run bench:single` (which builds first).
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const items = Number(process.env.BENCH_ITEMS ?? 1_000_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const threads = Number(process.env.BENCH_THREADS ?? 2);
const skipMemcached = process.env.BENCH_SKIP_MEMCACHED === '1';
// The single node of issue 2: `--standalone` (no Raft, nothing on disk), the like of
// memcached. BENCH_MEMRAFT_ARGS='--fsync never' (say) measures the embedded default, a
// single-node Raft cluster, instead (it then gets a fresh --data-dir).
const memraftArgs = (process.env.BENCH_MEMRAFT_ARGS ?? '--standalone').split(' ').filter(Boolean);

const tmp = mkdtempSync(path.join(os.tmpdir(), 'memraft-bench-'));
const children = [];

async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

async function waitForPort(port) {
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startMemcached(extra = [], name = 'memcached') {
  const port = await freePort();
  // memcached refuses to run as root without -u.
  const user = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  const child = spawn('memcached', [...user, '-m', '1024', '-p', String(port), '-U', '0', '-l', '127.0.0.1', ...extra], { stdio: 'inherit' });
  children.push(child);
  await waitForPort(port);
  return { name, port, child };
}

// Answers each read with one reply, no parsing, no cache: what net.Socket alone costs.
const nodeFloorSource = `
const net = require('node:net');
const STORED = Buffer.from('STORED\\r\\n'), END = Buffer.from('END\\r\\n');
net.createServer({ noDelay: true }, (s) => {
  s.on('data', (d) => s.write(d[0] === 0x73 ? STORED : END));
  s.on('error', () => {});
}).listen(Number(process.argv[1]), '127.0.0.1');`;

async function startNodeFloor() {
  const port = await freePort();
  const child = spawn(process.execPath, ['-e', nodeFloorSource, String(port)], { stdio: 'inherit' });
  children.push(child);
  await waitForPort(port);
  return { name: 'bare node responder', port, child };
}

async function throughputOnly(start) {
  const server = await start();
  const { tps } = memcaslap(server.port);
  console.log(`${server.name}: ${tps} ops/s (reference)`);
  await stop(server);
  return tps;
}

async function startMemraft() {
  const port = await freePort();
  const dataArgs = memraftArgs.includes('--standalone') ? [] : ['--data-dir', mkdtempSync(path.join(tmp, 'data-'))];
  const args = [path.join(root, 'dist/cli/main.js'), 'serve', '--listen', `127.0.0.1:${port}`, '-m', '1024', '--log-level', 'warn', ...dataArgs, ...memraftArgs];
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean), ...args], { stdio: 'inherit' });
  children.push(child);
  await waitForPort(port);
  return { name: 'memraft', port, child };
}

async function stop(server) {
  if (server.child.exitCode !== null) return;
  server.child.kill('SIGTERM');
  await once(server.child, 'exit');
}

function memcaslap(port) {
  const config = path.join(tmp, 'memcaslap.cfg');
  // cmd 0 = set, 1 = get. memcaslap needs keys of at least 16 bytes.
  writeFileSync(config, 'key\n16 16 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n');
  const args = ['-s', `127.0.0.1:${port}`, '-F', config, '-t', `${seconds}s`, '-c', String(concurrency), '-T', String(threads), '-X', '100'];
  const result = spawnSync('memcaslap', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const out = result.stdout + result.stderr;
  const tps = [...out.matchAll(/TPS:\s*(\d+)/g)].map((m) => Number(m[1]));
  if (tps.length === 0) throw new Error(`could not read memcaslap's TPS:\n${out}`);
  return { tps: tps[tps.length - 1], out };
}

/** Stores `count` items over one socket, pipelined with noreply, fenced by `version`. */
async function fill(port, count) {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const value = Buffer.alloc(100, 'v');
  const batch = 1000;
  for (let i = 0; i < count; i += batch) {
    const parts = [];
    for (let j = i; j < Math.min(count, i + batch); j++) {
      const key = 'key:' + String(j).padStart(10, '0');
      parts.push(Buffer.from(`set ${key} 0 0 100 noreply\r\n`), value, Buffer.from('\r\n'));
    }
    if (!socket.write(Buffer.concat(parts))) await once(socket, 'drain');
  }
  let reply = '';
  socket.on('data', (d) => (reply += d.toString('latin1')));
  socket.write('version\r\n');
  while (!reply.includes('VERSION')) await once(socket, 'data');
  if (reply.startsWith('VERSION') === false) throw new Error(`unexpected reply while filling: ${reply.slice(0, 200)}`);
  socket.end('stats\r\n');
  let stats = '';
  socket.removeAllListeners('data');
  socket.on('data', (d) => (stats += d.toString('latin1')));
  await once(socket, 'close');
  const currItems = /STAT curr_items (\d+)/.exec(stats)?.[1];
  return Number(currItems);
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
  return kb / 1024;
}

/** cmd_get + cmd_set as the server counted them: proof that memcaslap's ops were served, not refused. */
async function servedCommands(port) {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let stats = '';
  socket.on('data', (d) => (stats += d.toString('latin1')));
  socket.end('stats\r\n');
  await once(socket, 'close');
  const stat = (name) => Number(new RegExp(`STAT ${name} (\\d+)`).exec(stats)?.[1] ?? 0);
  return stat('cmd_get') + stat('cmd_set');
}

async function measure(start) {
  let server = await start();
  const { tps } = memcaslap(server.port);
  const served = await servedCommands(server.port);
  console.log(`${server.name}: ${tps} ops/s (memcaslap ${seconds}s, c=${concurrency}, T=${threads}, 90% get / 10% set, 100 B values; server counted ${served} get+set)`);
  if (served < tps * seconds * 0.5) console.log(`${server.name}: WARNING: the server counted far fewer commands than memcaslap reports; the figure is not valid`);
  await stop(server);
  server = await start();
  const t0 = performance.now();
  const stored = await fill(server.port, items);
  const fillSeconds = (performance.now() - t0) / 1000;
  const rss = rssMb(server.child.pid);
  console.log(`${server.name}: filled ${stored} items in ${fillSeconds.toFixed(1)} s (${Math.round(items / fillSeconds)} sets/s), VmRSS ${rss.toFixed(1)} MiB`);
  await stop(server);
  return { tps, rss, stored };
}

async function main() {
  const memraft = await measure(startMemraft);
  if (skipMemcached) return;
  const memcached = await measure(startMemcached);
  console.log('');
  console.log(`throughput ratio memraft/memcached: ${(memraft.tps / memcached.tps).toFixed(2)} (target >= 0.60)`);
  console.log(`RSS ratio memraft/memcached: ${(memraft.rss / memcached.rss).toFixed(2)} (target <= 2.00)`);
  if (process.env.BENCH_REFERENCE !== '1') return;
  console.log('');
  const single = await throughputOnly(() => startMemcached(['-t', '1'], 'memcached -t 1'));
  const floor = await throughputOnly(startNodeFloor);
  console.log(`memraft / memcached -t 1: ${(memraft.tps / single).toFixed(2)}; memraft / bare node responder: ${(memraft.tps / floor).toFixed(2)}`);
}

try {
  await main();
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
