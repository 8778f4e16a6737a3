// The `memraft` command line as a real child process: usage errors, help, signals.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { RawClient, ensureBuilt, freePort, mainJs, startServer } from './helpers.js';

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  ensureBuilt();
  const result = spawnSync(process.execPath, [mainJs, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// Like run, but leaves this process's event loop free to serve sockets the child talks to.
async function runAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  ensureBuilt();
  const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [status] = (await once(child, 'exit')) as [number | null];
  return { status, stdout, stderr };
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

  it("lists memcached's flags in help and refuses -d and UDP with exit 2", () => {
    const help = run(['serve', '--help']).stdout;
    for (const flag of ['-p, --port', '-l, --listen', '-v, -vv, -vvv', '-t, --threads', '-U, --udp-port 0', '-d, --daemon']) expect(help).toContain(flag);
    const daemon = run(['serve', '-d', '-p', '11211']);
    expect(daemon.status).toBe(2);
    expect(daemon.stderr).toMatch(/^memraft: -d \(daemonize\) is not supported: .*systemd.*scripts\/cluster\.sh/);
    const udp = run(['serve', '-U', '11211']);
    expect(udp.status).toBe(2);
    expect(udp.stderr).toContain('UDP is not supported');
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

describe('memraft ctl', () => {
  it('defaults --admin to node 1 of npm start (admin port P+201), not its peer port', () => {
    const help = run(['ctl', '--help'], { MEMRAFT_ADMIN: '' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('127.0.0.1:11412');
    expect(help.stdout).not.toContain('11312');
  });

  it('names the address and --admin in one line when the port hangs up on HTTP (a peer port)', async () => {
    // A peer listener closes on the first bytes that are not a handshake.
    const peerLike = net.createServer((socket) => socket.once('data', () => socket.destroy())).listen(0, '127.0.0.1');
    await once(peerLike, 'listening');
    const admin = `127.0.0.1:${(peerLike.address() as net.AddressInfo).port}`;
    try {
      const { status, stderr } = await runAsync(['ctl', 'status', '--admin', admin]);
      expect(status).toBe(1);
      expect(stderr).toMatch(new RegExp(`^memraft ctl: no HTTP answer from ${admin} \\(socket hang up\\).*--admin HOST:PORT.*\n$`));
    } finally {
      peerLike.close();
    }
  });

  it('names the address when nothing listens, and answers a malformed --admin with usage', async () => {
    const admin = `127.0.0.1:${await freePort()}`;
    const { status, stderr } = await runAsync(['ctl', 'drain', '2', '--admin', admin]);
    expect(status).toBe(1);
    expect(stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
    expect(stderr).toContain(`no HTTP answer from ${admin} (connect ECONNREFUSED`);
    const bad = run(['ctl', 'status', '--admin', '11412']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--admin must be HOST:PORT');
  });
});
