// The harness's pure parts: fault schedule, link topologies, reply classification and
// parsing, crash patterns, digest comparison, CLI parsing.
import { describe, expect, it } from 'vitest';
import { parseCli } from './cli-args.js';
import { evaluate } from './cluster/digests.js';
import { scanLog } from './crash/detector.js';
import { expandNemeses, makeSchedule, nemesisFamilies } from './nemesis/schedule.js';
import { bridgeCuts, isolateCuts, majorityRingCuts, partitionCuts } from './nemesis/topology.js';
import { overallOutcome, splitArgs } from './run.js';
import { parseLine, parseMetaGet, parseRetrieval } from './workload/client.js';
import { checkReplies } from './checker/replies.js';
import { classify, surelyNotApplied } from './workload/ops.js';
import type { Link } from './net/network.js';

/** Who node `to` hears from, given the cut links. */
function hears(nodes: number[], cuts: Link[], to: number): number[] {
  const cut = new Set(cuts.map(([a, b]) => `${a}>${b}`));
  return nodes.filter((from) => from === to || !cut.has(`${from}>${to}`));
}

describe('fault schedule', () => {
  it('is a pure function of the seed', () => {
    const kinds = expandNemeses(['partition', 'kill', 'pause', 'clock']);
    const a = makeSchedule(42, [1, 2, 3], kinds, 60_000);
    expect(makeSchedule(42, [1, 2, 3], kinds, 60_000)).toEqual(a);
    expect(makeSchedule(43, [1, 2, 3], kinds, 60_000)).not.toEqual(a);
  });

  it('runs one fault at a time, 3-6 s each after 2-4 s quiet, all within the run', () => {
    const steps = makeSchedule(7, [1, 2, 3, 4, 5], expandNemeses(['all']), 120_000);
    expect(steps.length).toBeGreaterThan(8);
    let endMs = 0;
    for (const s of steps) {
      expect(s.startMs - endMs).toBeGreaterThanOrEqual(2000);
      expect(s.startMs - endMs).toBeLessThanOrEqual(4000);
      expect(s.stopMs - s.startMs).toBeGreaterThanOrEqual(3000);
      expect(s.stopMs - s.startMs).toBeLessThanOrEqual(6000);
      endMs = s.stopMs;
    }
    expect(endMs).toBeLessThanOrEqual(120_000);
  });

  it('never kills or pauses a majority', () => {
    for (let seed = 0; seed < 50; seed++) {
      for (const s of makeSchedule(seed, [1, 2, 3, 4, 5], expandNemeses(['kill', 'pause']), 60_000)) {
        const f = s.fault;
        if ((f.kind === 'kill' || f.kind === 'pause') && f.target.kind === 'nodes') expect(f.target.nodes.length).toBeLessThanOrEqual(2);
        if ((f.kind === 'kill' || f.kind === 'pause') && f.target.kind === 'leaders') expect(f.target.countMax).toBe(2);
      }
    }
  });

  it('joins spare nodes in order and drains members, staying within initial..initial+2 nodes', () => {
    const kinds = expandNemeses(['membership', 'partition', 'kill']);
    let joins = 0;
    let drains = 0;
    for (let seed = 0; seed < 50; seed++) {
      const members = new Set([1, 2, 3]);
      let nextSpare = 4;
      for (const s of makeSchedule(seed, [1, 2, 3], kinds, 120_000, undefined, [4, 5, 6, 7, 8, 9, 10, 11])) {
        const f = s.fault;
        if (f.kind === 'join') {
          expect(f.node).toBe(nextSpare++);
          members.add(f.node);
          joins++;
        } else if (f.kind === 'drain') {
          expect(members.has(f.node)).toBe(true);
          members.delete(f.node);
          drains++;
        } else {
          // Later faults only name nodes that are members by then.
          const named = f.kind === 'partition' ? f.halves.flat() : f.kind === 'isolate' ? [f.node] : f.kind === 'kill' && f.target.kind === 'nodes' ? f.target.nodes : [];
          for (const n of named) expect(members.has(n), `seed ${seed}: ${JSON.stringify(f)}`).toBe(true);
          if (f.kind === 'partition') expect(f.halves.flat().length).toBe(members.size);
        }
        expect(members.size).toBeGreaterThanOrEqual(3);
        expect(members.size).toBeLessThanOrEqual(5);
      }
    }
    expect(joins).toBeGreaterThan(50);
    expect(drains).toBeGreaterThan(30);
  });

  it('has no membership steps without spare nodes, and none unless asked', () => {
    expect(makeSchedule(1, [1, 2, 3], expandNemeses(['membership']), 60_000)).toEqual([]);
    expect(expandNemeses(['all'])).not.toContain('join');
  });

  it('expands families and refuses unknown names', () => {
    expect(expandNemeses(['partition'])).toEqual(nemesisFamilies.partition);
    expect(expandNemeses(['kill', 'kill', 'clock'])).toEqual(['kill', 'clock']);
    expect(() => expandNemeses(['meteor'])).toThrow(/unknown nemesis/);
  });
});

