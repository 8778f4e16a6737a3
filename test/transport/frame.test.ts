import { once } from 'node:events';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameDecoder, FrameError, encodeFrame, packr } from '../../src/transport/index.js';
import { closeAll, rawClient, startNode, type TestNode } from './helpers.js';

// Everything here completes in well under a second; a hang should fail fast, not after 2 minutes.
vi.setConfig({ testTimeout: 30_000 });

/** Splits `bytes` at the given cut points (any order, duplicates allowed) into chunks. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const p of [...points, bytes.length]) {
    if (p > at) chunks.push(bytes.subarray(at, p));
    at = p;
  }
  return chunks;
}

function rawFrame(body: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

const bodies = fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 20 });
const cuts = fc.array(fc.nat(), { maxLength: 40 });

describe('FrameDecoder', () => {
  it('decodes frames split and merged at arbitrary points', () => {
    fc.assert(
      fc.property(bodies, cuts, (frames, cutPoints) => {
        const stream = Buffer.concat(frames.map(rawFrame));
        const decoder = new FrameDecoder();
        const out: Buffer[] = [];
        for (const chunk of split(stream, cutPoints)) out.push(...decoder.push(chunk));
        expect(out.map((b) => [...b])).toEqual(frames.map((f) => [...f]));
        expect(decoder.bufferedBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes byte by byte', () => {
    const frames = [Buffer.from('a'), Buffer.alloc(1000, 7), Buffer.from('xyz')];
    const decoder = new FrameDecoder();
    const out: Buffer[] = [];
    for (const byte of Buffer.concat(frames.map(rawFrame))) out.push(...decoder.push(Buffer.from([byte])));
    expect(out).toEqual(frames);
  });

  it('refuses oversized and empty frames before buffering them', () => {
    const decoder = new FrameDecoder(100);
    expect(() => decoder.push(Buffer.from([0, 0, 0, 101]))).toThrow(FrameError);
    expect(() => new FrameDecoder(100).push(Buffer.from([0, 0, 0, 0]))).toThrow(/empty/);
    // A header split across chunks is checked too.
    const split = new FrameDecoder(100);
    expect(split.push(Buffer.from([0x67, 0x65]))).toEqual([]);
    expect(() => split.push(Buffer.from([0x74, 0x20]))).toThrow(/exceeds the limit/);
  });

  it('round-trips msgpackr payloads through encodeFrame', () => {
    // msgpackr renames "__proto__" keys on decode (prototype-pollution guard), so leave them out.
    const json = fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__"'));
    fc.assert(
      fc.property(fc.array(json, { maxLength: 10 }), cuts, (msgs, cutPoints) => {
        const decoder = new FrameDecoder();
        const out: unknown[] = [];
        const stream = Buffer.concat([encodeFrame([msgs]), encodeFrame([msgs, [[0, 1, 'x']]])]);
        for (const chunk of split(stream, cutPoints)) for (const body of decoder.push(chunk)) out.push(packr.unpack(body));
        expect(out).toEqual(JSON.parse(JSON.stringify([[msgs], [msgs, [[0, 1, 'x']]]])));
      }),
      { numRuns: 200 },
    );
  });
});

describe('frames over a real socket', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await closeAll(nodes);
    nodes = [];
  });

  it('a transport decodes batches written in random splits', async () => {
    const a = await startNode(1);
    nodes = [a];
    const { socket } = await rawClient(a.port, { nodeId: 2, serverId: 1 });
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.record({ k: fc.string(), v: fc.uint8Array({ maxLength: 2000 }) }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
        cuts,
        async (batches, cutPoints) => {
          const before = a.batches.length;
          const stream = Buffer.concat(batches.map((msgs) => encodeFrame([msgs])));
          for (const chunk of split(stream, cutPoints)) {
            // Wait for each piece to reach the kernel so the receiver sees real partial reads.
            await new Promise<void>((resolve, reject) => socket.write(chunk, (err) => (err ? reject(err) : resolve())));
          }
          sent += batches.length;
          await a.probe.until(() => a.batches.length === before + batches.length);
          const got = a.batches.slice(before).map((b) => b.msgs as { k: string; v: Uint8Array }[]);
          expect(got.map((msgs) => msgs.map((m) => ({ k: m.k, v: [...m.v] })))).toEqual(
            batches.map((msgs) => msgs.map((m) => ({ k: m.k, v: [...m.v] }))),
          );
        },
      ),
      { numRuns: 40 },
    );
    expect(a.t.stats().framesReceived).toBe(sent);
    socket.destroy();
    await once(socket, 'close');
  });
});
