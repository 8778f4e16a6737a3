/**
 * What a node does on its tick besides ticking Raft (DESIGN.md §3, §6): leader-proposed
 * bump and expire entries, leader balancing, the meta duties (bootstrap the ranges, register
 * our addresses), destroying replicas moved away, saving commit indexes, and failing work
 * that waited too long. Every interval is a multiple of the tick; nothing here keeps its
 * own timer.
 */
import { groupMemoryBytes, initialPlacement, memoryBytesPerGroup, type MetaCommand } from '../membership/index.js';
import type { NodeId } from '../raft/types.js';
import type { RaftStatusView } from './contracts.js';
import { metaGroupId } from './forwarder.js';
import { defaultSteadiness, handOffTarget, LeadershipAges, PeerSteadiness } from './leader-steadiness.js';
import type { ClusterHost } from './host.js';

/** How often the meta duties, replica clean-up and commit-index saves run. */
const metaDutiesIntervalMs = 1000;

/** How often proposals and read rounds that waited too long are failed (a follower read's limit is 300 ms). */
const expireWaitingIntervalMs = 100;

/** The tick duties of one node. */
export class Housekeeping {
  private ticks = 0;
  private bootstrapInFlight = false;
  private registerInFlight = false;
  private registeredOnce = false;
  private readonly steadiness = new PeerSteadiness();
  private readonly leadership = new LeadershipAges();

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
      if (this.host.meta.view.bootstrapped) this.proposeLimits();
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
      r.queueBump();
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
   * Memory limits: a leader whose group's limit differs from its fair share of -m on the
   * nodes holding it (groupMemoryBytes, a pure function of the meta view) proposes the
   * share as a `limit` entry, so every replica changes limit at the same log index. Until
   * it applies, the proposal repeats each round (the op is idempotent).
   */
  private proposeLimits(): void {
    const view = this.host.meta.view;
    for (const r of this.host.replicas.values()) {
      if (!r.isLeader || r.cacheMachine === null) continue;
      const target = groupMemoryBytes(view, r.group);
      if (this.host.figuresOf(r)?.limitBytes === target) continue;
      r.queueHousekeeping({ type: 'limit', memoryBytesMax: target });
    }
  }

  /**
   * Leader balancing: a leader hands leadership to the first replica in its group's list
   * that is alive (heard from recently) and up. The lists rotate over the nodes
   * (placement.ts), so with every node up each leads its fair share, and after a node
   * comes back its groups return to it, once: only when it has been reachable for a while
   * and is caught up, and only from a leader that has led for that long
   * (leader-steadiness.ts). Deterministic, and needs no coordination between nodes.
   */
  private balanceLeaders(nowMs: number): void {
    const host = this.host;
    if (!host.meta.view.bootstrapped) return;
    const me = host.config.nodeId;
    for (const n of host.meta.view.nodes) if (n.id !== me) this.steadiness.observe(n.id, host.lastHeardOf(n.id), nowMs);
    for (const r of host.replicas.values()) {
      if (r.group === metaGroupId) continue;
      if (!r.isLeader) {
        this.leadership.forget(r.group);
        continue;
      }
      const status = r.raft.status();
      this.leadership.observe(r.group, status.term, nowMs);
      if (status.leadTransferee !== 0) continue;
      const placed = host.meta.group(r.group);
      if (placed === undefined) continue;
      const to = handOffTarget({
        me,
        replicas: placed.replicas,
        // The source of a move in flight is about to be removed: never hand it leadership.
        leaving: host.meta.moveOf(r.group)?.from ?? 0,
        ledMs: this.leadership.ageMs(r.group, nowMs),
        steadyMs: defaultSteadiness.steadyMs,
        eligible: (id) => nowMs - (host.lastHeardOf(id) ?? Number.NEGATIVE_INFINITY) < defaultSteadiness.aliveMs && host.meta.node(id)?.state === 'up',
        steady: (id) => this.steadiness.isSteady(id, nowMs),
        caughtUp: (id) => caughtUp(status, id),
      });
      if (to === null) continue;
      host.logger.info({ group: r.group, to }, 'transferring leadership to the preferred replica');
      r.raft.transferLeader(to);
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
    const zone = c.zone ?? '';
    // Registered once per start even when our view says so already: that view may be from
    // before this node was removed (it then gets no newer meta entries), and the meta
    // leader's refusal is how the node learns it (node-removal.ts).
    const current =
      me.state === 'up' && me.peer === c.peerAddress && me.client === c.clientAddress && me.admin === c.adminAddress && (me.zone ?? '') === zone && me.memoryBytes === c.memoryBytes;
    if (current && this.registeredOnce) return;
    this.registerInFlight = true;
    const cmd: MetaCommand = { type: 'register', id: c.nodeId, peer: c.peerAddress, client: c.clientAddress, admin: c.adminAddress, memoryBytes: c.memoryBytes };
    if (zone !== '') cmd.zone = zone;
    void host.proposeMeta(cmd).then((res) => {
      this.registerInFlight = false;
      if (res.ok) this.registeredOnce = true;
      if (!res.ok && res.code === 'node-removed') host.removedFromCluster = true;
      else if (!res.ok) host.logger.warn({ reason: res.reason }, 'registration not applied yet');
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
