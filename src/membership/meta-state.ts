/**
 * The meta group's state machine (group 0): cluster config, nodes, groups (ranges and
 * replicas) and moves. Every node applies the meta log, so every node holds the routing
 * table. Pure and deterministic: `apply` reads only the command and the prior state.
 *
 * Commands (the meta log's entries, msgpackr-encoded by `encodeMetaCommand`):
 * - `bootstrap`: proposed by the first meta leader while the state is empty; creates the
 *   config, the initial nodes and the groups with their replicas. Ignored once bootstrapped,
 *   so two leaders proposing it concurrently is harmless.
 * - `register`: a node records its client and admin addresses and its zone (each start) and
 *   becomes `up`.
 * - `node-state`: an operator or the planner marks a node joining/up/draining/dead/removed.
 * - `join`: a new node asks to be added (state `joining` until it registers).
 * - `move-start` / `move-phase` / `move-done` / `move-abort`: a replica move's intent, its
 *   progress and its completion (the group's replicas and epoch change only at `move-done`),
 *   driven by the meta leader (src/cluster/rebalancer.ts).
 * - `prefer-leader`: puts a replica first in its group's list (leader balancing).
 */
import assert from 'node:assert';
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import type { NodeId } from '../raft/types.js';
import { hashKey } from './hash.js';

/** A node's lifecycle state in the meta view. */
export type NodeState = 'joining' | 'up' | 'draining' | 'dead' | 'removed';

/** A cluster member with its addresses ("host:port"; '' while not registered yet). */
export interface MetaNode {
  id: NodeId;
  peer: string;
  client: string;
  admin: string;
  state: NodeState;
  /** `--zone` as registered; absent: the node is a zone of its own (planner-zones.ts). */
  zone?: string;
  /** The node's -m in bytes, as it registered it (absent before it registers). */
  memoryBytes?: number;
}

/** A data group: an inclusive hash range and the nodes holding its replicas. */
export interface MetaGroup {
  id: number;
  lo: number;
  hi: number;
  /** Replica nodes; the first live one is the preferred leader. */
  replicas: NodeId[];
  /** Bumped at every change of `replicas` or the range. */
  epoch: number;
}

/**
 * A replica change in progress, recorded so it survives meta-leader changes and restarts.
 * `from` 0 = a pure addition, `to` 0 = a pure removal. Phases: `learner` (add `to` as a
 * learner, let it catch up, promote it), `remove` (hand leadership away from `from`,
 * remove it); `move-done` then updates the group's replicas.
 */
export interface MetaMove {
  group: number;
  from: NodeId;
  to: NodeId;
  phase: 'learner' | 'voter' | 'remove';
}

/** Cluster-wide settings fixed at bootstrap. */
export interface MetaConfig {
  replicas: number;
  groups: number;
  /** Every replica of a group must evict at the same limit, so it lives in the meta state. */
  memoryBytesPerGroup: number;
}

/** The whole meta state. */
export interface MetaView {
  bootstrapped: boolean;
  config: MetaConfig;
  nodes: MetaNode[];
  groups: MetaGroup[];
  moves: MetaMove[];
  appliedIndex: number;
}

/** An entry of the meta log. */
export type MetaCommand =
  | { type: 'bootstrap'; config: MetaConfig; nodes: Array<{ id: NodeId; peer: string }>; groups: MetaGroup[] }
  | { type: 'register'; id: NodeId; peer: string; client: string; admin: string; zone?: string; memoryBytes?: number }
  | { type: 'node-state'; id: NodeId; state: NodeState }
  | { type: 'join'; id: NodeId; peer: string }
  | { type: 'move-start'; group: number; from: NodeId; to: NodeId }
  | { type: 'move-phase'; group: number; phase: MetaMove['phase'] }
  | { type: 'move-done'; group: number; from: NodeId; to: NodeId }
  | { type: 'move-abort'; group: number }
  | { type: 'prefer-leader'; group: number; leader: NodeId };

/** What applying a meta command answers. */
export type MetaResult = { ok: true } | { ok: false; reason: string; code?: MetaRefusalCode };

/** Refusals a node acts on (matched by code, never by reason text). */
export type MetaRefusalCode = 'node-removed';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Encodes a meta command as a Raft entry payload. */
export function encodeMetaCommand(cmd: MetaCommand): Uint8Array {
  return packr.pack(cmd);
}

/** Decodes a meta entry payload. */
export function decodeMetaCommand(data: Uint8Array): MetaCommand {
  return packr.unpack(data as Buffer) as MetaCommand;
}

/** Maps keys to groups by binary search over the sorted range starts. */
export class RoutingTable {
  private readonly los: number[];
  private readonly groups: MetaGroup[];

