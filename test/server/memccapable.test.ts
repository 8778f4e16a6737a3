// memccapable (libmemcached's protocol conformance tool) against a real `memraft serve`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from './helpers.js';
import type { ServerProcess } from './helpers.js';

async function memccapable(server: ServerProcess, flag: '-a' | '-b'): Promise<{ code: number | null; output: string }> {
  const child = spawn('memccapable', ['-h', '127.0.0.1', '-p', String(server.port), '-t', '10', flag]);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, output };
}

// The embedded default (a durable single-node Raft cluster) and --standalone (no Raft).
describe.each([['embedded single-node cluster', []], ['--standalone', ['--standalone']]])('memccapable against %s', (_name, extra) => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer(extra);
  });

  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  it('passes the ascii protocol tests', async () => {
    const { code, output } = await memccapable(server, '-a');
    expect(output).toContain('All tests passed');
    expect(code).toBe(0);
  });

  it('passes the binary protocol tests', async () => {
    const { code, output } = await memccapable(server, '-b');
    expect(output).toContain('All tests passed');
    expect(code).toBe(0);
  });
});
