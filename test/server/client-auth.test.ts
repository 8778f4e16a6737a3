/**
 * Client authentication on a real `memraft serve -Y FILE` (the embedded single-node
 * cluster): memcached's ASCII auth over a raw socket, SASL PLAIN with memjs, and the binary
 * protocol's refusal of unauthenticated commands. Replies are memcached's (proto_text.c
 * try_read_command_asciiauth, proto_bin.c; t/ascii-auth.t's sequence is followed here).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import memjs from 'memjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from './helpers.js';

let server: ServerProcess;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memraft-auth-'));
  const authFile = path.join(dir, 'auth');
  // memcached's t/authfile: two users.
  fs.writeFileSync(authFile, 'foo:bar\nbaaaz:quux\n');
  server = await startServer(['--auth-file', authFile]);
}, 60_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A raw socket that returns whatever arrives up to the next `\r\n`-ended chunk. */
class Raw {
  private buffered = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  closed = false;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }
  static async open(): Promise<Raw> {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    return new Raw(socket);
  }
  /** Sends `text` and waits until at least `bytes` bytes (or a line) arrived, or the socket closed. */
  async send(text: string | Buffer, bytes = 0): Promise<Buffer> {
    this.socket.write(text);
    for (;;) {
      const enough = bytes > 0 ? this.buffered.length >= bytes : this.buffered.includes('\r\n');
      if (enough || this.closed) break;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
    const out = this.buffered;
    this.buffered = Buffer.alloc(0);
    return out;
  }
  /** Sends `text` and reads until the buffered bytes end with `terminator`. */
  async sendUntil(text: string, terminator: string): Promise<string> {
    this.socket.write(text);
    while (!this.buffered.toString('latin1').endsWith(terminator) && !this.closed) {
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
    const out = this.buffered.toString('latin1');
    this.buffered = Buffer.alloc(0);
    return out;
  }

  /** Resolves once the server has closed the connection. */
  async closedByServer(): Promise<void> {
    while (!this.closed) {
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
  end(): void {
    this.socket.destroy();
  }
}

describe('ASCII auth (memcached -Y)', () => {
  it('answers memcached\'s lines before, during and after authentication, and serves no data unauthenticated', async () => {
    const a = await Raw.open();
    // The first set is read as an auth attempt: "hi" has no space.
    expect(String(await a.send('set foo 0 0 2\r\nhi\r\n'))).toBe('CLIENT_ERROR bad authentication token format\r\n');
    expect(String(await a.send('get foo\r\n'))).toBe('CLIENT_ERROR unauthenticated\r\n');
    expect(String(await a.send('set foo 0 0 7\r\nfoo bab\r\n'))).toBe('CLIENT_ERROR authentication failure\r\n');
    expect(String(await a.send('set foo 0 0 2147483646\r\n'))).toBe('CLIENT_ERROR auth token too long\r\n');
    expect(String(await a.send('set foo 0 0 7\r\nfoo bar\r\n'))).toBe('STORED\r\n');
    expect(String(await a.send('set toast 0 0 2\r\nhi\r\n'))).toBe('STORED\r\n');
    expect(String(await a.send('get toast\r\n'))).toBe('VALUE toast 0 2\r\nhi\r\nEND\r\n');
    const settings = await a.sendUntil('stats settings\r\n', 'END\r\n');
    expect(settings).toContain('STAT auth_enabled_sasl yes\r\n');
    expect(settings).toMatch(/STAT auth_enabled_ascii \S+auth\r\n/);
    expect(settings).toContain('STAT ssl_enabled no\r\n');

    // A second connection: unauthenticated it sees nothing; with the other user it does.
    const b = await Raw.open();
    expect(String(await b.send('get toast\r\n'))).toBe('CLIENT_ERROR unauthenticated\r\n');
    expect(String(await b.send('set foo 0 0 10\r\nbaaaz quuX\r\n'))).toBe('CLIENT_ERROR authentication failure\r\n');
    expect(String(await b.send('gets toast\r\n'))).toBe('CLIENT_ERROR unauthenticated\r\n');
    expect(String(await b.send('mg toast v\r\n'))).toBe('CLIENT_ERROR unauthenticated\r\n');
    // Auth and a command pipelined in one write: both answered, in order.
    expect(String(await b.send('set foo 0 0 10\r\nbaaaz quux\r\nget toast\r\n', 'STORED\r\nVALUE toast 0 2\r\nhi\r\nEND\r\n'.length))).toBe(
      'STORED\r\nVALUE toast 0 2\r\nhi\r\nEND\r\n',
    );
    a.end();
    b.end();
  });

  it('closes a connection that sends a line too short to be an auth set (memcached\'s MIN_AUTH_REQ_LEN)', async () => {
    const c = await Raw.open();
    expect(String(await c.send('quit\r\n'))).toBe('');
    await c.closedByServer();
    // The node keeps serving.
    const d = await Raw.open();
    expect(String(await d.send('set u 0 0 7\r\nfoo bar\r\n'))).toBe('STORED\r\n');
    d.end();
  });
});

/** A binary request: header, then key and value. */
function binaryRequest(opcode: number, key = '', value: Buffer | string = '', extras = Buffer.alloc(0)): Buffer {
  const k = Buffer.from(key);
  const v = Buffer.isBuffer(value) ? value : Buffer.from(value);
  const header = Buffer.alloc(24);
  header[0] = 0x80;
  header[1] = opcode;
  header.writeUInt16BE(k.length, 2);
  header[4] = extras.length;
  header.writeUInt32BE(extras.length + k.length + v.length, 8);
  header.writeUInt32BE(0xabcd, 12);
  return Buffer.concat([header, extras, k, v]);
}

/** Status and body of the first response packet in `buf`. */
function response(buf: Buffer): { opcode: number; status: number; body: string } {
  expect(buf[0]).toBe(0x81);
  const bodyBytes = buf.readUInt32BE(8);
  return { opcode: buf[1]!, status: buf.readUInt16BE(6), body: buf.subarray(24 + buf[4]! + buf.readUInt16BE(2), 24 + bodyBytes).toString('latin1') };
}

describe('binary SASL PLAIN', () => {
  it('lists PLAIN, refuses an unauthenticated GET with Auth failure and closes, accepts the right PLAIN', async () => {
    const a = await Raw.open();
    expect(response(await a.send(binaryRequest(0x20), 24 + 5))).toEqual({ opcode: 0x20, status: 0, body: 'PLAIN' });
    expect(response(await a.send(binaryRequest(0x21, 'PLAIN', '\0foo\0nope'), 24 + 13))).toEqual({ opcode: 0x21, status: 0x20, body: 'Auth failure.' });
    expect(response(await a.send(binaryRequest(0x21, 'PLAIN', '\0foo\0bar'), 24 + 13))).toEqual({ opcode: 0x21, status: 0, body: 'Authenticated' });
    const set = binaryRequest(0x01, 'bin-key', 'bin-value', Buffer.alloc(8));
    expect(response(await a.send(set, 24)).status).toBe(0);
    a.end();

    const b = await Raw.open();
    expect(response(await b.send(binaryRequest(0x00, 'bin-key'), 24 + 13))).toEqual({ opcode: 0x00, status: 0x20, body: 'Auth failure.' });
    await b.closedByServer();
  });

  it('memjs with the right user and password reads and writes', async () => {
    const client = memjs.Client.create(`127.0.0.1:${server.port}`, { username: 'baaaz', password: 'quux', retries: 0, timeout: 5, logger: { log: () => {} } });
    try {
      expect(await client.set('memjs-auth', 'secret-value', { expires: 0 })).toBe(true);
      expect(String((await client.get('memjs-auth')).value)).toBe('secret-value');
    } finally {
      client.close();
    }
  });

  it('memjs with a wrong password gets an authentication error and no data', async () => {
    const client = memjs.Client.create(`127.0.0.1:${server.port}`, { username: 'baaaz', password: 'wrong', retries: 0, timeout: 5, logger: { log: () => {} } });
    try {
      await expect(client.get('memjs-auth')).rejects.toThrow(/authentication failed/i);
      await expect(client.set('memjs-auth', 'overwritten', { expires: 0 })).rejects.toThrow();
    } finally {
      client.close();
    }
    // The stored value is untouched.
    const good = memjs.Client.create(`127.0.0.1:${server.port}`, { username: 'foo', password: 'bar', retries: 0, timeout: 5, logger: { log: () => {} } });
    try {
      expect(String((await good.get('memjs-auth')).value)).toBe('secret-value');
    } finally {
      good.close();
    }
  });
});
