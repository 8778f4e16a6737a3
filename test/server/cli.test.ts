// The `memraft` command line as a real child process: usage errors, help, signals.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { RawClient, ensureBuilt, mainJs, startServer } from './helpers.js';

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  ensureBuilt();
  const result = spawnSync(process.execPath, [mainJs, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('memraft CLI', () => {
  it('exits 2 with a usage message on a bad flag', () => {
    const { status, stderr } = run(['serve', '--bogus']);
    expect(status).toBe(2);
    expect(stderr).toContain('unknown flag --bogus');
    expect(stderr).toContain('Usage: memraft serve');
  });

  it('exits 2 on a bad environment value and on a missing command', () => {
    expect(run(['serve'], { MEMRAFT_MEMORY_MB: 'lots' }).status).toBe(2);
    expect(run([]).status).toBe(2);
    expect(run(['frobnicate']).stderr).toContain('unknown command');
  });

  it('prints help and version', () => {
    const help = run(['serve', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--memory-mb');
    expect(run(['version']).stdout).toMatch(/^memraft \d+\.\d+\.\d+\n$/);
  });

  it('fails clearly when the port is taken', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    const port = (blocker.address() as net.AddressInfo).port;
    const { status, stderr } = run(['serve', '--standalone', '--listen', `127.0.0.1:${port}`, '--log-level', 'silent']);
    blocker.close();
    expect(status).toBe(1);
    expect(stderr).toContain('EADDRINUSE');
  });

  it('shuts down on SIGINT with exit code 0, answering a client first', async () => {
    const server = await startServer(['-m', '16', '-I', '512k', '-c', '50']);
    const c = await RawClient.connect(server.port);
    expect(await c.request('stats settings\r\n', 'END\r\n')).toMatch(/STAT item_size_max 524288\r\n/);
    server.child.kill('SIGINT');
    const [code] = await once(server.child, 'exit');
    expect(code).toBe(0);
    await c.readToClose();
  });
});
