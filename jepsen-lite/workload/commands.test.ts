// The rest of a cache user's command set in the register workload (issue 11, item 2), against
// a real memraft node: each new request's reply parses and classifies as expected, and the
// history the ops record is valid (checkRegister, checkReplies). A fake server then answers
// what a broken one might (bytes for a noreply set, a multi-get out of order): anomalies.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from '../../test/server/helpers.js';
import { checkExpiry, checkRegister, checkReplies, readHistory } from '../checker/index.js';
import { subProcessBase, type HistoryEvent } from '../history/types.js';
import { HistoryWriter, RunClock } from '../history/writer.js';
import { McClient } from './client.js';
import { runCas, runCasDelete, runMetaArith, runMetaOp, runMultiGet, runNoreplyWrite, runOp, runRequest, runTtlWrite, SubProcesses, type OpActor } from './ops.js';

let server: ServerProcess;
let dir: string;

beforeAll(async () => {
  server = await startServer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jl-commands-'));
});

afterAll(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs `ops` with one client and actor on `port`; returns the history as history.jsonl holds it. */
async function recorded(name: string, port: number, ops: (client: McClient, actor: OpActor) => Promise<void>): Promise<HistoryEvent[]> {
  const file = path.join(dir, `${name}.jsonl`);
  const history = new HistoryWriter(file, new RunClock());
  const client = await McClient.connect(port, 5_000);
  const subs = new SubProcesses();
  await ops(client, { process: 7, node: 1, history, subProcess: () => subs.take() });
  client.close();
  await history.close();
  return readHistory(fs.readFileSync(file, 'utf8'));
}

const completions = (h: HistoryEvent[]): Array<[string, string, string, unknown]> =>
  h.filter((e) => e.type !== 'invoke').map((e) => [e.f, e.key, e.type, e.value]);

function expectValid(h: HistoryEvent[]): void {
  expect(checkRegister(h).outcome).toBe('valid');
  expect(checkReplies(h)).toMatchObject({ outcome: 'valid', malformed: 0 });
}

describe('the register command set against a real node', () => {
  it('replace and touch: ok only on a present key', async () => {
    const h = await recorded('replace-touch', server.port, async (c, a) => {
      await runOp(c, a, 'replace', 'rt', 'x1');
      await runOp(c, a, 'touch', 'rt', null);
      await runOp(c, a, 'write', 'rt', 'x2');
      await runOp(c, a, 'replace', 'rt', 'x3');
      await runOp(c, a, 'touch', 'rt', null);
      await runOp(c, a, 'read', 'rt', null);
    });
    expect(completions(h)).toEqual([
      ['replace', 'rt', 'fail', 'x1'],
      ['touch', 'rt', 'fail', null],
      ['write', 'rt', 'ok', 'x2'],
      ['replace', 'rt', 'ok', 'x3'],
      ['touch', 'rt', 'ok', null],
      ['read', 'rt', 'ok', 'x3'],
    ]);
    expectValid(h);
  });

  it('incr / decr in text and meta (ma): floors at 0, keeps the stored length, NOT_FOUND / NF when absent', async () => {
    const h = await recorded('arith', server.port, async (c, a) => {
      await runOp(c, a, 'decr', 'n0', '1');
      await runMetaArith(c, a, 'incr', 'n0', '1');
      await runOp(c, a, 'write', 'n0', '100');
      await runOp(c, a, 'decr', 'n0', '1');
      await runOp(c, a, 'read', 'n0', null);
      await runMetaArith(c, a, 'decr', 'n0', '500');
      await runMetaArith(c, a, 'incr', 'n0', '7');
      await runOp(c, a, 'incr', 'n0', '3');
      await runOp(c, a, 'read', 'n0', null);
    });
    expect(completions(h)).toEqual([
      ['decr', 'n0', 'fail', '1'],
      ['incr', 'n0', 'fail', '1'],
      ['write', 'n0', 'ok', '100'],
      ['decr', 'n0', 'ok', '99'],
      ['read', 'n0', 'ok', '99 '],
      ['decr', 'n0', 'ok', '0'],
      ['incr', 'n0', 'ok', '7'],
      ['incr', 'n0', 'ok', '10'],
      ['read', 'n0', 'ok', '10 '],
    ]);
    expect(h.filter((e) => e.type === 'fail').map((e) => e.error)).toEqual(['NOT_FOUND', 'NF']);
    expectValid(h);
  });

  it('cas-delete: mg c v then md C<cas>: HD while the version is there, EX after another write', async () => {
    const h = await recorded('cas-delete', server.port, async (c, a) => {
      await runCasDelete(c, a, 'cd');
      await runOp(c, a, 'write', 'cd', 'y1');
      await runCasDelete(c, a, 'cd');
      await runOp(c, a, 'read', 'cd', null);
      await runOp(c, a, 'write', 'cd', 'y2');
      const stale = await c.metaGetCas('cd');
      await runOp(c, a, 'write', 'cd', 'y3');
      const cas = stale.kind === 'value' ? stale.cas! : 'none';
      await runRequest(a, 'cas-delete', 'cd', 'y2', () => c.metaDeleteIfCas('cd', cas));
      await runOp(c, a, 'read', 'cd', null);
    });
    expect(completions(h)).toEqual([
      ['read', 'cd', 'ok', null],
      ['write', 'cd', 'ok', 'y1'],
      ['read', 'cd', 'ok', 'y1'],
      ['cas-delete', 'cd', 'ok', 'y1'],
      ['read', 'cd', 'ok', null],
      ['write', 'cd', 'ok', 'y2'],
      ['write', 'cd', 'ok', 'y3'],
      ['cas-delete', 'cd', 'fail', 'y2'],
      ['read', 'cd', 'ok', 'y3'],
    ]);
    expect(h.find((e) => e.f === 'cas-delete' && e.type === 'fail')!.error).toBe('EX');
    expectValid(h);
  });

  it('multi-get: values in request order, missing keys absent, each key a read of its own sub-process', async () => {
    const h = await recorded('multi-get', server.port, async (c, a) => {
      await runOp(c, a, 'write', 'ma', 'z1');
      await runOp(c, a, 'write', 'mc', 'z3');
      await runMultiGet(c, a, ['ma', 'mb', 'mc']);
      await runMultiGet(c, a, ['mb', 'mc']);
    });
    const reads = h.filter((e) => e.f === 'read');
    expect(reads.filter((e) => e.type === 'ok').map((e) => [e.process, e.key, e.value])).toEqual([
      [subProcessBase, 'ma', 'z1'],
      [subProcessBase + 1, 'mb', null],
      [subProcessBase + 2, 'mc', 'z3'],
      [subProcessBase + 3, 'mb', null],
      [subProcessBase + 4, 'mc', 'z3'],
    ]);
    // All invoked before any completed (one request).
    expect(reads.slice(0, 3).every((e) => e.type === 'invoke')).toBe(true);
    expectValid(h);
  });

  it('a noreply set then a get on one connection: the set an info write of a sub-process, the get an ok read of it', async () => {
    const h = await recorded('noreply', server.port, async (c, a) => {
      const done = await runNoreplyWrite(c, a, 'nr', 'w1');
      expect(done.type).toBe('ok');
      await runNoreplyWrite(c, a, 'nr', 'w2');
      await runOp(c, a, 'read', 'nr', null);
    });
    expect(h.filter((e) => e.type !== 'invoke').map((e) => [e.process, e.f, e.type, e.value])).toEqual([
      [subProcessBase, 'write', 'info', 'w1'],
      [7, 'read', 'ok', 'w1'],
      [subProcessBase + 1, 'write', 'info', 'w2'],
      [7, 'read', 'ok', 'w2'],
      [7, 'read', 'ok', 'w2'],
    ]);
    expectValid(h);
  });

  it('meta compare-and-set: mg c v then ms C<cas>: HD while the version is there, EX after another write', async () => {
    const h = await recorded('meta-cas', server.port, async (c, a) => {
      await runCas(c, a, 'mcas', 'c0', true);
      await runOp(c, a, 'write', 'mcas', 'c1');
      await runCas(c, a, 'mcas', 'c2', true);
      const stale = await c.metaGetCas('mcas');
      await runOp(c, a, 'write', 'mcas', 'c3');
      const cas = stale.kind === 'value' ? stale.cas! : 'none';
      await runRequest(a, 'cas', 'mcas', ['c2', 'c4'], () => c.metaSetIfCas('mcas', 'c4', 0, cas));
      await runOp(c, a, 'read', 'mcas', null);
    });
    expect(completions(h)).toEqual([
      ['read', 'mcas', 'ok', null],
      ['write', 'mcas', 'ok', 'c1'],
      ['read', 'mcas', 'ok', 'c1'],
      ['cas', 'mcas', 'ok', ['c1', 'c2']],
      ['write', 'mcas', 'ok', 'c3'],
      ['cas', 'mcas', 'fail', ['c2', 'c4']],
      ['read', 'mcas', 'ok', 'c3'],
    ]);
    expect(h.find((e) => e.f === 'cas' && e.type === 'fail')!.error).toBe('EX');
    expectValid(h);
  });

  it('append and prepend: STORED on a present key (the token after / before a space), NOT_STORED when absent', async () => {
    const h = await recorded('append', server.port, async (c, a) => {
      await runOp(c, a, 'append', 'ap', 'a1');
      await runOp(c, a, 'write', 'ap', 'w1');
      await runOp(c, a, 'append', 'ap', 'a2');
      await runOp(c, a, 'prepend', 'ap', 'a3');
      await runOp(c, a, 'read', 'ap', null);
    });
    expect(completions(h)).toEqual([
      ['append', 'ap', 'fail', 'a1'],
      ['write', 'ap', 'ok', 'w1'],
      ['append', 'ap', 'ok', 'a2'],
      ['prepend', 'ap', 'ok', 'a3'],
      ['read', 'ap', 'ok', 'a3 w1 a2'],
    ]);
    expectValid(h);
  });

  it('a write with an exptime is read until it expires; checkExpiry holds the reads to its bounds', async () => {
    const readUntilGone = async (c: McClient, a: OpActor, key: string): Promise<void> => {
      // Bounded: an item that never expires fails the test here, not by a hang.
      for (let i = 0; i < 200; i++) {
        const done = await runMetaOp(c, a, 'read', key, null);
        if (done.type === 'ok' && done.value === null) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    const h = await recorded('expiring', server.port, async (c, a) => {
      await runTtlWrite(c, a, 'tx0', 'e1', 1, false);
      await runOp(c, a, 'read', 'tx0', null);
      await readUntilGone(c, a, 'tx0');
      await runTtlWrite(c, a, 'tx1', 'e2', 1, true);
      await readUntilGone(c, a, 'tx1');
    });
    expect(h.filter((e) => e.type === 'invoke' && e.f === 'write').map((e) => e.ttlSec)).toEqual([1, 1]);
    const result = checkExpiry(h, []);
    expect(result).toMatchObject({ outcome: 'valid', expiringKeys: 2, misses: 2 });
    expect(result.hits).toBeGreaterThanOrEqual(2);
    expect(result.heldToLive).toBeGreaterThanOrEqual(1);
    expect(checkReplies(h).outcome).toBe('valid');
  });

  it('catches an item served past its exptime (planted: the history says 1 s, the wire says 3 s)', async () => {
    const h = await recorded('expiring-late', server.port, async (c, a) => {
      a.history.record({ process: a.process, type: 'invoke', f: 'write', key: 'tx2', value: 'e3', node: a.node, ttlSec: 1 });
      await c.set('tx2', 'e3', 3);
      a.history.record({ process: a.process, type: 'ok', f: 'write', key: 'tx2', value: 'e3', node: a.node });
      const until = Date.now() + 2_000;
      while (Date.now() < until) {
        await runOp(c, a, 'read', 'tx2', null);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
    const result = checkExpiry(h, []);
    expect(result.outcome).toBe('invalid');
    expect(result.keys.tx2!.anomaly!.kind).toBe('served-after-expiry');
  });
});

/** A fake node that answers every request with `reply` (once), to plant broken replies. */
async function fakeNode(reply: string): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((socket) => socket.once('data', () => socket.write(reply)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

describe('broken replies to the new requests are anomalies', () => {
  it('a noreply set answered STORED', async () => {
    const node = await fakeNode('STORED\r\nVALUE nr 0 2\r\nw1\r\nEND\r\nMN\r\n');
    const h = await recorded('fake-stored', node.port, async (c, a) => void (await runNoreplyWrite(c, a, 'nr', 'w1')));
    node.close();
    expect(h.filter((e) => e.type !== 'invoke').every((e) => e.anomaly !== undefined)).toBe(true);
    expect(checkReplies(h).outcome).toBe('invalid');
  });

  it('a noreply set answered with an error line (the get and mn replies shift)', async () => {
    const node = await fakeNode('SERVER_ERROR ERR_OUTCOME_UNKNOWN x\r\nEND\r\nMN\r\n');
    const h = await recorded('fake-error', node.port, async (c, a) => void (await runNoreplyWrite(c, a, 'nr', 'w1')));
    node.close();
    expect(checkReplies(h).outcome).toBe('invalid');
    expect(h.find((e) => e.f === 'read' && e.type !== 'invoke')).toMatchObject({ type: 'fail' });
  });

  it('a multi-get answered out of request order, or with a key not asked for', async () => {
    for (const reply of ['VALUE b 0 1\r\n2\r\nVALUE a 0 1\r\n1\r\nEND\r\n', 'VALUE c 0 1\r\n3\r\nEND\r\n']) {
      const node = await fakeNode(reply);
      const h = await recorded('fake-multi', node.port, async (c, a) => void (await runMultiGet(c, a, ['a', 'b'])));
      node.close();
      const done = h.filter((e) => e.type !== 'invoke');
      expect(done.map((e) => [e.type, e.anomaly !== undefined])).toEqual([['fail', true], ['fail', true]]);
      expect(checkReplies(h).outcome).toBe('invalid');
    }
  });

  it('a touch answered STORED, an md answered NS, an ma answered EN, an ms C<cas> answered NS, an append answered EXISTS', async () => {
    const cases: Array<[string, (c: McClient, a: OpActor) => Promise<unknown>]> = [
      ['STORED\r\n', (c, a) => runOp(c, a, 'touch', 't', null)],
      ['NS\r\n', (c, a) => runRequest(a, 'cas', 't', ['v', 'w'], () => c.metaSetIfCas('t', 'w', 0, '1'))],
      ['EXISTS\r\n', (c, a) => runOp(c, a, 'append', 't', 'a1')],
      ['NS\r\n', (c, a) => runRequest(a, 'cas-delete', 't', 'v', () => c.metaDeleteIfCas('t', '1'))],
      ['EN\r\n', (c, a) => runMetaArith(c, a, 'incr', 't', '1')],
    ];
    for (const [reply, op] of cases) {
      const node = await fakeNode(reply);
      const h = await recorded('fake-line', node.port, async (c, a) => void (await op(c, a)));
      node.close();
      expect(checkReplies(h).outcome, reply).toBe('invalid');
    }
  });
});