describe('topologies', () => {
  const five = [1, 2, 3, 4, 5];

  it('partition: the halves cannot talk, each side talks within', () => {
    const cuts = partitionCuts([[1, 2], [3, 4, 5]]);
    expect(hears(five, cuts, 1)).toEqual([1, 2]);
    expect(hears(five, cuts, 4)).toEqual([3, 4, 5]);
  });

  it('isolate: one node hears no one and no one hears it', () => {
    const cuts = isolateCuts(five, [3]);
    expect(hears(five, cuts, 3)).toEqual([3]);
    expect(hears(five, cuts, 1)).toEqual([1, 2, 4, 5]);
  });

  it('majority ring: every node hears a majority, no two the same one', () => {
    for (const ring of [[1, 2, 3], [2, 4, 1, 3], [3, 1, 2, 5, 4], [6, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6, 7]]) {
      const nodes = [...ring].sort();
      const views = nodes.map((id) => hears(nodes, majorityRingCuts(ring), id).join(','));
      for (const v of views) expect(v.split(',').length).toBeGreaterThanOrEqual(Math.floor(ring.length / 2) + 1);
      for (const v of views) expect(v.split(',').length).toBeLessThan(ring.length);
      expect(new Set(views).size).toBe(ring.length);
    }
  });

  it('majority ring with 5 nodes is symmetric: each node and its two ring neighbours', () => {
    const cuts = majorityRingCuts([3, 1, 2, 5, 4]);
    expect(hears(five, cuts, 2)).toEqual([1, 2, 5]);
    for (const [a, b] of cuts) expect(cuts.some(([x, y]) => x === b && y === a)).toBe(true);
  });

  it('bridge: the middle node hears everyone, the sides only their own and the bridge', () => {
    const cuts = bridgeCuts([4, 2, 5, 1, 3]);
    expect(hears(five, cuts, 5)).toEqual(five);
    expect(hears(five, cuts, 4)).toEqual([2, 4, 5]);
    expect(hears(five, cuts, 1)).toEqual([1, 3, 5]);
  });
});

