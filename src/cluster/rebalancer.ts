/**
 * The membership driver: runs on every node, acts only on the meta leader. Every pass
 * (`passIntervalMs`) it
 *   1. keeps the meta group's Raft config in step with the meta state's nodes (a joined
 *      node becomes a learner, then a voter while there are fewer than 5; a removed node
 *      leaves the config),
 *   2. marks nodes a majority of the meta voters have not heard from for --dead-after as
 *      `dead` (and tells the planner; every node reports its view, liveness-reports.ts),
 *   3. marks drained nodes `removed`,
 *   4. drives every move in flight one step (see `stepMove`),
 *   5. asks the planner (planMoves) for new moves within --max-moves and records their
 *      intent (`move-start`), or a preferred leader (`prefer-leader`).
 * Everything it does is recorded in the meta log or checked against the group's actual
 * Raft config before each step, so a new meta leader resumes any move where it stands.
 *
 * A move: `move-start` (phase learner) -> AddLearnerNode(to) at the group's leader -> the
 * target creates its replica (it sees the move in the meta state) and catches up by
 * snapshot and log -> AddNode(to) -> `move-phase remove` -> leadership handed away if
 * `from` leads -> RemoveNode(from) -> `move-done` (replicas and epoch change) -> `from`
 * destroys its replica. Add before remove: a group never drops below its quorum.
 */
import { ConfChangeType, type GroupId, type NodeId } from '../raft/types.js';
import { metaVotersMax, plannerInputFromMeta, planPlacement, type MetaMove, type MetaView, type PlannedMove } from '../membership/index.js';
import { metaGroupId, type ClusterHost } from './host.js';
import type { Timer } from './runtime.js';
import { PeerSteadiness } from './leader-steadiness.js';
import { LivenessReports, reportIntervalMs, type SeenRequest } from './liveness-reports.js';
import { LogLimiter } from './log-limiter.js';
import { callGroupLeader, serveMoveOp, type GroupConf, type MoveOp } from './moves.js';

/** Membership settings (serve flags). */
export interface RebalancerOptions {
  /** --max-moves: replica moves in flight at once. */
  maxMoves: number;
  /** --dead-after: a node not heard from this long is dead and its replicas re-created. */
  deadAfterMs: number;
  passIntervalMs: number;
  /** A learner within this many entries of the commit index is promoted. */
  catchUpSlackEntries: number;
}

/** The same planned move (a move re-planned every pass while it cannot start, in a partition) is logged once per this. */
const moveLogIntervalMs = 30_000;

/** A node heard from within this long counts as reachable for `ctl remove` (a stopped one is silent in far less). */
const reachableMs = 3000;

/** Passes between two refreshes of the leaders of groups held elsewhere (4 = every 2 s). */
const leaderRefreshPasses = 4;

/** Defaults. */
export const defaultRebalancerOptions: RebalancerOptions = { maxMoves: 2, deadAfterMs: 30_000, passIntervalMs: 500, catchUpSlackEntries: 64 };

/** The meta leader's membership driver (and the request handlers for join and ctl). */
export class Rebalancer {
  private timer: Timer | null = null;
  private running = false;
  private leaderSinceMs = 0;
  private wasLeader = false;
  private passes = 0;
  private refreshingLeaders = false;
  /** When this node first saw each node in the meta state (a node's silence counts from then at the earliest). */
  private readonly firstSeenMs = new Map<NodeId, number>();
  /** Every member's view of who it hears from (failure detection by a majority of meta voters). */
  private readonly liveness: LivenessReports;
  private lastReportMs = Number.NEGATIVE_INFINITY;
  /** Who has been reachable for how long, from here (no leadership for unsteady nodes). */
  private readonly steadiness = new PeerSteadiness();
  /** The same planned move is logged at most once per `moveLogIntervalMs`. */
  private readonly moveLog = new LogLimiter(moveLogIntervalMs);

  constructor(
    private readonly host: ClusterHost,
    private readonly options: RebalancerOptions,
  ) {
    this.liveness = new LivenessReports(host);
  }

