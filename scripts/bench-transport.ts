/**
 * `npm run bench:transport -- [--seconds S] [--per-turn N] [--value-bytes B]`
 *
 * Loopback microbenchmark of src/transport: two transports in this process.
 * 1. One-way messages/s from node 1 to node 2 (Raft-append-like objects with a binary value),
 *    N per event-loop turn, at most a window of messages in flight so queues never drop.
 * 2. Request/response round trips/s with 256 requests outstanding.
 * Both ends share this process's one core, so figures are a floor for two processes.
 * (Node 20 has no TypeScript loader; the npm script loads this file through Vite's module runner.)
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Transport } from '../src/transport/index.js';

const { values } = parseArgs({
  args: process.argv.slice(1).filter((a) => a !== '--'),
  options: {
    seconds: { type: 'string', default: '5' },
    'per-turn': { type: 'string', default: '64' },
    'value-bytes': { type: 'string', default: '100' },
  },
  strict: true,
});
const seconds = Number(values.seconds);
const perTurn = Number(values['per-turn']);
const valueBytes = Number(values['value-bytes']);
const windowMsgs = 16 * perTurn;

const host = '127.0.0.1';
const base = { clusterId: 'bench', secret: 'bench', listen: { host, port: 0 } };
const a = new Transport({ nodeId: 1, ...base });
const b = new Transport({ nodeId: 2, ...base });
const portA = (await a.start()).port;
const portB = (await b.start()).port;
let received = 0;
let wake: (() => void) | null = null;
b.onMessages((_from, msgs) => {
  received += msgs.length;
  wake?.();
});
b.onRequest((_from, payload) => payload);
const upA = new Promise<void>((resolve) => a.onPeerStatus((_id, up) => up && resolve()));
const upB = new Promise<void>((resolve) => b.onPeerStatus((_id, up) => up && resolve()));
a.setPeer(2, { host, port: portB });
b.setPeer(1, { host, port: portA });
await Promise.all([upA, upB]);

const value = Buffer.alloc(valueBytes, 0x61);
const waitReceived = (atLeast: number): Promise<void> =>
  received >= atLeast ? Promise.resolve() : new Promise((resolve) => (wake = () => received >= atLeast && resolve()));

async function oneWay(): Promise<void> {
  const endMs = performance.now() + seconds * 1000;
  let sent = 0;
  const startMs = performance.now();
  while (performance.now() < endMs) {
    for (let i = 0; i < perTurn; i++) {
      a.send(2, { g: 3, t: 3, term: 7, index: sent, commit: sent, entries: [{ term: 7, index: sent, data: value }] });
      sent++;
    }
    await new Promise((resolve) => setImmediate(resolve)); // the next event-loop turn flushes
    await waitReceived(sent - windowMsgs);
  }
  await waitReceived(sent);
  const elapsedS = (performance.now() - startMs) / 1000;
  const s = a.stats();
  console.log(`one-way: ${Math.round(sent / elapsedS).toLocaleString()} msgs/s, ${(s.bytesSent / elapsedS / 1e6).toFixed(1)} MB/s, ` +
    `${(sent / s.framesSent).toFixed(1)} msgs/frame (${perTurn}/turn, ${valueBytes}-byte values), dropped ${s.dropped}`);
}

async function roundTrips(): Promise<void> {
  const endMs = performance.now() + seconds * 1000;
  const startMs = performance.now();
  let done = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < endMs) {
      await a.request(2, value, 10_000);
      done++;
    }
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  const elapsedS = (performance.now() - startMs) / 1000;
  console.log(`request/response: ${Math.round(done / elapsedS).toLocaleString()} round trips/s (256 outstanding)`);
}

await oneWay();
await roundTrips();
await a.close();
await b.close();
