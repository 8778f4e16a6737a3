/**
 * The lock workload: the recipe of docs/locks.md under faults. Each step of a process is
 * one hold of a lock:
 *   1. acquire: `ms lock<i> S<n> T<ttl> ME c` (add with a TTL); `HD c<cas>`: the CAS is the
 *      fencing token (recorded: acquire, ok [owner, token]; NS = held, a fail);
 *   2. sometimes a client-side pause longer than the TTL (a GC pause: the lock expires
 *      under the holder, who does not know);
 *   3. sometimes a renew: `ms lock<i> ... C<token> T<ttl> c` (same owner value), whose new
 *      CAS is the new token;
 *   4. the fenced write of `res<i>`: `gets` (a read); absent: `add`, else if the stored
 *      token is at most ours: `cas` of "<token>:<owner>.<attempt>"; a higher stored token:
 *      fenced out, write nothing. EXISTS: again, a few times;
 *   5. release: `md lock<i> C<token>` (ok, or EX/NF when the lock expired meanwhile).
 * Any info ends the step at once (the process never issues again). With
 * `unsafeSkipFence`, step 4 is a plain `set` (no read, no compare): the known-bad client
 * that jepsen-lite must catch once a paused holder writes after its successor.
 *
 * The resource values carry their token, so checkLock can check the fence from the
 * history alone; resource keys are plain registers for checkRegister. No initial keys:
 * the resource is created by the first holder's `add`, so the history is self-contained.
 */
import type { HistoryEvent } from '../history/types.js';
import type { Rng } from '../random.js';
import type { McClient } from './client.js';
import { runOp, runRequest, type Completion, type OpActor } from './ops.js';

/** Options of the lock workload. */
export interface LockOptions {
  /** Lock keys lock0.. (each fencing its resource res0..). */
  locks: number;
  /** The lock's TTL in whole seconds (short, so faults and pauses outlast it). */
  ttlSec: number;
  /** Chance per hold of a client pause of ttl + pauseExtraMs between acquire and write. */
  pauseP: number;
  pauseExtraMs: [number, number];
  /** Chance per hold of a renew before the write. */
  renewP: number;
  /** Write the resource with a plain set, skipping the fence (known-bad). */
  unsafeSkipFence: boolean;
}

/** Defaults: 3 locks, TTL 2 s, a pause of 2.3-3.5 s in 4% of holds, a renew in 20%. */
export const lockDefaults: LockOptions = { locks: 3, ttlSec: 2, pauseP: 0.04, pauseExtraMs: [300, 1500], renewP: 0.2, unsafeSkipFence: false };

/** Tries of the fenced write's gets + cas loop when another write gets in between. */
const fenceTriesMax = 3;

/** What a step may use besides the client: a sleep that ends early when the run stops. */
export interface StepContext {
  sleep(ms: number): Promise<void>;
}

/** The lock key and its resource key. */
export function lockKeys(i: number): { lock: string; resource: string } {
  return { lock: `lock${i}`, resource: `res${i}` };
}

/** The token a resource value carries ("<token>:<rest>"), or null. */
export function tokenOf(value: unknown): bigint | null {
  if (typeof value !== 'string') return null;
  const m = /^([0-9]+):/.exec(value);
  return m === null ? null : BigInt(m[1]!);
}

/** Runs the lock workload's steps. */
export class LockSteps {
  private readonly holds = new Map<number, number>();

  constructor(private readonly o: LockOptions) {}

  /** One hold: acquire, maybe pause and renew, fenced write, release. Returns the step's worst completion. */
  async step(client: McClient, actor: OpActor, rng: Rng, ctx: StepContext): Promise<Completion> {
    const { lock, resource } = lockKeys(rng.int(0, this.o.locks - 1));
    const n = (this.holds.get(actor.process) ?? 0) + 1;
    this.holds.set(actor.process, n);
    const owner = `p${actor.process}-${n}`;
    const acquired = await runRequest(actor, 'acquire', lock, owner, () => client.metaAdd(lock, owner, this.o.ttlSec));
    if (acquired.type !== 'ok') return acquired;
    let token = (acquired.value as [string, string])[1];
    if (rng.chance(this.o.pauseP)) await ctx.sleep(this.o.ttlSec * 1000 + rng.float(...this.o.pauseExtraMs));
    if (rng.chance(this.o.renewP)) {
      const renewed = await runRequest(actor, 'renew', lock, [owner, token], () => client.metaSetIfCas(lock, owner, this.o.ttlSec, token));
      if (renewed.type === 'info') return renewed;
      if (renewed.type === 'ok') token = (renewed.value as [string, string])[1];
      // A failed renew: the lock expired under us. Write anyway, as a holder that does not
      // check would: the fence must refuse it if a successor wrote.
    }
    const wrote = this.o.unsafeSkipFence
      ? await runOp(client, actor, 'write', resource, `${token}:${owner}.1`)
      : await this.fencedWrite(client, actor, resource, token, owner);
    if (wrote.type === 'info') return wrote;
    const released = await runRequest(actor, 'release', lock, [owner, token], () => client.metaDeleteIfCas(lock, token));
    return released.type === 'info' ? released : wrote;
  }

  /** gets, then add (absent) or cas (stored token <= ours); fenced out by a higher stored token. */
  private async fencedWrite(client: McClient, actor: OpActor, resource: string, token: string, owner: string): Promise<Completion> {
    const mine = BigInt(token);
    let done: Completion = { type: 'fail', value: null };
    for (let attempt = 1; attempt <= fenceTriesMax; attempt++) {
      const value = `${token}:${owner}.${attempt}`;
      let current: { value: string | null; cas: string | null } | null = null;
      const read = await runRequest(actor, 'read', resource, null, async () => {
        const reply = await client.gets(resource);
        if (reply.kind === 'value') current = { value: reply.value, cas: reply.cas };
        return reply;
      });
      if (read.type !== 'ok' || current === null) return read;
      const seen = current as { value: string | null; cas: string | null };
      if (seen.value === null) {
        done = await runOp(client, actor, 'add', resource, value);
      } else {
        const stored = tokenOf(seen.value);
        if (stored === null || stored > mine || seen.cas === null) return { type: 'fail', value: null, error: 'fenced out' };
        const expected = seen.value;
        done = await runOp(client, actor, 'cas', resource, [expected, value], [expected, value, seen.cas] as unknown as HistoryEvent['value']);
      }
      if (done.type !== 'fail') return done;
    }
    return done;
  }
}
