/**
 * The membership nemesis: joins spare nodes and drains members while the workload and the
 * other faults run. A join starts the spare node with `--join` (through its link proxy to a
 * running member); a drain asks the cluster (`POST /ctl/drain` at any member) to move every
 * replica away, and once the meta state says `removed`, stops the node for good. Both then
 * finish in the background, under whatever faults come next; nemesis.jsonl gets a `join`
 * interval (started until `up`) and a `drain` interval (asked until stopped).
 */
import type { Cluster } from '../cluster/cluster.js';
import { delay } from '../cluster/cluster.js';
import type { NemesisLog } from '../history/writer.js';
import type { Rng } from '../random.js';

/** Longest a join or drain may take before the run gives up on it. */
const changeTimeoutMs = 120_000;
/** Poll interval of the background watchers. */
const pollMs = 300;

/** What became of the run's membership changes (results.json `membership`). */
export interface MembershipReport {
  joined: number[];
  drained: number[];
  /** Changes that had not finished when the run stopped waiting, e.g. "drain 2". */
  unfinished: string[];
}

interface CtlStatus {
  nodes: Array<{ id: number; state: string }>;
}

/** Starts joins and drains and watches them finish. */
export class MembershipNemesis {
  readonly report: MembershipReport = { joined: [], drained: [], unfinished: [] };
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly cluster: Cluster,
    private readonly log: NemesisLog,
    private readonly rng: Rng,
  ) {}

  /** Starts spare node `id` joining through a running member. */
  join(id: number): void {
    const running = this.runningMembers().filter((m) => m !== id);
    const via = this.rng.pick(running.length > 0 ? running : this.cluster.members().filter((m) => m !== id));
    this.cluster.join(id, via);
    this.log.record({ fault: 'join', phase: 'start', nodes: [id], detail: `node ${id} joins via node ${via}` });
    this.track(`join ${id}`, this.untilState(id, ['up']).then(() => {
      this.report.joined.push(id);
      this.log.record({ fault: 'join', phase: 'stop', nodes: [id], detail: `node ${id} is up` });
    }));
  }

  /** Asks the cluster to drain member `id`, then stops it once it is removed. */
  drain(id: number): void {
    this.log.record({ fault: 'drain', phase: 'start', nodes: [id], detail: `drain node ${id}` });
    this.track(`drain ${id}`, this.drainAndRetire(id));
  }

  /** Waits (at most `timeoutMs`) for every join and drain started so far; what is left is `unfinished`. */
  async settle(timeoutMs: number): Promise<MembershipReport> {
    const timeout = delay(timeoutMs).then(() => 'timeout' as const);
    await Promise.race([Promise.all(this.inFlight.values()), timeout]);
    this.report.unfinished = [...this.inFlight.keys()];
    return this.report;
  }

  private track(what: string, work: Promise<void>): void {
    const done = work.then(
      () => void this.inFlight.delete(what),
      (err: unknown) => void this.log.record({ fault: what.split(' ')[0]!, phase: 'stop', detail: `${what} failed: ${String(err)}` }),
    );
    this.inFlight.set(what, done);
  }

  private async drainAndRetire(id: number): Promise<void> {
    // Refused while the cluster cannot spare the node yet (a join still coming up) or
    // has no meta leader (a partition): ask again.
    await this.poll(`drain ${id} accepted`, async () => {
      const at = this.pickAdmin(id);
      return at !== null && (await this.cluster.admin(at, 'POST', `/ctl/drain?node=${id}`)) !== null;
    });
    // Once removed the node exits by itself (it never serves clients again).
    this.cluster.expectExit(id);
    await this.untilState(id, ['removed']);
    await this.cluster.retire(id);
    this.report.drained.push(id);
    this.log.record({ fault: 'drain', phase: 'stop', nodes: [id], detail: `node ${id} removed and stopped` });
  }

  /** Polls `ctl status` through the members until node `id` is in one of `states`. */
  private untilState(id: number, states: string[]): Promise<void> {
    return this.poll(`node ${id} ${states.join('|')}`, async () => {
      const at = this.pickAdmin(id);
      const s = at === null ? null : ((await this.cluster.admin(at, 'GET', '/ctl/status')) as CtlStatus | null);
      return s?.nodes.some((n) => n.id === id && states.includes(n.state)) ?? false;
    });
  }

  private async poll(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = performance.now() + changeTimeoutMs;
    while (!(await check())) {
      if (performance.now() > deadline) throw new Error(`${what}: not after ${changeTimeoutMs} ms`);
      await delay(pollMs);
    }
  }

  /** A running member to ask, preferring others than `id` (null if none runs). */
  private pickAdmin(id: number): number | null {
    const running = this.runningMembers();
    const others = running.filter((m) => m !== id);
    const from = others.length > 0 ? others : running;
    return from.length === 0 ? null : this.rng.pick(from);
  }

  private runningMembers(): number[] {
    return this.cluster.members().filter((m) => this.cluster.state(m) === 'up');
  }
}
