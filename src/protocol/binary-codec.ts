/**
 * Binary protocol constants and the response packet writer
 * (memcached-protocol-binary.txt; status messages as memcached 1.6.18 sends them).
 */

/** Request and response magic bytes. */
export const MAGIC_REQUEST = 0x80;
export const MAGIC_RESPONSE = 0x81;
export const HEADER_BYTES = 24;

/** Opcodes this server implements. */
export const enum Op {
  Get = 0x00,
  Set = 0x01,
  Add = 0x02,
  Replace = 0x03,
  Delete = 0x04,
  Incr = 0x05,
  Decr = 0x06,
  Quit = 0x07,
  Flush = 0x08,
  GetQ = 0x09,
  Noop = 0x0a,
  Version = 0x0b,
  GetK = 0x0c,
  GetKQ = 0x0d,
  Append = 0x0e,
  Prepend = 0x0f,
  Stat = 0x10,
  SetQ = 0x11,
  AddQ = 0x12,
  ReplaceQ = 0x13,
  DeleteQ = 0x14,
  IncrQ = 0x15,
  DecrQ = 0x16,
  QuitQ = 0x17,
  FlushQ = 0x18,
  AppendQ = 0x19,
  PrependQ = 0x1a,
  Verbosity = 0x1b,
  Touch = 0x1c,
  Gat = 0x1d,
  GatQ = 0x1e,
  SaslListMechs = 0x20,
  SaslAuth = 0x21,
  SaslStep = 0x22,
  GatK = 0x23,
  GatKQ = 0x24,
}

/** Response statuses. */
export const enum Status {
  Ok = 0x00,
  KeyNotFound = 0x01,
  KeyExists = 0x02,
  TooLarge = 0x03,
  InvalidArguments = 0x04,
  NotStored = 0x05,
  NonNumeric = 0x06,
  AuthError = 0x20,
  UnknownCommand = 0x81,
  OutOfMemory = 0x82,
}

/** The body memcached puts in an error response of each status. */
export function statusMessage(status: number): string {
  switch (status) {
    case Status.KeyNotFound:
      return 'Not found';
    case Status.KeyExists:
      return 'Data exists for key.';
    case Status.TooLarge:
      return 'Too large.';
    case Status.InvalidArguments:
      return 'Invalid arguments';
    case Status.NotStored:
      return 'Not stored.';
    case Status.NonNumeric:
      return 'Non-numeric server-side value for incr or decr';
    case Status.AuthError:
      return 'Auth failure.';
    case Status.UnknownCommand:
      return 'Unknown command';
    case Status.OutOfMemory:
      return 'Out of memory';
    default:
      return 'Unknown error';
  }
}

const TWO_32 = 4294967296;

/** Writes a 24-byte response header at buf[at]. CAS is the cache model's number (<0 -> 0). */
export function writeHeader(
  buf: Buffer,
  at: number,
  opcode: number,
  status: number,
  keyBytes: number,
  extrasBytes: number,
  bodyBytes: number,
  opaque: number,
  cas: number,
): void {
  buf[at] = MAGIC_RESPONSE;
  buf[at + 1] = opcode;
  buf.writeUInt16BE(keyBytes, at + 2);
  buf[at + 4] = extrasBytes;
  buf[at + 5] = 0;
  buf.writeUInt16BE(status, at + 6);
  buf.writeUInt32BE(bodyBytes, at + 8);
  buf.writeUInt32BE(opaque, at + 12);
  const c = cas > 0 ? cas : 0;
  buf.writeUInt32BE(Math.floor(c / TWO_32), at + 16);
  buf.writeUInt32BE(c % TWO_32, at + 20);
}

/** One response packet. `flags` (when not null) is written as 4 bytes of extras. */
export function packet(
  opcode: number,
  status: number,
  opaque: number,
  cas: number,
  flags: number | null,
  key: Buffer | null,
  value: Buffer | string | null,
): Buffer {
  const extrasBytes = flags === null ? 0 : 4;
  const keyBytes = key === null ? 0 : key.length;
  const valueBytes = value === null ? 0 : typeof value === 'string' ? Buffer.byteLength(value, 'latin1') : value.length;
  const body = extrasBytes + keyBytes + valueBytes;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + body);
  writeHeader(buf, 0, opcode, status, keyBytes, extrasBytes, body, opaque, cas);
  let at = HEADER_BYTES;
  if (flags !== null) at = buf.writeUInt32BE(flags >>> 0, at);
  if (key !== null) at += key.copy(buf, at);
  if (typeof value === 'string') buf.write(value, at, 'latin1');
  else if (value !== null) value.copy(buf, at);
  return buf;
}

/** An error response: no extras, no key, memcached's message as the body. */
export function errorPacket(opcode: number, status: number, opaque: number): Buffer {
  return packet(opcode, status, opaque, 0, null, null, statusMessage(status));
}
