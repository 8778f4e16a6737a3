/**
 * `memraft ctl <status|join|drain|remove> [node [peer]] [--admin HOST:PORT] [--json]
 * [--admin-token TOKEN | --admin-token-file FILE]`: operator commands over a node's admin
 * HTTP listener (any node; it forwards to the meta leader). Mutations carry the token as
 * `Authorization: Bearer`.
 */
import fs from 'node:fs';
import http from 'node:http';

/**
 * Admin listener of node 1 in `npm start`'s layout (base port P = 11211; node i listens for
 * clients on P+i-1, for peers on P+100+i, for admin HTTP on P+200+i).
 */
export const ctlAdminDefault = '127.0.0.1:11412';

/** Usage of `memraft ctl`. */
export const ctlUsage = `Usage: memraft ctl <command> [--admin HOST:PORT] [--json]
                   [--admin-token TOKEN | --admin-token-file FILE]

Commands:
  status              nodes, groups (replicas, leader; group 0 = meta), moves in flight
  join <node> <peer>  record node <node> (peer listener HOST:PORT) as joining; then start
                      it: memraft serve --id <node> --join <any member's peer address>
  drain <node>        move every replica off <node>, then mark it removed
  remove <node> [--force]
                      mark a dead or stopped node removed: its replicas are re-created
                      elsewhere (each added on another node before the old one goes);
                      a live, reachable node is refused (drain it) unless --force; a
                      removed node stops serving and exits, and never rejoins under its id

--admin is any node's admin listener (--admin-listen; node i of a cluster on base port P
listens on P+200+i). Default: MEMRAFT_ADMIN, else ${ctlAdminDefault} (node 1 of npm start).
join, drain and remove need the nodes' admin token (--admin-token-file FILE, --admin-token
TOKEN, or MEMRAFT_ADMIN_TOKEN / MEMRAFT_ADMIN_TOKEN_FILE); scripts/cluster.sh keeps one in
its cluster directory (admin-token).`;

interface StatusJson {
  nodes: Array<{ id: number; state: string; client: string; peer: string; admin: string; zone?: string }>;
  groups: Array<{ id: number; range: [number, number]; replicas: number[]; leader: number }>;
  moves: Array<{ group: number; from: number; to: number; phase: string }>;
}

/** An admin address that does not answer HTTP (nothing listens, or not an admin listener). */
export class CtlUnreachableError extends Error {
  /** Stable code for callers that match on it. */
  readonly code = 'E_CTL_UNREACHABLE';
  constructor(admin: string, why: string) {
    super(
      `no HTTP answer from ${admin} (${why}): is it a node's admin listener? ` +
        `Pass --admin HOST:PORT or set MEMRAFT_ADMIN (node i on base port P: P+200+i; npm start's node 1: ${ctlAdminDefault})`,
    );
    this.name = 'CtlUnreachableError';
  }
}

/** Runs `memraft ctl`; answers the exit code. An unreachable admin address is one line on stderr and exit 1. */
export async function ctlCommand(args: string[]): Promise<number> {
  try {
    return await ctlDispatch(args);
  } catch (err) {
    if (!(err instanceof CtlUnreachableError)) throw err;
    process.stderr.write(`memraft ctl: ${err.message}\n`);
    return 1;
  }
}

