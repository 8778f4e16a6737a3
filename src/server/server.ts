/**
 * The memcached-protocol TCP listener: accepts client connections up to `-c`, hands each to
 * a ClientConnection bound to the injected Executor, answers `stats` with the server's own
 * figures merged in, and shuts down gracefully (stop accepting, finish in-flight requests,
 * close the executor).
 */
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ProtocolLimits } from '../protocol/request.js';
import type { Codec } from './codec.js';
import { ClientConnection, defaultConnectionLimits } from './connection.js';
import type { ConnectionContext, ConnectionLimits } from './connection.js';
import type { Executor } from './executor.js';
import { ServerCounters, generalStats } from './server-stats.js';
import type { HostPort, TlsFiles } from './config.js';
import type { Credentials } from './auth-file.js';
import { createClientListener, reloadTlsContext } from './client-tls.js';

/** What a server is built from. The executor is injected: local or cluster. */
export interface ServerOptions {
  listen: HostPort;
  connectionsMax: number;
  protocolLimits: ProtocolLimits;
  /** Defaults from `defaultConnectionLimits(protocolLimits)`. */
  connectionLimits?: ConnectionLimits;
  executor: Executor;
  codec: Codec;
  log: Logger;
  version: string;
  /** Memory limit reported in `stats settings` (maxbytes). */
  memoryBytesMax: number;
  /** How long shutdown waits for in-flight requests before dropping connections. */
  shutdownGraceMs?: number;
  /** `--tls-cert/--tls-key[/--tls-ca]`: the client port speaks TLS only. */
  tls?: TlsFiles | null;
  /** `-Y`: clients must authenticate (ASCII auth or SASL PLAIN) against these. */
  credentials?: Credentials | null;
  /** Counters to bump (shared with the admin /metrics); fresh ones when absent. */
  counters?: ServerCounters;
  /** --idle-timeout in ms (0: never), when connectionLimits is not given. */
  idleTimeoutMs?: number;
}

// memcached's exact reply when over -c; it then closes the connection.
const tooManyConnectionsReply = Buffer.from('ERROR Too many open connections\r\n');

/** A running client listener. */
export class MemraftServer {
  /** Server-level counters (connections, bytes). */
  readonly counters: ServerCounters;
  private readonly listener: net.Server;
  private readonly connections = new Set<ClientConnection>();
  private readonly context: ConnectionContext;
  private shuttingDown: Promise<void> | null = null;
  private onAllClosed: (() => void) | null = null;

  constructor(private readonly options: ServerOptions) {
    this.counters = options.counters ?? new ServerCounters();
    this.context = {
      executor: options.executor,
      codec: options.codec,
      counters: this.counters,
      limits: options.connectionLimits ?? defaultConnectionLimits(options.protocolLimits, options.idleTimeoutMs ?? 0),
      auth: options.credentials?.check ?? null,
      log: options.log,
      version: options.version,
      stats: (group) => this.stats(group),
      onClose: (connection) => this.onConnectionClose(connection),
    };
    this.listener = createClientListener(options.tls ?? null, (socket) => this.accept(socket));
    this.listener.on('error', (err) => {
      // Before listening succeeds, start() reports the error to its caller instead.
      if (this.listener.listening) options.log.error({ err }, 'listener error');
    });
    // A failed handshake (plaintext client, wrong certificate): Node destroys that socket.
    this.listener.on('tlsClientError', (err: Error) => {
      this.counters.tlsHandshakeErrors++;
      options.log.debug({ err: err.message }, 'TLS handshake failed');
    });
  }

  /**
   * SIGHUP, as memcached: reads the TLS certificate, key and CA and the auth file again.
   * What fails to load is logged and the old one stays in force.
   */
  reload(): void {
    const { tls, credentials, log } = this.options;
    if (tls !== undefined && tls !== null) {
      try {
        reloadTlsContext(this.listener, tls);
        log.info({ cert: tls.certFile }, 'TLS certificate reloaded');
      } catch (err) {
        log.error({ err: String(err) }, 'TLS reload failed; keeping the old certificate');
      }
    }
    if (credentials !== undefined && credentials !== null) {
      try {
        credentials.reload();
        log.info('auth file reloaded');
      } catch (err) {
        log.error({ err: String(err) }, 'auth file reload failed; keeping the old credentials');
      }
    }
  }

