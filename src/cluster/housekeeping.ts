/**
 * What a node does on its tick besides ticking Raft (DESIGN.md §3, §6): leader-proposed
 * bump and expire entries, leader balancing, the meta duties (bootstrap the ranges, register
 * our addresses), destroying replicas moved away, saving commit indexes, and failing work
 * that waited too long. Every interval is a multiple of the tick; nothing here keeps its
 * own timer.
 */
import { initialPlacement, memoryBytesPerGroup, type MetaCommand } from '../membership/index.js';
import type { NodeId } from '../raft/types.js';
import type { RaftStatusView } from './contracts.js';
import { metaGroupId } from './forwarder.js';
import type { ClusterHost } from './host.js';

/** A peer counts as alive (for leader balancing) when heard from within this long. */
const peerAliveMs = 2000;

/** How often the meta duties, replica clean-up and commit-index saves run. */
const metaDutiesIntervalMs = 1000;

/** How often proposals and read rounds that waited too long are failed (a follower read's limit is 300 ms). */
const expireWaitingIntervalMs = 100;

/** The tick duties of one node. */
export class Housekeeping {
  private ticks = 0;
  private bootstrapInFlight = false;
  private registerInFlight = false;

  constructor(private readonly host: ClusterHost) {}

  /** Runs the duties due at this tick. */
  onTick(): void {
    this.ticks++;
    const c = this.host.config;
    const nowMs = this.host.runtime.monoMs();
    this.host.forwarder.sweepDeadlines(nowMs);
    if (this.due(c.bumpIntervalMs)) this.proposeBumps();
    if (this.due(c.expireIntervalMs)) this.proposeExpires();
    if (this.due(c.balanceIntervalMs)) this.balanceLeaders(nowMs);
    if (this.due(metaDutiesIntervalMs)) {
      this.metaDuties();
      if (this.host.meta.view.bootstrapped) this.host.destroyUnplaced();
      this.host.saveHardStates();
    }
    if (this.due(expireWaitingIntervalMs)) {
      for (const r of this.host.replicas.values()) r.expireWaiting(nowMs);
    }
  }

  private due(intervalMs: number): boolean {
    return this.ticks % Math.max(1, Math.round(intervalMs / this.host.config.tickMs)) === 0;
  }

  private proposeBumps(): void {
    for (const r of this.host.replicas.values()) {
      if (!r.isLeader || r.cacheMachine === null) continue;
      const keys = r.takeBumpKeys();
      if (keys.length > 0) r.queueHousekeeping({ type: 'bump', keys });
    }
  }

  private proposeExpires(): void {
    for (const r of this.host.replicas.values()) {
      // An empty cache has nothing to expire: idle groups add nothing to their logs.
      if (!r.isLeader || r.cacheMachine === null || (this.host.figuresOf(r)?.currItems ?? 0) === 0) continue;
      r.queueHousekeeping({ type: 'expire', scanMax: this.host.config.expireScanMax });
    }
  }

  /**
   * Leader balancing: a leader hands leadership to the first replica in its group's list
   * that is alive (heard from recently). The lists rotate over the nodes (placement.ts),
   * so with every node up each leads its fair share, and after a node comes back its
   * groups return to it. Deterministic, and needs no coordination between nodes.
   */
  private balanceLeaders(nowMs: number): void {
    const host = this.host;
    if (!host.meta.view.bootstrapped) return;
    const me = host.config.nodeId;
    for (const r of host.replicas.values()) {
      if (!r.isLeader || r.group === metaGroupId) continue;
      const status = r.raft.status();
      if (status.leadTransferee !== 0) continue;
      const placed = host.meta.group(r.group);
      if (placed === undefined) continue;
      // The source of a move in flight is about to be removed: never hand it leadership.
      const leaving = host.meta.moveOf(r.group)?.from ?? 0;
      const alive = (id: NodeId): boolean => id === me || nowMs - (host.lastHeardOf(id) ?? 0) < peerAliveMs;
      const preferred = placed.replicas.find((id) => id !== leaving && alive(id));
      if (preferred === undefined || preferred === me || !caughtUp(status, preferred)) continue;
      host.logger.info({ group: r.group, to: preferred }, 'transferring leadership to the preferred replica');
      r.raft.transferLeader(preferred);
    }
  }

  /** Meta duties: bootstrap the ranges (first meta leader), register our addresses. */
  private metaDuties(): void {
    const host = this.host;
    const view = host.meta.view;
    if (!view.bootstrapped) {
      const leads = host.replicas.get(metaGroupId)!.isLeader;
      if (leads && host.config.initialCluster.length > 0 && !this.bootstrapInFlight) this.proposeBootstrap();
      return;
    }
    const me = host.meta.node(host.config.nodeId);
    if (me === undefined || this.registerInFlight) return;
    const c = host.config;
    if (me.state === 'up' && me.peer === c.peerAddress && me.client === c.clientAddress && me.admin === c.adminAddress) return;
    this.registerInFlight = true;
    void host.proposeMeta({ type: 'register', id: c.nodeId, peer: c.peerAddress, client: c.clientAddress, admin: c.adminAddress }).then((res) => {
      this.registerInFlight = false;
      if (!res.ok) host.logger.warn({ reason: res.reason }, 'registration not applied yet');
    });
  }

  private proposeBootstrap(): void {
    const c = this.host.config;
    const ids = c.initialCluster.map((m) => m.id).sort((a, b) => a - b);
    const cmd: MetaCommand = {
      type: 'bootstrap',
      config: { replicas: c.replicas, groups: c.groups, memoryBytesPerGroup: memoryBytesPerGroup(c.memoryBytes, ids.length, c.groups, c.replicas) },
      nodes: c.initialCluster.map((m) => ({ id: m.id, peer: m.peer })),
      groups: initialPlacement(ids, c.groups, c.replicas),
    };
    this.bootstrapInFlight = true;
    this.host.logger.info({ groups: c.groups, replicas: c.replicas, nodes: ids }, 'bootstrapping the cluster ranges');
    void this.host.proposeMeta(cmd).then(() => {
      this.bootstrapInFlight = false;
    });
  }
}

function caughtUp(status: RaftStatusView, id: NodeId): boolean {
  const p = status.progress;
  if (p === undefined) return false;
  const pr = p instanceof Map ? p.get(id) : p[String(id)];
  return pr !== undefined && pr.match >= status.commit;
}
