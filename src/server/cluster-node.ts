/**
 * A cluster node's wiring: the real parts plugged into the host (RawNode and MemoryStorage,
 * the LevelDB log store, the TCP transport, the cache state machine), the cluster
 * executor for the client listener, and the admin HTTP listener.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { NodeId } from '../raft/types.js';
import { setClockOffset } from '../cluster/clock.js';
import { realGroupFactory } from '../cluster/group-factory.js';
import { ClusterHost, defaultHostTiming, type HostConfig, type UnsafeModes } from '../cluster/host.js';
import { Rebalancer, defaultRebalancerOptions } from '../cluster/rebalancer.js';
import { defaultReplicaOptions, type ReplicaOptions } from '../cluster/replica.js';
import { realRuntime } from '../cluster/runtime.js';
import { LevelLogStore } from '../storage/index.js';
import { Transport, type PeerTlsOptions } from '../transport/index.js';
import { startAdminHttp } from './admin-http.js';
import { resolveAdminToken } from './admin-token.js';
import { ClusterExecutor } from './cluster-executor.js';
import { joinCluster } from './cluster-join.js';
import { isRemoved, refuseIfRemoved, waitReleased, watchRemoval } from './node-removal.js';
import { metricsText, statusJson, type PeerTraffic } from './cluster-status.js';
import type { ClusterFlags, HostPort, PeerTlsFiles, ServeConfig } from './config.js';
import { readiness } from './health.js';
import { UsageError } from './config.js';
import type { Executor, ExecuteCallback } from './executor.js';
import type { ServerCounters } from './server-stats.js';

function parseAddress(s: string): { host: string; port: number } {
  const at = s.lastIndexOf(':');
  return { host: s.slice(0, at), port: Number(s.slice(at + 1)) };
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function nodeIdOf(s: string | null, what: string): NodeId {
  const id = Number(s);
  if (!Number.isSafeInteger(id) || id <= 0) throw new UsageError(`${what}: node ids are positive integers, got '${s}'`);
  return id;
}

/** --unsafe-ack-before-durable: how far the early acks run ahead of the (held back) log writes. */
const unsafeDiskLagMs = 40;

/** The --unsafe-* test-only modes asked for, or null when none is. */
function unsafeModesOf(c: ClusterFlags): UnsafeModes | null {
  const modes: UnsafeModes = {
    staleReads: c.unsafeStaleReads,
    ackBeforeCommit: c.unsafeAckBeforeCommit,
    ackBeforeDurable: c.unsafeAckBeforeDurable,
    ...(c.unsafeAckBeforeDurable ? { ackBeforeDurableLagMs: unsafeDiskLagMs } : {}),
    leaderReadsWithoutReadIndex: c.unsafeLeaderReadsWithoutReadIndex,
  };
  return Object.values(modes).some((on) => on === true) ? modes : null;
}

/** Derives the host config from `memraft serve` flags. */
export function hostConfigFrom(config: ServeConfig, peerAddress: string, adminAddress: string): HostConfig {
  const c = config.cluster;
  const nodeId = nodeIdOf(c.id, '--id');
  const initialCluster = c.initialCluster.map((m) => ({ id: nodeIdOf(m.id, '--initial-cluster'), peer: `${m.peer.host}:${m.peer.port}` }));
  if (initialCluster.length > 0 && !initialCluster.some((m) => m.id === nodeId)) {
    throw new UsageError(`--initial-cluster does not list this node's --id ${nodeId}`);
  }
  if (initialCluster.length === 0 && c.join === null) throw new UsageError('--initial-cluster or --join is required');
  return {
    nodeId,
    initialCluster,
    peerAddress,
    clientAddress: `${config.listen.host}:${config.listen.port}`,
    adminAddress,
    groups: c.groups,
    replicas: c.replicas,
    memoryBytes: config.memoryMb * 1024 * 1024,
    readMode: c.readMode,
    ...(c.zone !== null ? { zone: c.zone } : {}),
    ...defaultHostTiming,
    leaderTimeoutMs: c.leaderTimeoutMs,
    replica: { ...replicaOptionsFromEnv(process.env), hostReadIndex: c.readMode !== 'lease' },
    ...(unsafeModesOf(c) !== null ? { unsafe: unsafeModesOf(c)! } : {}),
  };
}