async function ctlDispatch(args: string[]): Promise<number> {
  const fromEnv = process.env.MEMRAFT_ADMIN;
  let admin = fromEnv === undefined || fromEnv === '' ? ctlAdminDefault : fromEnv;
  let json = false;
  let token = process.env.MEMRAFT_ADMIN_TOKEN || null;
  let tokenFile = process.env.MEMRAFT_ADMIN_TOKEN_FILE || null;
  let force = false;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--admin') admin = args[++i] ?? admin;
    else if (args[i] === '--json') json = true;
    else if (args[i] === '--admin-token') token = args[++i] ?? null;
    else if (args[i] === '--admin-token-file') tokenFile = args[++i] ?? null;
    else if (args[i] === '--force') force = true;
    else rest.push(args[i]!);
  }
  const [op, node, peer] = rest;
  if (op === 'help' || op === '--help' || op === '-h') {
    process.stdout.write(ctlUsage + '\n');
    return 0;
  }
  if (!/^(?:\[[^\]]+\]|[^:]*):[0-9]{1,5}$/.test(admin)) {
    process.stderr.write(`memraft ctl: --admin must be HOST:PORT, got ${JSON.stringify(admin)}\n\n${ctlUsage}\n`);
    return 2;
  }
  if (op === 'status') return status(admin, json);
  if (token === null && tokenFile !== null) {
    try {
      token = fs.readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      process.stderr.write(`memraft ctl: --admin-token-file ${tokenFile}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  if (op === 'join' && node !== undefined && /^[0-9]+$/.test(node) && peer !== undefined) {
    return report(op, node, json, await call(admin, 'POST', `/ctl/join?node=${node}&peer=${encodeURIComponent(peer)}`, token));
  }
  if ((op === 'drain' || op === 'remove') && node !== undefined && /^[0-9]+$/.test(node)) {
    const path = op === 'remove' && force ? 'force-remove' : op;
    return report(op, node, json, await call(admin, 'POST', `/ctl/${path}?node=${node}`, token));
  }
  process.stderr.write(ctlUsage + '\n');
  return 2;
}

/** Prints a join/drain/remove answer; the exit code. */
function report(op: string, node: string, json: boolean, { code, body }: { code: number; body: unknown }): number {
  const { e, note } = body as { e?: string; note?: string };
  const ok = note === undefined ? 'ok' : `ok (${note})`;
  process.stdout.write(json ? JSON.stringify(body) + '\n' : code === 200 ? `${op} node ${node}: ${ok}\n` : `${op} node ${node}: ${e}\n`);
  return code === 200 ? 0 : 1;
}

async function status(admin: string, json: boolean): Promise<number> {
  const { code, body } = await call(admin, 'GET', '/ctl/status');
  if (code !== 200) {
    process.stderr.write(`memraft ctl: ${JSON.stringify(body)}\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(JSON.stringify(body) + '\n');
    return 0;
  }
  const s = body as StatusJson;
  const lines = ['NODE  STATE     CLIENT                PEER                  ADMIN                 ZONE'];
  for (const n of s.nodes) lines.push(`${pad(n.id, 5)} ${pad(n.state, 9)} ${pad(n.client, 21)} ${pad(n.peer, 21)} ${pad(n.admin, 21)} ${n.zone ?? '-'}`);
  lines.push('', 'GROUP  RANGE                    LEADER  REPLICAS');
  for (const g of s.groups) lines.push(`${pad(g.id, 6)} ${pad(g.id === 0 ? 'meta' : `${g.range[0]}-${g.range[1]}`, 24)} ${pad(g.leader, 7)} ${g.replicas.join(',')}`);
  lines.push('', s.moves.length === 0 ? 'no moves in flight' : 'MOVES');
  for (const m of s.moves) lines.push(`group ${m.group}: ${m.from || '-'} -> ${m.to || '-'} (${m.phase})`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

function pad(v: unknown, width: number): string {
  return String(v).padEnd(width);
}

// Any failure to get an HTTP answer (refused, reset, not HTTP, timeout) is a CtlUnreachableError.
function call(admin: string, method: string, path: string, token: string | null = null): Promise<{ code: number; body: unknown }> {
  const at = admin.lastIndexOf(':');
  const host = admin.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const headers = token === null ? {} : { authorization: `Bearer ${token}` };
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(admin.slice(at + 1)), method, path, headers, timeout: 15_000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('error', (err) => reject(new CtlUnreachableError(admin, err.message)));
      res.on('data', (c: string) => (data += c));
      res.on('end', () => {
        try {
          resolve({ code: res.statusCode ?? 0, body: JSON.parse(data) });
        } catch {
          resolve({ code: res.statusCode ?? 0, body: { e: data.trim() } });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => reject(new CtlUnreachableError(admin, err.message)));
    req.end();
  });
}
