/**
 * Availability measurements the history cannot give (issue 10), taken beside the workload:
 *
 * - Heal probes: when the nemesis heals a fault, every member node is asked, for every data
 *   group, a read and then a write of a probe key of that group (keys `jl-probe-g<G>-<i>`,
 *   chosen so they hash into group G; never part of the checked history), over and over
 *   until each succeeds. The time from the heal to each first success is "node N serves
 *   group G again". Each probe op has a 3 s client timeout (a common memcached client's);
 *   probes stop when the next fault starts (then: not served within the quiet period).
 *   Each probed group keeps its tries (`fails`: connect, get, set, from-to ms and what
 *   failed), which tells a request held by the node from a run of fast failures.
 * - Leader watch: every node's /status is polled every `leaderPollMs`; each change of a
 *   group's leader (the highest-term node claiming it) is logged, so leadership changes
 *   after each heal can be counted. A poll sees at most one change per interval per group,
 *   so faster flapping is undercounted (the counts are a lower bound).
 */
import { hashKey, rangeIndexOf } from '../../src/membership/hash.js';
import type { RunClock } from '../history/writer.js';
import { McClient, type Endpoint } from '../workload/client.js';
import type { Cluster } from './cluster.js';
import { delay } from './cluster.js';

/** One heal and what each node did after it. */
export interface HealProbe {
  /** ms since the run started. */
  healMs: number;
  fault: string;
  /** The nodes the healed fault hit. */
  hit: number[];
  /** Per node, per group: ms from the heal to the first ok read / write (null: none before the probes stopped). */
  nodes: { node: number; groups: ProbedGroup[] }[];
  /** How long the probes ran (until the next fault started, or the run ended). */
  probedMs: number | null;
}

/** One group probed through one node after a heal. */
export interface ProbedGroup {
  group: number;
  readMs: number | null;
  writeMs: number | null;
  /** The last failed probe's reply or client error, while it was not yet served. */
  lastError?: string;
  /** The failed tries before it was served (ms from the heal and what failed; at most `failsKept`, then only the last). */
  fails?: string[];
}

/** A group's leader as the harness saw it change. */
export interface LeaderChange {
  /** ms since the run started. */
  timeMs: number;
  group: number;
  leader: number;
  term: number;
}

/** Longest a probe op waits for its reply (a common memcached client timeout). */
export const probeOpTimeoutMs = 3000;
/** Pause between failed probe tries (the node answers SERVER_ERROR fast now). */
const probeRetryMs = 20;
/** Longest a heal is probed when no fault follows (the end of the run). */
const probeMsMax = 15_000;
/** Failed tries kept per probed group (the first ones, then the last one replaces the tail). */
const failsKept = 8;
/** Interval of the leader watch's /status polls. */
const leaderPollMs = 200;

/** Notes a failed try (from when it was asked to when it failed) and what failed. */
function noteFail(g: ProbedGroup, fromMs: number, toMs: number, what = 'connect', error = g.lastError ?? ''): void {
  const fails = (g.fails ??= []);
  const line = `${Math.round(fromMs)}-${Math.round(toMs)} ms ${what}: ${error}`;
  if (fails.length < failsKept) fails.push(line);
  else fails[failsKept - 1] = line;
}

/** The probe keys: one per data group (1..groups). */
export function probeKeys(groups: number): Map<number, string> {
  const keys = new Map<number, string>();
  for (let i = 0; keys.size < groups && i < 1_000_000; i++) {
    const key = `jl-probe-${i}`;
    const group = rangeIndexOf(hashKey(Buffer.from(key)), groups) + 1;
    if (!keys.has(group)) keys.set(group, key);
  }
  return keys;
}

/** Runs heal probes and the leader watch for one run. */
export class AvailabilityProbe {
  readonly heals: HealProbe[] = [];
  readonly leaderChanges: LeaderChange[] = [];
  private readonly keys: Map<number, string>;
  private generation = 0;
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  private watch: Promise<void> | null = null;
  private readonly leaders = new Map<number, { leader: number; term: number }>();

  constructor(
    private readonly cluster: Cluster,
    private readonly clock: RunClock,
    groups: number,
  ) {
    this.keys = probeKeys(groups);
  }

  /** Starts the leader watch. */
  start(): void {
    this.watch = this.watchLeaders();
  }

