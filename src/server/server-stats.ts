/**
 * Connection-level figures the server counts itself, and how they merge with the executor's
 * op and item figures into memcached's `stats` answers (same names, memcached's order).
 */
import { cpuUsage } from 'node:process';

/** Counters owned by the server and bumped by connections. Plain fields: they are hot. */
export class ServerCounters {
  /** Unix ms when the server started. */
  readonly startedMs = Date.now();
  currConnections = 0;
  totalConnections = 0;
  rejectedConnections = 0;
  bytesRead = 0;
  bytesWritten = 0;
  /** Times a connection paused reading for backpressure (memcached's conn_yields is close). */
  connYields = 0;
  /** TLS handshakes that failed (plaintext clients on a TLS port, refused certificates). */
  tlsHandshakeErrors = 0;
  /** Connections closed by --idle-timeout (memcached's idle_kicks). */
  idleKicks = 0;

  /** memcached `stats reset`: the totals go to zero; current connections stay. */
  reset(): void {
    this.totalConnections = 0;
    this.rejectedConnections = 0;
    this.bytesRead = 0;
    this.bytesWritten = 0;
    this.connYields = 0;
    this.tlsHandshakeErrors = 0;
    this.idleKicks = 0;
  }
}

/** Static facts the general stats report. */
export interface ServerFacts {
  version: string;
  connectionsMax: number;
}

/**
 * The general `stats` answer: server figures first (pid .. connections), then the
 * executor's, with bytes_read/bytes_written placed before limit_maxbytes as memcached does.
 */
export function generalStats(
  counters: ServerCounters,
  facts: ServerFacts,
  executorStats: Array<[string, string]>,
): Array<[string, string]> {
  const nowMs = Date.now();
  const cpu = cpuUsage();
  const head: Array<[string, string]> = [
    ['pid', String(process.pid)],
    ['uptime', String(Math.floor((nowMs - counters.startedMs) / 1000))],
    ['time', String(Math.floor(nowMs / 1000))],
    ['version', facts.version],
    ['pointer_size', '64'],
    ['rusage_user', formatSeconds(cpu.user)],
    ['rusage_system', formatSeconds(cpu.system)],
    ['max_connections', String(facts.connectionsMax)],
    ['curr_connections', String(counters.currConnections)],
    ['total_connections', String(counters.totalConnections)],
    ['rejected_connections', String(counters.rejectedConnections)],
    ['connection_structures', String(counters.currConnections)],
  ];
  const io: Array<[string, string]> = [
    ['bytes_read', String(counters.bytesRead)],
    ['bytes_written', String(counters.bytesWritten)],
  ];
  const at = executorStats.findIndex(([name]) => name === 'limit_maxbytes');
  const tail: Array<[string, string]> = [['conn_yields', String(counters.connYields)], ['idle_kicks', String(counters.idleKicks)]];
  if (at < 0) return [...head, ...executorStats, ...io, ...tail];
  return [...head, ...executorStats.slice(0, at), ...io, ...executorStats.slice(at), ...tail];
}

/** memcached prints rusage as seconds.microseconds. */
function formatSeconds(micros: number): string {
  const seconds = Math.floor(micros / 1e6);
  const rest = String(Math.floor(micros % 1e6)).padStart(6, '0');
  return `${seconds}.${rest}`;
}
