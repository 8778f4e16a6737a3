/**
 * The client-security and admin-token flags (config.ts), the auth file format
 * (auth-file.ts), and the admin listener's token gate (admin-http.ts) on a real HTTP
 * listener whose ctl source records what reached it.
 */
import fs from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startAdminHttp } from '../../src/server/admin-http.js';
import { resolveAdminToken } from '../../src/server/admin-token.js';
import { AuthFileError, Credentials, parseAuthFile } from '../../src/server/auth-file.js';
import { UsageError, parseServeArgs, type ServeConfig } from '../../src/server/config.js';
import { runCli } from '../cluster/membership-cluster.js';

function serve(argv: string[], env: Record<string, string> = {}): ServeConfig {
  const parsed = parseServeArgs(argv, env);
  if (parsed.kind !== 'serve') throw new Error('expected a serve config');
  return parsed.config;
}

describe('client security flags', () => {
  it('takes --tls-* and memcached\'s -Z -o ssl_* spellings to the same config', () => {
    const long = serve(['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--tls-ca', 'ca.pem']);
    const memcached = serve(['-Z', '-o', 'ssl_chain_cert=c.pem,ssl_key=k.pem', '-o', 'ssl_ca_cert=ca.pem']);
    expect(long.clientSecurity.tls).toEqual({ certFile: 'c.pem', keyFile: 'k.pem', caFile: 'ca.pem' });
    expect(memcached.clientSecurity).toEqual(long.clientSecurity);
    expect(serve([]).clientSecurity).toEqual({ tls: null, authFile: null });
    expect(serve(['--tls-cert', 'c', '--tls-key', 'k']).clientSecurity.tls?.caFile).toBeNull();
  });

  it('refuses half-given TLS, -o without -Z, unknown -o keys and -S without an auth file', () => {
    expect(() => serve(['--tls-cert', 'c.pem'])).toThrow(/--tls-cert and --tls-key go together/);
    expect(() => serve(['--tls-ca', 'ca.pem'])).toThrow(/--tls-ca needs/);
    expect(() => serve(['-Z'])).toThrow(/-Z needs a certificate and a key/);
    expect(() => serve(['-o', 'ssl_key=k'])).toThrow(/need -Z/);
    expect(() => serve(['-Z', '-o', 'ssl_chain_cert=c,ssl_key=k,modern'])).toThrow(UsageError);
    expect(() => serve(['-S'])).toThrow(/needs -Y\/--auth-file/);
  });

  it('-Y and --auth-file name the credentials file; -S goes with it', () => {
    expect(serve(['-Y', '/etc/memraft/auth']).clientSecurity.authFile).toBe('/etc/memraft/auth');
    expect(serve(['--auth-file', 'a', '-S']).clientSecurity.authFile).toBe('a');
    expect(serve([], { MEMRAFT_AUTH_FILE: 'e' }).clientSecurity.authFile).toBe('e');
  });

  it('admin token from a flag, a file or the environment; argv replaces env', () => {
    expect(serve(['--admin-token', 't1']).cluster.adminToken).toBe('t1');
    const fromEnv = serve(['--admin-token-file', 'f'], { MEMRAFT_ADMIN_TOKEN: 'env' }).cluster;
    expect([fromEnv.adminToken, fromEnv.adminTokenFile]).toEqual([null, 'f']);
    expect(() => serve(['--admin-token', ''])).toThrow(/must not be empty/);
  });

  it('an admin listener given without a host binds loopback', () => {
    expect(serve(['--admin-listen', '11412']).cluster.adminListen).toEqual({ host: '127.0.0.1', port: 11412 });
    expect(serve(['--admin-listen', ':11412']).cluster.adminListen).toEqual({ host: '127.0.0.1', port: 11412 });
    expect(serve(['--admin-listen', '10.0.0.5:11412']).cluster.adminListen).toEqual({ host: '10.0.0.5', port: 11412 });
  });
});

describe('serve with unreadable security files', () => {
  it('stops at once, naming the file, before anything listens', async () => {
    const tlsRun = await runCli(['serve', '--standalone', '-p', '0', '--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem']);
    expect(tlsRun.code).toBe(1);
    expect(tlsRun.stderr).toMatch(/fatal: .*\/nonexistent\/(c|k)\.pem/);
    const authRun = await runCli(['serve', '--data-dir', os.tmpdir() + '/memraft-never-made', '-p', '0', '-Y', '/nonexistent/auth']);
    expect(authRun.code).toBe(1);
    expect(authRun.stderr).toMatch(/fatal: .*\/nonexistent\/auth/);
  }, 30_000);
});

