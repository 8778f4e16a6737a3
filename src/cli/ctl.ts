/**
 * `memraft ctl <status|join|drain|remove> [node [peer]] [--admin HOST:PORT] [--json]`: operator commands
 * over a node's admin HTTP listener (any node; it forwards to the meta leader).
 */
import http from 'node:http';

/** Usage of `memraft ctl`. */
export const ctlUsage = `Usage: memraft ctl <command> [--admin HOST:PORT] [--json]

Commands:
  status              nodes, groups (replicas, leader; group 0 = meta), moves in flight
  join <node> <peer>  record node <node> (peer listener HOST:PORT) as joining; then start
                      it: memraft serve --id <node> --join <any member's peer address>
  drain <node>        move every replica off <node>, then mark it removed
  remove <node>       mark a (dead) node removed: its replicas are re-created elsewhere

--admin defaults to 127.0.0.1:11312 (MEMRAFT_ADMIN).`;

interface StatusJson {
  nodes: Array<{ id: number; state: string; client: string; peer: string; admin: string }>;
  groups: Array<{ id: number; range: [number, number]; replicas: number[]; leader: number }>;
  moves: Array<{ group: number; from: number; to: number; phase: string }>;
}

/** Runs `memraft ctl`; answers the exit code. */
export async function ctlCommand(args: string[]): Promise<number> {
  let admin = process.env.MEMRAFT_ADMIN ?? '127.0.0.1:11312';
  let json = false;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--admin') admin = args[++i] ?? admin;
    else if (args[i] === '--json') json = true;
    else rest.push(args[i]!);
  }
  const [op, node, peer] = rest;
  if (op === 'status') return status(admin, json);
  if (op === 'join' && node !== undefined && /^[0-9]+$/.test(node) && peer !== undefined) {
    return report(op, node, json, await call(admin, 'POST', `/ctl/join?node=${node}&peer=${encodeURIComponent(peer)}`));
  }
  if ((op === 'drain' || op === 'remove') && node !== undefined && /^[0-9]+$/.test(node)) {
    return report(op, node, json, await call(admin, 'POST', `/ctl/${op}?node=${node}`));
  }
  process.stderr.write(ctlUsage + '\n');
  return 2;
}

/** Prints a join/drain/remove answer; the exit code. */
function report(op: string, node: string, json: boolean, { code, body }: { code: number; body: unknown }): number {
  process.stdout.write(json ? JSON.stringify(body) + '\n' : code === 200 ? `${op} node ${node}: ok\n` : `${op} node ${node}: ${(body as { e?: string }).e}\n`);
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
  const lines = ['NODE  STATE     CLIENT                PEER                  ADMIN'];
  for (const n of s.nodes) lines.push(`${pad(n.id, 5)} ${pad(n.state, 9)} ${pad(n.client, 21)} ${pad(n.peer, 21)} ${n.admin}`);
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

function call(admin: string, method: string, path: string): Promise<{ code: number; body: unknown }> {
  const at = admin.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = http.request({ host: admin.slice(0, at), port: Number(admin.slice(at + 1)), method, path, timeout: 15_000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => {
        try {
          resolve({ code: res.statusCode ?? 0, body: JSON.parse(data) });
        } catch {
          resolve({ code: res.statusCode ?? 0, body: { e: data.trim() } });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${admin}`)));
    req.on('error', reject);
    req.end();
  });
}