/**
 * Replica tunables, with a test hook: MEMRAFT_SNAPSHOT_ENTRIES lowers the snapshot
 * interval so tests exercise compaction, InstallSnapshot and restart-from-snapshot.
 */
export function replicaOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): ReplicaOptions {
  const entries = Number(env.MEMRAFT_SNAPSHOT_ENTRIES);
  if (!Number.isInteger(entries) || entries <= 0) return defaultReplicaOptions;
  return { ...defaultReplicaOptions, snapshotEntriesMin: entries, snapshotKeepEntries: Math.min(defaultReplicaOptions.snapshotKeepEntries, entries >> 2) };
}

/** A running cluster node, seen by the server as its Executor. */
export interface ClusterNode extends Executor {
  readonly host: ClusterHost;
}

/** Opens storage, starts transport, host and admin listener; returns the node's executor. */
export async function startClusterNode(config: ServeConfig, log: Logger, connections?: ServerCounters): Promise<ClusterNode> {
  const c = config.cluster;
  const nodeId = nodeIdOf(c.id, '--id');
  const me = c.initialCluster.find((m) => Number(m.id) === nodeId);
  const peerListen = c.peerListen ?? me?.peer ?? null;
  if (peerListen === null) throw new UsageError('--peer-listen (or this node in --initial-cluster) is required');
  if (!isLoopback(peerListen.host) && c.clusterSecret === null) {
    throw new UsageError('--cluster-secret is required when the peer listener is not on loopback');
  }
  const advertised = me?.peer ?? c.peerAdvertise ?? peerListen;
  const peerAddress = `${advertised.host}:${advertised.port}`;
  const adminAddress = c.adminListen === null ? '' : `${c.adminListen.host}:${c.adminListen.port}`;
  const hostConfig = hostConfigFrom(config, peerAddress, adminAddress);
  const adminToken = resolveAdminToken(c.adminToken, c.adminTokenFile);
  if (c.adminListen !== null && !isLoopback(c.adminListen.host)) {
    log.warn({ admin: adminAddress }, 'admin listener is not on loopback: its status and metrics are open to whoever reaches it (docs/security.md)');
  }
  const nodeLog = log.child({ node: nodeId });

  const store = await LevelLogStore.open(path.join(config.dataDir, 'raft'), { fsync: c.fsync === 'always' });
  await checkNodeId(store, nodeId);
  const peerTls = await readPeerTls(c.peerTls);
  const transport = new Transport({
    nodeId,
    clusterId: 'memraft',
    secret: c.clusterSecret ?? 'memraft-loopback-only',
    listen: peerListen,
    advertise: parseAddress(peerAddress),
    addressOverrides: new Map(c.peerAddresses.map((m) => [nodeIdOf(m.id, '--peer-addresses'), m.peer])),
    logger: log, // the transport adds its own node field
    ...(peerTls === undefined ? {} : { tls: peerTls }),
  });
  await transport.start();
  const seed = (nodeId * 1_000_003 + Date.now()) >>> 0;
  nodeLog.info({ seed, fsync: c.fsync, readMode: c.readMode }, 'starting cluster node');
  if (unsafeModesOf(c) !== null) nodeLog.warn({ unsafe: unsafeModesOf(c) }, 'UNSAFE test-only mode: this node is not linearizable');
  const factory = realGroupFactory(nodeId, c.readMode, config.itemBytesMax, seed, nodeLog);
  const host = new ClusterHost(hostConfig, factory, store, transport, realRuntime(), log); // the host adds the node field
  const rebalancer = new Rebalancer(host, { ...defaultRebalancerOptions, maxMoves: c.maxMoves, deadAfterMs: c.deadAfterMs });
  host.requestExtension = (from, payload) => rebalancer.handleRequest(from, payload);
  await host.start();
  rebalancer.start();
  try {
    await refuseIfRemoved(host);
  } catch (err) {
    rebalancer.close();
    await host.close();
    await transport.close();
    await store.close();
    throw err;
  }
  if (c.join !== null) await joinOnce(host, store, c.join, nodeLog, peerTls);
  const removal = watchRemoval(host);
  const traffic = (): PeerTraffic => transport.stats();
  const executor = new ClusterExecutor(host, config.memoryMb * 1024 * 1024, traffic);
  const admin =
    c.adminListen === null
      ? null
      : await startAdminHttp(
          {
            status: (withDigest) => statusJson(host, withDigest),
            readiness: () => readiness(host),
            metrics: () => metricsText(host, executor.counters, traffic(), connections),
            blockPeers: (peers) => host.blockPeers(peers),
            setClock: (offsetMs, strobeMs) => setClockOffset(offsetMs, strobeMs),
            ctl: (op, node, peer) => rebalancer.ctl(op, node, peer),
          },
          { ...c.adminListen, debug: process.env.MEMRAFT_DEBUG_ADMIN === '1', token: adminToken, logger: nodeLog },
        );
  return {
    host,
    execute: (ops, done: ExecuteCallback) => executor.execute(ops, done),
    stats: (group) => executor.stats(group),
    resetStats: () => executor.resetStats(),
    mustStop: removal.removed,
    close: async () => {
      removal.stop();
      if (isRemoved(host)) await waitReleased(host);
      else if (c.drainOnExit) await drainSelf(host, rebalancer, nodeLog);
      rebalancer.close();
      await executor.close();
      await host.close();
      if (admin !== null) await new Promise<void>((resolve) => admin.close(() => resolve()));
      await transport.close();
      await store.close();
    },
  };
}

