/**
 * What a node reports about itself: the admin /status JSON, the /metrics text, and the
 * memcached `stats` / `stats raft` answers.
 */
import type { ClusterHost } from '../cluster/host.js';
import { metricLines } from '../cluster/metrics.js';
import { connectionLines, eventLines } from './node-metrics.js';
import type { ServerCounters } from './server-stats.js';
import type { Replica } from '../cluster/replica.js';
import type { OpCounters } from './op-counters.js';

/** One group as /status shows it. */
export interface GroupStatus {
  id: number;
  role: string;
  term: number;
  commit: number;
  applied: number;
  leader: number;
  firstIndex: number;
  lastIndex: number;
  items: number;
  bytes: number;
  /** The group's memory limit (its share of -m, see membership groupMemoryBytes). */
  limitBytes: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  /** State digest at `applied` (only when asked for: it walks the whole state). */
  digest?: string;
}

function groupStatus(host: ClusterHost, r: Replica, withDigest: boolean): GroupStatus {
  const st = r.raft.status();
  const figures = host.figuresOf(r);
  const g: GroupStatus = {
    id: r.group,
    role: r.role,
    term: st.term,
    commit: st.commit,
    applied: r.machine.appliedIndex,
    leader: r.lead,
    firstIndex: r.storage.firstIndex(),
    lastIndex: r.storage.lastIndex(),
    items: figures?.currItems ?? 0,
    bytes: figures?.bytes ?? 0,
    limitBytes: figures?.limitBytes ?? 0,
    snapshotsTaken: r.snapshotsTaken,
    snapshotsInstalled: r.snapshotsInstalled,
  };
  if (withDigest) g.digest = r.machine.digest();
  return g;
}

/** The admin /status document. */
export function statusJson(host: ClusterHost, withDigest: boolean): unknown {
  const c = host.config;
  const groups = [...host.replicas.values()].sort((a, b) => a.group - b.group).map((r) => groupStatus(host, r, withDigest));
  const view = host.meta.view;
  return {
    node: { id: c.nodeId, peer: c.peerAddress, client: c.clientAddress, admin: c.adminAddress, pid: process.pid },
    ready: host.allGroupsHaveLeaders(),
    leaderOf: groups.filter((g) => g.role === 'leader' && g.id !== 0).length,
    groups,
    meta: { bootstrapped: view.bootstrapped, appliedIndex: view.appliedIndex, config: view.config, nodes: view.nodes, groups: view.groups, moves: view.moves },
  };
}

/** The replicated counters of each group as of the last `stats reset` here (see resetBaseline). */
export type StatsBaseline = Map<number, { totalItems: number; evictions: number }>;

/**
 * memcached's `stats reset` zeroes total_items and evictions too. They are replicated state
 * (every replica must count alike), so a node cannot change them: it remembers every
 * group's figures at the reset and reports the growth since.
 */
export function resetBaseline(host: ClusterHost): StatsBaseline {
  const baseline: StatsBaseline = new Map();
  for (const r of host.replicas.values()) {
    const f = host.figuresOf(r);
    if (f !== null) baseline.set(r.group, { totalItems: f.totalItems, evictions: f.evictions });
  }
  return baseline;
}

/**
 * Item figures summed over the groups this node leads (its share of the cluster's data);
 * with a baseline, the counters count from the last `stats reset`.
 */
export function ledFigures(host: ClusterHost, baseline?: StatsBaseline): { items: number; totalItems: number; bytes: number; evictions: number } {
  const sum = { items: 0, totalItems: 0, bytes: 0, evictions: 0 };
  for (const r of host.replicas.values()) {
    if (!r.isLeader) continue;
    const f = host.figuresOf(r);
    if (f === null) continue;
    const b = baseline?.get(r.group);
    sum.items += f.currItems;
    sum.totalItems += Math.max(0, f.totalItems - (b?.totalItems ?? 0));
    sum.bytes += f.bytes;
    sum.evictions += Math.max(0, f.evictions - (b?.evictions ?? 0));
  }
  return sum;
}

/** memcached's general stats (executor part): counters, then item figures of led groups. */
export function nodeStats(host: ClusterHost, counters: OpCounters, limitMaxBytes: number, baseline?: StatsBaseline): Array<[string, string]> {
  const led = ledFigures(host, baseline);
  return [
    ...counters.entries(),
    ['get_expired', '0'],
    ['get_flushed', '0'],
    ...counters.outcomeEntries(),
    ['limit_maxbytes', String(limitMaxBytes)],
    ['threads', '1'],
    ['curr_items', String(led.items)],
    ['total_items', String(led.totalItems)],
    ['bytes', String(led.bytes)],
    ['evictions', String(led.evictions)],
  ];
}

/** `stats items` / `stats slabs` as one summary class over the groups this node leads. */
export function itemStats(host: ClusterHost, group: 'items' | 'slabs', baseline?: StatsBaseline): Array<[string, string]> {
  const led = ledFigures(host, baseline);
  if (group === 'items') {
    return [
      ['items:1:number', String(led.items)],
      ['items:1:evicted', String(led.evictions)],
    ];
  }
  return [
    ['1:used_chunks', String(led.items)],
    ['1:mem_requested', String(led.bytes)],
    ['active_slabs', led.items > 0 ? '1' : '0'],
    ['total_malloced', String(led.bytes)],
  ];
}

/** `stats raft`: per-group Raft figures. */
/** Node-to-node traffic so far (the transport's counters). */
export interface PeerTraffic {
  framesSent: number;
  framesReceived: number;
  messagesSent: number;
  bytesSent: number;
  /** Authenticated peer connections closed for malformed frames (the transport's protocolErrors). */
  protocolErrors?: number;
}