describe('auth file', () => {
  it('parses user:password lines (the password runs to the line end) and refuses malformed ones', () => {
    const entries = parseAuthFile('foo:bar\r\n\nbaaaz:qu:ux\n', 'f');
    expect(entries.map((e) => [String(e.user), String(e.password)])).toEqual([['foo', 'bar'], ['baaaz', 'qu:ux']]);
    expect(() => parseAuthFile('foo:bar\nnocolon\n', 'f')).toThrow(/line 2: malformed/);
    expect(() => parseAuthFile('\n', 'f')).toThrow(AuthFileError);
  });

  it('checks pairs exactly and keeps the old credentials when a reload fails', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memraft-authfile-'));
    const file = path.join(dir, 'auth');
    fs.writeFileSync(file, 'foo:bar\n');
    const creds = Credentials.load(file);
    expect(creds.check(Buffer.from('foo'), Buffer.from('bar'))).toBe(true);
    expect(creds.check(Buffer.from('foo'), Buffer.from('ba'))).toBe(false);
    expect(creds.check(Buffer.from('fo'), Buffer.from('obar'))).toBe(false);
    fs.writeFileSync(file, 'broken\n');
    expect(() => creds.reload()).toThrow(AuthFileError);
    expect(creds.check(Buffer.from('foo'), Buffer.from('bar'))).toBe(true);
    fs.writeFileSync(file, 'new:pass\n');
    creds.reload();
    expect(creds.check(Buffer.from('foo'), Buffer.from('bar'))).toBe(false);
    expect(creds.check(Buffer.from('new'), Buffer.from('pass'))).toBe(true);
    expect(() => resolveAdminToken(null, path.join(dir, 'missing'))).toThrow(UsageError);
    fs.writeFileSync(path.join(dir, 'token'), '  tok \n');
    expect(resolveAdminToken(null, path.join(dir, 'token'))).toBe('tok');
    fs.rmSync(dir, { recursive: true });
  });
});

describe('admin listener token gate', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  async function admin(token: string | null, debug = false): Promise<{ base: string; calls: string[] }> {
    const calls: string[] = [];
    const server = await startAdminHttp(
      {
        status: () => ({ ok: true }),
        metrics: () => '',
        blockPeers: (peers) => void calls.push(`block ${peers.join(',')}`),
        ctl: async (op, node) => {
          calls.push(`${op} ${node}`);
          return { ok: true };
        },
      },
      { host: '127.0.0.1', port: 0, debug, token, logger: pino({ level: 'silent' }) },
    );
    servers.push(server);
    const port = (server.address() as { port: number }).port;
    return { base: `http://127.0.0.1:${port}`, calls };
  }

  it('without a configured token, refuses every /ctl mutation with 403 and reads stay open', async () => {
    const { base, calls } = await admin(null);
    const res = await fetch(`${base}/ctl/drain?node=2`, { method: 'POST', headers: { authorization: 'Bearer anything' } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { e: string }).e).toMatch(/--admin-token/);
    expect((await fetch(`${base}/ctl/status`)).status).toBe(200);
    expect((await fetch(`${base}/status`)).status).toBe(200);
    expect(calls).toEqual(['status 0']);
  });

  it('with a token: 401 without or with a wrong one, through with the right one (debug endpoints too)', async () => {
    const { base, calls } = await admin('s3cret', true);
    const refused: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: 's3cret' }, { authorization: 'Bearer s3cretX' }];
    for (const headers of refused) {
      expect((await fetch(`${base}/ctl/remove?node=3`, { method: 'POST', headers })).status).toBe(401);
      expect((await fetch(`${base}/debug/block?peers=2`, { method: 'POST', headers })).status).toBe(401);
    }
    expect(calls).toEqual([]);
    const ok = { authorization: 'Bearer s3cret' };
    expect((await fetch(`${base}/ctl/remove?node=3`, { method: 'POST', headers: ok })).status).toBe(200);
    expect((await fetch(`${base}/debug/block?peers=2`, { method: 'POST', headers: ok })).status).toBe(200);
    expect(calls).toEqual(['remove 3', 'block 2']);
  });
});
