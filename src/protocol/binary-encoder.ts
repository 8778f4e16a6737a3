/** Replies to binary requests: response packets with opaque echoed and CAS where memcached sets it. */
import { opKey, type CacheOp, type CacheResult } from '../cache/ops.js';
import { errorPacket, packet, HEADER_BYTES, Op, Status, writeHeader } from './binary-codec.js';
import type { BinaryFormat } from './formats.js';
import type { Answer, Request } from './request.js';

/** Encodes the reply to a binary request (null = send nothing). */
export function encodeBinaryReply(request: Exclude<Request, { kind: 'error' }>, f: BinaryFormat, answer: Answer): Buffer | null {
  switch (request.kind) {
    case 'ops':
      if (answer.kind !== 'ops' || answer.results.length !== 1) return errorPacket(f.opcode, Status.OutOfMemory, f.opaque);
      return encodeResult(f, request.ops[0]!, answer.results[0]!);
    case 'version':
      return answer.kind === 'version' ? packet(f.opcode, Status.Ok, f.opaque, 0, null, null, answer.version) : null;
    case 'stats':
      return answer.kind === 'stats' ? encodeStats(f, request.group, answer.stats) : null;
    case 'noop':
    case 'verbosity':
      return packet(f.opcode, Status.Ok, f.opaque, 0, null, null, null);
    case 'quit':
      return f.quiet ? null : packet(f.opcode, Status.Ok, f.opaque, 0, null, null, null);
  }
}

function encodeResult(f: BinaryFormat, op: CacheOp, r: CacheResult): Buffer | null {
  if (f.fixedStatus !== undefined) return errorPacket(f.opcode, f.fixedStatus, f.opaque);
  switch (r.kind) {
    case 'hit':
      return encodeHit(f, r);
    case 'miss':
      if (f.quiet) return null;
      // GETK answers a miss with the key and no message (observed from memcached 1.6.18).
      if (f.withKey) return packet(f.opcode, Status.KeyNotFound, f.opaque, 0, null, opKey(op), null);
      return errorPacket(f.opcode, Status.KeyNotFound, f.opaque);
    case 'touched':
      return packet(f.opcode, Status.Ok, f.opaque, r.item.cas, r.item.flags, null, null);
    case 'stored':
      return f.quiet ? null : packet(f.opcode, Status.Ok, f.opaque, r.cas, null, null, null);
    case 'deleted':
    case 'ok':
      return f.quiet ? null : packet(f.opcode, Status.Ok, f.opaque, 0, null, null, null);
    case 'number':
      return f.quiet ? null : encodeNumber(f, r.value, r.cas);
    case 'not_stored':
      return errorPacket(f.opcode, notStoredStatus(f.opcode), f.opaque);
    case 'exists':
      return errorPacket(f.opcode, Status.KeyExists, f.opaque);
    case 'not_found':
      return errorPacket(f.opcode, Status.KeyNotFound, f.opaque);
    case 'client_error':
      return isArith(f.opcode)
        ? errorPacket(f.opcode, Status.NonNumeric, f.opaque)
        : packet(f.opcode, Status.InvalidArguments, f.opaque, 0, null, null, r.message);
    case 'server_error':
      return packet(f.opcode, Status.OutOfMemory, f.opaque, 0, null, null, r.message);
  }
}

function encodeHit(f: BinaryFormat, r: Extract<CacheResult, { kind: 'hit' }>): Buffer {
  const item = r.item;
  return packet(f.opcode, Status.Ok, f.opaque, item.cas, item.flags, f.withKey ? item.key : null, item.value);
}

function encodeNumber(f: BinaryFormat, value: bigint, cas: number): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + 8);
  writeHeader(buf, 0, f.opcode, Status.Ok, 0, 0, 8, f.opaque, cas);
  buf.writeBigUInt64BE(value, HEADER_BYTES);
  return buf;
}

/** memcached answers a failed add "exists", a failed replace "not found", append/prepend "not stored". */
function notStoredStatus(opcode: number): number {
  switch (opcode) {
    case Op.Add:
    case Op.AddQ:
      return Status.KeyExists;
    case Op.Replace:
    case Op.ReplaceQ:
      return Status.KeyNotFound;
    default:
      return Status.NotStored;
  }
}

function isArith(op: number): boolean {
  return op === Op.Incr || op === Op.IncrQ || op === Op.Decr || op === Op.DecrQ;
}

/**
 * One packet per stat (key = name, value = value), then an empty terminator packet. As in
 * memcached 1.6.18: "reset" and "detail on|off" answer the terminator alone, "detail dump"
 * sends the text dump as the stat "detailed", an unknown group is Not found.
 */
function encodeStats(f: BinaryFormat, group: string, stats: Array<[string, string]> | null): Buffer {
  if (stats === null) return errorPacket(f.opcode, Status.KeyNotFound, f.opaque);
  if (group === 'detail dump') stats = [['detailed', 'END\r\n']];
  const parts: Buffer[] = [];
  for (const [name, value] of stats) {
    parts.push(packet(f.opcode, Status.Ok, f.opaque, 0, null, Buffer.from(name, 'latin1'), value));
  }
  parts.push(packet(f.opcode, Status.Ok, f.opaque, 0, null, null, null));
  return Buffer.concat(parts);
}
