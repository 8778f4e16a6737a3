import { describe, expect, it, vi } from 'vitest';
import { FrameReader, rawPeerServer, startNode, host } from './helpers.js';

// Everything here completes in well under a second; a hang should fail fast, not after 2 minutes.
vi.setConfig({ testTimeout: 30_000 });

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('transport: backpressure', () => {
  it('queues behind a peer that does not read, bounded by sendQueueBytesMax, dropping the oldest', async () => {
    const sendQueueBytesMax = 1024 * 1024;
    const fake = await rawPeerServer(2);
    const a = await startNode(1, { sendQueueBytesMax });
    try {
      a.t.setPeer(2, { host, port: fake.port });
      const socket = await fake.next(); // authenticated, paused: nothing is read from the kernel
      await a.probe.until(() => a.t.isPeerUp(2));

      const pad = Buffer.alloc(256 * 1024, 1);
      let sent = 0;
      // Fill the kernel buffers, then the send queue, until the queue starts dropping.
      while (a.t.stats().dropped === 0) {
        expect(sent).toBeLessThan(2000); // ~500 MiB: far beyond any loopback socket buffer
        a.t.send(2, { seq: sent++, pad });
        await nextTurn();
        expect(a.t.stats().peers[0].queuedBytes).toBeLessThanOrEqual(sendQueueBytesMax);
      }
      for (let i = 0; i < 10; i++) {
        a.t.send(2, { seq: sent++, pad });
        await nextTurn();
      }
      const dropped = a.t.stats().dropped;
      expect(a.t.stats().peers[0].queuedBytes).toBeGreaterThan(0);

      // Start reading: the queue drains in order, newest message included.
      const reader = new FrameReader(socket);
      socket.resume();
      const seqs: number[] = [];
      while (seqs.at(-1) !== sent - 1) {
        const frame = (await reader.next()) as [{ seq: number; pad: Buffer }[]];
        for (const m of frame[0]) {
          expect(m.pad.equals(pad)).toBe(true);
          seqs.push(m.seq);
        }
      }
      expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1])).toBe(true);
      expect(seqs.length + dropped).toBe(sent);
      expect(a.t.stats().peers[0].queuedBytes).toBe(0);
      socket.destroy();
    } finally {
      await a.t.close();
      fake.close();
    }
  });
});