  /** A fault was healed: probe every member node for every group. */
  onHeal(fault: string, hit: number[]): void {
    if (this.stopped) return;
    this.closeProbes();
    const gen = ++this.generation;
    const heal: HealProbe = { healMs: this.clock.nowMs(), fault, hit, nodes: [], probedMs: null };
    this.heals.push(heal);
    for (const node of this.cluster.members()) {
      if (this.cluster.state(node) !== 'up') continue;
      const groups: ProbedGroup[] = [...this.keys].map(([group]) => ({ group, readMs: null, writeMs: null }));
      heal.nodes.push({ node, groups });
      for (const g of groups) this.track(this.probeGroup(heal, gen, this.cluster.clientEndpoint(node), g));
    }
  }

  /** A fault starts: the probes of the previous heal stop (what they did not see is null). */
  onFaultStart(): void {
    this.closeProbes();
    this.generation++;
  }

  /** Stops everything and waits for the probes and the watch to end. */
  async stop(): Promise<void> {
    this.closeProbes();
    this.stopped = true;
    this.generation++;
    await Promise.all([...this.running, this.watch]);
  }

  private closeProbes(): void {
    const last = this.heals[this.heals.length - 1];
    if (last !== undefined && last.probedMs === null) last.probedMs = Math.round(this.clock.nowMs() - last.healMs);
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  private live(gen: number, heal: HealProbe): boolean {
    return !this.stopped && gen === this.generation && this.clock.nowMs() - heal.healMs < probeMsMax;
  }

  private async probeGroup(heal: HealProbe, gen: number, at: Endpoint, g: ProbedGroup): Promise<void> {
    const key = this.keys.get(g.group)!;
    let client: McClient | null = null;
    try {
      while (this.live(gen, heal) && (g.readMs === null || g.writeMs === null)) {
        if (client === null || client.broken) {
          const connectingMs = this.clock.nowMs() - heal.healMs;
          client = await McClient.connect(at, probeOpTimeoutMs, 1000).catch((err: unknown) => {
            g.lastError = `connect: ${String(err)}`;
            return null;
          });
          if (client === null) noteFail(g, connectingMs, this.clock.nowMs() - heal.healMs);
          else noteFail(g, connectingMs, this.clock.nowMs() - heal.healMs, 'connected', '');
          if (client === null) {
            await delay(probeRetryMs);
            continue;
          }
        }
        const reading = g.readMs === null;
        const askedMs = this.clock.nowMs() - heal.healMs;
        const reply = await (reading ? client.get(key) : client.set(key, String(Math.round(heal.healMs)))).catch((err: unknown) => {
          g.lastError = String(err);
          return null;
        });
        if (!this.live(gen, heal)) break;
        const ok = reply !== null && (reading ? reply.kind === 'value' : reply.kind === 'stored');
        if (ok) noteFail(g, askedMs, this.clock.nowMs() - heal.healMs, reading ? 'get ok' : 'set ok', '');
        if (ok && reading) g.readMs = Math.round(this.clock.nowMs() - heal.healMs);
        else if (ok) g.writeMs = Math.round(this.clock.nowMs() - heal.healMs);
        if (ok) continue;
        if (reply !== null) g.lastError = JSON.stringify(reply).slice(0, 160);
        noteFail(g, askedMs, this.clock.nowMs() - heal.healMs, reading ? 'get' : 'set');
        await delay(probeRetryMs);
      }
      if (g.readMs !== null && g.writeMs !== null) delete g.lastError;
    } finally {
      client?.close();
    }
  }

  private async watchLeaders(): Promise<void> {
    while (!this.stopped) {
      const seen = new Map<number, { leader: number; term: number }>();
      const all = await Promise.all(this.cluster.members().map((id) => this.cluster.status(id)));
      for (const s of all) {
        if (s === null) continue;
        for (const g of s.groups) {
          if (g.id === 0 || g.role !== 'leader') continue;
          const prior = seen.get(g.id);
          if (prior === undefined || g.term > prior.term) seen.set(g.id, { leader: s.node.id, term: g.term });
        }
      }
      const timeMs = Math.round(this.clock.nowMs());
      for (const [group, now] of seen) {
        const before = this.leaders.get(group);
        if (before !== undefined && before.leader === now.leader) continue;
        if (before !== undefined && now.term < before.term) continue;
        this.leaders.set(group, now);
        this.leaderChanges.push({ timeMs, group, leader: now.leader, term: now.term });
      }
      await delay(leaderPollMs);
    }
  }
}
