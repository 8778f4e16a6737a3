/**
 * More Raft scenarios: joint consensus details, removal, elections' up-to-date rule,
 * flow-control reports, restart semantics, and the MemoryStorage / ConfChange codec
 * contracts the host relies on.
 */
import { describe, expect, it } from 'vitest';
import {
  CompactedError,
  ConfChangeError,
  ConfChangeType,
  decodeConfChange,
  encodeConfChange,
  EntryType,
  MemoryStorage,
  MessageType,
  ProposalDroppedError,
  SnapOutOfDateError,
  UnavailableError,
  type Entry,
} from '../../src/raft/index.js';
import { jointCommitted, majorityCommitted } from '../../src/raft/quorum.js';
import fc from 'fast-check';
import { b, confChange, Network, replaceVoters } from './scenarios-network.js';

const ent = (index: number, term: number, data = ''): Entry => ({ index, term, type: EntryType.Normal, data: b(data) });

describe('raft scenarios: joint consensus', () => {
  it('an explicit joint config needs majorities of both halves until it is left', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (const id of [4, 5]) net.addEmptyHost(id);
    net.changeConf(1, replaceVoters([4, 5], [2, 3], 'explicit'));
    net.tickAll(2);
    let cs = net.node(1).status().confState;
    expect(cs.voters).toEqual([1, 4, 5]);
    expect(cs.votersOutgoing).toEqual([1, 2, 3]);
    // Joint: the new half alone (1, 4, 5) cannot commit.
    net.crash(2);
    net.crash(3);
    net.propose(1, 'needs-old-half');
    expect(net.host(1).applied).toEqual([]);
    // A non-empty change is refused while joint.
    expect(() => net.node(1).proposeConfChange(confChange(ConfChangeType.AddLearnerNode, 6))).toThrow(ProposalDroppedError);
    net.restart(2);
    net.tickAll(3);
    expect(net.host(1).applied).toEqual(['needs-old-half']);
    // Leave explicitly with an empty change; afterwards the new config alone decides.
    net.changeConf(1, { changes: [], transition: 'auto' });
    net.tickAll(2);
    cs = net.node(1).status().confState;
    expect(cs.votersOutgoing).toEqual([]);
    net.crash(2);
    net.propose(1, 'new-only');
    expect(net.host(5).applied).toEqual(['needs-old-half', 'new-only']);
  });

  it('a joint config survives a snapshot and restart', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.changeConf(1, {
      changes: [
        { type: ConfChangeType.RemoveNode, nodeId: 3 },
        { type: ConfChangeType.AddLearnerNode, nodeId: 3 },
      ],
      transition: 'explicit',
    });
    const joint = net.node(2).status().confState;
    expect(joint.votersOutgoing).toEqual([1, 2, 3]);
    expect(joint.learnersNext).toEqual([3]);
    net.compact(2);
    net.crash(2);
    net.restart(2);
    expect(net.node(2).status().confState).toEqual(joint);
    net.changeConf(1, { changes: [], transition: 'auto' });
    net.tickAll(2);
    expect(net.node(2).status().confState).toMatchObject({ voters: [1, 2], learners: [3], votersOutgoing: [] });
  });

  it('refuses to leave a config that is not joint', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    expect(() => net.node(1).proposeConfChange({ changes: [], transition: 'auto' })).toThrow(ProposalDroppedError);
  });

  it('refuses a change that would remove every voter', () => {
    const net = new Network([1]);
    net.elect(1);
    expect(() => net.node(1).proposeConfChange(confChange(ConfChangeType.RemoveNode, 1))).toThrow(/removed all voters/);
  });

  it('demotes a voter to learner through the joint config (learnersNext)', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.changeConf(1, { changes: [{ type: ConfChangeType.AddLearnerNode, nodeId: 3 }], transition: 'explicit' });
    let cs = net.node(1).status().confState;
    expect(cs.learnersNext).toEqual([3]);
    expect(cs.votersOutgoing).toEqual([1, 2, 3]);
    net.changeConf(1, { changes: [], transition: 'auto' });
    net.tickAll(2);
    cs = net.node(1).status().confState;
    expect(cs.voters).toEqual([1, 2]);
    expect(cs.learners).toEqual([3]);
    expect(net.host(3).confState.learners).toEqual([3]);
    net.propose(1, 'x');
    expect(net.host(3).applied).toEqual(['x']);
  });

  it('the leader removes itself in a joint change and a remaining voter takes over', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.addEmptyHost(4);
    net.changeConf(1, replaceVoters([4], [1], 'auto'));
    net.tickAll(40);
    const lead = net.leader();
    expect([2, 3, 4]).toContain(lead);
    expect(net.node(lead).status().confState).toMatchObject({ voters: [2, 3, 4], votersOutgoing: [] });
    net.propose(lead, 'after');
    for (const id of [2, 3, 4]) expect(net.host(id).applied).toEqual(['after']);
  });
});

