/**
 * Lease reads (readOnlyOption 'lease'), etcd-style scenarios. The leader's lease is
 * anchored at when the heartbeats a quorum acknowledged were *sent*: with every clock
 * ticking in lockstep (Network.tickAll), a follower that received a heartbeat sent at
 * tick s helps elect no one (not even itself) before s + electionTicks, so the leader
 * answers reads from its lease while now < s + electionTicks - leaseDriftTicks and
 * otherwise falls back to a ReadIndex round. `lease-stale-read` in simulation.test.ts is
 * the schedule the simulator found; these pin each rule down.
 */
import { describe, expect, it } from 'vitest';
import { MessageType, newMessage } from '../../src/raft/index.js';
import { b, Network, s, replaceVoters } from './scenarios-network.js';

const lease = { readOnlyOption: 'lease' } as const;

/** Asks `id` for a read and handles its Ready without delivering anything: answered at once? */
function readAtOnce(net: Network, id: number, ctx: string): boolean {
  net.node(id).readIndex(b(ctx));
  net.process(id);
  return net.host(id).readStates.some((r) => s(r.context) === ctx);
}

/** The leader among `ids` (a newer leadership than an isolated old leader's), or 0. */
function leaderAmong(net: Network, ids: number[]): number {
  return ids.find((id) => net.node(id).status().role === 'leader') ?? 0;
}

/** Elects a leader among `ids` by campaigning at the first of them unless one leads already. */
function electAmong(net: Network, ids: number[]): number {
  if (leaderAmong(net, ids) === 0) {
    net.node(ids[0]!).campaign();
    net.stabilize();
  }
  return leaderAmong(net, ids);
}