/** Malformed peer frames and messages dropped, each of which reset its link. */
export function peerBadMessages(host: ClusterHost, traffic?: PeerTraffic): number {
  return host.metrics.peerBadMessages + (traffic?.protocolErrors ?? 0);
}

/** `stats raft`: per-group Raft figures, the paths requests took, and peer traffic. */
export function raftStats(host: ClusterHost, traffic?: PeerTraffic): Array<[string, string]> {
  const out: Array<[string, string]> = [['node_id', String(host.config.nodeId)]];
  const p = host.metrics.paths;
  out.push(['requests_follower_read', String(p.followerReads)], ['requests_local', String(p.local)]);
  out.push(['requests_forwarded', String(p.forwarded)], ['requests_served', String(p.served)]);
  out.push(['peer_bad_messages', String(peerBadMessages(host, traffic))]);
  if (traffic !== undefined) {
    out.push(['peer_frames_sent', String(traffic.framesSent)], ['peer_frames_received', String(traffic.framesReceived)]);
    out.push(['peer_messages_sent', String(traffic.messagesSent)], ['peer_bytes_sent', String(traffic.bytesSent)]);
  }
  for (const r of [...host.replicas.values()].sort((a, b) => a.group - b.group)) {
    const st = r.raft.status();
    const p = `group_${r.group}_`;
    out.push([p + 'role', r.role], [p + 'leader', String(r.lead)], [p + 'term', String(st.term)]);
    out.push([p + 'commit', String(st.commit)], [p + 'applied', String(r.machine.appliedIndex)]);
    out.push([p + 'last_index', String(r.storage.lastIndex())], [p + 'proposals', String(r.proposedEntries)]);
  }
  return out;
}

const roleCodes: Record<string, number> = { follower: 0, precandidate: 1, candidate: 2, leader: 3 };

/** The /metrics document (Prometheus text format). */
export function metricsText(host: ClusterHost, counters: OpCounters | null, traffic?: PeerTraffic, connections?: ServerCounters): string {
  const node = `node="${host.config.nodeId}"`;
  const lines: string[] = connectionLines(node, connections);
  if (counters !== null) {
    const c = counters;
    lines.push(...metricLines('memraft_cmd_total', 'counter', 'Client commands by kind.', [
      [`{${node},cmd="get"}`, c.cmd_get],
      [`{${node},cmd="set"}`, c.cmd_set],
      [`{${node},cmd="touch"}`, c.cmd_touch],
      [`{${node},cmd="flush"}`, c.cmd_flush],
    ]));
    lines.push(...metricLines('memraft_get_hits_total', 'counter', 'Get hits.', [[`{${node}}`, c.get_hits]]));
    lines.push(...metricLines('memraft_get_misses_total', 'counter', 'Get misses.', [[`{${node}}`, c.get_misses]]));
  }
  const led = ledFigures(host);
  lines.push(...metricLines('memraft_items', 'gauge', 'Items in the groups this node leads.', [[`{${node}}`, led.items]]));
  lines.push(...metricLines('memraft_bytes', 'gauge', 'Bytes in the groups this node leads.', [[`{${node}}`, led.bytes]]));
  lines.push(...metricLines('memraft_evictions_total', 'counter', 'Evictions in the groups this node leads.', [[`{${node}}`, led.evictions]]));
  const rs = [...host.replicas.values()].sort((a, b) => a.group - b.group);
  const per = (f: (r: Replica) => number): Array<[string, number]> => rs.map((r) => [`{${node},group="${r.group}"}`, f(r)]);
  lines.push(...metricLines('memraft_group_role', 'gauge', 'Raft role: 0 follower, 1 precandidate, 2 candidate, 3 leader.', per((r) => roleCodes[r.role] ?? 0)));
  lines.push(...metricLines('memraft_group_term', 'gauge', 'Raft term.', per((r) => r.raft.status().term)));
  lines.push(...metricLines('memraft_group_commit', 'gauge', 'Raft commit index.', per((r) => r.raft.status().commit)));
  lines.push(...metricLines('memraft_group_applied', 'gauge', 'Applied index.', per((r) => r.machine.appliedIndex)));
  const p = host.metrics.paths;
  lines.push(...metricLines('memraft_requests_total', 'counter', 'Requests arriving here by the path they took (follower_read, local leader, forwarded; served = forwarded to us).', [
    [`{${node},path="follower_read"}`, p.followerReads],
    [`{${node},path="local"}`, p.local],
    [`{${node},path="forwarded"}`, p.forwarded],
    [`{${node},path="served"}`, p.served],
  ]));
  if (traffic !== undefined) {
    lines.push(...metricLines('memraft_peer_frames_total', 'counter', 'Frames (one socket write each) to and from peers.', [
      [`{${node},dir="sent"}`, traffic.framesSent],
      [`{${node},dir="received"}`, traffic.framesReceived],
    ]));
    lines.push(...metricLines('memraft_peer_messages_sent_total', 'counter', 'Messages to peers (many per frame).', [[`{${node}}`, traffic.messagesSent]]));
    lines.push(...metricLines('memraft_peer_bytes_sent_total', 'counter', 'Bytes of frames to peers.', [[`{${node}}`, traffic.bytesSent]]));
  }
  lines.push(...metricLines('memraft_peer_bad_messages_total', 'counter', 'Malformed peer frames and messages dropped (each reset its link).', [[`{${node}}`, peerBadMessages(host, traffic)]]));
  lines.push(...eventLines(host, node));
  lines.push(...host.metrics.proposalSeconds.render('memraft_proposal_seconds', 'Proposal to committed result, at the leader.', node));
  lines.push(...host.metrics.fsyncSeconds.render('memraft_fsync_seconds', 'Durable log write per flush (all groups).', node));
  return lines.join('\n') + '\n';
}
