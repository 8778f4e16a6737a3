// Real client libraries against a real `memraft serve`: `memcached` (text protocol) and
// `memjs` (binary protocol), values from 0 B to 1 MB - 1 byte, with flags and TTLs.
import Memcached from 'memcached';
import memjs from 'memjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './helpers.js';
import type { ServerProcess } from './helpers.js';

const sizes = [0, 1, 100 * 1024, 1024 * 1024 - 1];

/** Deterministic bytes without \r or \n, which the `memcached` client would escape. */
function valueOf(size: number, seed: number): Buffer {
  const value = Buffer.alloc(size);
  for (let i = 0; i < size; i++) value[i] = 32 + ((i * 31 + seed) % 90);
  return value;
}

/** An absolute unix time in the past: memcached treats it as already expired. */
const pastExptime = Math.floor(Date.now() / 1000) - 3600;

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

describe('memcached npm client (text protocol)', () => {
  let client: Memcached;
  beforeAll(() => {
    client = new Memcached(`127.0.0.1:${server.port}`, { retries: 0, timeout: 10_000, maxValue: 2 * 1024 * 1024 });
  });
  afterAll(() => client.end());

  const set = (key: string, value: unknown, ttl: number): Promise<boolean> =>
    new Promise((resolve, reject) => client.set(key, value, ttl, (err, ok) => (err ? reject(err) : resolve(ok))));
  const get = (key: string): Promise<unknown> =>
    new Promise((resolve, reject) => client.get(key, (err, data) => (err ? reject(err) : resolve(data))));

  for (const size of sizes) {
    it(`stores and reads back a ${size} B Buffer (binary flag) with a TTL`, async () => {
      const value = valueOf(size, size);
      expect(await set(`text:buf:${size}`, value, 600)).toBe(true);
      const got = await get(`text:buf:${size}`);
      if (size === 0) {
        // The client turns an empty payload into '' before applying its flags.
        expect(got === '' || (Buffer.isBuffer(got) && got.length === 0)).toBe(true);
      } else {
        expect(Buffer.isBuffer(got)).toBe(true);
        expect((got as Buffer).equals(value)).toBe(true);
      }
    });

    it(`stores and reads back a ${size} B string (flag 0)`, async () => {
      const value = valueOf(size, size + 1).toString('latin1');
      expect(await set(`text:str:${size}`, value, 0)).toBe(true);
      expect(await get(`text:str:${size}`)).toBe(value);
    });
  }

  it('keeps the flags that carry numbers and JSON', async () => {
    expect(await set('text:num', 12345, 0)).toBe(true);
    expect(await get('text:num')).toBe(12345);
    expect(await set('text:json', { a: [1, 2] }, 0)).toBe(true);
    expect(await get('text:json')).toEqual({ a: [1, 2] });
  });

  it('honours an already-expired TTL', async () => {
    expect(await set('text:expired', 'gone', pastExptime)).toBe(true);
    expect(await get('text:expired')).toBeUndefined();
  });
});

describe('memjs (binary protocol)', () => {
  // memjs has no flags parameter; its serializer hook owns the extras, whose first 4 bytes are the flags.
  let nextFlags = 0;
  const serializer = {
    serialize(_opcode: number, value: Buffer | string, extras: Buffer) {
      const copy = Buffer.from(extras);
      if (copy.length >= 4) copy.writeUInt32BE(nextFlags, 0);
      return { value, extras: copy };
    },
    deserialize(_opcode: number, value: Buffer, extras: Buffer) {
      return { value, extras };
    },
  };
  let client: memjs.Client;
  beforeAll(() => {
    client = memjs.Client.create(`127.0.0.1:${server.port}`, {
      retries: 0,
      timeout: 10,
      logger: { log: () => {} },
      serializer,
    } as unknown as memjs.ClientOptions);
  });
  afterAll(() => client.close());

  for (const size of sizes) {
    it(`stores and reads back ${size} B with flags and a TTL`, async () => {
      const value = valueOf(size, size + 7);
      nextFlags = 0xdead0000 + size;
      expect(await client.set(`bin:${size}`, value, { expires: 600 })).toBe(true);
      const { value: got, flags } = await client.get(`bin:${size}`);
      expect(Buffer.from(got!).equals(value)).toBe(true);
      expect((flags as unknown as Buffer).readUInt32BE(0)).toBe(0xdead0000 + size);
    });
  }

  it('honours an already-expired TTL', async () => {
    nextFlags = 1;
    expect(await client.set('bin:expired', Buffer.from('gone'), { expires: pastExptime })).toBe(true);
    const { value } = await client.get('bin:expired');
    expect(value).toBeNull();
  });
});