describe('raft scenarios: lease reads', () => {
  it('an acknowledged heartbeat round starts the lease; before it, reads take a ReadIndex round', () => {
    const net = new Network([1, 2, 3], { config: lease });
    net.elect(1);
    net.cutLink(1, 2);
    net.cutLink(1, 3);
    // Elected and its entry committed, but no heartbeat acknowledged yet: no lease.
    expect(readAtOnce(net, 1, 'early')).toBe(false);
    const round = net.queue.filter((m) => m.type === MessageType.Heartbeat && m.from === 1);
    expect(round.map((m) => s(m.context ?? new Uint8Array()))).toEqual(['early', 'early']);
    net.heal();
    net.stabilize();
    expect(net.host(1).readStates.map((r) => s(r.context))).toEqual(['early']);
    net.tickAll(1); // heartbeats carry the leader's tick; the acks echo it
    net.isolate(1);
    net.queue = [];
    expect(readAtOnce(net, 1, 'leased')).toBe(true);
    expect(net.queue.filter((m) => m.type === MessageType.Heartbeat)).toHaveLength(0);
  });

  it.each([0, 1, 2])('leaseDriftTicks %i: the lease ends electionTicks - drift ticks after the acknowledged send', (drift) => {
    const net = new Network([1, 2, 3], { config: { ...lease, leaseDriftTicks: drift } });
    net.elect(1);
    net.tickAll(1); // the last heartbeat the followers acknowledge, sent at tick s
    net.isolate(1);
    net.tickAll(9 - drift); // now = s + 9 - drift < s + 10 - drift
    expect(readAtOnce(net, 1, 'in-lease')).toBe(true);
    net.tickAll(1);
    expect(readAtOnce(net, 1, 'expired')).toBe(false); // a ReadIndex round that cannot finish
    expect(net.node(1).status().role).toBe('leader');
  });

  it('the followers help elect no one until electionTicks after the send; the old leader then serves nothing stale', () => {
    const net = new Network([1, 2, 3], { config: { ...lease, preVote: false } });
    net.elect(1);
    net.propose(1, 'a');
    net.tickAll(1); // s
    net.isolate(1);
    net.tickAll(8);
    expect(readAtOnce(net, 1, 'in-lease')).toBe(true); // s + 8 < s + 10 - 1
    net.tickAll(1); // s + 9: the lease has ended, the followers' promise has not
    for (const id of [2, 3]) {
      net.node(id).campaign(); // refused by its own promise, and would be by the other's
      net.stabilize();
    }
    expect(leaderAmong(net, [2, 3])).toBe(0);
    net.tickAll(1); // s + 10
    const lead = electAmong(net, [2, 3]);
    expect(lead).not.toBe(0);
    net.propose(lead, 'b');
    expect(net.host(lead).applied).toEqual(['a', 'b']);
    expect(net.node(1).status().role).toBe('leader'); // its check-quorum comes later
    expect(readAtOnce(net, 1, 'stale?')).toBe(false);
    expect(net.host(1).readStates.map((r) => s(r.context))).toEqual(['in-lease']);
  });

  it('lease-stale-read: the check-quorum window outlives the lease, and reads fall back in between', () => {
    // electionTicks 5, heartbeat 1 (the simulator's schedule): node 1's check-quorum at
    // tick 5 passes on acks from before the partition, so it still leads at tick 9, when
    // node 2 can be elected; the old rule served lease reads until the check at tick 10.
    const net = new Network([1, 2, 3], { config: { ...lease, electionTicks: 5, preVote: false } });
    net.elect(1);
    net.tickAll(4);
    net.isolate(1);
    net.tickAll(5);
    expect(net.node(1).status().role).toBe('leader');
    const lead = electAmong(net, [2, 3]);
    expect(lead).not.toBe(0);
    net.propose(lead, 'w');
    expect(net.host(lead).applied).toEqual(['w']);
    expect(readAtOnce(net, 1, 'stale?')).toBe(false);
    net.heal();
    net.tickAll(1);
    expect(net.node(1).status().lead).toBe(lead);
    expect(net.host(1).readStates).toHaveLength(0); // the pending round died with the leadership
  });

  it("a follower's own campaign() is refused while it holds the leader's lease", () => {
    // 3 no longer hears from 1 and would vote for anyone; 1's lease rests on 2, so 2's own
    // vote is part of its promise.
    const net = new Network([1, 2, 3], { config: lease });
    net.elect(1);
    net.propose(1, 'a');
    net.cutLink(1, 3);
    net.tickAll(12);
    net.isolate(1);
    net.node(2).campaign();
    net.stabilize();
    expect(leaderAmong(net, [2, 3])).toBe(0);
    expect(readAtOnce(net, 1, 'leased')).toBe(true);
  });

  it('a restarted follower helps elect no one for an election timeout: it may have acked the leader', () => {
    // 1's lease rests on 3's acks (2 is cut off from 1); 3 crashes and restarts, forgetting.
    const run = (readOnlyOption: 'safe' | 'lease'): number => {
      const net = new Network([1, 2, 3], { config: { readOnlyOption } });
      net.elect(1);
      net.cutLink(1, 2);
      net.tickAll(12);
      net.crash(3);
      net.restart(3);
      net.isolate(1);
      net.node(2).campaign();
      net.stabilize();
      return leaderAmong(net, [2, 3]);
    };
    expect(run('safe')).toBe(2); // etcd's rule: a restarted node knows no leader
    expect(run('lease')).toBe(0);
  });

  it('a stray higher-term response does not release a follower from its promise', () => {
    // etcd adopts the term with no leader, which would let 2 vote at once.
    const net = new Network([1, 2, 3], { config: { ...lease, preVote: false } });
    net.elect(1);
    net.cutLink(1, 3);
    net.tickAll(12);
    net.isolate(1);
    const term = net.node(2).status().term;
    net.node(2).step(newMessage({ type: MessageType.AppResp, from: 3, to: 2, term: term + 1 }));
    net.stabilize();
    expect(net.node(2).status()).toMatchObject({ term: term + 1, lead: 0, vote: 0 });
    net.node(3).campaign(); // at term + 1: a same-term vote request
    net.stabilize();
    expect(leaderAmong(net, [2, 3])).toBe(0);
    expect(readAtOnce(net, 1, 'leased')).toBe(true);
  });

  it('a leader that sent TimeoutNow serves no lease read for the rest of its term', () => {
    const net = new Network([1, 2, 3], { config: lease });
    net.elect(1);
    net.tickAll(1);
    net.node(1).transferLeader(2);
    net.process(1);
    const timeoutNow = net.queue.filter((m) => m.type === MessageType.TimeoutNow);
    expect(timeoutNow).toHaveLength(1);
    net.queue = net.queue.filter((m) => m.type !== MessageType.TimeoutNow); // delayed in the network
    expect(readAtOnce(net, 1, 'transferring')).toBe(false);
    net.stabilize();
    net.tickAll(10); // the transfer is abandoned; heartbeats keep being acknowledged
    expect(net.node(1).status()).toMatchObject({ role: 'leader', leadTransferee: 0 });
    net.cutLink(1, 2);
    net.cutLink(1, 3);
    expect(readAtOnce(net, 1, 'after')).toBe(false);
    // Why: the delayed TimeoutNow still elects 2 at once, bypassing every follower's promise.
    net.heal();
    net.queue.push(...timeoutNow);
    net.stabilize();
    expect(net.leader()).toBe(2);
  });

  it('joint config: the lease needs a quorum of acks in both halves', () => {
    const net = new Network([1, 2, 3], { config: lease });
    net.elect(1);
    for (const id of [4, 5]) net.addEmptyHost(id);
    // The old half commits the change; the new voters are out of reach until later.
    net.cutLink(1, 4);
    net.cutLink(1, 5);
    net.changeConf(1, replaceVoters([4, 5], [2, 3], 'explicit'));
    net.tickAll(2);
    expect(net.node(1).status().confState).toMatchObject({ voters: [1, 4, 5], votersOutgoing: [1, 2, 3] });
    // Fresh acks from the whole outgoing half, none from the incoming one: no lease.
    net.tickAll(1);
    expect(readAtOnce(net, 1, 'old-half-only')).toBe(false);
    net.heal();
    net.stabilize();
    net.tickAll(1);
    expect(net.host(4).appliedIndex).toBe(net.host(1).appliedIndex);
    net.isolate(1);
    expect(readAtOnce(net, 1, 'both-halves')).toBe(true);
  });

  it('the configuration refuses a drift margin of a whole election timeout', () => {
    expect(() => new Network([1], { config: { ...lease, leaseDriftTicks: 10 } })).toThrow(/leaseDriftTicks/);
  });
});
