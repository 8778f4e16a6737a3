/**
 * Membership changes by joint consensus, as in etcd's confchange/: a change of one voter
 * is applied directly ("simple"); anything more enters a joint config C(old,new) in which
 * decisions need majorities of both, then leaves it with an empty ConfChange (proposed
 * automatically by the leader when `transition` is 'auto'). Changes are computed on
 * copies and validated before they replace the tracker's state.
 *
 * Also the binary codec of ConfChange entries (Entry.data of EntryType.ConfChange).
 */
import assert from 'node:assert';
import { Inflights } from './inflights.js';
import { Progress } from './progress.js';
import type { TrackerConfig } from './tracker.js';
import { cloneTrackerConfig, ProgressTracker } from './tracker.js';
import type { ConfChange, ConfChangeSingle, ConfState, NodeId } from './types.js';
import { ConfChangeType } from './types.js';

/** An invalid membership change (refused at proposal; a programmer error at apply). */
export class ConfChangeError extends Error {
  readonly code = 'ERR_RAFT_CONF_CHANGE';
}

/** A new configuration and progress map, not yet installed. */
export interface ChangeResult {
  config: TrackerConfig;
  progress: Map<NodeId, Progress>;
}

/** Whether a ConfChange leaves a joint config (it has no changes). */
export function isLeaveJoint(cc: ConfChange): boolean {
  return cc.changes.length === 0;
}

/** Whether a ConfChange enters a joint config, and whether that config is left automatically. */
export function enterJoint(cc: ConfChange): { joint: boolean; autoLeave: boolean } {
  if (cc.transition === 'explicit') return { joint: true, autoLeave: false };
  return { joint: cc.changes.length > 1, autoLeave: true };
}

/** Computes configuration changes against a tracker; see the module doc. */
export class Changer {
  private readonly tracker: ProgressTracker;
  private readonly lastIndex: number;

  constructor(tracker: ProgressTracker, lastIndex: number) {
    this.tracker = tracker;
    this.lastIndex = lastIndex;
  }

  /** The result of applying a whole ConfChange (simple, enter joint or leave joint). */
  apply(cc: ConfChange): ChangeResult {
    if (isLeaveJoint(cc)) return this.leaveJoint();
    const j = enterJoint(cc);
    if (j.joint) return this.enterJoint(j.autoLeave, cc.changes);
    return this.simple(cc.changes);
  }

  enterJoint(autoLeave: boolean, ccs: ConfChangeSingle[]): ChangeResult {
    const r = this.copy();
    if (r.config.voters[1].size > 0) throw new ConfChangeError('config is already joint');
    if (r.config.voters[0].size === 0) throw new ConfChangeError("can't make a zero-voter config joint");
    r.config.voters[1] = new Set(r.config.voters[0]);
    this.applyChanges(r, ccs);
    r.config.autoLeave = autoLeave;
    return check(r);
  }

  leaveJoint(): ChangeResult {
    const r = this.copy();
    const cfg = r.config;
    if (cfg.voters[1].size === 0) throw new ConfChangeError("can't leave a non-joint config");
    for (const id of cfg.learnersNext) {
      cfg.learners.add(id);
      r.progress.get(id)!.isLearner = true;
    }
    cfg.learnersNext.clear();
    for (const id of cfg.voters[1]) {
      if (!cfg.voters[0].has(id) && !cfg.learners.has(id)) r.progress.delete(id);
    }
    cfg.voters[1] = new Set();
    cfg.autoLeave = false;
    return check(r);
  }

  simple(ccs: ConfChangeSingle[]): ChangeResult {
    const r = this.copy();
    if (r.config.voters[1].size > 0) {
      throw new ConfChangeError("can't apply simple config change in joint config");
    }
    this.applyChanges(r, ccs);
    if (symDiff(this.tracker.config.voters[0], r.config.voters[0]) > 1) {
      throw new ConfChangeError('more than one voter changed without entering joint config');
    }
    return check(r);
  }

  /** The config and progress described by a ConfState (restart, snapshot). */
  restore(cs: ConfState): ChangeResult {
    const outgoing: ConfChangeSingle[] = cs.votersOutgoing.map((id) => ({ type: ConfChangeType.AddNode, nodeId: id }));
    const incoming: ConfChangeSingle[] = [
      ...cs.votersOutgoing.map((id) => ({ type: ConfChangeType.RemoveNode, nodeId: id })),
      ...cs.voters.map((id) => ({ type: ConfChangeType.AddNode, nodeId: id })),
      ...cs.learners.map((id) => ({ type: ConfChangeType.AddLearnerNode, nodeId: id })),
      ...cs.learnersNext.map((id) => ({ type: ConfChangeType.AddLearnerNode, nodeId: id })),
    ];
    // Build up one change at a time on a scratch tracker, as etcd does.
    const scratch = new ProgressTracker(this.tracker.maxInflightMsgs, this.tracker.maxInflightBytes);
    const install = (r: ChangeResult): void => {
      scratch.config = r.config;
      scratch.progress = r.progress;
    };
    const ch = new Changer(scratch, this.lastIndex);
    if (outgoing.length === 0) {
      for (const cc of incoming) install(ch.simple([cc]));
    } else {
      for (const cc of outgoing) install(ch.simple([cc]));
      install(ch.enterJoint(cs.autoLeave, incoming));
    }
    return { config: scratch.config, progress: scratch.progress };
  }

  private copy(): ChangeResult {
    const progress = new Map<NodeId, Progress>();
    for (const [id, pr] of this.tracker.progress) progress.set(id, pr.clone());
    return { config: cloneTrackerConfig(this.tracker.config), progress };
  }

