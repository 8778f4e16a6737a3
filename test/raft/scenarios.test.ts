/**
 * Named Raft scenarios (etcd-style) over a deterministic in-test network of RawNodes.
 * Each test builds a Network, drives it with ticks/campaigns/proposals and cut links,
 * and asserts roles, commit indexes, applied state and traffic.
 */
import { describe, expect, it } from 'vitest';
import { ConfChangeType, MessageType, ProposalDroppedError } from '../../src/raft/index.js';
import { b, confChange, Network, ofType, replaceVoters } from './scenarios-network.js';

describe('raft scenarios: election and replication', () => {
  it('elects a single leader', () => {
    const net = new Network([1, 2, 3]);
    net.stabilize();
    net.tickAll(30);
    const leaders = [1, 2, 3].filter((id) => net.node(id).status().role === 'leader');
    expect(leaders).toHaveLength(1);
    const lead = leaders[0]!;
    for (const id of [1, 2, 3]) {
      const st = net.node(id).status();
      expect(st.lead).toBe(lead);
      expect(st.term).toBe(net.node(lead).status().term);
    }
  });

  it('campaign makes the requested node leader with a vote from a quorum', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    expect(net.node(2).status().lead).toBe(1);
    expect(net.node(3).status().vote).toBe(1);
  });

  it('replicates and commits proposals in order on every node', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
    for (const id of [1, 2, 3]) {
      expect(net.host(id).applied).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    }
    const c = net.node(1).status().commit;
    expect(net.node(2).status().commit).toBe(c);
    net.checkConsistency();
  });

  it('proposals on a follower are dropped with ProposalDroppedError', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    expect(() => net.node(2).propose(b('x'))).toThrow(ProposalDroppedError);
  });

  it('batches proposals made between two Readies into one App per follower', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 10; i++) net.node(1).propose(b(`p${i}`));
    const rd = net.node(1).ready();
    const apps = ofType(rd.messagesBeforePersist, MessageType.App);
    expect(apps.map((m) => m.to).sort()).toEqual([2, 3]);
    expect(apps.every((m) => m.entries.length === 10)).toBe(true);
    expect(rd.entries).toHaveLength(10);
    // Appends do not wait for the leader's own persistence; nothing else is sent before it.
    expect(rd.messages).toHaveLength(0);
    net.queue.push(...rd.messagesBeforePersist);
    net.host(1).held = rd;
    net.release(1);
    net.stabilize();
    expect(net.host(3).applied).toHaveLength(10);
  });

  it('a follower that was down catches up', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.crash(3);
    for (let i = 0; i < 20; i++) net.propose(1, `x${i}`);
    expect(net.host(3).applied).toEqual(['a']);
    net.restart(3);
    net.tickAll(3); // heartbeats reveal the gap
    expect(net.host(3).applied).toEqual(net.host(1).applied);
    expect(net.host(3).applied).toHaveLength(21);
    net.checkConsistency();
  });

  it('a follower with a divergent uncommitted tail is repaired with fast back-off', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'base');
    // Leader 1 appends entries that only it gets, in its term.
    net.isolate(1);
    for (let i = 0; i < 30; i++) net.node(1).propose(b(`lost${i}`));
    net.stabilize();
    // 2 or 3 becomes leader and commits new entries; 1 steps down (check-quorum).
    net.tickAll(30);
    expect(net.leader()).not.toBe(1);
    const lead = net.leader();
    for (let i = 0; i < 5; i++) net.propose(lead, `new${i}`);
    net.heal();
    net.delivered = [];
    net.tickAll(5);
    expect(net.host(1).applied).toEqual(net.host(lead).applied);
    expect(net.host(1).applied).not.toContain('lost0');
    // The hint lets the leader skip the whole conflicting term: few rejections, not 30.
    const rejects = net.delivered.filter((m) => m.type === MessageType.AppResp && m.reject && m.from === 1);
    expect(rejects.length).toBeLessThanOrEqual(2);
    net.checkConsistency();
  });
});

