/**
 * Joining a running cluster (`memraft serve --join HOST:PORT`): learn the node id behind
 * the given peer address (the transport handshake's challenge names it), ask that node to
 * add us (transport request `{t: 'join'}`; it records the join through the meta log), and
 * learn every member's peer address from the answer. The meta leader then adds us to the
 * meta group as a learner; our meta replica learns the meta state (snapshot + log) and
 * with it the routing table, and our registration makes us `up`.
 */
import { FrameDecoder, decodeFrameBody, dialPeer, encodeFrame, type PeerTlsOptions } from '../transport/index.js';
import type { NodeId } from '../raft/types.js';
import type { ClusterHost } from '../cluster/host.js';
import { NodeRemovedError } from './node-removal.js';

/** Longest wait for one probe or join request. */
const joinStepMs = 3000;

/** The node id listening at a peer address: the handshake challenge names it. */
export function probePeerId(addr: { host: string; port: number }, selfId: NodeId, clusterId: string, tls?: PeerTlsOptions): Promise<NodeId> {
  return new Promise((resolve, reject) => {
    const { socket, readyEvent } = dialPeer(addr, tls);
    const decoder = new FrameDecoder(1024);
    const timer = setTimeout(() => finish(new Error(`no handshake answer from ${addr.host}:${addr.port}`)), joinStepMs);
    const finish = (err: Error | null, id?: NodeId): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err !== null) reject(err);
      else resolve(id!);
    };
    socket.on('error', (err) => finish(err));
    socket.on(readyEvent, () => {
      // Only the hello: the challenge answers with the node id, then we hang up.
      socket.write(encodeFrame({ t: 'hello', v: 1, clusterId, nodeId: selfId, nonce: Buffer.alloc(16, 1), addr: { host: '', port: 1 } }));
    });
    socket.on('data', (chunk: Buffer) => {
      for (const body of decoder.push(chunk)) {
        const msg = decodeBody(body) as { t?: string; nodeId?: unknown };
        if (msg.t === 'challenge' && typeof msg.nodeId === 'number') return finish(null, msg.nodeId);
      }
    });
  });
}

function decodeBody(body: Buffer): unknown {
  try {
    return decodeFrameBody(body);
  } catch {
    return null;
  }
}

/** Asks the cluster at `joinAddr` to add this node; retries until accepted or `deadlineMs`. */
export async function joinCluster(
  host: ClusterHost, joinAddr: { host: string; port: number }, clusterId: string, deadlineMs: number, tls?: PeerTlsOptions,
): Promise<void> {
  const me = host.config.nodeId;
  let lastError = 'no attempt';
  while (Date.now() < deadlineMs) {
    try {
      const target = await probePeerId(joinAddr, me, clusterId, tls);
      host.knowPeer(target, `${joinAddr.host}:${joinAddr.port}`);
      const answer = (await host.peerRequest(target, { t: 'join', id: me, peer: host.config.peerAddress }, joinStepMs * 3)) as {
        ok?: boolean;
        e?: string;
        code?: string;
        nodes?: Array<{ id: NodeId; peer: string }>;
      };
      if (answer.ok === true) {
        for (const n of answer.nodes ?? []) if (n.peer !== '') host.knowPeer(n.id, n.peer);
        host.logger.info({ via: target, members: answer.nodes?.length }, 'joined the cluster');
        return;
      }
      // A removed id never rejoins: retrying cannot help (matched by code, not by text).
      if (answer.code === 'node-removed') throw new NodeRemovedError(me);
      lastError = answer.e ?? 'refused';
    } catch (err) {
      if (err instanceof NodeRemovedError) throw err;
      lastError = String(err);
    }
    host.logger.warn({ err: lastError }, 'join attempt failed, retrying');
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`could not join the cluster at ${joinAddr.host}:${joinAddr.port}: ${lastError}`);
}
