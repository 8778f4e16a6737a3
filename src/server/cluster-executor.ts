/**
 * The cluster Executor (src/server/executor.ts contract): routes each op of a request to
 * its key's group, runs each group's share at that group's leader (locally or forwarded),
 * and reassembles the results in op order. `flush_all` goes to every group.
 */
import type { CacheOp, CacheResult } from '../cache/ops.js';
import { opMutates } from '../cache/ops.js';
import { NotBootstrappedError, ShuttingDownError, serverErrorText, type ClusterError } from '../cluster/errors.js';
import { metaGroupId, type ClusterHost } from '../cluster/host.js';
import type { Timer } from '../cluster/runtime.js';
import type { GroupId } from '../raft/types.js';
import { itemStats, nodeStats, raftStats, resetBaseline, type PeerTraffic, type StatsBaseline } from './cluster-status.js';
import type { ExecuteCallback, Executor } from './executor.js';
import { OpCounters } from './op-counters.js';

/** The server_error every op of a failed group share gets: the one place a ClusterError becomes a reply. */
function serverError(err: ClusterError): CacheResult {
  return { kind: 'server_error', message: serverErrorText(err) };
}

/** One group's share of a request: its ops and where their results go. */
interface Share {
  ops: CacheOp[];
  positions: number[];
  mutates: boolean;
}

/** Executes client requests on the cluster. */
export class ClusterExecutor implements Executor {
  /** Command counters of requests entering through this node. */
  readonly counters = new OpCounters();
  /** Replicated item counters as of the last `stats reset` (reported as growth since). */
  private baseline: StatsBaseline = new Map();
  private closed = false;
  /** Requests that arrived before the meta log created the ranges (a node just started). */
  private beforeBootstrap: Array<{ ops: CacheOp[]; done: ExecuteCallback; deadlineMs: number }> = [];
  private bootstrapTimer: Timer | null = null;

  constructor(
    private readonly host: ClusterHost,
    private readonly limitMaxBytes: number,
    /** Node-to-node traffic so far, for `stats raft` (absent: not reported). */
    private readonly traffic?: () => PeerTraffic,
  ) {}

  execute(ops: CacheOp[], done: ExecuteCallback): void {
    if (this.closed) return done(ops.map(() => serverError(new ShuttingDownError('no'))));
    // Behind requests still held for the bootstrap, even once it applied: in arrival order.
    if (!this.host.meta.view.bootstrapped || this.beforeBootstrap.length > 0) return this.waitForBootstrap(ops, done);
    this.executeReady(ops, done);
  }

  /** Runs a request once the routing table exists. */
  private executeReady(ops: CacheOp[], done: ExecuteCallback): void {
    if (this.closed) return done(ops.map(() => serverError(new ShuttingDownError('no'))));
    if (ops.length === 1 && ops[0]!.type !== 'flush') return this.executeOne(ops, done);
    const results: CacheResult[] = new Array(ops.length);
    const shares = this.split(ops);
    let remaining = shares.size;
    if (remaining === 0) return done(results);
    for (const [group, share] of shares) {
      this.host.runOps(group, share.ops, share.mutates, (res, error) => {
        this.place(results, share, res as CacheResult[] | null, error);
        if (--remaining === 0) this.finish(ops, results, done);
      });
    }
  }

  stats(group: string): Array<[string, string]> | null {
    switch (group) {
      case '':
        return nodeStats(this.host, this.counters, this.limitMaxBytes, this.baseline);
      case 'raft':
        return raftStats(this.host, this.traffic?.());
      case 'items':
      case 'slabs':
        return itemStats(this.host, group, this.baseline);
      case 'settings':
        return [
          ['maxbytes', String(this.limitMaxBytes)],
          ['groups', String(this.host.meta.view.config.groups)],
          ['replicas', String(this.host.meta.view.config.replicas)],
          ['read_mode', this.host.config.readMode],
        ];
      default:
        return null;
    }
  }

  resetStats(): void {
    this.counters.reset();
    this.baseline = resetBaseline(this.host);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pollBootstrap();
  }

  /**
   * A node that has just started has no routing table until the meta log's bootstrap entry
   * applies (well under a second): hold requests until then, within the same bound as a
   * request waiting for a leader, rather than refusing a client that connected early.
   */
  private waitForBootstrap(ops: CacheOp[], done: ExecuteCallback): void {
    this.beforeBootstrap.push({ ops, done, deadlineMs: this.host.runtime.monoMs() + this.host.config.forwardTimeoutMs });
    // The meta state has no "bootstrapped" event; a short poll only runs while requests wait.
    this.bootstrapTimer ??= this.host.runtime.every(20, () => this.pollBootstrap());
  }

  private pollBootstrap(): void {
    const ready = this.host.meta.view.bootstrapped;
    const nowMs = this.host.runtime.monoMs();
    const waiting = this.beforeBootstrap;
    this.beforeBootstrap = [];
    for (const w of waiting) {
      if (ready || this.closed) this.executeReady(w.ops, w.done);
      else if (nowMs >= w.deadlineMs) w.done(w.ops.map(() => serverError(new NotBootstrappedError())));
      else this.beforeBootstrap.push(w);
    }
    if (this.beforeBootstrap.length === 0 && this.bootstrapTimer !== null) {
      this.host.runtime.cancel(this.bootstrapTimer);
      this.bootstrapTimer = null;
    }
  }

  // The common case, one keyed op: no share bookkeeping.
  private executeOne(ops: CacheOp[], done: ExecuteCallback): void {
    const op = ops[0]!;
    const group = this.groupOf(op);
    this.host.runOps(group, ops, opMutates(op), (res, error) => {
      const results = res === null ? [serverError(error!)] : (res as CacheResult[]);
      this.counters.count(op, results[0]!);
      done(results);
    });
  }

  private groupOf(op: CacheOp): GroupId {
    const key = (op as { key?: Buffer }).key;
    const group = key === undefined ? null : this.host.meta.routing.groupOfKey(key);
    return group === null ? metaGroupId : group.id;
  }

  private split(ops: CacheOp[]): Map<GroupId, Share> {
    const shares = new Map<GroupId, Share>();
    const add = (group: GroupId, op: CacheOp, position: number): void => {
      let share = shares.get(group);
      if (share === undefined) {
        share = { ops: [], positions: [], mutates: false };
        shares.set(group, share);
      }
      share.ops.push(op);
      share.positions.push(position);
      if (opMutates(op)) share.mutates = true;
    };
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.type === 'flush') {
        for (const g of this.host.meta.view.groups) add(g.id, op, i);
      } else {
        add(this.groupOf(op), op, i);
      }
    }
    return shares;
  }

  private place(results: CacheResult[], share: Share, res: CacheResult[] | null, error: ClusterError | undefined): void {
    for (let k = 0; k < share.positions.length; k++) {
      const at = share.positions[k]!;
      const r = res === null ? serverError(error!) : res[k]!;
      const prior = results[at];
      // A flush fans out to every group: it is ok only if every group said ok.
      if (prior === undefined || (prior.kind === 'ok' && r.kind !== 'ok')) results[at] = r;
    }
  }

  private finish(ops: CacheOp[], results: CacheResult[], done: ExecuteCallback): void {
    for (let i = 0; i < ops.length; i++) this.counters.count(ops[i]!, results[i]!);
    done(results);
  }
}
