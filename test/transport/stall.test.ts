/**
 * Heal fast (issue 10): a link whose connection goes silent while it has traffic to send is
 * presumed cut and redialled within a few keepalive intervals, not after the 10 s idle
 * silence limit, and traffic flows again soon after the network heals. The cut is a black
 * hole (jepsen-lite's link proxy in `drop` mode: the socket stays open, every byte vanishes),
 * which is what a partition looks like to TCP; the kernel-level cut (nftables) is tested by
 * test/cluster/netns-availability.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LinkProxy, passMode } from '../../jepsen-lite/net/proxy.js';
import { Rng } from '../../jepsen-lite/random.js';
import { closeAll, host, startNode, type TestNode } from './helpers.js';

let nodes: TestNode[] = [];
let proxy: LinkProxy | null = null;
let sender: NodeJS.Timeout | null = null;

afterEach(async () => {
  if (sender !== null) clearInterval(sender);
  sender = null;
  await closeAll(nodes);
  nodes = [];
  await proxy?.close();
  proxy = null;
});

describe('transport: a stalled link', () => {
  it('is closed within a second of silence while sending, and carries traffic again after the heal', async () => {
    // The idle limit is far away: only the stall rule can close the link in time.
    const config = { peerSilenceMsMax: 60_000, reconnectDelayMsMin: 50, reconnectDelayMsMax: 500 };
    const a = await startNode(1, config);
    const b = await startNode(2, config);
    nodes = [a, b];
    proxy = new LinkProxy({ host, port: b.port }, new Rng(1));
    await proxy.start();
    a.t.setPeer(2, { host, port: proxy.port });
    b.t.setPeer(1, { host, port: a.port });
    await a.probe.until(() => a.t.isPeerUp(2));
    let seq = 0;
    sender = setInterval(() => a.t.send(2, { seq: seq++ }), 20);
    await b.probe.until(() => b.from(1).length >= 5);

    proxy.setMode({ kind: 'drop' });
    const cutMs = performance.now();
    await a.probe.until(() => a.status.some((s) => s.id === 2 && !s.up));
    const downMs = performance.now() - cutMs;
    expect(downMs).toBeLessThan(3000); // idle silence would take 60 s; the stall rule ~0.3 s
    expect(a.t.stats().silentDisconnects).toBeGreaterThanOrEqual(1);

    proxy.setMode(passMode);
    const healMs = performance.now();
    const sentAtHeal = seq;
    await b.probe.until(() => (b.from(1) as { seq: number }[]).some((m) => m.seq > sentAtHeal));
    expect(performance.now() - healMs).toBeLessThan(5000);
  }, 20_000);
});
