/**
 * Prometheus-style metrics of a node: fixed-bucket histograms (no allocation per
 * observation) and the text exposition format.
 */

/** A cumulative histogram with fixed upper bounds in seconds. */
export class Histogram {
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one observation. */
  observe(seconds: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }

  /** The q-quantile (0..1) estimated as the upper bound of its bucket. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return i < this.bounds.length ? this.bounds[i]! : Infinity;
    }
    return Infinity;
  }

  /** Lines of the exposition format for metric `name`; `labels` (e.g. `node="1"`) go on every series. */
  render(name: string, help: string, labels = ''): string[] {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    const prefix = labels === '' ? '' : `${labels},`;
    const plain = labels === '' ? '' : `{${labels}}`;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      lines.push(`${name}_bucket{${prefix}le="${this.bounds[i]}"} ${cumulative}`);
    }
    lines.push(`${name}_bucket{${prefix}le="+Inf"} ${this.count}`);
    lines.push(`${name}_sum${plain} ${this.sum}`);
    lines.push(`${name}_count${plain} ${this.count}`);
    return lines;
  }
}

/** Latency buckets from 0.1 ms to 10 s. */
export const latencyBucketsSeconds = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The host's own measurements. */
export class HostMetrics {
  /** One storage write (fsync included when on) per flush. */
  readonly fsyncSeconds = new Histogram(latencyBucketsSeconds);
  /** From proposal to the result of the committed entry, at the leader. */
  readonly proposalSeconds = new Histogram(latencyBucketsSeconds);
  /** Peer messages and requests dropped as malformed (each also reset its peer's link). */
  peerBadMessages = 0;
  /** How requests arriving here were run: which path each took (see forwarder.ts). */
  readonly paths = {
    /** Reads served from this node's follower replica after a confirmed read index. */
    followerReads: 0,
    /** Requests run at this node's own leader replica. */
    local: 0,
    /** Requests forwarded to another node's leader replica (each try counts). */
    forwarded: 0,
    /** Requests other nodes forwarded to this node. */
    served: 0,
  };
  /** Snapshots this node sent and received (InstallSnapshot), and their data bytes. */
  readonly snapshots = {
    sent: 0,
    sentBytes: 0,
    received: 0,
  };
  /** Snapshot bytes sent to the target of a move in flight: the data a move carried. */
  bytesMoved = 0;
  /** Moves this node (as the meta leader) started, finished and aborted (see rebalancer.ts). */
  readonly moves = {
    started: 0,
    done: 0,
    aborted: 0,
  };
  /** Counters of replicas destroyed here (moved away), so node totals never go down. */
  readonly retired: ReplicaCounters = { elections: 0, leaderChanges: 0, snapshotsTaken: 0, snapshotsInstalled: 0 };

  /** Keeps a destroyed replica's counters in the node totals. */
  retire(r: ReplicaCounters): void {
    this.retired.elections += r.elections;
    this.retired.leaderChanges += r.leaderChanges;
    this.retired.snapshotsTaken += r.snapshotsTaken;
    this.retired.snapshotsInstalled += r.snapshotsInstalled;
  }
}

/** The event counters each replica keeps. */
export interface ReplicaCounters {
  /** Elections this replica saw (each new term it entered is one). */
  elections: number;
  /** Times this replica learned of a new leader of its group. */
  leaderChanges: number;
  /** Snapshots taken locally (log compaction). */
  snapshotsTaken: number;
  /** Snapshots installed from the leader (applied). */
  snapshotsInstalled: number;
}

/** One gauge or counter with optional labels, in exposition format. */
export function metricLines(name: string, type: 'gauge' | 'counter', help: string, samples: Array<[string, number]>): string[] {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  return lines;
}
