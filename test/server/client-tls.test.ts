/**
 * Client TLS and the admin token on a real 3-node process cluster started with
 * --tls-cert/--tls-key/--tls-ca and --admin-token-file:
 * - pymemcache (Debian python3-pymemcache) with an SSL context does set/get/cas through
 *   every node, and reads each write back through another node;
 * - a plaintext client on the TLS port gets no memcached reply and its connection closes,
 *   and the node keeps serving; a client certificate from another CA, or none, is refused;
 * - admin mutations without the token (or with a wrong one) answer 401 and change nothing;
 * - SIGHUP makes a node load a replaced certificate for new connections.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../cluster/helpers.js';
import { runCli, type CtlStatus } from '../cluster/membership-cluster.js';
import { ProcessCluster } from '../cluster/process-cluster.js';
import { makeLeaf, makeTestCerts, type TestCerts } from './tls-certs.js';

const run = promisify(execFile);
const python = '/usr/bin/python3';
const pyScript = path.join(import.meta.dirname, 'pymemcache-tls.py');
const adminToken = 'test-admin-token-0123456789';

let cluster: ProcessCluster;
let certs: TestCerts;

beforeAll(async () => {
  certs = makeTestCerts(await tempDir('tls'));
  const tokenFile = path.join(certs.dir, 'admin-token');
  fs.writeFileSync(tokenFile, adminToken + '\n', { mode: 0o600 });
  cluster = await ProcessCluster.start(3, [
    '--groups', '4', '--fsync', 'never',
    '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-ca', certs.caCert,
    '--admin-token-file', tokenFile,
  ]);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await removeTempDirs();
});

/** Opens a TLS connection, sends `version`, and reports what came back and how it ended. */
function tlsVersion(port: number, options: tls.ConnectionOptions): Promise<{ reply: string; error: string | null; subject: string }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: fs.readFileSync(certs.caCert), ...options });
    let reply = '';
    let error: string | null = null;
    let subject = '';
    socket.on('secureConnect', () => {
      subject = String(socket.getPeerCertificate().subject?.CN ?? '');
      socket.write('version\r\n');
    });
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) socket.end();
    });
    socket.on('error', (err) => (error = err.message));
    socket.on('close', () => resolve({ reply, error, subject }));
  });
}

const goodClient = (): tls.ConnectionOptions => ({ cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) });

describe('client TLS', () => {
  it('pymemcache over TLS: set, get and cas through every node', async () => {
    const ports = [1, 2, 3].map((id) => String(cluster.clientPort(id)));
    const { stdout } = await run(python, [pyScript, certs.caCert, certs.clientCert, certs.clientKey, ...ports], { timeout: 60_000 });
    const result = JSON.parse(stdout) as Record<string, Record<string, unknown>>;
    expect(Object.keys(result).sort()).toEqual([...ports].sort());
    ports.forEach((port, i) => {
      expect(result[port]).toMatchObject({ stored: true, got: `v${i}`, cas_ok: true, cas_stale: false, next_node_reads: `w${i}` });
    });
  }, 90_000);

  it('closes a plaintext client on the TLS port without a memcached reply; the node keeps serving', async () => {
    const port = cluster.clientPort(1);
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => {});
    socket.write('version\r\nset k 0 0 1\r\nx\r\nget k\r\n');
    await new Promise((resolve) => socket.on('close', resolve));
    expect(received).not.toMatch(/VERSION|STORED|VALUE|END/);
    const after = await tlsVersion(port, goodClient());
    expect(after.error).toBeNull();
    expect(after.reply).toMatch(/^VERSION /);
  });

  it('refuses a client certificate from another CA, and a client without one', async () => {
    const port = cluster.clientPort(2);
    const rogue = await tlsVersion(port, { cert: fs.readFileSync(certs.rogueClientCert), key: fs.readFileSync(certs.rogueClientKey) });
    // Under TLS 1.3 the client finishes its side of the handshake before the server checks
    // its certificate: the refusal shows as a connection closed with nothing answered.
    expect(rogue.reply).toBe('');
    const none = await tlsVersion(port, {});
    expect(none.reply).toBe('');
    expect((await tlsVersion(port, goodClient())).reply).toMatch(/^VERSION /);
  });

  it('loads a replaced certificate on SIGHUP for new connections', async () => {
    expect((await tlsVersion(cluster.clientPort(1), goodClient())).subject).toBe('memraft-node');
    makeLeaf(certs.dir, 'ca', 'server2', 'memraft-reloaded', 'subjectAltName=IP:127.0.0.1');
    fs.copyFileSync(path.join(certs.dir, 'server2.key'), certs.serverKey);
    fs.copyFileSync(path.join(certs.dir, 'server2.crt'), certs.serverCert);
    cluster.children.get(1)!.kill('SIGHUP');
    const deadline = Date.now() + 20_000;
    let subject = '';
    while (Date.now() < deadline) {
      subject = (await tlsVersion(cluster.clientPort(1), goodClient())).subject;
      if (subject === 'memraft-reloaded') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(subject).toBe('memraft-reloaded');
    expect(cluster.children.get(1)!.exitCode).toBeNull();
  }, 30_000);
});

describe('admin token', () => {
  const admin = (id: number): string => `127.0.0.1:${cluster.ports.admin[id - 1]}`;
  const drain = (headers: Record<string, string>): Promise<Response> => fetch(`http://${admin(1)}/ctl/drain?node=2`, { method: 'POST', headers });

  it('answers 401 to a mutation without the token or with a wrong one, and changes nothing', async () => {
    const none = await drain({});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await none.json()) as { e: string }).e).toMatch(/admin token required/);
    const wrong = await drain({ authorization: 'Bearer not-the-token' });
    expect(wrong.status).toBe(401);
    // A remove would take effect at once (a drain of 3 nodes at RF 3 is refused anyway).
    for (const headers of [{}, { authorization: 'Bearer not-the-token' }] as Array<Record<string, string>>) {
      expect((await fetch(`http://${admin(2)}/ctl/remove?node=3`, { method: 'POST', headers })).status).toBe(401);
    }
    const cli = await runCli(['ctl', 'drain', '2', '--admin', admin(1)]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/admin token required/);
    // Read-only endpoints stay open; node 2 is still up and nothing moves.
    const status = (await (await fetch(`http://${admin(3)}/ctl/status`)).json()) as CtlStatus;
    expect(status.nodes.map((n) => n.state)).toEqual(['up', 'up', 'up']);
    expect(status.moves).toEqual([]);
    expect((await fetch(`http://${admin(1)}/metrics`)).status).toBe(200);
  });

  it('lets the token through (the drain is then refused on its merits: 3 nodes, 3 replicas)', async () => {
    const right = await drain({ authorization: `Bearer ${adminToken}` });
    expect(right.status).toBe(409);
    expect(((await right.json()) as { e: string }).e).not.toMatch(/token/);
    const cli = await runCli(['ctl', 'drain', '2', '--admin', admin(2), '--admin-token-file', path.join(certs.dir, 'admin-token')]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).not.toMatch(/token/);
    const status = (await (await fetch(`http://${admin(3)}/ctl/status`)).json()) as CtlStatus;
    expect(status.nodes.find((n) => n.id === 2)?.state).toBe('up');
  });
});
