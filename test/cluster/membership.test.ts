import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  MetaStateMachine,
  RoutingTable,
  encodeMetaCommand,
  hashKey,
  hashSpace,
  initialPlacement,
  metaMembers,
  rangeIndexOf,
  splitHashSpace,
  type MetaCommand,
} from '../../src/membership/index.js';

describe('hashKey (FNV-1a 32)', () => {
  it('matches the published FNV-1a test vectors', () => {
    expect(hashKey(Buffer.from(''))).toBe(0x811c9dc5);
    expect(hashKey(Buffer.from('a'))).toBe(0xe40c292c);
    expect(hashKey(Buffer.from('foobar'))).toBe(0xbf9cf968);
  });
});

describe('hash ranges', () => {
  it('cover the hash space contiguously and agree with rangeIndexOf', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: hashSpace - 1 }), (groups, h) => {
        const ranges = splitHashSpace(groups);
        expect(ranges[0]!.lo).toBe(0);
        expect(ranges[ranges.length - 1]!.hi).toBe(hashSpace - 1);
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.lo).toBe(ranges[i - 1]!.hi + 1);
        const i = rangeIndexOf(h, groups);
        expect(h >= ranges[i]!.lo && h <= ranges[i]!.hi).toBe(true);
        const table = new RoutingTable(initialPlacement([1], groups, 1));
        expect(table.groupOfHash(h)!.id).toBe(i + 1);
      }),
      { numRuns: 300 },
    );
  });
});

describe('initialPlacement', () => {
  it('spreads replicas and preferred leaders evenly', () => {
    for (const [nodes, groups, replicas] of [[3, 16, 3], [5, 16, 3], [4, 10, 3], [1, 16, 3], [7, 64, 5]] as const) {
      const ids = Array.from({ length: nodes }, (_, i) => i + 1);
      const placed = initialPlacement(ids, groups, replicas);
      const per = new Map<number, number>();
      const leads = new Map<number, number>();
      for (const g of placed) {
        expect(new Set(g.replicas).size).toBe(Math.min(replicas, nodes));
        leads.set(g.replicas[0]!, (leads.get(g.replicas[0]!) ?? 0) + 1);
        for (const r of g.replicas) per.set(r, (per.get(r) ?? 0) + 1);
      }
      const counts = ids.map((id) => per.get(id) ?? 0);
      const leadCounts = ids.map((id) => leads.get(id) ?? 0);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      expect(Math.max(...leadCounts) - Math.min(...leadCounts)).toBeLessThanOrEqual(1);
    }
  });

  it('puts at most five voters in the meta group', () => {
    expect(metaMembers([7, 1, 3, 2, 5, 4])).toEqual({ voters: [1, 2, 3, 4, 5], learners: [7] });
  });
});

describe('MetaStateMachine', () => {
  const nodes = [1, 2, 3].map((id) => ({ id, peer: `127.0.0.1:${7000 + id}` }));
  const bootstrap: MetaCommand = {
    type: 'bootstrap',
    config: { replicas: 3, groups: 8, memoryBytesPerGroup: 8 << 20 },
    nodes,
    groups: initialPlacement([1, 2, 3], 8, 3),
  };

  it('bootstraps once, registers nodes, and routes keys', () => {
    const sm = new MetaStateMachine();
    expect(sm.applyEntry(encodeMetaCommand(bootstrap), 1)).toEqual({ ok: true });
    expect(sm.apply(bootstrap, 2)).toEqual({ ok: false, reason: 'already bootstrapped' });
    expect(sm.apply({ type: 'register', id: 2, peer: '127.0.0.1:7002', client: '127.0.0.1:11212', admin: '127.0.0.1:7202' }, 3)).toEqual({ ok: true });
    expect(sm.node(2)).toMatchObject({ client: '127.0.0.1:11212', state: 'up' });
    expect(sm.apply({ type: 'register', id: 9, peer: '', client: '', admin: '' }, 4).ok).toBe(false);
    expect(sm.groupsOf(1).length).toBe(8);
    const key = Buffer.from('hello');
    expect(sm.routing.groupOfKey(key)!.id).toBe(rangeIndexOf(hashKey(key), 8) + 1);
    expect(sm.appliedIndex).toBe(4);
  });

  it('is deterministic: equal digests for equal logs, and snapshots restore exactly', () => {
    const cmds: MetaCommand[] = [
      bootstrap,
      { type: 'register', id: 1, peer: 'a:1', client: 'a:2', admin: 'a:3' },
      { type: 'node-state', id: 3, state: 'dead' },
      { type: 'register', id: 3, peer: 'c:1', client: 'c:2', admin: 'c:3' },
    ];
    const a = new MetaStateMachine();
    const b = new MetaStateMachine();
    cmds.forEach((cmd, i) => {
      a.applyEntry(encodeMetaCommand(cmd), i + 1);
      b.applyEntry(encodeMetaCommand(cmd), i + 1);
      expect(a.digest()).toBe(b.digest());
    });
    const c = new MetaStateMachine();
    c.restore(a.snapshot());
    expect(c.digest()).toBe(a.digest());
    expect(c.routing.groupOfKey(Buffer.from('x'))!.id).toBe(a.routing.groupOfKey(Buffer.from('x'))!.id);
  });
});
