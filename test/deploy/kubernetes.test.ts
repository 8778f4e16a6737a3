/**
 * deploy/kubernetes/ against the Kubernetes OpenAPI schemas (kubernetes-models validates
 * each object with the official schema of its apiVersion/kind), and against memraft itself:
 * the StatefulSet's environment parses as `memraft serve` configuration naming the pod's
 * identity and peers, the probes hit the admin port's /readyz and /livez, the preStop hook
 * is a memraft command, and the safety settings (anti-affinity, quorum-keeping PDB,
 * publishNotReadyAddresses, one volume per pod) are there.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { prestopDecision } from '../../src/cli/prestop.js';
import { parseServeArgs } from '../../src/server/config.js';
import { repoRoot } from '../cluster/process-cluster.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const dir = path.join(repoRoot, 'deploy/kubernetes');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

function load(file: string): Obj[] {
  return parseAllDocuments(readFileSync(path.join(dir, file), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
    return d.toJS() as Obj;
  });
}

const objects = files.filter((f) => f !== 'kustomization.yaml').flatMap((f) => load(f).map((o) => ({ file: f, o })));
const byKind = (kind: string): Obj => {
  const found = objects.filter((x) => x.o.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!.o;
};

/** Validates `o` with kubernetes-models' class for its apiVersion and kind; throws on a schema violation. */
async function validate(o: Obj): Promise<void> {
  const models: Record<string, unknown> = { 'apps/v1': apps, 'autoscaling/v2': autoscaling, 'policy/v1': policy, 'rbac.authorization.k8s.io/v1': rbac, v1: core };
  const mod = models[o.apiVersion] as Record<string, new (data: Obj) => { validate(): void }> | undefined;
  if (mod === undefined) throw new Error(`no models for apiVersion ${o.apiVersion}`);
  const Model = mod[o.kind];
  if (Model === undefined) throw new Error(`no model for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

describe('deploy/kubernetes', () => {
  it('every object is valid against its Kubernetes schema, and kustomization lists every file', async () => {
    expect(objects.length).toBeGreaterThanOrEqual(7);
    for (const { file, o } of objects) await validate(o).catch((err: unknown) => expect.fail(`${file} ${o.kind}: ${String(err)}`));
    const [kustomization] = load('kustomization.yaml');
    expect([...kustomization!.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort());
  });

  it('the validation catches a broken manifest', async () => {
    const broken = structuredClone(byKind('StatefulSet'));
    broken.spec.replicas = 'three';
    await expect(validate(broken)).rejects.toThrow();
    const noSelector = structuredClone(byKind('PodDisruptionBudget'));
    noSelector.spec.maxUnavailable = { one: 1 };
    await expect(validate(noSelector)).rejects.toThrow();
  });

  it("the StatefulSet's environment is memraft serve configuration for the pod it runs in", () => {
    const sts = byKind('StatefulSet');
    const container = sts.spec.template.spec.containers[0];
    const env: Record<string, string> = {};
    for (const e of container.env as Obj[]) {
      if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = `${sts.metadata.name}-2`;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = 'cache';
      else if (e.valueFrom?.secretKeyRef !== undefined) env[e.name] = 'a-secret';
      else env[e.name] = String(e.value).replace(/\$\(([A-Z_]+)\)/g, (_, v: string) => env[v] ?? '');
    }
    const parsed = parseServeArgs([], env);
    if (parsed.kind !== 'serve') throw new Error('help');
    const c = parsed.config;
    expect(c.cluster.id).toBe('3');
    const headless = `memraft-headless.cache.svc.cluster.local`;
    expect(c.cluster.initialCluster.map((m) => `${m.id}=${m.peer.host}:${m.peer.port}`)).toEqual([1, 2, 3].map((id) => `${id}=memraft-${id - 1}.${headless}:11300`));
    expect(c.cluster.peerAdvertise).toEqual({ host: `memraft-2.${headless}`, port: 11300 });
    expect(c.dataDir).toBe(container.volumeMounts[0].mountPath);
    expect(sts.spec.volumeClaimTemplates[0].metadata.name).toBe(container.volumeMounts[0].name);

    // Ports, probes and the hook line up with that configuration.
    const port = (name: string): number => container.ports.find((p: Obj) => p.name === name).containerPort;
    expect(port('client')).toBe(c.listen.port);
    expect(port('admin')).toBe(c.cluster.adminListen!.port);
    expect(port('peer')).toBe(c.cluster.peerListen!.port);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'admin' });
    expect(container.lifecycle.preStop.exec.command).toEqual(['memraft', 'prestop']);
    expect(readFileSync(path.join(repoRoot, 'src/cli/main.ts'), 'utf8')).toContain("case 'prestop':");
  });

  it('keeps quorum: anti-affinity, a PDB of one, peers resolvable before ready, the headless Service named by the StatefulSet', () => {
    const sts = byKind('StatefulSet');
    const labels = sts.spec.template.metadata.labels;
    const anti = sts.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
    expect(anti.topologyKey).toBe('kubernetes.io/hostname');
    expect(anti.labelSelector.matchLabels).toEqual(labels);
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    const pdb = byKind('PodDisruptionBudget');
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    const services = objects.filter((x) => x.o.kind === 'Service').map((x) => x.o);
    const headless = services.find((s) => s.spec.clusterIP === 'None')!;
    expect(headless.metadata.name).toBe(sts.spec.serviceName);
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    const hpa = byKind('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'StatefulSet', name: sts.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(3);
    const role = byKind('Role');
    expect(role.rules).toEqual([{ apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: [sts.metadata.name], verbs: ['get'] }]);
    expect(sts.spec.template.spec.serviceAccountName).toBe(byKind('ServiceAccount').metadata.name);
  });
});

describe('memraft prestop', () => {
  it('drains only an ordinal a scale-in removes; a restart, or an unreadable StatefulSet, keeps the node', () => {
    expect(prestopDecision(3, 3)).toBe('drain'); // replicas 4 -> 3: memraft-3 goes
    expect(prestopDecision(5, 3)).toBe('drain');
    expect(prestopDecision(2, 3)).toBe('keep'); // rolling restart of memraft-2
    expect(prestopDecision(0, 3)).toBe('keep');
    expect(prestopDecision(7, null)).toBe('keep');
  });
});