describe('raft scenarios: pre-vote and check-quorum', () => {
  it('a partitioned follower with a high term does not depose a healthy leader (pre-vote)', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const term = net.node(1).status().term;
    net.isolate(3);
    // Node 3 times out repeatedly; pre-vote keeps its term from growing.
    net.tick(3, 100);
    expect(net.node(3).status().term).toBe(term);
    net.heal();
    net.tickAll(5);
    expect(net.leader()).toBe(1);
    expect(net.node(1).status().term).toBe(term);
    net.propose(1, 'after');
    expect(net.host(3).applied).toContain('after');
  });

  it('without pre-vote, a rejoining node with a higher term is ignored while the lease holds', () => {
    const net = new Network([1, 2, 3], { config: { preVote: false } });
    net.elect(1);
    net.isolate(3);
    net.tick(3, 50);
    const t3 = net.node(3).status().term;
    expect(t3).toBeGreaterThan(net.node(1).status().term);
    net.heal();
    // 3's vote requests reach 1 and 2 within their lease: ignored, no vote granted.
    net.node(3).tick();
    net.stabilize();
    expect(net.node(2).status().vote).toBe(1);
  });

  it('a leader cut off from the quorum steps down (check-quorum)', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    net.tick(1, 21); // two election timeouts: one to notice silence, one to conclude
    expect(net.node(1).status().role).toBe('follower');
    expect(() => net.node(1).propose(b('x'))).toThrow(ProposalDroppedError);
  });

  it('followers ignore a candidate while they heard from the leader recently (lease)', () => {
    const net = new Network([1, 2, 3], { config: { preVote: false } });
    net.elect(1);
    const term = net.node(1).status().term;
    net.node(3).campaign();
    net.stabilize();
    expect(net.node(2).status().vote).toBe(1);
    // 3 moved to a higher term alone; the leader learns it from 3's responses and steps
    // down (etcd's rule for check-quorum), after which a leader is elected again.
    net.tickAll(40);
    expect(net.leader()).not.toBe(0);
    expect(net.node(net.leader()).status().term).toBeGreaterThan(term);
  });
});

describe('raft scenarios: ReadIndex', () => {
  it('serves a read at the commit index after a heartbeat quorum', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.node(1).readIndex(b('r1'));
    net.stabilize();
    const rs = net.host(1).readStates;
    expect(rs).toHaveLength(1);
    expect(rs[0]!.index).toBe(net.node(1).status().commit);
  });

  it('one heartbeat round confirms every read waiting', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.cutLink(1, 2);
    net.cutLink(1, 3);
    for (let i = 0; i < 5; i++) net.node(1).readIndex(b(`r${i}`));
    net.stabilize();
    expect(net.host(1).readStates).toHaveLength(0);
    net.heal();
    net.delivered = [];
    net.tickAll(1);
    expect(net.host(1).readStates.map((r) => new TextDecoder().decode(r.context))).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
  });

  it('a follower forwards ReadIndex to the leader and receives the read state', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.node(2).readIndex(b('f1'));
    net.stabilize();
    const rs = net.host(2).readStates;
    expect(rs).toHaveLength(1);
    expect(rs[0]!.index).toBe(net.node(1).status().commit);
  });

  it('no stale ReadIndex read across a leader change: an isolated old leader serves none', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.isolate(1);
    // The old leader asks for a read before it notices anything: it must not answer.
    net.node(1).readIndex(b('stale?'));
    net.tick(2, 10); // followers' leases expire
    net.tick(3, 10);
    net.tickAll(20);
    const lead = net.leader();
    expect([2, 3]).toContain(lead);
    net.propose(lead, 'b'); // a write the old leader does not have
    net.node(1).readIndex(b('stale2?'));
    net.tick(1, 5);
    expect(net.host(1).readStates).toHaveLength(0);
    expect(net.node(1).status().role).not.toBe('leader');
  });

  it('a new leader serves reads only after committing an entry of its term', () => {
    const net = new Network([1, 2, 3], { config: { preVote: false, checkQuorum: false } });
    net.elect(1);
    net.propose(1, 'a');
    net.node(2).campaign();
    // Let the election complete but hold the new leader's first entry back from followers.
    for (let i = 0; i < 20 && net.node(2).status().role !== 'leader'; i++) {
      net.process(1);
      net.process(2);
      net.process(3);
      net.deliver();
    }
    expect(net.node(2).status().role).toBe('leader');
    net.node(2).readIndex(b('early'));
    net.process(2);
    net.queue = net.queue.filter((m) => m.from !== 2); // drop 2's appends
    net.stabilize();
    expect(net.host(2).readStates).toHaveLength(0);
    net.tickAll(2); // heartbeats let the followers catch up and the entry commit
    expect(net.host(2).readStates).toHaveLength(1);
    expect(net.host(2).readStates[0]!.index).toBe(net.node(2).status().commit);
  });

  it('reads pending when leadership is lost are never answered by a later leadership', () => {
    const net = new Network([1, 2, 3], { config: { preVote: false, checkQuorum: false } });
    net.elect(1);
    net.isolate(1);
    net.node(1).readIndex(b('old'));
    net.stabilize();
    net.heal();
    net.node(2).campaign(); // 1 steps down on the higher term
    net.stabilize();
    expect(net.leader()).toBe(2);
    net.node(1).campaign();
    net.stabilize();
    expect(net.leader()).toBe(1);
    net.node(1).readIndex(b('new'));
    net.stabilize();
    expect(net.host(1).readStates.map((r) => new TextDecoder().decode(r.context))).toEqual(['new']);
  });

  it('lease reads answer without a heartbeat round', () => {
    const net = new Network([1, 2, 3], { config: { readOnlyOption: 'lease' } });
    net.elect(1);
    net.tick(1, 1); // one acknowledged heartbeat round starts the lease
    net.cutLink(1, 2);
    net.cutLink(1, 3);
    net.node(1).readIndex(b('l'));
    net.process(1);
    expect(net.host(1).readStates).toHaveLength(1);
  });
});