describe('raft scenarios: removal and elections', () => {
  it('a removed follower cannot campaign and does not disrupt the group', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.changeConf(1, confChange(ConfChangeType.RemoveNode, 3));
    const term = net.node(1).status().term;
    net.isolate(3);
    net.tick(3, 50);
    expect(net.node(3).status().role).toBe('follower');
    net.heal();
    net.tickAll(5);
    expect(net.leader()).toBe(1);
    expect(net.node(1).status().term).toBe(term);
  });

  it('a candidate with a shorter log of the same last term is refused (up-to-date rule)', () => {
    const net = new Network([1, 2, 3], { config: { preVote: false, checkQuorum: false } });
    net.elect(1);
    net.crash(3);
    net.propose(1, 'only-on-1-and-2');
    net.restart(3);
    net.stabilize();
    net.node(3).campaign();
    net.process(3);
    net.deliver((m) => m.to !== 1 && m.from !== 1); // only 2 sees 3's request
    net.process(2);
    const resp = net.queue.find((m) => m.type === MessageType.VoteResp && m.from === 2);
    expect(resp?.reject).toBe(true);
  });

  it('followers grant a vote once the leader lease has expired', () => {
    const net = new Network([1, 2, 3], { config: { preVote: false } });
    net.elect(1);
    net.crash(1);
    net.tickAll(25);
    const lead = net.leader();
    expect([2, 3]).toContain(lead);
  });

  it('a pre-candidate rejected with a higher term adopts that term', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    net.tickAll(30); // 2 or 3 lead at a higher term; 1 stepped down
    const lead = net.leader();
    const newTerm = net.node(lead).status().term;
    net.heal();
    net.tickAll(20);
    expect(net.node(1).status().term).toBe(newTerm);
    expect(net.node(1).status().lead).toBe(lead);
  });

  it('a stale leader learns the new term from a follower and steps down', () => {
    // Without check-quorum the isolated leader does not step down by itself.
    const net = new Network([1, 2, 3], { config: { checkQuorum: false } });
    net.elect(1);
    net.isolate(1);
    net.tick(2, 30);
    expect(net.leader()).not.toBe(0);
    expect(net.node(1).status().role).toBe('leader');
    net.heal();
    net.node(1).propose(b('stale'));
    net.stabilize();
    expect(net.node(1).status().role).toBe('follower');
    net.tickAll(3);
    expect(net.host(1).applied).not.toContain('stale');
    net.checkConsistency();
  });
});

describe('raft scenarios: limits', () => {
  it('the inflight window also closes on bytes', () => {
    const net = new Network([1, 2, 3], { config: { maxInflightBytes: 250, maxSizePerMsgBytes: 1 } });
    net.elect(1);
    net.propose(1, 'warm');
    net.cutLink(1, 3);
    net.sent = [];
    for (let i = 0; i < 10; i++) net.propose(1, 'x'.repeat(100));
    const appsTo3 = net.sent.filter((m) => m.type === MessageType.App && m.to === 3 && m.entries.length > 0);
    expect(appsTo3).toHaveLength(3); // 100 + 100 + 100 >= 250: the third fills the window
    net.heal();
    net.tickAll(5);
    expect(net.host(3).applied).toEqual(net.host(1).applied);
  });

  it('uncommitted bytes are released once entries apply', () => {
    const net = new Network([1, 2, 3], { config: { maxUncommittedBytes: 10 } });
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, '12345678');
    expect(net.host(2).applied).toHaveLength(5);
  });

  it('a ReadIndex on a follower without a leader goes nowhere', () => {
    const net = new Network([1, 2, 3]);
    net.stabilize();
    net.node(2).readIndex(b('r'));
    net.stabilize();
    expect(net.sent.filter((m) => m.type === MessageType.ReadIndex)).toHaveLength(0);
    expect(net.host(2).readStates).toHaveLength(0);
  });
});

