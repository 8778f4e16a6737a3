// Pipelines (issue 11, item 2): ten requests on a key of their own in one write, recorded
// as one process's ops in order, so checkRegister checks memcached's program order. Against
// a real node every reply is what a sequential run gives and the key's history is valid; the
// same history with one reply as the reordering forwarder gave it (a pipelined get that ran
// before its set, found in src/cluster/forwarder.ts) is invalid. Also: a malformed reply
// of a live run reaches history.jsonl as an anomaly (HistoryWriter used to drop it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from '../../test/server/helpers.js';
import { checkRegister, checkReplies, readHistory } from '../checker/index.js';
import type { HistoryEvent } from '../history/types.js';
import { HistoryWriter, RunClock } from '../history/writer.js';
import { McClient } from './client.js';
import { runPipeline } from './ops.js';

let server: ServerProcess;
let dir: string;

beforeAll(async () => {
  server = await startServer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jl-pipeline-'));
});

afterAll(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function pipelineHistory(key: string): Promise<HistoryEvent[]> {
  const file = path.join(dir, `${key}.jsonl`);
  const history = new HistoryWriter(file, new RunClock());
  const client = await McClient.connect(server.port, 10_000);
  await runPipeline(client, { process: 7, node: 1, history }, key, ['a1', 'a2', 'a3']);
  client.close();
  await history.close();
  return readHistory(fs.readFileSync(file, 'utf8'));
}

const completions = (h: HistoryEvent[]): Array<[string, string, unknown]> => h.filter((e) => e.type !== 'invoke').map((e) => [e.f, e.type, e.value]);

describe('runPipeline', () => {
  it('against a real node: the replies of a sequential run, and a valid history', async () => {
    const h = await pipelineHistory('p0');
    expect(completions(h)).toEqual([
      ['read', 'ok', null],
      ['write', 'ok', 'a1'],
      ['read', 'ok', 'a1'],
      ['add', 'fail', 'a2'],
      ['write', 'ok', 'a2'],
      ['read', 'ok', 'a2'],
      ['delete', 'ok', null],
      ['read', 'ok', null],
      ['add', 'ok', 'a3'],
      ['read', 'ok', 'a3'],
    ]);
    expect(checkRegister(h).outcome).toBe('valid');
    expect(checkReplies(h).outcome).toBe('valid');
  });

  it('a get that ran before its set (the reordering bug) makes the history invalid', async () => {
    const h = await pipelineHistory('p1');
    const firstRead = h.findIndex((e) => e.f === 'read' && e.type === 'ok' && e.value !== null);
    const reordered = h.map((e, i) => (i === firstRead ? { ...e, value: null } : e));
    expect(checkRegister(reordered).outcome).toBe('invalid');
  });

  it('a get that saw the set sent after it makes the history invalid', async () => {
    const h = await pipelineHistory('p2');
    const first = h.findIndex((e) => e.f === 'read' && e.type === 'ok');
    const early = h.map((e, i) => (i === first ? { ...e, value: 'a1' } : e));
    expect(checkRegister(early).outcome).toBe('invalid');
  });
});

describe('HistoryWriter', () => {
  it('keeps the anomaly of a completion, so checkReplies sees it in history.jsonl', async () => {
    const file = path.join(dir, 'anomaly.jsonl');
    const w = new HistoryWriter(file, new RunClock());
    w.record({ process: 1, type: 'invoke', f: 'read', key: 'k', value: null });
    w.record({ process: 1, type: 'fail', f: 'read', key: 'k', value: null, anomaly: 'a get of "k" answered a VALUE of "x"' });
    await w.close();
    expect(checkReplies(readHistory(fs.readFileSync(file, 'utf8'))).outcome).toBe('invalid');
  });
});