describe('raft scenarios: persistence and flow control', () => {
  it('the leader does not count its own unpersisted entries', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const commit0 = net.node(1).status().commit;
    net.isolate(3);
    net.host(1).holdPersist = true;
    net.node(1).propose(b('x'));
    net.stabilize(); // follower 2 persists and acks; the leader has not persisted
    expect(net.host(1).held?.entries).toHaveLength(1);
    expect(net.host(2).storage.lastIndex()).toBe(commit0 + 1);
    expect(net.node(1).status().commit).toBe(commit0);
    net.release(1);
    expect(net.node(1).status().commit).toBe(commit0 + 1);
    net.stabilize();
    expect(net.host(1).applied).toEqual(['x']);
  });

  it('commit needs a follower ack even after the leader persisted', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const commit0 = net.node(1).status().commit;
    net.isolate(1);
    net.propose(1, 'y');
    expect(net.host(1).storage.lastIndex()).toBe(commit0 + 1);
    expect(net.node(1).status().commit).toBe(commit0);
  });

  it('a single-node group commits once its own entry is durable', () => {
    const net = new Network([1]);
    net.elect(1);
    net.propose(1, 'solo');
    expect(net.host(1).applied).toEqual(['solo']);
  });

  it('a follower with a full inflight window gets no more App until acks', () => {
    const net = new Network([1, 2, 3], { config: { maxInflightMsgs: 3, maxSizePerMsgBytes: 1 } });
    net.elect(1);
    net.propose(1, 'warm'); // 2 and 3 reach replicate state
    // 3's acks never come back: the leader's window to 3 fills up and it stops sending.
    net.cutLink(1, 3);
    net.sent = [];
    for (let i = 0; i < 10; i++) net.propose(1, `f${i}`);
    const appsTo3 = net.sent.filter((m) => m.type === MessageType.App && m.to === 3 && m.entries.length > 0);
    const appsTo2 = net.sent.filter((m) => m.type === MessageType.App && m.to === 2 && m.entries.length > 0);
    expect(appsTo3).toHaveLength(3);
    expect(appsTo2.length).toBeGreaterThanOrEqual(10);
    expect(net.node(1).status().progress!.get(3)!.inflightMsgs).toBe(3);
    expect(net.host(2).applied).toHaveLength(11);
    // Once 3 is reachable, heartbeat responses and acks resume the flow.
    net.heal();
    net.tickAll(5);
    expect(net.host(3).applied).toEqual(net.host(1).applied);
  });

  it('proposals beyond maxUncommittedBytes are dropped', () => {
    const net = new Network([1, 2, 3], { config: { maxUncommittedBytes: 10 } });
    net.elect(1);
    net.isolate(1);
    net.node(1).propose(b('12345678'));
    expect(() => net.node(1).propose(b('12345678'))).toThrow(ProposalDroppedError);
  });
});

describe('raft scenarios: leader transfer', () => {
  it('transfers leadership to a caught-up follower', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.node(1).transferLeader(2);
    net.stabilize();
    expect(net.leader()).toBe(2);
    expect(net.node(1).status().lead).toBe(2);
    net.propose(2, 'b');
    expect(net.host(1).applied).toEqual(['a', 'b']);
  });

  it('catches a lagging transferee up first, then transfers', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.crash(3);
    for (let i = 0; i < 10; i++) net.propose(1, `x${i}`);
    net.restart(3);
    net.node(1).transferLeader(3);
    expect(() => net.node(1).propose(b('during'))).toThrow(ProposalDroppedError);
    net.stabilize();
    net.tickAll(2);
    expect(net.leader()).toBe(3);
    expect(net.host(3).applied).toHaveLength(10);
  });

  it('a transfer to an unreachable follower is aborted after an election timeout', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.node(1).transferLeader(3);
    net.stabilize();
    expect(net.node(1).status().leadTransferee).toBe(3);
    net.tick(1, 10);
    expect(net.node(1).status().leadTransferee).toBe(0);
    expect(net.leader()).toBe(1);
    net.propose(1, 'ok');
    expect(net.host(2).applied).toEqual(['ok']);
  });

  it('a follower forwards transferLeader to the leader', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(3).transferLeader(3);
    net.stabilize();
    expect(net.leader()).toBe(3);
  });

  it('a follower drops a transferLeader to the node that already leads (no message to itself)', () => {
    // Simulator seed 605490910: forwarded, it addressed the leader as sender and receiver.
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.stabilize();
    net.node(3).transferLeader(1);
    const rd = net.node(3).ready();
    expect(ofType([...rd.messagesBeforePersist, ...rd.messages], MessageType.TransferLeader)).toEqual([]);
    net.node(3).advance(rd);
    net.stabilize();
    expect(net.leader()).toBe(1);
  });
});