describe('raft scenarios: quiescence', () => {
  it('an idle leader can quiesce; new work or a lagging follower prevents it', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    expect(net.node(2).canQuiesce()).toBe(false);
    expect(net.node(1).canQuiesce()).toBe(true);
    net.node(1).propose(b('b'));
    expect(net.node(1).canQuiesce()).toBe(false);
    net.crash(3);
    net.stabilize();
    expect(net.node(1).canQuiesce()).toBe(false); // 3 does not have 'b'
    net.restart(3);
    net.tickAll(2);
    expect(net.node(1).canQuiesce()).toBe(true);
    net.node(1).readIndex(b('r'));
    expect(net.node(1).canQuiesce()).toBe(false);
  });
});

describe('raft scenarios: reports and restart', () => {
  it('reportUnreachable moves a replicating follower back to probe', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    expect(net.node(1).status().progress!.get(2)!.state).toBe('replicate');
    net.node(1).reportUnreachable(2);
    expect(net.node(1).status().progress!.get(2)!.state).toBe('probe');
    net.tickAll(2);
    expect(net.node(1).status().progress!.get(2)!.state).toBe('replicate');
  });

  it('a failed snapshot is retried after reportSnapshot(false)', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.crash(3);
    for (let i = 0; i < 5; i++) net.propose(1, `s${i}`);
    net.compact(1);
    net.restart(3);
    net.dropIf = (m) => m.type === MessageType.Snap;
    net.tickAll(3);
    expect(net.node(1).status().progress!.get(3)!.state).toBe('snapshot');
    // The snapshot was lost; the leader waits in snapshot state until told.
    net.dropIf = undefined;
    net.node(1).reportSnapshot(3, false);
    expect(net.node(1).status().progress!.get(3)!.state).toBe('probe');
    net.delivered = [];
    net.tickAll(3);
    expect(net.delivered.some((m) => m.type === MessageType.Snap && m.to === 3)).toBe(true);
    net.node(1).reportSnapshot(3, true);
    net.tickAll(3);
    expect(net.host(3).applied).toEqual(net.host(1).applied);
  });

  it('a restarted node does not re-deliver entries at or below `applied`', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 3; i++) net.propose(1, `k${i}`);
    net.compact(2);
    net.crash(2);
    net.restart(2); // the harness restarts from the snapshot: applied = snapshot index
    expect(net.node(2).status().applied).toBe(net.host(2).storage.snapshot().meta.index);
    net.tickAll(2);
    expect(net.host(2).applied).toEqual(['k0', 'k1', 'k2']);
  });

  it('hasReady is false while a Ready is outstanding and ready() asserts', () => {
    const net = new Network([1, 2, 3]);
    net.stabilize();
    net.node(1).campaign();
    const rd = net.node(1).ready();
    expect(net.node(1).hasReady()).toBe(false);
    expect(() => net.node(1).ready()).toThrow();
    expect(rd.mustSync).toBe(false); // a pre-vote changes no durable state
    expect(rd.messages.map((m) => m.type)).toEqual([MessageType.PreVote, MessageType.PreVote]);
    expect(rd.messagesBeforePersist).toHaveLength(0); // votes wait for persistence
    net.host(1).held = rd;
    net.release(1);
    net.stabilize();
  });
});

