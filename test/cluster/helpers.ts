/**
 * Helpers of the cluster tests: free ports, in-process nodes (real transport, LevelDB and
 * Raft, driven through the same entry point as `memraft serve`), and small executor calls.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { pino } from 'pino';
import type { CacheOp, CacheResult } from '../../src/cache/ops.js';
import { startClusterNode, type ClusterNode } from '../../src/server/cluster-node.js';
import { parseServeArgs } from '../../src/server/config.js';

/** Ports that were free a moment ago (listen on 0, close). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const made: string[] = [];

/** A fresh temporary directory, removed by `removeTempDirs`. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `memraft-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes the directories made by `tempDir` in this test file. */
export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => fs.rm(dir, { recursive: true, force: true })));
}

/** Ports of an n-node cluster. */
export interface ClusterPorts {
  client: number[];
  peer: number[];
  admin: number[];
}

/** Allocates ports for n nodes. */
export async function clusterPorts(n: number): Promise<ClusterPorts> {
  const p = await freePorts(3 * n);
  return { client: p.slice(0, n), peer: p.slice(n, 2 * n), admin: p.slice(2 * n) };
}

/** `memraft serve` arguments of node `id` (1-based). */
export function serveArgs(id: number, ports: ClusterPorts, dir: string, extra: string[] = []): string[] {
  const initial = ports.peer.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
  return [
    '--id', String(id),
    '--listen', `127.0.0.1:${ports.client[id - 1]}`,
    '--peer-listen', `127.0.0.1:${ports.peer[id - 1]}`,
    '--admin-listen', `127.0.0.1:${ports.admin[id - 1]}`,
    '--initial-cluster', initial,
    '--data-dir', path.join(dir, `node-${id}`),
    '--log-level', 'warn',
    ...extra,
  ];
}

/** Starts node `id` in this process. */
export async function startInProcess(id: number, ports: ClusterPorts, dir: string, extra: string[] = []): Promise<ClusterNode> {
  const parsed = parseServeArgs(serveArgs(id, ports, dir, extra), {});
  if (parsed.kind !== 'serve') throw new Error('unexpected help');
  const log = pino({ level: process.env.MEMRAFT_TEST_LOG ?? 'silent' });
  return startClusterNode(parsed.config, log);
}

/** Resolves once `check` is true, testing it after every event-loop turn burst (bounded). */
export async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs ops through a node's executor. */
export function run(node: ClusterNode, ops: CacheOp[]): Promise<CacheResult[]> {
  return new Promise((resolve) => node.execute(ops, resolve));
}

/** A text-protocol-like set op. */
export function setOp(key: string, value: string): CacheOp {
  return { type: 'store', mode: 'set', key: Buffer.from(key), flags: 0, exptime: 0, value: Buffer.from(value) };
}

/** A plain get op. */
export function getOp(key: string): CacheOp {
  return { type: 'get', key: Buffer.from(key) };
}