describe('raft scenarios: membership and snapshots', () => {
  it('add learner -> promote -> remove the old leader', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'before');
    net.addEmptyHost(4);
    net.changeConf(1, confChange(ConfChangeType.AddLearnerNode, 4));
    net.tickAll(2);
    expect(net.host(4).applied).toEqual(['before']);
    expect(net.node(1).status().confState.learners).toEqual([4]);
    // A learner neither votes nor counts: with 2 and 3 down nothing commits.
    net.changeConf(1, confChange(ConfChangeType.AddNode, 4));
    expect(net.node(1).status().confState.voters).toEqual([1, 2, 3, 4]);
    net.propose(1, 'four');
    expect(net.host(4).applied).toEqual(['before', 'four']);
    net.changeConf(1, confChange(ConfChangeType.RemoveNode, 1));
    expect(net.node(1).status().role).toBe('follower');
    net.tickAll(40);
    const lead = net.leader();
    expect([2, 3, 4]).toContain(lead);
    expect(net.node(lead).status().confState.voters).toEqual([2, 3, 4]);
    net.propose(lead, 'after');
    for (const id of [2, 3, 4]) expect(net.host(id).applied).toEqual(['before', 'four', 'after']);
    net.checkConsistency();
  });

  it('a learner does not count toward the commit quorum', () => {
    const net = new Network([1, 2, 3], { learners: [4] });
    net.elect(1);
    net.crash(2);
    net.crash(3);
    net.propose(1, 'x');
    expect(net.host(4).storage.lastIndex()).toBe(net.host(1).storage.lastIndex());
    expect(net.host(1).applied).toEqual([]);
  });

  it('joint consensus: replaces two voters at once and leaves the joint config automatically', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.addEmptyHost(4);
    net.addEmptyHost(5);
    net.changeConf(1, replaceVoters([4, 5], [2, 3], 'auto'));
    net.tickAll(3);
    const cs = net.node(1).status().confState;
    expect(cs.voters).toEqual([1, 4, 5]);
    expect(cs.votersOutgoing).toEqual([]);
    net.propose(1, 'j');
    expect(net.host(5).applied).toEqual(['j']);
  });

  it('refuses a second conf change while one is pending', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    net.node(1).proposeConfChange(confChange(ConfChangeType.AddLearnerNode, 4));
    expect(() => net.node(1).proposeConfChange(confChange(ConfChangeType.AddLearnerNode, 5))).toThrow(ProposalDroppedError);
  });

  it('a follower behind a compacted log catches up by snapshot', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.crash(3);
    for (let i = 0; i < 10; i++) net.propose(1, `s${i}`);
    net.compact(1);
    net.propose(1, 'tail');
    net.restart(3);
    net.delivered = [];
    net.tickAll(3);
    expect(net.delivered.some((m) => m.type === MessageType.Snap && m.to === 3)).toBe(true);
    net.node(1).reportSnapshot(3, true);
    net.tickAll(3);
    expect(net.host(3).applied).toEqual(net.host(1).applied);
    expect(net.node(1).status().progress!.get(3)!.state).toBe('replicate');
    net.propose(1, 'more');
    expect(net.host(3).applied.at(-1)).toBe('more');
  });

  it('a new learner joining after compaction gets a snapshot', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, `c${i}`);
    net.compact(1);
    net.addEmptyHost(4);
    net.changeConf(1, confChange(ConfChangeType.AddLearnerNode, 4));
    net.tickAll(3);
    net.node(1).reportSnapshot(4, true);
    net.tickAll(3);
    expect(net.host(4).applied).toEqual(net.host(1).applied);
    expect(net.host(4).confState.learners).toEqual([4]);
  });
});

describe('raft scenarios: restart', () => {
  it('a restarted cluster keeps its log and elects a leader again', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 3; i++) net.propose(1, `r${i}`);
    for (const id of [1, 2, 3]) net.crash(id);
    for (const id of [1, 2, 3]) net.restart(id);
    net.tickAll(40);
    const lead = net.leader();
    expect(lead).not.toBe(0);
    net.propose(lead, 'again');
    for (const id of [1, 2, 3]) expect(net.host(id).applied).toEqual(['r0', 'r1', 'r2', 'again']);
  });
});