  /** Starts the passes. */
  start(): void {
    this.timer = this.host.runtime.every(this.options.passIntervalMs, () => void this.pass());
  }

  /** Stops the passes. */
  close(): void {
    if (this.timer !== null) this.host.runtime.cancel(this.timer);
    this.timer = null;
  }

  private get metaReplica(): NonNullable<ReturnType<ClusterHost['replicas']['get']>> {
    return this.host.replicas.get(metaGroupId)!;
  }

  private async pass(): Promise<void> {
    const leads = this.metaReplica.isLeader;
    if (leads && !this.wasLeader) this.leaderSinceMs = this.host.runtime.monoMs();
    this.wasLeader = leads;
    const now = this.host.runtime.monoMs();
    if (this.host.meta.view.bootstrapped && now - this.lastReportMs >= reportIntervalMs) {
      this.lastReportMs = now;
      this.liveness.sendReports();
    }
    if (!leads || this.running || !this.host.meta.view.bootstrapped) return;
    if (this.passes++ % leaderRefreshPasses === 0) this.refreshLeaders();
    this.running = true;
    try {
      this.syncMetaConf();
      await this.markDead();
      await this.markDrained();
      const view = this.host.meta.view;
      await Promise.all(view.moves.map((m) => this.stepMove(m)));
      await this.planNew();
    } catch (err) {
      this.host.logger.warn({ err: String(err) }, 'membership pass failed');
    } finally {
      this.running = false;
    }
  }

  /**
   * Learns who leads the groups this node holds no replica of (its own replicas know
   * theirs): the planner balances leaders from this, and `ctl status` shows it. In the
   * background, so a group that does not answer (a partition) never holds up a pass.
   */
  private refreshLeaders(): void {
    if (this.refreshingLeaders) return;
    this.refreshingLeaders = true;
    const away = this.host.meta.view.groups.filter((g) => !this.host.replicas.has(g.id));
    void Promise.all(away.map((g) => callGroupLeader(this.host, g.id, { op: 'conf' }, [...g.replicas]))).finally(() => {
      this.refreshingLeaders = false;
    });
  }

  // ---- the meta group's own config ---------------------------------------------------

  private syncMetaConf(): void {
    const r = this.metaReplica;
    if (r.raft.status().leadTransferee !== 0) return;
    const st = r.raft.status();
    const voters = st.confState.voters;
    const learners = st.confState.learners;
    const inConf = (id: NodeId): boolean => voters.includes(id) || learners.includes(id);
    const view = this.host.meta.view;
    // A removed node stays in the meta group until no group or move names it: a live one
    // (ctl remove --force) follows the meta log until its replicas are re-created, then
    // exits (server/node-removal.ts). But at once it is only a learner: a voter that is
    // about to exit would count in the quorum (4 voters, it and one more gone: 2 of 4 and
    // the meta group stalls), and a learner follows the log just as well. The freed seat
    // goes to an up learner below (promotion).
    const holds = (id: NodeId): boolean => view.groups.some((g) => g.replicas.includes(id)) || view.moves.some((m) => m.from === id || m.to === id);
    for (const n of view.nodes) {
      if (n.state !== 'removed' || !inConf(n.id)) continue;
      const demote = voters.includes(n.id);
      if (!demote && holds(n.id)) continue;
      if (n.id === this.host.config.nodeId) {
        // We lead: hand the meta group over first, the next leader demotes or removes us.
        const to = voters.find((id) => id !== n.id && this.host.meta.node(id)?.state === 'up');
        if (to !== undefined) r.raft.transferLeader(to);
      } else if (demote && holds(n.id)) this.proposeMetaConf(ConfChangeType.AddLearnerNode, n.id);
      else this.proposeMetaConf(ConfChangeType.RemoveNode, n.id);
      return;
    }
    for (const n of view.nodes) {
      // A dead node joins as a learner too: one marked dead before it ever got the meta log
      // (it never answered in time) could otherwise never register and come back.
      if (n.state !== 'removed' && !inConf(n.id)) return this.proposeMetaConf(ConfChangeType.AddLearnerNode, n.id);
    }
    if (voters.length >= metaVotersMax) return;
    const match = matchOf(st);
    for (const id of learners) {
      const n = this.host.meta.node(id);
      if (n?.state === 'up' && (match.get(id) ?? 0) + this.options.catchUpSlackEntries >= st.commit) {
        return this.proposeMetaConf(ConfChangeType.AddNode, id);
      }
    }
  }

