/**
 * `memraft serve`: wires config -> logger, executor, codec, server; runs until SIGTERM or
 * SIGINT, then shuts down gracefully. The executor is chosen here, so the cluster executor
 * slots in beside the local one without touching connections or the listener.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { ProtocolLimits } from '../protocol/request.js';
import { defaultProtocolLimits } from '../protocol/request.js';
import { Credentials } from './auth-file.js';
import { checkTlsFiles } from './client-tls.js';
import { startClusterNode } from './cluster-node.js';
import { isClusterConfig } from './config.js';
import type { ServeConfig } from './config.js';
import type { Executor } from './executor.js';
import { createLocalExecutor } from './local-node.js';
import { prettyDestination } from './log-format.js';
import { protocolCodec } from './protocol-codec.js';
import { MemraftServer } from './server.js';
import { ServerCounters } from './server-stats.js';
import { wireVersion } from './version.js';

/** Runs a node until a shutdown signal; resolves once it has shut down. */
export async function runServe(config: ServeConfig): Promise<void> {
  const options = { level: config.logLevel, base: { pid: process.pid } };
  const log = config.logFormat === 'pretty' ? pino(options, prettyDestination()) : pino(options);
  const server = await startServer(config, log);
  const onHangup = (): void => server.reload();
  const { tls, authFile } = config.clientSecurity;
  // SIGHUP would end the process by default: take it over only when there is something to reload.
  if (tls !== null || authFile !== null) process.on('SIGHUP', onHangup);
  const never = new Promise<never>(() => {});
  const stop = await Promise.race([waitForSignal(log).then(() => null), server.executor.mustStop ?? never]);
  process.off('SIGHUP', onHangup);
  if (stop !== null) log.error({ err: stop.message }, 'stopping: this node must not serve');
  await server.shutdown();
  // A removed node exits non-zero with its one-line reason (main.ts prints coded errors so).
  if (stop !== null) throw stop;
}

/** Builds and starts a server for `config` (no signal handling). */
export async function startServer(config: ServeConfig, log: Logger): Promise<MemraftServer> {
  const protocolLimits: ProtocolLimits = { ...defaultProtocolLimits, itemBytesMax: config.itemBytesMax };
  const { tls, authFile } = config.clientSecurity;
  // Read before anything starts: a missing file is a startup error, not a half-started node.
  const credentials = authFile === null ? null : Credentials.load(authFile);
  if (tls !== null) checkTlsFiles(tls);
  // One set of connection counters for `stats` and the admin /metrics.
  const counters = new ServerCounters();
  const executor = await createExecutor(config, protocolLimits, log, counters);
  const server = new MemraftServer({
    listen: config.listen,
    connectionsMax: config.connectionsMax,
    protocolLimits,
    executor,
    codec: protocolCodec,
    log,
    version: wireVersion,
    memoryBytesMax: config.memoryMb * 1024 * 1024,
    tls,
    credentials,
    counters,
    idleTimeoutMs: config.idleTimeoutMs,
  });
  const address = await server.start().catch(async (err: unknown) => {
    await executor.close(); // a cluster node's timers and sockets would keep the process alive
    throw err;
  });
  const mode = isClusterConfig(config) ? 'cluster' : 'standalone';
  log.info({ host: address.address, port: address.port, memoryMb: config.memoryMb, mode, tls: tls !== null, auth: authFile !== null }, 'listening');
  return server;
}

async function createExecutor(config: ServeConfig, protocolLimits: ProtocolLimits, log: Logger, counters: ServerCounters): Promise<Executor> {
  // Cluster flags: this process is a node of a Raft cluster (src/cluster/node.ts).
  if (isClusterConfig(config)) return startClusterNode(config, log, counters);
  return createLocalExecutor(config.memoryMb * 1024 * 1024, protocolLimits.itemBytesMax);
}

function waitForSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'signal received');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