  private applyChanges(r: ChangeResult, ccs: ConfChangeSingle[]): void {
    for (const cc of ccs) {
      if (cc.nodeId === 0) continue; // etcd: a zero id is a no-op, used to carry only a context.
      switch (cc.type) {
        case ConfChangeType.AddNode:
          this.makeVoter(r, cc.nodeId);
          break;
        case ConfChangeType.AddLearnerNode:
          this.makeLearner(r, cc.nodeId);
          break;
        case ConfChangeType.RemoveNode:
          remove(r, cc.nodeId);
          break;
        default:
          throw new ConfChangeError(`unknown conf change type ${String(cc.type)}`);
      }
    }
    if (r.config.voters[0].size === 0) throw new ConfChangeError('removed all voters');
  }

  private makeVoter(r: ChangeResult, id: NodeId): void {
    const pr = r.progress.get(id);
    if (pr === undefined) return this.initProgress(r, id, false);
    pr.isLearner = false;
    r.config.learners.delete(id);
    r.config.learnersNext.delete(id);
    r.config.voters[0].add(id);
  }

  private makeLearner(r: ChangeResult, id: NodeId): void {
    const pr = r.progress.get(id);
    if (pr === undefined) return this.initProgress(r, id, true);
    if (pr.isLearner) return;
    remove(r, id);
    r.progress.set(id, pr); // remove() may have dropped it; it stays tracked as a learner.
    // A voter of the outgoing config becomes a learner only when the joint config is left.
    if (r.config.voters[1].has(id)) {
      r.config.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      r.config.learners.add(id);
    }
  }

  private initProgress(r: ChangeResult, id: NodeId, isLearner: boolean): void {
    if (isLearner) r.config.learners.add(id);
    else r.config.voters[0].add(id);
    // Next = last index: the first probe tells us where the new member stands. Recently
    // active so that check-quorum does not step the leader down at once.
    const pr = new Progress(
      0,
      Math.max(this.lastIndex, 1),
      new Inflights(this.tracker.maxInflightMsgs, this.tracker.maxInflightBytes),
      isLearner,
    );
    pr.recentActive = true;
    r.progress.set(id, pr);
  }
}

function remove(r: ChangeResult, id: NodeId): void {
  if (!r.progress.has(id)) return;
  r.config.voters[0].delete(id);
  r.config.learners.delete(id);
  r.config.learnersNext.delete(id);
  // Still a voter of the outgoing config: keep tracking it until the joint config is left.
  if (!r.config.voters[1].has(id)) r.progress.delete(id);
}

function symDiff(a: Set<NodeId>, b: Set<NodeId>): number {
  let n = 0;
  for (const id of a) if (!b.has(id)) n++;
  for (const id of b) if (!a.has(id)) n++;
  return n;
}

function check(r: ChangeResult): ChangeResult {
  const cfg = r.config;
  for (const set of [cfg.voters[0], cfg.voters[1], cfg.learners, cfg.learnersNext]) {
    for (const id of set) assert(r.progress.has(id), `no progress for member ${id}`);
  }
  for (const id of cfg.learnersNext) {
    assert(cfg.voters[1].has(id), `${id} is in learnersNext but not an outgoing voter`);
    assert(!r.progress.get(id)!.isLearner, `${id} is in learnersNext but already a learner`);
  }
  for (const id of cfg.learners) {
    assert(!cfg.voters[0].has(id) && !cfg.voters[1].has(id), `${id} is both learner and voter`);
    assert(r.progress.get(id)!.isLearner, `${id} is a learner without the learner flag`);
  }
  if (cfg.voters[1].size === 0) {
    assert(cfg.learnersNext.size === 0 && !cfg.autoLeave, 'non-joint config with joint leftovers');
  }
  return r;
}

// Codec: [version u8 = 1][transition u8][count u16][type u8, nodeId f64]*[contextLen u32][context].
const codecVersion = 1;

/** Encodes a ConfChange as Entry.data. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const ctx = cc.context ?? new Uint8Array(0);
  const buf = new Uint8Array(4 + cc.changes.length * 9 + 4 + ctx.byteLength);
  const dv = new DataView(buf.buffer);
  dv.setUint8(0, codecVersion);
  dv.setUint8(1, cc.transition === 'explicit' ? 1 : 0);
  dv.setUint16(2, cc.changes.length);
  let off = 4;
  for (const c of cc.changes) {
    dv.setUint8(off, c.type);
    dv.setFloat64(off + 1, c.nodeId);
    off += 9;
  }
  dv.setUint32(off, ctx.byteLength);
  buf.set(ctx, off + 4);
  return buf;
}

/** Decodes Entry.data of a ConfChange entry. Throws ConfChangeError on malformed data. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < 8 || dv.getUint8(0) !== codecVersion) throw new ConfChangeError('malformed conf change');
  const n = dv.getUint16(2);
  if (data.byteLength < 8 + n * 9) throw new ConfChangeError('malformed conf change');
  const changes: ConfChangeSingle[] = [];
  let off = 4;
  for (let i = 0; i < n; i++) {
    changes.push({ type: dv.getUint8(off) as ConfChangeType, nodeId: dv.getFloat64(off + 1) });
    off += 9;
  }
  const len = dv.getUint32(off);
  if (data.byteLength < off + 4 + len) throw new ConfChangeError('malformed conf change');
  const cc: ConfChange = { changes, transition: dv.getUint8(1) === 1 ? 'explicit' : 'auto' };
  if (len > 0) cc.context = data.slice(off + 4, off + 4 + len);
  return cc;
}
