// In-process server tests over real sockets, with executors that answer asynchronously and
// out of order (as the cluster executor will), that throw, and with shutdown mid-flight.
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { CacheOp } from '../../src/cache/ops.js';
import { defaultProtocolLimits } from '../../src/protocol/request.js';
import type { ExecuteCallback, Executor } from '../../src/server/executor.js';
import { createLocalExecutor } from '../../src/server/local-node.js';
import { protocolCodec } from '../../src/server/protocol-codec.js';
import { MemraftServer } from '../../src/server/server.js';
import { RawClient } from './helpers.js';

const seed = Number(process.env.ORDER_SEED ?? Date.now() % 2 ** 31);

function rng(s: number): () => number {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** Applies in request order but delivers each answer after a seeded number of turns (0 = synchronously). */
class ShuffledExecutor implements Executor {
  constructor(
    private readonly inner: Executor,
    private readonly next: () => number,
  ) {}
  execute(ops: CacheOp[], done: ExecuteCallback): void {
    this.inner.execute(ops, (results) => {
      const turns = Math.floor(this.next() * 4);
      if (turns === 0) return done(results);
      let left = turns;
      const step = (): void => {
        if (--left === 0) done(results);
        else setImmediate(step);
      };
      setImmediate(step);
    });
  }
  resetStats() {
    this.inner.resetStats();
  }

  stats(group: string) {
    return this.inner.stats(group);
  }
  close() {
    return this.inner.close();
  }
}

/** Applies at once but holds every answer until `release()`. */
class GatedExecutor implements Executor {
  private held: Array<() => void> = [];
  private onHeld: (() => void) | null = null;
  constructor(private readonly inner: Executor) {}
  execute(ops: CacheOp[], done: ExecuteCallback): void {
    this.inner.execute(ops, (results) => this.held.push(() => done(results)));
    this.onHeld?.();
  }
  /** Resolves once `count` answers are held. */
  async waitForHeld(count: number): Promise<void> {
    while (this.held.length < count) await new Promise<void>((resolve) => (this.onHeld = resolve));
  }
  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }
  resetStats() {
    this.inner.resetStats();
  }

  stats(group: string) {
    return this.inner.stats(group);
  }
  close() {
    return this.inner.close();
  }
}

/** Throws for any op on the key `boom`, like a buggy executor would. */
class ThrowingExecutor implements Executor {
  constructor(private readonly inner: Executor) {}
  execute(ops: CacheOp[], done: ExecuteCallback): void {
    if (ops.some((op) => 'key' in op && op.key.toString() === 'boom')) throw new Error('boom');
    this.inner.execute(ops, done);
  }
  resetStats() {
    this.inner.resetStats();
  }

  stats(group: string) {
    return this.inner.stats(group);
  }
  close() {
    return this.inner.close();
  }
}

const servers: MemraftServer[] = [];

async function serve(wrap: (inner: Executor) => Executor): Promise<number> {
  const server = new MemraftServer({
    listen: { host: '127.0.0.1', port: 0 },
    connectionsMax: 100,
    protocolLimits: defaultProtocolLimits,
    executor: wrap(createLocalExecutor(64 * 1024 * 1024, defaultProtocolLimits.itemBytesMax)),
    codec: protocolCodec,
    log: pino({ level: 'silent' }),
    version: 'test',
    memoryBytesMax: 64 * 1024 * 1024,
  });
  servers.push(server);
  return (await server.start()).port;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.shutdown()));
});

/** A pipelined script whose replies do not depend on CAS values or timing. */
function script(next: () => number, commands: number): string {
  let out = '';
  for (let i = 0; i < commands; i++) {
    const key = `k${Math.floor(next() * 8)}`;
    switch (Math.floor(next() * 8)) {
      case 0: out += `set ${key} ${i} 0 ${String(i).length}\r\n${i}\r\n`; break;
      case 1: out += `get ${key} k1 k2\r\n`; break;
      case 2: out += `delete ${key}\r\n`; break;
      case 3: out += `incr ${key} 3\r\n`; break;
      case 4: out += `mg ${key} v f k\r\n`; break;
      case 5: out += `add ${key} 1 0 1\r\na\r\n`; break;
      case 6: out += `append ${key} 0 0 1\r\nz\r\n`; break;
      default: out += `mn\r\n`;
    }
  }
  return out + 'version\r\n';
}

describe(`reply order (seed ${seed})`, () => {
  it('writes replies in request order when answers arrive out of order', async () => {
    console.log(`order seed ${seed} (replay: ORDER_SEED=${seed})`);
    const commands = script(rng(seed), 400);
    const syncPort = await serve((inner) => inner);
    const asyncPort = await serve((inner) => new ShuffledExecutor(inner, rng(seed + 1)));
    const expected = await (await RawClient.connect(syncPort)).request(commands, 'VERSION test\r\n');
    const shuffled = await (await RawClient.connect(asyncPort)).request(commands, 'VERSION test\r\n');
    expect(expected.split('\r\n').length).toBeGreaterThan(400);
    expect(shuffled).toBe(expected);
  });

  it('finishes in-flight requests on shutdown, then closes', async () => {
    let gate: GatedExecutor | null = null;
    const port = await serve((inner) => (gate = new GatedExecutor(inner)));
    const c = await RawClient.connect(port);
    c.write('set a 0 0 1\r\n1\r\nget a\r\n');
    await gate!.waitForHeld(2);
    const done = servers[0]!.shutdown();
    gate!.release();
    expect(await c.readToClose()).toBe('STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\n');
    await done;
  });
});

describe('faults', () => {
  it('closes only the connection whose request threw', async () => {
    const port = await serve((inner) => new ThrowingExecutor(inner));
    const bystander = await RawClient.connect(port);
    expect(await bystander.request('set ok 0 0 1\r\n1\r\n', '\r\n')).toBe('STORED\r\n');
    const victim = await RawClient.connect(port);
    victim.write('get boom\r\n');
    await victim.readToClose();
    expect(await bystander.request('get ok\r\n', 'END\r\n')).toBe('VALUE ok 0 1\r\n1\r\nEND\r\n');
    bystander.close();
  });
});