  private proposeMetaConf(type: ConfChangeType, node: NodeId): void {
    try {
      this.metaReplica.raft.proposeConfChange({ changes: [{ type, nodeId: node }], transition: 'auto' });
      this.host.logger.info({ node, type: ConfChangeType[type] }, 'meta group config change proposed');
      this.host.scheduleFlush();
    } catch {
      // One change at a time: the previous one is still being applied; next pass.
    }
  }

  // ---- failure detection and drains ---------------------------------------------------

  /**
   * Nodes a majority of the meta voters have not heard from for --dead-after (one cut link
   * to the meta leader is not death; liveness-reports.ts). In the meta leader's own view,
   * silence counts at the earliest from its election and from when the node appeared in the
   * meta state: a node that joins long after the election has not been silent for that long.
   */
  private deadNodes(): NodeId[] {
    const now = this.host.runtime.monoMs();
    const selfSilentMs = (id: NodeId): number => {
      let seen = this.firstSeenMs.get(id);
      if (seen === undefined) this.firstSeenMs.set(id, (seen = now));
      return Math.min(this.liveness.silentMs(id), now - this.leaderSinceMs, now - seen);
    };
    const voters = this.metaReplica.raft.status().confState.voters;
    const dead: NodeId[] = [];
    for (const n of this.host.meta.view.nodes) {
      if (n.id === this.host.config.nodeId || n.state === 'removed') continue;
      if (this.liveness.isDead(n.id, voters, this.options.deadAfterMs, selfSilentMs)) dead.push(n.id);
    }
    return dead;
  }

  private async markDead(): Promise<void> {
    for (const id of this.deadNodes()) {
      const n = this.host.meta.node(id)!;
      if (n.state === 'dead') continue;
      this.host.logger.warn({ dead: id, deadAfterMs: this.options.deadAfterMs }, 'node marked dead');
      await this.host.proposeMeta({ type: 'node-state', id, state: 'dead' });
    }
  }

  private async markDrained(): Promise<void> {
    const view = this.host.meta.view;
    for (const n of view.nodes) {
      if (n.state !== 'draining') continue;
      const holds = view.groups.some((g) => g.replicas.includes(n.id)) || view.moves.some((m) => m.from === n.id || m.to === n.id);
      if (holds) continue;
      this.host.logger.info({ node: n.id }, 'node drained: removed');
      await this.host.proposeMeta({ type: 'node-state', id: n.id, state: 'removed' });
    }
  }

  // ---- moves ----------------------------------------------------------------------------

  private async planNew(): Promise<void> {
    const view = this.host.meta.view;
    const leaders = new Map<number, NodeId>();
    for (const g of view.groups) {
      const lead = this.host.leaderOf(g.id);
      if (lead !== 0) leaders.set(g.id, lead);
    }
    // Nodes not steady yet (back from a partition or a restart) get no leadership: the
    // hosts hand it over once they are (leader-steadiness.ts), and only once.
    const now = this.host.runtime.monoMs();
    const others = view.nodes.filter((n) => n.id !== this.host.config.nodeId && n.state === 'up').map((n) => n.id);
    for (const id of others) this.steadiness.observe(id, now - this.liveness.silentMs(id), now);
    const leaderHoldNodes = this.steadiness.unsteady(others, now);
    const input = plannerInputFromMeta(view, { leaders, deadNodes: this.deadNodes(), maxMoves: this.options.maxMoves, maxLeaderTransfers: 2, leaderHoldNodes });
    const plan = planPlacement(input);
    for (const move of plan.moves) await this.startMove(move);
  }

