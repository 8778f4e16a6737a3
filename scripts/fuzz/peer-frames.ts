/**
 * Generated peer frames for the fuzzer, sent by a fake peer that completed the HMAC
 * handshake (test/support/fake-peer.ts): batches of Raft tuples with random and boundary
 * fields, snapshot chunks, read rounds, garbage values, and request calls (forwards of
 * random ops bytes, meta commands of bytes, move and unknown requests), plus raw frames
 * of undecodable msgpack.
 *
 * Never generated, because they are well-formed requests a member may make and would change
 * the cluster itself rather than test its input handling: valid meta commands (a node-state
 * `removed` would remove a node), valid conf changes and leader transfers, `ctl` requests,
 * and forwarded ops that flush.
 */
import { encodeEntry } from '../../src/cache/op-codec.js';
import type { CacheOp } from '../../src/cache/ops.js';
import { Gen } from './inputs.js';

/** What one peer frame is, for the report. */
export type FrameKind = 'raft' | 'chunk' | 'read-round' | 'junk-message' | 'request' | 'raw';

function field(g: Gen): unknown {
  return g.pick<unknown>([0, 1, 2, -1, 1.5, 2 ** 31, 2 ** 53, 2 ** 60, NaN, null, true, 'x', '', [], {}, Buffer.alloc(0), Buffer.from('abc'), g.int(100), g.int(1e6)]);
}

function smallCount(g: Gen): number {
  return g.chance(0.9) ? g.int(50) : g.pick([2 ** 20, 2 ** 31, 2 ** 40]);
}

function entries(g: Gen, index: number): unknown {
  if (g.chance(0.3)) return 0;
  if (g.chance(0.2)) return field(g);
  const flat: unknown[] = [];
  for (let i = 0, n = 1 + g.int(4); i < n; i++) flat.push(g.int(5), index + 1 + i, g.int(3), g.chance(0.9) ? g.bytes(g.int(64)) : field(g));
  return flat;
}

/** A Raft tuple: mostly the right length and types with random values, sometimes a damaged field. */
function raftTuple(g: Gen, groups: number): unknown[] {
  const index = g.int(50);
  const t: unknown[] = [
    g.chance(0.9) ? g.int(groups + 2) : field(g), g.int(20), smallCount(g), g.int(10), index,
    entries(g, index), smallCount(g), g.int(2), g.int(10), g.chance(0.8) ? 0 : g.bytes(8),
    g.chance(0.9) ? 0 : { meta: { index: g.int(100), term: g.int(10), confState: { voters: [1, 2, 3], learners: [] } }, data: g.bytes(g.int(100)) },
  ];
  if (g.chance(0.2)) t[g.int(t.length)] = field(g);
  if (g.chance(0.05)) t.length = g.int(14);
  return t;
}

function chunk(g: Gen, groups: number): unknown[] {
  const seq = g.int(3);
  const total = g.chance(0.9) ? 1 + g.int(3) : field(g);
  return ['c', g.int(groups + 2), g.int(5), seq, total, g.chance(0.9) ? g.bytes(g.int(200)) : field(g), seq === 0 ? raftTuple(g, groups) : 0];
}

function readRound(g: Gen, groups: number): unknown[] {
  const kind = g.pick(['rc', 'ra', 'ri', 'ia', 'zz']);
  const flat: unknown[] = [];
  for (let i = 0, n = g.int(12); i < n; i++) flat.push(g.chance(0.9) ? g.int(groups + 2) : field(g));
  return [kind, flat];
}

/** Ops that are safe to run for real (no flush), with random keys and sizes. */
function ops(g: Gen): CacheOp[] {
  const key = (): Buffer => Buffer.from(`fzp${g.int(200)}`);
  return Array.from({ length: 1 + g.int(3) }, (): CacheOp => {
    switch (g.int(4)) {
      case 0:
        return { type: 'store', mode: g.pick(['set', 'add', 'append'] as const), key: key(), flags: g.int(10), exptime: 0, value: g.bytes(g.int(100)) };
      case 1:
        return { type: 'get', key: key() };
      case 2:
        return { type: 'delete', key: key() };
      default:
        return { type: 'touch', key: key(), exptime: g.int(100) };
    }
  });
}

function request(g: Gen, groups: number): unknown[] {
  const id = g.int(2 ** 31);
  let payload: unknown;
  switch (g.int(6)) {
    case 0:
      payload = { t: 'ops', g: 1 + g.int(groups), d: g.chance(0.5) ? encodeEntry({ nowMs: Date.now(), ops: ops(g) }) : g.bytes(g.int(50)) };
      break;
    case 1:
      payload = { t: 'meta', d: g.chance(0.5) ? g.bytes(g.int(50)) : Buffer.from([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa1, 0x78]) };
      break;
    case 2:
      payload = { t: 'mv', g: g.int(groups + 2), o: g.chance(0.5) ? { op: 'conf' } : { op: g.pick(['cc', 'transfer', 'zz']), type: 7, node: field(g), to: -1 } };
      break;
    case 3:
      payload = { t: g.pick(['zz', 'join', 'ctl']), id: field(g), peer: field(g), op: 'status' };
      break;
    default:
      payload = field(g);
  }
  // A call of a request, or a stray response/failure, or a damaged call envelope.
  const r = g.float();
  if (r < 0.8) return [0, id, payload];
  if (r < 0.9) return [g.pick([1, 2]), id, payload, 'x'];
  return [g.int(5), field(g), payload];
}

/**
 * One frame: the payload of a batch frame (`[msgs]` or `[msgs, calls]`), or raw bytes of a
 * whole frame (length prefix and body) when kind is 'raw'.
 */
export function peerFrame(g: Gen, groups: number): { kind: FrameKind; payload?: unknown; raw?: Buffer; incomplete?: boolean } {
  const r = g.float();
  if (r < 0.4) return { kind: 'raft', payload: [Array.from({ length: 1 + g.int(3) }, () => raftTuple(g, groups))] };
  if (r < 0.5) return { kind: 'chunk', payload: [[chunk(g, groups)]] };
  if (r < 0.6) return { kind: 'read-round', payload: [[readRound(g, groups)]] };
  if (r < 0.7) return { kind: 'junk-message', payload: g.chance(0.5) ? [[field(g)]] : field(g) };
  if (r < 0.93) return { kind: 'request', payload: [[], [request(g, groups)]] };
  const body = g.bytes(1 + g.int(64));
  const header = Buffer.alloc(4);
  const length = g.chance(0.9) ? body.length : g.int(2 ** 32);
  header.writeUInt32BE(length, 0);
  // A length past the body leaves the node waiting for the rest of the frame (or refusing it).
  return { kind: 'raw', raw: Buffer.concat([header, body]), incomplete: length > body.length };
}
