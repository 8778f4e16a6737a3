/**
 * The /metrics series about what happened on a node besides serving requests: client
 * connections, forwarded requests, elections and leader changes, moves, snapshots and the
 * bytes moves carried, and the memory the node holds (items vs -m, the in-memory Raft
 * log). Every series carries the `node` label. docs/operations.md lists them.
 */
import type { ClusterHost } from '../cluster/host.js';
import { metricLines } from '../cluster/metrics.js';
import type { ServerCounters } from './server-stats.js';

/** Sum of a per-replica counter over live replicas and those destroyed here. */
function replicaTotal(host: ClusterHost, pick: (r: { elections: number; leaderChanges: number; snapshotsTaken: number; snapshotsInstalled: number }) => number): number {
  let sum = pick(host.metrics.retired);
  for (const r of host.replicas.values()) sum += pick(r);
  return sum;
}

/** Connection series (absent when the node runs without a client listener, as in tests). */
export function connectionLines(node: string, connections: ServerCounters | undefined): string[] {
  if (connections === undefined) return [];
  return [
    ...metricLines('memraft_connections', 'gauge', 'Open client connections (memcached curr_connections).', [[`{${node}}`, connections.currConnections]]),
    ...metricLines('memraft_connections_total', 'counter', 'Client connections accepted (memcached total_connections; `stats reset` zeroes it).', [[`{${node}}`, connections.totalConnections]]),
    ...metricLines('memraft_connections_rejected_total', 'counter', 'Client connections refused over -c.', [[`{${node}}`, connections.rejectedConnections]]),
  ];
}

/** Raft, move, snapshot and memory series. */
export function eventLines(host: ClusterHost, node: string): string[] {
  const m = host.metrics;
  const one = (value: number): Array<[string, number]> => [[`{${node}}`, value]];
  let itemBytes = 0;
  let limitBytes = 0;
  let logBytes = 0;
  for (const r of host.replicas.values()) {
    logBytes += r.logBytes;
    const f = host.figuresOf(r);
    if (f === null) continue;
    itemBytes += f.bytes;
    limitBytes += f.limitBytes;
  }
  return [
    ...metricLines('memraft_forwarded_requests_total', 'counter', 'Requests sent on to another node\'s leader (each try).', one(m.paths.forwarded)),
    ...metricLines('memraft_elections_total', 'counter', 'Elections seen by replicas here: each new Raft term a replica enters counts one.', one(replicaTotal(host, (r) => r.elections))),
    ...metricLines('memraft_leader_changes_total', 'counter', 'Times a replica here learned of a new group leader.', one(replicaTotal(host, (r) => r.leaderChanges))),
    ...metricLines('memraft_moves_total', 'counter', 'Replica moves this node drove as meta leader, by event.', [
      [`{${node},event="started"}`, m.moves.started],
      [`{${node},event="done"}`, m.moves.done],
      [`{${node},event="aborted"}`, m.moves.aborted],
    ]),
    ...metricLines('memraft_snapshots_total', 'counter', 'Raft snapshots: sent to followers, received, applied (installed) and taken (compaction).', [
      [`{${node},event="sent"}`, m.snapshots.sent],
      [`{${node},event="received"}`, m.snapshots.received],
      [`{${node},event="applied"}`, replicaTotal(host, (r) => r.snapshotsInstalled)],
      [`{${node},event="taken"}`, replicaTotal(host, (r) => r.snapshotsTaken)],
    ]),
    ...metricLines('memraft_snapshot_bytes_sent_total', 'counter', 'Snapshot data bytes sent to followers.', one(m.snapshots.sentBytes)),
    ...metricLines('memraft_moved_bytes_total', 'counter', 'Snapshot data bytes sent to the target of a move in flight.', one(m.bytesMoved)),
    ...metricLines('memraft_item_bytes', 'gauge', 'Item bytes (memcached `bytes`) held by every replica on this node.', one(itemBytes)),
    ...metricLines('memraft_limit_bytes', 'gauge', 'Sum of the memory limits of the replicas on this node (at most -m).', one(limitBytes)),
    ...metricLines('memraft_raft_log_bytes', 'gauge', 'Payload bytes of the Raft log entries held in memory.', one(logBytes)),
    ...processMemoryLines(node),
  ];
}

/** The process's memory as Node reports it: where RSS goes (docs/perf/memory.md). */
function processMemoryLines(node: string): string[] {
  const u = process.memoryUsage();
  return metricLines('memraft_process_memory_bytes', 'gauge', 'process.memoryUsage(): rss, JS heap used/total, external (Buffers), arrayBuffers.', [
    [`{${node},kind="rss"}`, u.rss],
    [`{${node},kind="heap_used"}`, u.heapUsed],
    [`{${node},kind="heap_total"}`, u.heapTotal],
    [`{${node},kind="external"}`, u.external],
    [`{${node},kind="array_buffers"}`, u.arrayBuffers],
  ]);
}