describe('replies', () => {
  it('parses line and retrieval replies, waiting for whole ones', () => {
    expect(parseLine(Buffer.from('STORED\r\n'))).toEqual({ reply: { kind: 'stored' }, used: 8 });
    expect(parseLine(Buffer.from('STOR'))).toBeNull();
    expect(parseLine(Buffer.from('42\r\n'))!.reply).toEqual({ kind: 'number', value: '42' });
    expect(parseRetrieval(Buffer.from('END\r\n'))!.reply).toEqual({ kind: 'value', value: null, cas: null });
    expect(parseRetrieval(Buffer.from('VALUE k 0 2 17\r\nv1\r\nEN'))).toBeNull();
    expect(parseRetrieval(Buffer.from('VALUE k 0 2 17\r\nv1\r\nEND\r\n'))!.reply).toEqual({ kind: 'value', value: 'v1', cas: '17' });
    expect(parseRetrieval(Buffer.from('SERVER_ERROR no leader\r\n'))!.reply).toEqual({ kind: 'server_error', message: 'no leader' });
    // Malformed: another key, a byte count that does not match the data, a non-number field.
    expect(() => parseRetrieval(Buffer.from('VALUE other 0 2 17\r\nv1\r\nEND\r\n'), 'k')).toThrow(/answered a VALUE of "other"/);
    expect(() => parseRetrieval(Buffer.from('VALUE k 0 1 17\r\nv1\r\nEND\r\n'), 'k')).toThrow(/does not end after its 1 bytes/);
    expect(() => parseRetrieval(Buffer.from('VALUE k x 2\r\nv1\r\nEND\r\n'), 'k')).toThrow(/malformed VALUE line/);
    // mg k v k: VA with the key echoed, EN for a miss; another key or a wrong size throws.
    expect(parseMetaGet(Buffer.from('VA 2 kk\r\nv1\r\n'), 'k')!.reply).toEqual({ kind: 'value', value: 'v1', cas: null });
    expect(parseMetaGet(Buffer.from('EN\r\n'), 'k')!.reply).toEqual({ kind: 'value', value: null, cas: null });
    expect(parseMetaGet(Buffer.from('VA 2 kk\r\nv'), 'k')).toBeNull();
    expect(() => parseMetaGet(Buffer.from('VA 2 kother\r\nv1\r\n'), 'k')).toThrow(/answered for "other"/);
    expect(() => parseMetaGet(Buffer.from('VA 1 kk\r\nv1\r\n'), 'k')).toThrow(/does not end after its 1 bytes/);
  });

  it('classifies with Jepsen semantics: fail only when surely not applied', () => {
    expect(classify('write', { kind: 'stored' }, 'v1')).toEqual({ type: 'ok', value: 'v1' });
    // A reply the op never gets is an anomaly (the run is invalid), not a plain fail or info.
    expect(classify('read', { kind: 'stored' }, null)).toMatchObject({ type: 'fail', anomaly: expect.stringMatching(/unexpected reply to read/) });
    expect(classify('write', { kind: 'number', value: '3' }, 'v')).toMatchObject({ type: 'info', anomaly: expect.any(String) });
    const anomalous = [
      { process: 0, type: 'invoke' as const, f: 'read' as const, key: 'k', value: null, time: 1 },
      { process: 0, type: 'fail' as const, f: 'read' as const, key: 'k', value: null, time: 2, anomaly: 'malformed reply: x' },
    ];
    expect(checkReplies(anomalous)).toMatchObject({ outcome: 'invalid', malformed: 1 });
    expect(checkReplies(anomalous.slice(0, 1)).outcome).toBe('valid');
    expect(classify('cas', { kind: 'exists' }, ['a', 'b']).type).toBe('fail');
    expect(classify('incr', { kind: 'number', value: '7' }, '2')).toEqual({ type: 'ok', value: '7' });
    expect(classify('read', { kind: 'server_error', message: 'ERR_OUTCOME_UNKNOWN outcome unknown: x' }, null).type).toBe('fail');
    expect(classify('write', { kind: 'server_error', message: 'ERR_OUTCOME_UNKNOWN outcome unknown: timeout' }, 'v').type).toBe('info');
    expect(classify('write', { kind: 'server_error', message: 'ERR_OUTCOME_UNKNOWN proposal not committed within 5000 ms' }, 'v').type).toBe('info');
    expect(classify('write', { kind: 'server_error', message: 'ERR_NO_LEADER no leader of group 3 answered within 5000 ms' }, 'v').type).toBe('fail');
    expect(classify('write', { kind: 'server_error', message: 'ERR_NOT_BOOTSTRAPPED cluster not bootstrapped yet' }, 'v').type).toBe('fail');
    // By code only: the same words without the code, or another code, may have been applied.
    expect(classify('write', { kind: 'server_error', message: 'no leader of group 3 answered within 5000 ms' }, 'v').type).toBe('info');
    expect(surelyNotApplied('ERR_SHUTTING_DOWN node shutting down')).toBe(false);
    expect(surelyNotApplied('out of memory storing object')).toBe(false);
  });
});