  constructor(groups: readonly MetaGroup[]) {
    this.groups = [...groups].sort((a, b) => a.lo - b.lo);
    this.los = this.groups.map((g) => g.lo);
  }

  /** The group whose range holds `key`'s hash, or null before bootstrap. */
  groupOfKey(key: Uint8Array): MetaGroup | null {
    return this.groupOfHash(hashKey(key));
  }

  /** The group whose range holds hash `h`. */
  groupOfHash(h: number): MetaGroup | null {
    const los = this.los;
    if (los.length === 0) return null;
    let lo = 0;
    let hi = los.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (los[mid]! <= h) lo = mid;
      else hi = mid - 1;
    }
    const group = this.groups[lo]!;
    return h <= group.hi ? group : null;
  }
}

function emptyView(): MetaView {
  return {
    bootstrapped: false,
    config: { replicas: 0, groups: 0, memoryBytesPerGroup: 0 },
    nodes: [],
    groups: [],
    moves: [],
    appliedIndex: 0,
  };
}

/** The meta group's state machine. */
export class MetaStateMachine {
  private state: MetaView = emptyView();
  private table = new RoutingTable([]);

  /** The current state; do not mutate. */
  get view(): Readonly<MetaView> {
    return this.state;
  }

  /** Index of the last applied meta entry. */
  get appliedIndex(): number {
    return this.state.appliedIndex;
  }

  /** Key -> group routing for the current ranges. */
  get routing(): RoutingTable {
    return this.table;
  }

  /** Applies an encoded command at log index `index`. */
  applyEntry(data: Uint8Array, index: number): MetaResult {
    return this.apply(decodeMetaCommand(data), index);
  }

  /** Records that entry `index` was applied without a command (empty or conf-change entries). */
  skip(index: number): void {
    assert(index > this.state.appliedIndex, 'meta entries applied out of order');
    this.state.appliedIndex = index;
  }

  /** Applies one command at log index `index`. */
  apply(cmd: MetaCommand, index: number): MetaResult {
    this.skip(index);
    switch (cmd.type) {
      case 'bootstrap':
        return this.applyBootstrap(cmd);
      case 'register':
        return this.applyRegister(cmd);
      case 'node-state':
        return this.applyNodeState(cmd);
      case 'join':
        return this.applyJoin(cmd);
      case 'move-start':
        return this.applyMoveStart(cmd);
      case 'move-phase':
        return this.applyMovePhase(cmd);
      case 'move-done':
        return this.applyMoveDone(cmd);
      case 'move-abort':
        return this.applyMoveAbort(cmd);
      case 'prefer-leader':
        return this.applyPreferLeader(cmd);
      default:
        return { ok: false, reason: 'unknown meta command' };
    }
  }

  /** The groups with a replica on `node`. */
  groupsOf(node: NodeId): MetaGroup[] {
    return this.state.groups.filter((g) => g.replicas.includes(node));
  }

  /** The move in flight for `group`, if any. */
  moveOf(group: number): MetaMove | undefined {
    return this.state.moves.find((m) => m.group === group);
  }

  /** The node record, if known. */
  node(id: NodeId): MetaNode | undefined {
    return this.state.nodes.find((n) => n.id === id);
  }

  /** The group record, if known. */
  group(id: number): MetaGroup | undefined {
    return this.state.groups.find((g) => g.id === id);
  }

  /** The state as bytes (for Raft snapshots). */
  snapshot(): Uint8Array {
    return packr.pack(this.state);
  }

  /** Replaces the state by a snapshot's. */
  restore(data: Uint8Array): void {
    this.state = packr.unpack(data as Buffer) as MetaView;
    this.table = new RoutingTable(this.state.groups);
  }

  /** SHA-256 (hex) of the canonical state: equal on replicas at equal applied index. */
  digest(): string {
    return createHash('sha256').update(JSON.stringify(this.state)).digest('hex');
  }

  private applyBootstrap(cmd: Extract<MetaCommand, { type: 'bootstrap' }>): MetaResult {
    if (this.state.bootstrapped) return { ok: false, reason: 'already bootstrapped' };
    this.state.bootstrapped = true;
    this.state.config = { ...cmd.config };
    this.state.nodes = cmd.nodes
      .map((n) => ({ id: n.id, peer: n.peer, client: '', admin: '', state: 'joining' as NodeState }))
      .sort((a, b) => a.id - b.id);
    this.state.groups = cmd.groups.map((g) => ({ ...g, replicas: [...g.replicas] })).sort((a, b) => a.id - b.id);
    this.table = new RoutingTable(this.state.groups);
    return { ok: true };
  }

