/**
 * Test helpers for the transport: real transports on 127.0.0.1 ephemeral ports, event probes
 * to await conditions without sleeping, and a raw-socket peer that speaks the handshake by hand.
 */
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { FrameDecoder, encodeFrame, packr, Transport, type TransportConfig } from '../../src/transport/index.js';
import {
  computeProof, handshakeVersion, newNonce, parseAuth, parseChallenge, parseHello, parseOk, type ProofInput,
} from '../../src/transport/handshake.js';

export const clusterId = 'test-cluster';
export const secret = 'test-secret';
export const host = '127.0.0.1';

/** Resolves waiters whose predicate holds each time something is notified. */
export class Probe {
  private readonly waiters = new Set<() => void>();

  /** Re-checks every waiter. */
  notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once `pred()` is true (checked now and on every notify). */
  until(pred: () => boolean): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => {
      const w = (): void => {
        if (!pred()) return;
        this.waiters.delete(w);
        resolve();
      };
      this.waiters.add(w);
    });
  }
}

/** A transport plus everything it received and every status change, with a probe to await them. */
export interface TestNode {
  id: number;
  port: number;
  t: Transport;
  batches: { from: number; msgs: unknown[] }[];
  status: { id: number; up: boolean }[];
  logs: Record<string, unknown>[];
  probe: Probe;
  /** Messages received from `from`, flattened, in arrival order. */
  from(from: number): unknown[];
}

/** A pino logger that keeps its records in `logs` and notifies `probe`. */
export function captureLogger(logs: Record<string, unknown>[], probe: Probe): Logger {
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line));
      probe.notify();
      cb();
    },
  });
  return pino({ level: 'warn' }, stream);
}

/** Creates and starts a transport with observers attached. */
export async function startNode(id: number, config: Partial<TransportConfig> = {}): Promise<TestNode> {
  const probe = new Probe();
  const logs: Record<string, unknown>[] = [];
  const t = new Transport({
    nodeId: id, clusterId, secret, listen: { host, port: 0 }, logger: captureLogger(logs, probe),
    reconnectDelayMsMin: 5, reconnectDelayMsMax: 50, ...config,
  });
  const node: TestNode = {
    id, port: 0, t, batches: [], status: [], logs, probe,
    from: (from) => node.batches.filter((b) => b.from === from).flatMap((b) => b.msgs),
  };
  t.onMessages((from, msgs) => {
    node.batches.push({ from, msgs });
    probe.notify();
  });
  t.onPeerStatus((peer, up) => {
    node.status.push({ id: peer, up });
    probe.notify();
  });
  node.port = (await t.start()).port;
  return node;
}

/** Starts `count` nodes (ids 1..count) fully meshed, and waits until every link is up. */
export async function startCluster(count: number, config: Partial<TransportConfig> = {}): Promise<TestNode[]> {
  const nodes: TestNode[] = [];
  for (let id = 1; id <= count; id++) nodes.push(await startNode(id, config));
  for (const a of nodes) for (const b of nodes) if (a !== b) a.t.setPeer(b.id, { host, port: b.port });
  await Promise.all(nodes.map((a) => a.probe.until(() => nodes.every((b) => b === a || a.t.isPeerUp(b.id)))));
  return nodes;
}

/** Closes every node. */
export async function closeAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.t.close()));
}

/** Reads frames from a raw socket, one at a time. */
export class FrameReader {
  private readonly decoder = new FrameDecoder();
  private readonly frames: unknown[] = [];
  private readonly probe = new Probe();
  closed = false;

  constructor(socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const body of this.decoder.push(chunk)) this.frames.push(packr.unpack(body));
      this.probe.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.probe.notify();
    });
  }

  /** The next frame, or null if the socket closed first. */
  async next(): Promise<unknown> {
    await this.probe.until(() => this.frames.length > 0 || this.closed);
    return this.frames.length > 0 ? this.frames.shift() : null;
  }
}

/** Connects a raw socket to a transport and performs the client handshake by hand. */
export async function rawClient(
  port: number, opts: { nodeId: number; serverId: number; secret?: string; record?: Buffer[] },
): Promise<{ socket: net.Socket; reader: FrameReader }> {
  const socket = net.connect({ host, port, noDelay: true });
  await once(socket, 'connect');
  const reader = new FrameReader(socket);
  const clientNonce = newNonce();
  const addr = { host, port: 1 };
  const send = (frame: Buffer): void => {
    opts.record?.push(Buffer.from(frame));
    socket.write(frame);
  };
  send(encodeFrame({ t: 'hello', v: handshakeVersion, clusterId, nodeId: opts.nodeId, nonce: clientNonce, addr }));
  const challenge = parseChallenge(await reader.next());
  if (challenge === null) throw new Error('no challenge');
  const input: ProofInput = {
    clusterId, clientId: opts.nodeId, serverId: opts.serverId, clientNonce, serverNonce: Buffer.from(challenge.nonce), addr,
  };
  send(encodeFrame({ t: 'auth', proof: computeProof(opts.secret ?? secret, 'C', input) }));
  const ok = parseOk(await reader.next());
  if (ok === null || !ok.proof.equals(computeProof(secret, 'S', input))) throw new Error('handshake refused');
  return { socket, reader };
}

/**
 * A raw-socket server that accepts transports' outbound links as node `nodeId` (proving
 * `okSecret`) without checking their proof, and hands back each accepted socket paused, so
 * tests control reading.
 */
export async function rawPeerServer(
  nodeId: number, okSecret = secret,
): Promise<{ port: number; next(): Promise<net.Socket>; close(): void }> {
  const accepted: net.Socket[] = [];
  const all = new Set<net.Socket>();
  const probe = new Probe();
  const server = net.createServer((socket) => {
    all.add(socket);
    socket.on('close', () => all.delete(socket));
    const reader = new FrameDecoder();
    let serverNonce = newNonce();
    let input: ProofInput | null = null;
    const onData = (chunk: Buffer): void => {
      for (const body of reader.push(chunk)) {
        const msg = packr.unpack(body);
        const hello = parseHello(msg);
        if (hello !== null) {
          serverNonce = newNonce();
          input = { clusterId, clientId: hello.nodeId, serverId: nodeId, clientNonce: Buffer.from(hello.nonce), serverNonce, addr: hello.addr };
          socket.write(encodeFrame({ t: 'challenge', nodeId, nonce: serverNonce }));
        } else if (parseAuth(msg) !== null && input !== null) {
          socket.pause();
          socket.off('data', onData);
          socket.write(encodeFrame({ t: 'ok', proof: computeProof(okSecret, 'S', input) }));
          accepted.push(socket);
          probe.notify();
        }
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
  });
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    async next() {
      await probe.until(() => accepted.length > 0);
      return accepted.shift()!;
    },
    close() {
      server.close();
      for (const socket of all) socket.destroy();
    },
  };
}