  private async startMove(move: PlannedMove): Promise<void> {
    // Already the preferred leader: the group's hosts hand leadership over when they can;
    // proposing it again every pass would only fill the meta log (and the log).
    if (move.kind === 'transfer-leader' && this.host.meta.group(move.group)?.replicas[0] === move.to) return;
    const now = this.host.runtime.monoMs();
    const suppressed = this.moveLog.admit(moveKey(move), now);
    if (suppressed !== null) this.host.logger.info({ move, ...(suppressed > 0 ? { suppressed } : {}) }, 'planned move');
    if (move.kind !== 'transfer-leader') this.host.metrics.moves.started++;
    switch (move.kind) {
      case 'move':
        await this.host.proposeMeta({ type: 'move-start', group: move.group, from: move.from, to: move.to });
        return;
      case 'add-replica':
        await this.host.proposeMeta({ type: 'move-start', group: move.group, from: 0, to: move.to });
        return;
      case 'remove-replica':
        await this.host.proposeMeta({ type: 'move-start', group: move.group, from: move.from, to: 0 });
        return;
      case 'transfer-leader':
        await this.host.proposeMeta({ type: 'prefer-leader', group: move.group, leader: move.to });
        return;
    }
  }

  /** One idempotent step of a move, decided from the group's actual Raft config. */
  private async stepMove(m: MetaMove): Promise<void> {
    const group = this.host.meta.group(m.group);
    if (group === undefined) return;
    const candidates = [...group.replicas, ...(m.to !== 0 ? [m.to] : [])];
    const answer = await callGroupLeader(this.host, m.group, { op: 'conf' }, candidates);
    if (answer === null || !('conf' in answer)) return;
    const conf = answer.conf;
    if (m.phase === 'learner') return this.stepAdd(m, conf, candidates);
    return this.stepRemove(m, conf, candidates);
  }

  private async stepAdd(m: MetaMove, conf: GroupConf, candidates: NodeId[]): Promise<void> {
    const to = m.to;
    const targetState = this.host.meta.node(to)?.state;
    if (conf.voters.includes(to)) {
      await this.host.proposeMeta({ type: 'move-phase', group: m.group, phase: 'remove' });
      return;
    }
    if (targetState !== 'up' || this.deadNodes().includes(to)) return this.rollback(m, conf, candidates);
    if (!conf.learners.includes(to)) return this.cc(m.group, ConfChangeType.AddLearnerNode, to, candidates);
    const match = conf.match[String(to)] ?? 0;
    if (match + this.options.catchUpSlackEntries >= conf.commit) return this.cc(m.group, ConfChangeType.AddNode, to, candidates);
  }

  /** The target cannot finish (dead or removed while a learner): undo the addition. */
  private async rollback(m: MetaMove, conf: GroupConf, candidates: NodeId[]): Promise<void> {
    if (conf.learners.includes(m.to)) return this.cc(m.group, ConfChangeType.RemoveNode, m.to, candidates);
    this.host.logger.warn({ move: m }, 'move rolled back: target gone');
    this.host.metrics.moves.aborted++;
    await this.host.proposeMeta({ type: 'move-abort', group: m.group });
  }

  private async stepRemove(m: MetaMove, conf: GroupConf, candidates: NodeId[]): Promise<void> {
    const from = m.from;
    if (from !== 0 && (conf.voters.includes(from) || conf.learners.includes(from))) {
      if (conf.lead === from) {
        const to = conf.voters.includes(m.to) ? m.to : conf.voters.find((id) => id !== from && this.isLive(id));
        if (to !== undefined) await callGroupLeader(this.host, m.group, { op: 'transfer', to }, candidates);
        return;
      }
      return this.cc(m.group, ConfChangeType.RemoveNode, from, candidates);
    }
    this.host.logger.info({ move: m }, 'move done');
    this.host.metrics.moves.done++;
    await this.host.proposeMeta({ type: 'move-done', group: m.group, from: m.from, to: m.to });
  }

