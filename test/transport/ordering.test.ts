import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { closeAll, host, startCluster, type TestNode } from './helpers.js';

// Everything here completes in a few seconds; a hang should fail fast, not after 2 minutes.
vi.setConfig({ testTimeout: 60_000 });

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Action = { kind: 'send'; count: number } | { kind: 'turn' } | { kind: 'relink' } | { kind: 'request'; count: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), count: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant('turn' as const) }),
  fc.record({ kind: fc.constant('relink' as const) }),
  fc.record({ kind: fc.constant('request' as const), count: fc.integer({ min: 1, max: 5 }) }),
);

let nodes: TestNode[] = [];
afterEach(async () => {
  await closeAll(nodes);
  nodes = [];
});

describe('transport: per-peer order across reconnects (property)', () => {
  it('delivers each peer\'s messages in send order, never duplicated, whatever the connection churn', async () => {
    nodes = await startCluster(2);
    const [a, b] = nodes;
    b.t.onRequest((_from, x) => x);
    let seq = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 12 }), async (actions) => {
        const before = b.from(1).length;
        const requests: Promise<unknown>[] = [];
        for (const act of actions) {
          switch (act.kind) {
            case 'send':
              for (let i = 0; i < act.count; i++) a.t.send(2, seq++);
              break;
            case 'turn':
              await nextTurn();
              break;
            case 'relink': // a fresh connection: whatever the old one still carried may be lost, never reordered
              a.t.removePeer(2);
              a.t.setPeer(2, { host, port: b.port });
              break;
            case 'request':
              for (let i = 0; i < act.count; i++) requests.push(a.t.request(2, i, 10_000).then((r) => expect(r).toBe(i), () => {}));
              break;
          }
        }
        await a.probe.until(() => a.t.isPeerUp(2));
        const marker = seq++;
        a.t.send(2, marker);
        await b.probe.until(() => b.from(1).at(-1) === marker);
        await Promise.all(requests);
        const got = b.from(1).slice(before) as number[];
        expect(got.every((s, i) => i === 0 || s > got[i - 1])).toBe(true);
        if (!actions.some((x) => x.kind === 'relink')) expect(got.length).toBe(got.at(-1)! - got[0] + 1); // no churn, no loss
      }),
      { numRuns: 100 },
    );
  });
});
