/**
 * The peer handshake: mutual proof of the shared cluster secret, with fresh nonces from both
 * sides so a recorded handshake cannot be replayed.
 *
 *   client -> server  hello     {clusterId, nodeId, nonce: Nc, addr}
 *   server -> client  challenge {nodeId, nonce: Ns}
 *   client -> server  auth      {proof: HMAC(secret, "C", ids, Nc, Ns, addr)}
 *   server -> client  ok        {proof: HMAC(secret, "S", ids, Nc, Ns, addr)}
 *
 * The server speaks only after a well-formed hello, so a memcached client (or anything else)
 * that connects to a peer port gets no answer at all, just a closed socket. The server proves
 * itself only after the client has, so an outsider never obtains a proof to study, and the
 * role tag keeps a server's proof from being usable as a client's. Each message is one
 * ordinary frame.
 * Without peer TLS (peer-tls.ts) there is no encryption: peer links belong on a private network.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NodeId } from '../raft/types.js';

/** Wire version of the handshake; bumped on incompatible changes. */
export const handshakeVersion = 1;

/** Frame limit while unauthenticated: a handshake message is small, anything bigger is garbage. */
export const handshakeFrameBytesMax = 1024;

/** Bytes of each side's nonce. */
export const nonceBytes = 16;

/** Longest accepted cluster id or advertised host, in bytes. */
const idBytesMax = 255;

/** A peer's advertised address. host '' means "the address you see me connecting from". */
export interface PeerAddress {
  host: string;
  port: number;
}

/** First handshake message, sent by the connecting side. */
export interface Hello {
  t: 'hello';
  v: number;
  clusterId: string;
  nodeId: NodeId;
  nonce: Buffer;
  addr: PeerAddress;
}

/** The accepting side's answer to a valid hello. */
export interface Challenge {
  t: 'challenge';
  nodeId: NodeId;
  nonce: Buffer;
}

/** The connecting side's proof. */
export interface Auth {
  t: 'auth';
  proof: Buffer;
}

/** The accepting side's acceptance and proof; after it the connection carries batches. */
export interface Ok {
  t: 'ok';
  proof: Buffer;
}

/** Everything both proofs bind together. */
export interface ProofInput {
  clusterId: string;
  clientId: NodeId;
  serverId: NodeId;
  clientNonce: Buffer;
  serverNonce: Buffer;
  addr: PeerAddress;
}

/** A fresh random nonce. */
export function newNonce(): Buffer {
  return randomBytes(nonceBytes);
}

/** HMAC-SHA256 over the length-prefixed fields, so no two field lists hash alike. */
export function computeProof(secret: string, role: 'C' | 'S', input: ProofInput): Buffer {
  const hmac = createHmac('sha256', secret);
  const fields: (string | Buffer)[] = [
    'memraft-peer-v1', role, input.clusterId, String(input.clientId), String(input.serverId),
    input.clientNonce, input.serverNonce, input.addr.host, String(input.addr.port),
  ];
  const length = Buffer.allocUnsafe(4);
  for (const field of fields) {
    const bytes = typeof field === 'string' ? Buffer.from(field, 'utf8') : field;
    length.writeUInt32BE(bytes.length, 0);
    hmac.update(length);
    hmac.update(bytes);
  }
  return hmac.digest();
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(expected: Buffer, received: Buffer): boolean {
  return received.length === expected.length && timingSafeEqual(expected, received);
}

function isNodeId(v: unknown): v is NodeId {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

function isShortString(v: unknown): v is string {
  return typeof v === 'string' && Buffer.byteLength(v) <= idBytesMax;
}

function isNonce(v: unknown): v is Buffer {
  return v instanceof Uint8Array && v.length === nonceBytes;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isAddress(v: unknown): v is PeerAddress {
  if (!isObject(v)) return false;
  const port = v['port'];
  return isShortString(v['host']) && Number.isInteger(port) && (port as number) > 0 && (port as number) < 65536;
}

/** The hello in `v`, or null if `v` is not a well-formed hello of our version. */
export function parseHello(v: unknown): Hello | null {
  if (!isObject(v) || v['t'] !== 'hello' || v['v'] !== handshakeVersion) return null;
  if (!isShortString(v['clusterId']) || !isNodeId(v['nodeId'])) return null;
  if (!isNonce(v['nonce']) || !isAddress(v['addr'])) return null;
  return v as unknown as Hello;
}

/** The challenge in `v`, or null. */
export function parseChallenge(v: unknown): Challenge | null {
  if (!isObject(v) || v['t'] !== 'challenge' || !isNodeId(v['nodeId'])) return null;
  if (!isNonce(v['nonce'])) return null;
  return v as unknown as Challenge;
}

/** The auth in `v`, or null. */
export function parseAuth(v: unknown): Auth | null {
  if (!isObject(v) || v['t'] !== 'auth' || !(v['proof'] instanceof Uint8Array)) return null;
  return v as unknown as Auth;
}

/** The ok in `v`, or null. */
export function parseOk(v: unknown): Ok | null {
  if (!isObject(v) || v['t'] !== 'ok' || !(v['proof'] instanceof Uint8Array)) return null;
  return v as unknown as Ok;
}