  private isLive(id: NodeId): boolean {
    const s = this.host.meta.node(id)?.state;
    return (s === 'up' || s === 'draining') && !this.deadNodes().includes(id);
  }

  private async cc(group: GroupId, type: ConfChangeType, node: NodeId, candidates: NodeId[]): Promise<void> {
    const op: MoveOp = { op: 'cc', type, node };
    const answer = await callGroupLeader(this.host, group, op, candidates);
    this.host.logger.info({ group, node, type: ConfChangeType[type], answer }, 'group config change');
  }

  // ---- requests: join, ctl, move steps ----------------------------------------------------

  /** Peer requests of the membership layer; undefined for any other request. */
  handleRequest(from: NodeId, payload: unknown): unknown {
    const p = payload as { t?: string; g?: number; o?: MoveOp; id?: number; peer?: string; op?: string; node?: number };
    switch (p.t) {
      case 'mv':
        return typeof p.g === 'number' && p.o !== undefined ? serveMoveOp(this.host, p.g, p.o) : { e: 'bad move request' };
      case 'join':
        return this.serveJoin(Number(p.id), String(p.peer));
      case 'seen':
        return this.liveness.onReport(from, payload as SeenRequest);
      case 'ctl':
        return this.serveCtl(String(p.op), Number(p.node ?? 0), typeof p.peer === 'string' ? p.peer : '');
      default:
        return undefined;
    }
  }

  /** A new node asks to join (or `ctl join` announces it): recorded through the meta log; answers the members' addresses. */
  private async serveJoin(id: NodeId, peer: string): Promise<unknown> {
    if (!Number.isSafeInteger(id) || id <= 0) return { e: 'bad node id' };
    if (!isHostPort(peer)) return { e: `bad peer address ${JSON.stringify(peer)}; want HOST:PORT` };
    this.host.knowPeer(id, peer);
    const res = await this.host.proposeMeta({ type: 'join', id, peer });
    if (!res.ok) return res.code === undefined ? { e: res.reason } : { e: res.reason, code: res.code };
    return { ok: true, nodes: this.host.meta.view.nodes.map((n) => ({ id: n.id, peer: n.peer })) };
  }

  /** `memraft ctl` operations; forwarded to the meta leader by the admin endpoint. */
  async serveCtl(op: string, node: NodeId, peer = ''): Promise<unknown> {
    const view = this.host.meta.view;
    const known = view.nodes.find((n) => n.id === node);
    switch (op) {
      case 'status':
        return ctlStatus(view, this.host);
      case 'join': {
        // Only a new id (or a `joining` one, to correct its address; a removed one is refused
        // below): re-pointing a member would send nodes that join or restart later astray.
        if (known !== undefined && known.state !== 'joining' && known.state !== 'removed') return { e: `node ${node} is already a member (${known.state})` };
        const answer = (await this.serveJoin(node, peer)) as { e?: string };
        return answer.e === undefined ? { ok: true } : answer;
      }
      case 'drain': {
        if (known === undefined) return { e: `unknown node ${node}` };
        const up = view.nodes.filter((n) => n.state === 'up' && n.id !== node).length;
        if (up < view.config.replicas) {
          return { e: `draining node ${node} would leave ${up} up nodes < ${view.config.replicas} replicas`, code: 'too-few-nodes' };
        }
        const res = await this.host.proposeMeta({ type: 'node-state', id: node, state: 'draining' });
        return res.ok ? { ok: true } : { e: res.reason };
      }
      case 'remove':
      case 'force-remove':
        return this.serveRemove(node, op === 'force-remove');
      default:
        return { e: `unknown ctl op ${op}` };
    }
  }