  private applyRegister(cmd: Extract<MetaCommand, { type: 'register' }>): MetaResult {
    const node = this.node(cmd.id);
    if (node === undefined) return { ok: false, reason: 'unknown node' };
    if (node.state === 'removed') return { ok: false, reason: 'node removed', code: 'node-removed' };
    node.peer = cmd.peer;
    node.client = cmd.client;
    node.admin = cmd.admin;
    if (cmd.zone !== undefined && cmd.zone !== '') node.zone = cmd.zone;
    else delete node.zone;
    if (cmd.memoryBytes !== undefined) node.memoryBytes = cmd.memoryBytes;
    if (node.state === 'joining' || node.state === 'dead') node.state = 'up';
    return { ok: true };
  }

  private applyNodeState(cmd: Extract<MetaCommand, { type: 'node-state' }>): MetaResult {
    const node = this.node(cmd.id);
    if (node === undefined) return { ok: false, reason: 'unknown node' };
    node.state = cmd.state;
    return { ok: true };
  }

  /** A new node asks to be added: recorded as `joining` (a known id keeps its record unless removed). */
  private applyJoin(cmd: Extract<MetaCommand, { type: 'join' }>): MetaResult {
    if (!this.state.bootstrapped) return { ok: false, reason: 'not bootstrapped' };
    const node = this.node(cmd.id);
    if (node !== undefined) {
      if (node.state === 'removed') return { ok: false, reason: `node ${cmd.id} was removed; join with a new id`, code: 'node-removed' };
      node.peer = cmd.peer;
      return { ok: true };
    }
    this.state.nodes.push({ id: cmd.id, peer: cmd.peer, client: '', admin: '', state: 'joining' });
    this.state.nodes.sort((a, b) => a.id - b.id);
    return { ok: true };
  }

  private applyMoveStart(cmd: Extract<MetaCommand, { type: 'move-start' }>): MetaResult {
    const group = this.group(cmd.group);
    if (group === undefined) return { ok: false, reason: 'unknown group' };
    if (this.moveOf(cmd.group) !== undefined) return { ok: false, reason: 'group has a move in flight' };
    if (cmd.to !== 0 && (group.replicas.includes(cmd.to) || this.node(cmd.to)?.state !== 'up')) return { ok: false, reason: 'bad target' };
    if (cmd.from !== 0 && !group.replicas.includes(cmd.from)) return { ok: false, reason: 'bad source' };
    if (cmd.from === 0 && cmd.to === 0) return { ok: false, reason: 'empty move' };
    this.state.moves.push({ group: cmd.group, from: cmd.from, to: cmd.to, phase: cmd.to === 0 ? 'remove' : 'learner' });
    return { ok: true };
  }

  private applyMovePhase(cmd: Extract<MetaCommand, { type: 'move-phase' }>): MetaResult {
    const move = this.moveOf(cmd.group);
    if (move === undefined) return { ok: false, reason: 'no move in flight' };
    move.phase = cmd.phase;
    return { ok: true };
  }

  /** The move's conf changes are done: `to` replaces `from` in the list (keeping leader order). */
  private applyMoveDone(cmd: Extract<MetaCommand, { type: 'move-done' }>): MetaResult {
    const move = this.moveOf(cmd.group);
    if (move === undefined || move.from !== cmd.from || move.to !== cmd.to) return { ok: false, reason: 'no such move in flight' };
    const group = this.group(cmd.group)!;
    let replicas = group.replicas;
    if (cmd.from !== 0 && cmd.to !== 0) replicas = replicas.map((id) => (id === cmd.from ? cmd.to : id));
    else if (cmd.from !== 0) replicas = replicas.filter((id) => id !== cmd.from);
    else replicas = [...replicas, cmd.to];
    group.replicas = replicas;
    group.epoch++;
    this.state.moves = this.state.moves.filter((m) => m !== move);
    return { ok: true };
  }

  private applyMoveAbort(cmd: Extract<MetaCommand, { type: 'move-abort' }>): MetaResult {
    const before = this.state.moves.length;
    this.state.moves = this.state.moves.filter((m) => m.group !== cmd.group);
    return before === this.state.moves.length ? { ok: false, reason: 'no move in flight' } : { ok: true };
  }

  /** Puts `leader` first in the group's list: the host's leader balancing hands it leadership. */
  private applyPreferLeader(cmd: Extract<MetaCommand, { type: 'prefer-leader' }>): MetaResult {
    const group = this.group(cmd.group);
    if (group === undefined || !group.replicas.includes(cmd.leader)) return { ok: false, reason: 'not a replica' };
    group.replicas = [cmd.leader, ...group.replicas.filter((id) => id !== cmd.leader)];
    return { ok: true };
  }
}
