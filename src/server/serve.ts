/**
 * `memraft serve`: wires config -> logger, executor, codec, server; runs until SIGTERM or
 * SIGINT, then shuts down gracefully. The executor is chosen here, so the cluster executor
 * slots in beside the local one without touching connections or the listener.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { ProtocolLimits } from '../protocol/request.js';
import { defaultProtocolLimits } from '../protocol/request.js';
import { startClusterNode } from './cluster-node.js';
import { isClusterConfig } from './config.js';
import type { ServeConfig } from './config.js';
import type { Executor } from './executor.js';
import { createLocalExecutor } from './local-node.js';
import { protocolCodec } from './protocol-codec.js';
import { MemraftServer } from './server.js';
import { wireVersion } from './version.js';

/** Runs a node until a shutdown signal; resolves once it has shut down. */
export async function runServe(config: ServeConfig): Promise<void> {
  const log = pino({ level: config.logLevel, base: { pid: process.pid } });
  const server = await startServer(config, log);
  await waitForSignal(log);
  await server.shutdown();
}

/** Builds and starts a server for `config` (no signal handling). */
export async function startServer(config: ServeConfig, log: Logger): Promise<MemraftServer> {
  const protocolLimits: ProtocolLimits = { ...defaultProtocolLimits, itemBytesMax: config.itemBytesMax };
  const executor = await createExecutor(config, protocolLimits, log);
  const server = new MemraftServer({
    listen: config.listen,
    connectionsMax: config.connectionsMax,
    protocolLimits,
    executor,
    codec: protocolCodec,
    log,
    version: wireVersion,
    memoryBytesMax: config.memoryMb * 1024 * 1024,
    idleTimeoutMs: config.idleTimeoutMs,
  });
  const address = await server.start().catch(async (err: unknown) => {
    await executor.close(); // a cluster node's timers and sockets would keep the process alive
    throw err;
  });
  const mode = isClusterConfig(config) ? 'cluster' : 'standalone';
  log.info({ host: address.address, port: address.port, memoryMb: config.memoryMb, mode }, 'listening');
  return server;
}

async function createExecutor(config: ServeConfig, protocolLimits: ProtocolLimits, log: Logger): Promise<Executor> {
  // Cluster flags: this process is a node of a Raft cluster (src/cluster/node.ts).
  if (isClusterConfig(config)) return startClusterNode(config, log);
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