describe('crash detector', () => {
  it('finds assertion failures, fatal lines, connection-handler exceptions and uncaught-exception trailers, nothing else', () => {
    const log = [
      '{"level":30,"msg":"listening"}',
      '{"level":40,"msg":"stepped down"}',
      '{"level":60,"msg":"log write failed"}',
      '{"level":50,"err":{"type":"TypeError"},"msg":"connection handler failed, closing connection"}',
      '{"level":50,"msg":"listener error"}',
      'AssertionError [ERR_ASSERTION]: applied index went backwards',
      'Node.js v20.19.0',
    ].join('\n');
    expect(scanLog(2, log).map((c) => c.line)).toEqual([
      '{"level":60,"msg":"log write failed"}',
      '{"level":50,"err":{"type":"TypeError"},"msg":"connection handler failed, closing connection"}',
      'AssertionError [ERR_ASSERTION]: applied index went backwards',
      'Node.js v20.19.0',
    ]);
  });
});

describe('digests and outcome', () => {
  const status = (applied: number, digest: string) => ({ node: { id: 0, pid: 0 }, ready: true, leaderOf: 0, groups: [{ id: 1, role: 'x', term: 1, commit: applied, applied, leader: 1, digest }] });

  it('agree when replicas at equal applied index hold equal digests', () => {
    const r = evaluate([[1, status(10, 'a')], [2, status(10, 'a')], [3, status(9, 'z')]]);
    expect(r.agree).toBe(true);
    expect(r.converged).toBe(false);
    // A node that does not answer is not skipped: the replicas did not (provably) converge.
    const silent = evaluate([[1, status(10, 'a')], [2, status(10, 'a')], [3, null]]);
    expect(silent.converged).toBe(false);
    expect(silent.unanswered).toEqual([3]);
    const bad = evaluate([[1, status(10, 'a')], [2, status(10, 'b')]]);
    expect(bad.agree).toBe(false);
  });

  it('a crash or a digest mismatch makes a run invalid even when the checker says valid', () => {
    const checks = { register: { outcome: 'valid' as const } };
    const digests = { agree: true, groups: {} };
    expect(overallOutcome({ checks, crashes: [], digests }, false)).toBe('valid');
    expect(overallOutcome({ checks, crashes: [{ node: 1, line: 'x' }], digests }, false)).toBe('invalid');
    expect(overallOutcome({ checks, crashes: [], digests: { agree: false, groups: {} } }, false)).toBe('invalid');
    expect(overallOutcome({ checks, crashes: [], digests }, true)).toBe('unknown');
    // Not converged after the heal: invalid, unless the harness failed before comparing.
    expect(overallOutcome({ checks, crashes: [], digests: { agree: true, converged: false, groups: {} } }, false)).toBe('invalid');
    expect(overallOutcome({ checks, crashes: [], digests: { agree: true, converged: false, groups: {} } }, true)).toBe('unknown');
  });
});

describe('cli', () => {
  it('parses flags, including --server-args values that start with dashes', () => {
    const o = parseCli(['--nodes', '5', '--time', '30', '--nemesis', 'partition,kill', '--seed', '42', '--out', 'runs/x', '--server-args', '--read-mode lease']);
    expect(o).toMatchObject({ nodes: 5, timeSec: 30, nemeses: ['partition', 'kill'], seed: 42, out: 'runs/x', serverArgs: '--read-mode lease' });
    expect(splitArgs('--read-mode lease --log-level "warn"')).toEqual(['--read-mode', 'lease', '--log-level', 'warn']);
    expect(() => parseCli(['--workload', 'bank'])).toThrow(/unknown workload "bank"; one of register, counter, set, lock/);
  });

  it('a bad nemesis name: one line listing every valid name once', () => {
    let message = '';
    try {
      parseCli(['--nemesis', 'partition,foo']);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^unknown nemesis "foo"; one of /);
    expect(message).not.toContain('\n');
    const names = message.replace(/^.*one of /, '').split(', ');
    expect(names).toContain('kill-all');
    expect(new Set(names).size).toBe(names.length);
  });
});
