/**
 * `memraft prestop`: the Kubernetes preStop hook of deploy/kubernetes/statefulset.yaml.
 *
 * A StatefulSet stops a pod for two reasons that need opposite answers: a restart (rolling
 * update, eviction, node drain) must keep the node a member, since it comes back with its
 * volume; a scale-in (the HPA lowering replicas) removes the highest ordinals for good, so
 * their replicas must move away first. The hook tells them apart by reading the
 * StatefulSet's `spec.replicas` from the API server (the pod's service account; the Role in
 * deploy/kubernetes/rbac.yaml allows exactly that read): an ordinal at or beyond it is a
 * scale-in and is drained through the node's own admin listener (`ctl drain`, then wait
 * until the meta state says `removed`). When the API cannot be read the node is not drained:
 * a restart is the common case, and a node that leaves undrained is re-replicated after
 * --dead-after anyway. `--drain-on-exit` is not used there: it drains on every SIGTERM,
 * restarts included, and a drained node is removed for good.
 *
 * Environment: MEMRAFT_HOSTNAME (the pod name), MEMRAFT_ADMIN_LISTEN (this node's admin
 * listener; 0.0.0.0 is dialled as 127.0.0.1), MEMRAFT_STATEFULSET (default: the pod name
 * without its ordinal), MEMRAFT_PRESTOP_TIMEOUT_S (default 300; keep it below the pod's
 * terminationGracePeriodSeconds), MEMRAFT_ADMIN_TOKEN or MEMRAFT_ADMIN_TOKEN_FILE (the node's
 * admin token, which the drain request carries).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { podOrdinal } from '../server/pod-identity.js';

const serviceAccount = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Drain (scale-in) or keep (restart), from the pod's ordinal and the StatefulSet's replicas (null: unknown). */
export function prestopDecision(ordinal: number, replicas: number | null): 'drain' | 'keep' {
  return replicas !== null && ordinal >= replicas ? 'drain' : 'keep';
}

/** Runs the hook; answers the exit code (0 unless misconfigured: a preStop failure only delays the stop). */
export async function prestopCommand(env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const say = (line: string): void => void process.stdout.write(`memraft prestop: ${line}\n`);
  const hostname = env.MEMRAFT_HOSTNAME;
  if (hostname === undefined || hostname === '') {
    process.stderr.write('memraft prestop: MEMRAFT_HOSTNAME (the pod name) is not set\n');
    return 2;
  }
  const ordinal = podOrdinal(hostname);
  const admin = adminUrl(env.MEMRAFT_ADMIN_LISTEN ?? '127.0.0.1:11400');
  // The node's own id (its data directory's), which pod-identity derived from the ordinal.
  const self = await fetchJson(`${admin}/status`, 'GET').catch(() => ({}) as Record<string, unknown>);
  const node = Number((self.node as { id?: unknown } | undefined)?.id ?? ordinal + 1);
  const statefulSet = env.MEMRAFT_STATEFULSET ?? hostname.replace(/-[0-9]+$/, '');
  const replicas = await statefulSetReplicas(statefulSet).catch((err: unknown) => {
    say(`cannot read StatefulSet ${statefulSet} (${String(err)}): treating the stop as a restart`);
    return null;
  });
  if (prestopDecision(ordinal, replicas) === 'keep') {
    say(`pod ${hostname} (node ${node}) stays a member (replicas ${replicas ?? 'unknown'}): not draining`);
    return 0;
  }
  const deadline = Date.now() + Number(env.MEMRAFT_PRESTOP_TIMEOUT_S ?? '300') * 1000;
  say(`scale-in (replicas ${replicas}): draining node ${node}`);
  const asked = await fetchJson(`${admin}/ctl/drain?node=${node}`, 'POST', adminToken(env));
  if (asked.e !== undefined) {
    say(`drain refused: ${String(asked.e)}`);
    return 0;
  }
  while (Date.now() < deadline) {
    const status = await fetchJson(`${admin}/ctl/status`, 'GET').catch(() => ({}) as Record<string, unknown>);
    const nodes = (status.nodes ?? []) as Array<{ id: number; state: string }>;
    const moves = (status.moves ?? []) as Array<{ from: number; to: number }>;
    if (nodes.find((n) => n.id === node)?.state === 'removed') {
      say(`node ${node} drained`);
      return 0;
    }
    say(`draining node ${node}: ${moves.filter((m) => m.from === node).length} moves in flight`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  say(`node ${node} not drained in time: stopping anyway`);
  return 0;
}

function adminUrl(listen: string): string {
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at);
  const dial = host === '0.0.0.0' || host === '' || host === '::' || host === '[::]' ? '127.0.0.1' : host;
  return `http://${dial}:${listen.slice(at + 1)}`;
}

/** The node's admin token, as `memraft ctl` finds it (null: none given; the drain is then refused). */
function adminToken(env: Readonly<Record<string, string | undefined>>): string | null {
  if (env.MEMRAFT_ADMIN_TOKEN) return env.MEMRAFT_ADMIN_TOKEN;
  if (env.MEMRAFT_ADMIN_TOKEN_FILE) return readFileSync(env.MEMRAFT_ADMIN_TOKEN_FILE, 'utf8').trim();
  return null;
}

async function fetchJson(url: string, method: string, token: string | null = null): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  const res = await fetch(url, { method, headers, signal: AbortSignal.timeout(15_000) });
  return (await res.json()) as Record<string, unknown>;
}

/** `spec.replicas` of the StatefulSet, read in-cluster with the pod's service account. */
async function statefulSetReplicas(name: string): Promise<number> {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (host === undefined || host === '') throw new Error('not in a Kubernetes pod (no KUBERNETES_SERVICE_HOST)');
  const [token, ca, namespace] = await Promise.all(['token', 'ca.crt', 'namespace'].map((f) => readFile(`${serviceAccount}/${f}`, 'utf8')));
  const path = `/apis/apps/v1/namespaces/${namespace!.trim()}/statefulsets/${encodeURIComponent(name)}`;
  const body = await new Promise<string>((resolve, reject) => {
    const req = https.get({ host, port, path, ca, headers: { authorization: `Bearer ${token!.trim()}` }, timeout: 10_000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(data) : reject(new Error(`HTTP ${res.statusCode}: ${data.slice(0, 200)}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
  const replicas = (JSON.parse(body) as { spec?: { replicas?: unknown } }).spec?.replicas;
  if (typeof replicas !== 'number') throw new Error('no spec.replicas');
  return replicas;
}