describe('MemoryStorage contract', () => {
  it('appends, truncates a conflicting suffix and slices with a byte limit', () => {
    const st = new MemoryStorage();
    st.append([ent(1, 1, 'a'), ent(2, 1, 'b'), ent(3, 1, 'c')]);
    st.append([ent(2, 2, 'B')]);
    expect(st.lastIndex()).toBe(2);
    expect(st.term(2)).toBe(2);
    st.append([ent(3, 2, 'x'.repeat(100)), ent(4, 2, 'y'.repeat(100))]);
    expect(st.entries(1, 5, 50).map((e) => e.index)).toEqual([1, 2]);
    expect(st.entries(3, 5, 1)).toHaveLength(1); // at least one entry
    expect(() => st.entries(1, 7)).toThrow(UnavailableError);
    expect(() => st.term(9)).toThrow(UnavailableError);
  });

  it('compacts, keeps the base term, and refuses compacted reads', () => {
    const st = new MemoryStorage();
    st.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)]);
    st.createSnapshot(3, { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, b('snap'));
    st.compact(3);
    expect(st.firstIndex()).toBe(4);
    expect(st.term(3)).toBe(2);
    expect(() => st.term(2)).toThrow(CompactedError);
    expect(() => st.entries(3, 5)).toThrow(CompactedError);
    expect(st.snapshot().meta).toMatchObject({ index: 3, term: 2 });
    expect(() => st.createSnapshot(2, undefined, b(''))).toThrow(SnapOutOfDateError);
    st.append([ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 3)]); // compacted prefix ignored
    expect(st.lastIndex()).toBe(5);
  });

  it('applySnapshot replaces the log', () => {
    const st = new MemoryStorage();
    st.append([ent(1, 1), ent(2, 1)]);
    const cs = { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    st.applySnapshot({ meta: { index: 10, term: 3, confState: cs }, data: b('d') });
    expect(st.firstIndex()).toBe(11);
    expect(st.lastIndex()).toBe(10);
    expect(st.term(10)).toBe(3);
    expect(st.initialState().confState.voters).toEqual([1, 2]);
    expect(() => st.applySnapshot({ meta: { index: 9, term: 3, confState: cs }, data: b('') })).toThrow(SnapOutOfDateError);
  });
});

describe('ConfChange codec', () => {
  it('round-trips changes, transition and context', () => {
    const cc = {
      changes: [
        { type: ConfChangeType.AddNode, nodeId: 7 },
        { type: ConfChangeType.RemoveNode, nodeId: 2 ** 40 },
        { type: ConfChangeType.AddLearnerNode, nodeId: 3 },
      ],
      transition: 'explicit' as const,
      context: b('ctx'),
    };
    const back = decodeConfChange(encodeConfChange(cc));
    expect(back.changes).toEqual(cc.changes);
    expect(back.transition).toBe('explicit');
    expect(Array.from(back.context!)).toEqual(Array.from(cc.context));
    expect(decodeConfChange(encodeConfChange({ changes: [], transition: 'auto' }))).toEqual({ changes: [], transition: 'auto' });
  });

  it('rejects malformed data', () => {
    expect(() => decodeConfChange(b('nope'))).toThrow(ConfChangeError);
    const ok = encodeConfChange({ changes: [{ type: ConfChangeType.AddNode, nodeId: 1 }], transition: 'auto' });
    expect(() => decodeConfChange(ok.subarray(0, ok.length - 6))).toThrow(ConfChangeError);
  });
});

describe('quorum arithmetic', () => {
  it('majorityCommitted is the highest index a majority has acked (brute force, fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(50), { minLength: 1, maxLength: 9 }), (acks) => {
        const voters = new Set(acks.map((_, i) => i + 1));
        const got = majorityCommitted(voters, (id) => acks[id - 1]);
        let want = 0;
        for (let idx = 0; idx <= 50; idx++) {
          if (acks.filter((a) => a >= idx).length > acks.length / 2) want = idx;
        }
        expect(got).toBe(want);
        const outgoing = new Set([1]);
        expect(jointCommitted([voters, outgoing], (id) => acks[id - 1])).toBe(Math.min(want, acks[0]!));
      }),
      { seed: 42 },
    );
  });
});