  /** Starts listening; resolves with the bound address (useful with port 0). */
  start(): Promise<AddressInfo> {
    const { host, port } = this.options.listen;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.listener.once('error', onError);
      this.listener.listen({ host, port, backlog: 1024 }, () => {
        this.listener.off('error', onError);
        resolve(this.listener.address() as AddressInfo);
      });
    });
  }

  /** Number of open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * memcached `stats <group>`: server figures merged with the executor's. As in memcached's
   * process_stat, some groups are commands: `reset` zeroes the counters, `detail on|off`
   * is accepted (memraft keeps no per-prefix stats, so `detail dump` is empty).
   */
  stats(group: string): Array<[string, string]> | null {
    const executor = this.options.executor;
    switch (group) {
      case 'reset':
        this.counters.reset();
        executor.resetStats();
        return [];
      case 'detail on':
      case 'detail off':
      case 'detail dump':
        return [];
      case 'sizes':
        // memcached without -o track_sizes.
        return [['sizes_status', 'disabled']];
      case '': {
        const general = generalStats(
          this.counters,
          { version: this.options.version, connectionsMax: this.options.connectionsMax },
          executor.stats('') ?? [],
        );
        // As memcached: the TLS figures only when TLS is on.
        if (this.options.tls) general.push(['ssl_handshake_errors', String(this.counters.tlsHandshakeErrors)]);
        return general;
      }
      case 'settings':
        return this.settingsStats(executor.stats('settings') ?? []);
      case 'conns':
        return [['curr_connections', String(this.counters.currConnections)]];
      default:
        return executor.stats(group);
    }
  }

  /**
   * Stops accepting, lets every connection finish and write what it has in flight, then
   * closes the executor. Connections still busy after the grace period are dropped.
   */
  /** The executor the connections run their requests on. */
  get executor(): Executor {
    return this.options.executor;
  }

  shutdown(): Promise<void> {
    this.shuttingDown ??= this.runShutdown();
    return this.shuttingDown;
  }

  private async runShutdown(): Promise<void> {
    const log = this.options.log;
    log.info({ connections: this.connections.size }, 'shutting down');
    const listenerClosed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    const drained = new Promise<void>((resolve) => {
      this.onAllClosed = resolve;
      if (this.connections.size === 0) resolve();
    });
    for (const connection of this.connections) connection.shutdown();
    const graceMs = this.options.shutdownGraceMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), graceMs);
    });
    if ((await Promise.race([drained, expired])) === 'expired') {
      log.warn({ connections: this.connections.size }, 'shutdown grace period over, dropping connections');
      for (const connection of this.connections) connection.destroy();
    }
    clearTimeout(timer);
    await listenerClosed;
    await this.options.executor.close();
    log.info('shut down');
  }

  private accept(socket: net.Socket): void {
    const counters = this.counters;
    if (this.shuttingDown !== null) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.options.connectionsMax) {
      counters.rejectedConnections++;
      socket.on('error', () => {});
      // Close fully once written, whether or not the client closes its side.
      socket.end(tooManyConnectionsReply, () => socket.destroy());
      return;
    }
    try {
      const connection = new ClientConnection(socket, this.context);
      this.connections.add(connection);
      counters.currConnections++;
      counters.totalConnections++;
    } catch (err) {
      this.options.log.error({ err }, 'failed to set up a connection');
      socket.destroy();
    }
  }

  private onConnectionClose(connection: ClientConnection): void {
    if (!this.connections.delete(connection)) return;
    this.counters.currConnections--;
    if (this.connections.size === 0 && this.onAllClosed !== null) this.onAllClosed();
  }

  private settingsStats(executorSettings: Array<[string, string]>): Array<[string, string]> {
    const { listen, connectionsMax, protocolLimits, memoryBytesMax } = this.options;
    const own: Array<[string, string]> = [
      ['maxbytes', String(memoryBytesMax)],
      ['maxconns', String(connectionsMax)],
      ['tcpport', String(listen.port)],
      ['udpport', '0'],
      ['inter', listen.host],
      ['verbosity', '0'],
      ['evictions', 'on'],
      ['num_threads', '1'],
      ['cas_enabled', 'yes'],
      ['binding_protocol', 'auto-negotiate'],
      ['auth_enabled_sasl', this.options.credentials ? 'yes' : 'no'],
      ['auth_enabled_ascii', this.options.credentials?.file ?? 'no'],
      ['ssl_enabled', this.options.tls ? 'yes' : 'no'],
      ['item_size_max', String(protocolLimits.itemBytesMax)],
      ['key_max_length', String(protocolLimits.keyBytesMax)],
      ['idle_timeout', String(Math.round((this.options.idleTimeoutMs ?? 0) / 1000))],
    ];
    const names = new Set(own.map(([name]) => name));
    return [...own, ...executorSettings.filter(([name]) => !names.has(name))];
  }
}
