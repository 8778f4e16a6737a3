/**
 * The admin HTTP listener: `GET /livez` (200 while the event loop runs), `GET /readyz` (200
 * when the node can serve clients, else 503 with the reason), `GET /status` (JSON: node, groups with role/term/commit/applied/
 * leader, the meta view; `?digest=1` adds each group's state digest), `GET /metrics`
 * (Prometheus text). With `debug` on (a test-only flag), `POST /debug/block?peers=2,3`
 * drops this node's traffic to and from those peers (`peers=` unblocks): fault injection
 * for the minority-partition test, and `POST /debug/clock?offsetMs=N&strobeMs=P` skews the
 * node's clock by N ms (strobe: on and off every P ms; offsetMs=0 restores it) for
 * jepsen-lite's clock nemesis. Never serves anything else, never crashes on input.
 *
 * Mutations (POST /ctl/*) need `Authorization: Bearer TOKEN` (admin-token.ts): 401 without
 * it or with a wrong one, 403 when the node has no token at all; nothing changes either way.
 * The test-only /debug endpoints need it too once a token is configured. GET endpoints
 * stay open: bind the listener to loopback or a private network (docs/security.md).
 */
import http from 'node:http';
import type { Logger } from 'pino';
import { checkAdminToken } from './admin-token.js';

/** What the admin listener asks the node. */
export interface AdminSource {
  status(withDigest: boolean): unknown;
  metrics(): string;
  blockPeers(peers: number[]): void;
  /** Skews the node's clock (test-only); absent where the node has no such clock. */
  setClock?(offsetMs: number, strobeMs: number): void;
  /** `GET /readyz`: whether this node can serve clients now, and if not why (src/server/health.ts). */
  readiness?(): { ready: boolean; reason: string };
  /** `memraft ctl` operations (status, join, drain, remove), run at the meta leader. */
  ctl?(op: string, node: number, peer: string): Promise<unknown>;
}

/** Options of the admin listener. */
export interface AdminHttpOptions {
  host: string;
  port: number;
  /** Enables the /debug endpoints (tests only). */
  debug: boolean;
  /** The bearer token mutations must carry; null refuses every /ctl mutation. */
  token: string | null;
  logger: Logger;
}

/** Starts the admin listener; resolves with the server once it listens. */
export async function startAdminHttp(source: AdminSource, options: AdminHttpOptions): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    try {
      route(source, options, req, res);
    } catch (err) {
      options.logger.warn({ err: String(err) }, 'admin request failed');
      reply(res, 500, 'text/plain', 'internal error\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

function route(source: AdminSource, options: AdminHttpOptions, req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://admin');
  if (req.method === 'GET' && url.pathname === '/status') {
    return reply(res, 200, 'application/json', JSON.stringify(source.status(url.searchParams.get('digest') === '1')) + '\n');
  }
  if (req.method === 'GET' && url.pathname === '/livez') return reply(res, 200, 'text/plain', 'ok\n');
  if (req.method === 'GET' && url.pathname === '/readyz' && source.readiness !== undefined) {
    const r = source.readiness();
    return reply(res, r.ready ? 200 : 503, 'text/plain', r.reason + '\n');
  }
  if (req.method === 'GET' && url.pathname === '/metrics') {
    return reply(res, 200, 'text/plain; version=0.0.4', source.metrics());
  }
  if (req.method === 'POST' && (url.pathname.startsWith('/ctl/') || (options.debug && options.token !== null))) {
    const refusal = checkAdminToken(options.token, req);
    if (refusal !== null) {
      options.logger.warn({ path: url.pathname, status: refusal.status }, 'admin mutation refused');
      return reply(res, refusal.status, 'application/json', JSON.stringify({ e: refusal.message }) + '\n', refusal.status === 401);
    }
  }
  if (options.debug && req.method === 'POST' && url.pathname === '/debug/block') {
    const peers = (url.searchParams.get('peers') ?? '').split(',').filter((s) => s !== '').map(Number);
    if (peers.some((p) => !Number.isInteger(p) || p <= 0)) return reply(res, 400, 'text/plain', 'bad peers\n');
    source.blockPeers(peers);
    options.logger.warn({ peers }, 'debug: traffic with peers blocked');
    return reply(res, 200, 'application/json', JSON.stringify({ blocked: peers }) + '\n');
  }
  if (options.debug && req.method === 'POST' && url.pathname === '/debug/clock' && source.setClock !== undefined) {
    const offsetMs = Number(url.searchParams.get('offsetMs') ?? '0');
    const strobeMs = Number(url.searchParams.get('strobeMs') ?? '0');
    if (!Number.isSafeInteger(offsetMs) || !Number.isSafeInteger(strobeMs) || strobeMs < 0) return reply(res, 400, 'text/plain', 'bad offsetMs or strobeMs\n');
    source.setClock(offsetMs, strobeMs);
    options.logger.warn({ offsetMs, strobeMs }, 'debug: clock skewed');
    return reply(res, 200, 'application/json', JSON.stringify({ offsetMs, strobeMs }) + '\n');
  }
  if (url.pathname.startsWith('/ctl/') && source.ctl !== undefined) return routeCtl(source.ctl, url, req, res);
  reply(res, 404, 'text/plain', 'not found\n');
}

/** GET /ctl/status, POST /ctl/join?node=N&peer=HOST:PORT, POST /ctl/drain?node=N, POST /ctl/remove?node=N (JSON answers; `e` = refused). */
function routeCtl(ctl: NonNullable<AdminSource['ctl']>, url: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
  const op = url.pathname.slice('/ctl/'.length);
  if ((op === 'status') !== (req.method === 'GET')) return reply(res, 405, 'text/plain', 'method not allowed\n');
  const node = Number(url.searchParams.get('node') ?? '0');
  ctl(op, node, url.searchParams.get('peer') ?? '').then(
    (answer) => reply(res, (answer as { e?: unknown }).e === undefined ? 200 : 409, 'application/json', JSON.stringify(answer) + '\n'),
    (err: unknown) => reply(res, 500, 'application/json', JSON.stringify({ e: String(err) }) + '\n'),
  );
}

function reply(res: http.ServerResponse, code: number, type: string, body: string, challenge = false): void {
  const headers = { 'content-type': type, 'content-length': Buffer.byteLength(body) };
  res.writeHead(code, challenge ? { ...headers, 'www-authenticate': 'Bearer realm="memraft-admin"' } : headers);
  res.end(body);
}