  /**
   * `ctl remove`: for a node that is gone for good. A live one (up, joining or draining and
   * heard from within `reachableMs`) is refused unless forced: removing it drops a replica
   * of each of its groups at once, where a drain moves them first. Either way the planner
   * re-creates each replica on a spare node before it removes the old one (add first).
   */
  private async serveRemove(node: NodeId, force: boolean): Promise<unknown> {
    const view = this.host.meta.view;
    const known = view.nodes.find((n) => n.id === node);
    if (known === undefined) return { e: `unknown node ${node}` };
    if (known.state === 'removed') return { ok: true };
    if (!force && known.state !== 'dead' && this.reachable(node)) {
      return {
        e: `node ${node} is ${known.state} and reachable: removing it would drop a replica of each of its groups at once; ` +
          `drain it (memraft ctl drain ${node}), or stop it first, or remove it anyway with --force`,
        code: 'node-live',
      };
    }
    const res = await this.host.proposeMeta({ type: 'node-state', id: node, state: 'removed' });
    if (!res.ok) return { e: res.reason };
    const up = view.nodes.filter((n) => n.state === 'up' && n.id !== node).length;
    if (up >= view.config.replicas) return { ok: true };
    return { ok: true, note: `${up} up nodes remain for ${view.config.replicas} replicas: its groups keep ${up} replicas until a node joins` };
  }

  /** True when `id` is this node or was heard from within `reachableMs`. */
  private reachable(id: NodeId): boolean {
    if (id === this.host.config.nodeId) return true;
    const heard = this.host.lastHeardOf(id);
    return heard !== undefined && this.host.runtime.monoMs() - heard < reachableMs;
  }

  /** Runs a ctl op at the meta leader (locally when we lead). */
  async ctl(op: string, node: NodeId, peer = ''): Promise<unknown> {
    const lead = this.metaReplica.lead;
    if (lead === this.host.config.nodeId || lead === 0) return this.serveCtl(op, node, peer);
    try {
      return await this.host.peerRequest(lead, { t: 'ctl', op, node, peer }, 10_000);
    } catch (err) {
      return op === 'status' ? this.serveCtl(op, node, peer) : { e: String(err) };
    }
  }
}

/** `ctl status` as JSON: nodes, groups (meta group as id 0, with its voters and learners) with replicas and leader, moves. */
export function ctlStatus(view: Readonly<MetaView>, host: ClusterHost): unknown {
  const meta = host.replicas.get(metaGroupId)!.raft.status();
  const { voters, learners } = meta.confState;
  const groups = [
    { id: 0, range: [0, 0], replicas: [...voters, ...learners], leader: meta.lead, voters: [...voters], learners: [...learners] },
    ...view.groups.map((g) => ({ id: g.id, range: [g.lo, g.hi], replicas: [...g.replicas], leader: host.leaderOf(g.id), epoch: g.epoch })),
  ];
  return {
    nodes: view.nodes.map((n) => ({ id: n.id, state: n.state, client: n.client, peer: n.peer, admin: n.admin, ...(n.zone !== undefined ? { zone: n.zone } : {}) })),
    groups,
    moves: view.moves.map((m) => ({ ...m })),
  };
}

/** Identifies a planned move for the log limiter: kind, group and both ends. */
function moveKey(move: PlannedMove): string {
  const from = move.kind === 'add-replica' ? 0 : (move.from ?? 0);
  const to = move.kind === 'remove-replica' ? 0 : move.to;
  return `${move.kind}:${move.group}:${from}:${to}`;
}

/** "host:port" with a non-empty host and a port in 1..65535. */
function isHostPort(s: string): boolean {
  const at = s.lastIndexOf(':');
  const port = Number(s.slice(at + 1));
  return at > 0 && /^[0-9]+$/.test(s.slice(at + 1)) && port >= 1 && port <= 65535 && !/\s/.test(s);
}

function matchOf(st: { progress?: Map<NodeId, { match: number }> | Record<string, { match: number }> }): Map<NodeId, number> {
  const out = new Map<NodeId, number>();
  const p = st.progress;
  if (p instanceof Map) for (const [id, pr] of p) out.set(id, pr.match);
  else if (p !== undefined) for (const [id, pr] of Object.entries(p)) out.set(Number(id), pr.match);
  return out;
}
