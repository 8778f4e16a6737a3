/**
 * Lower-term messages, etcd-style scenarios. As in the Raft paper, a node answers a
 * lower-term App or Heartbeat with an AppResp at its own term, whatever the settings, so a
 * stale leader steps down (etcd replies only under check-quorum or pre-vote). Regression
 * `stale-config-voter-never-rejoins` in simulation.test.ts is the schedule the simulator
 * found with both off; these pin the rule down.
 */
import { describe, expect, it } from 'vitest';
import { ConfChangeType, MessageType, newMessage } from '../../src/raft/index.js';
import { confChange, Network, ofType } from './scenarios-network.js';

const plain = { checkQuorum: false, preVote: false } as const;

describe('raft scenarios: lower-term messages', () => {
  it.each([
    ['neither', plain],
    ['check-quorum', { checkQuorum: true, preVote: false }],
    ['pre-vote', { checkQuorum: false, preVote: true }],
  ])('with %s, a lower-term App and Heartbeat are answered with the current term', (_name, config) => {
    const net = new Network([1, 2, 3], { config });
    net.elect(1);
    const term = net.node(2).status().term;
    net.node(2).step(newMessage({ type: MessageType.Heartbeat, from: 3, to: 2, term: term - 1 }));
    net.node(2).step(newMessage({ type: MessageType.App, from: 3, to: 2, term: term - 1, index: 1, logTerm: 1 }));
    net.process(2);
    const resps = net.queue.filter((m) => m.from === 2 && m.to === 3);
    expect(resps.map((m) => [m.type, m.term, m.reject])).toEqual([
      [MessageType.AppResp, term, false],
      [MessageType.AppResp, term, false],
    ]);
  });

  it('a lower-term Vote is still ignored and a lower-term PreVote rejected with our term (etcd)', () => {
    const net = new Network([1, 2, 3], { config: plain });
    net.elect(1);
    const term = net.node(2).status().term;
    net.queue = [];
    net.node(2).step(newMessage({ type: MessageType.Vote, from: 3, to: 2, term: term - 1, index: 9, logTerm: 9 }));
    net.node(2).step(newMessage({ type: MessageType.PreVote, from: 3, to: 2, term: term - 1, index: 9, logTerm: 9 }));
    net.process(2);
    expect(net.queue.map((m) => [m.type, m.term, m.reject])).toEqual([[MessageType.PreVoteResp, term, true]]);
  });

  it('without check-quorum and pre-vote, a node whose term grew alone deposes the leader on rejoining, then catches up', () => {
    const net = new Network([1, 2, 3], { config: plain });
    net.elect(1);
    net.propose(1, 'a');
    net.isolate(3);
    net.tick(3, 50); // 3 campaigns alone, its term climbs
    const t3 = net.node(3).status().term;
    expect(t3).toBeGreaterThan(net.node(1).status().term);
    net.heal();
    net.tick(1, 1); // the leader's heartbeat reaches 3, which answers with its term
    expect(net.node(1).status()).toMatchObject({ role: 'follower', term: t3 });
    net.tickAll(40);
    const lead = net.leader();
    expect(lead).not.toBe(0);
    expect(net.node(lead).status().term).toBeGreaterThan(t3);
    net.propose(lead, 'b');
    for (const id of [1, 2, 3]) expect(net.host(id).applied).toEqual(['a', 'b']);
  });

  it('stale-config-voter-never-rejoins: a voter that missed membership changes behind a partition rejoins', () => {
    // Node 1 is cut off from the start and keeps campaigning with the bootstrap config
    // [1, 2, 3]; meanwhile the others move to [1, 4, 5] and 2 and 3 shut down. After healing,
    // 1's votes go only to the departed 2 and 3: only its reply to the leader's lower-term
    // heartbeat (the leader steps down, 4 or 5 is elected above 1's term) brings it back.
    const net = new Network([1, 2, 3], { config: { ...plain, electionTicks: 3 } });
    net.isolate(1);
    net.elect(2);
    for (const id of [4, 5]) {
      net.addEmptyHost(id);
      net.cutLink(1, id);
      net.changeConf(2, confChange(ConfChangeType.AddLearnerNode, id));
      net.tickAll(1);
      net.changeConf(2, confChange(ConfChangeType.AddNode, id));
      net.tickAll(1);
    }
    net.changeConf(2, confChange(ConfChangeType.RemoveNode, 3));
    net.tickAll(1);
    net.changeConf(2, confChange(ConfChangeType.RemoveNode, 2)); // the leader leaves: 4 or 5 takes over
    net.tickAll(12);
    let lead = net.leader();
    expect([4, 5]).toContain(lead);
    expect(net.node(lead).status().confState.voters).toEqual([1, 4, 5]);
    net.crash(2);
    net.crash(3);
    net.tick(1, 30); // 1 keeps campaigning alone
    expect(net.node(1).status().term).toBeGreaterThan(net.node(lead).status().term);
    expect(net.node(1).status().confState.voters).toEqual([1, 2, 3]);
    net.heal();
    net.tickAll(30);
    lead = net.leader();
    expect([4, 5]).toContain(lead);
    net.propose(lead, 'final');
    for (const id of [1, 4, 5]) expect(net.host(id).applied).toEqual(['final']);
    expect(net.node(1).status().confState.voters).toEqual([1, 4, 5]);
    // Votes to departed members were all 1 could send before the fix.
    expect(ofType(net.sent, MessageType.Vote).some((m) => m.from === 1 && m.to === 4)).toBe(false);
  });
});