/**
 * `--join`, once per data directory: a restarted member already knows the cluster from its
 * stored meta group, and must not wait for the peer it first joined through.
 */
async function joinOnce(host: ClusterHost, store: LevelLogStore, via: HostPort, log: Logger, tls: PeerTlsOptions | undefined): Promise<void> {
  if ((await store.getMeta('joined')) !== undefined) return log.info('already joined (data directory): --join not needed');
  await joinCluster(host, via, 'memraft', Date.now() + 60_000, tls);
  await store.putMeta('joined', Buffer.from('1'));
}

/** The PEM contents of the --peer-tls-* files (a missing file is a usage error). */
async function readPeerTls(files: PeerTlsFiles | null): Promise<PeerTlsOptions | undefined> {
  if (files === null) return undefined;
  const read = async (file: string, flag: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new UsageError(`--${flag}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  return { cert: await read(files.cert, 'peer-tls-cert'), key: await read(files.key, 'peer-tls-key'), ca: await read(files.ca, 'peer-tls-ca') };
}

async function checkNodeId(store: LevelLogStore, nodeId: NodeId): Promise<void> {
  const stored = await store.getMeta('node-id');
  if (stored === undefined) {
    await store.putMeta('node-id', Buffer.from(String(nodeId)));
    return;
  }
  const was = Number(Buffer.from(stored).toString());
  if (was !== nodeId) throw new UsageError(`the data directory belongs to node ${was}, not ${nodeId}`);
}

/** Longest a --drain-on-exit shutdown waits for the drain. */
const drainOnExitMs = 300_000;

/** --drain-on-exit: asks for our drain and waits until the meta state says `removed`. */
async function drainSelf(host: ClusterHost, rebalancer: Rebalancer, log: Logger): Promise<void> {
  const me = host.config.nodeId;
  const deadline = Date.now() + drainOnExitMs;
  log.info('draining before exit');
  while (Date.now() < deadline) {
    const state = host.meta.node(me)?.state;
    if (state === 'removed' || state === undefined) return log.info('drained');
    if (state !== 'draining') {
      const answer = (await rebalancer.ctl('drain', me)) as { e?: string; code?: string };
      // Too few nodes to take our replicas: waiting would only hold the shutdown up (a
      // Kubernetes preStop would be cut short anyway). Other refusals (no meta leader
      // during an election) pass: ask again.
      if (answer.code === 'too-few-nodes') return log.warn({ err: answer.e }, 'cannot drain: exiting without draining');
      if (answer.e !== undefined) log.warn({ err: answer.e }, 'drain refused, retrying');
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  log.warn('drain did not finish in time; exiting anyway');
}
