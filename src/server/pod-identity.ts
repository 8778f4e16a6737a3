/**
 * A node's identity and peers from what a Kubernetes StatefulSet gives a pod: its name
 * (`memraft-2`, ordinal 2) and a template of its peers' stable DNS names through the
 * headless Service (`memraft-{ordinal}.memraft-headless.default.svc.cluster.local:11300`).
 * Pure: flags in, cluster flags out (docs/kubernetes.md).
 *
 * - node id = ordinal + 1 (ids are positive; `memraft-0` is node 1), plus 1000 per
 *   generation: a pod whose node was removed (a scale-in drained it) comes back with the
 *   next generation (its volume's `pod-generation` file: see retirePodData), so a later
 *   scale-out re-creates `memraft-3` as node 1004, a new member, since a removed id never
 *   rejoins;
 * - a pod of a later generation always joins, as a new node;
 * - ordinals below `--initial-nodes` (default 3) form the cluster together
 *   (`--initial-cluster` from the template); a higher ordinal is a scale-out and joins
 *   through ordinal 0 (`--join`), once per data directory;
 * - the node advertises its own template address; it listens for peers on
 *   `--peer-listen`, by default every interface at the template's port.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError, parseHostPort } from './config.js';
import type { ClusterFlags } from './config.js';

/** The pod flags as given (argv over env), unparsed. */
export interface PodFlags {
  hostname: string | undefined;
  peerTemplate: string | undefined;
  initialNodes: number;
  /** How many times this pod's node was removed (the data directory's pod-generation file; 0: none). */
  generation: number;
}

/** Ids of one generation: ordinals must stay below it. */
export const idsPerGeneration = 1000;

/** The file in the data directory that carries a pod's generation across its restarts. */
export const generationFile = 'pod-generation';

/** The pod's ordinal from a StatefulSet pod name `NAME-ORDINAL`. */
export function podOrdinal(hostname: string): number {
  const match = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?-([0-9]+)$/i.exec(hostname);
  if (match === null) throw new UsageError(`--hostname must be a StatefulSet pod name NAME-ORDINAL like memraft-0, got ${JSON.stringify(hostname)}`);
  return Number(match[2]);
}

/** `cluster` with id, members and addresses derived from the pod flags (unchanged without them). */
export function withPodIdentity(cluster: ClusterFlags, pod: PodFlags): ClusterFlags {
  if (pod.hostname === undefined && pod.peerTemplate === undefined) return cluster;
  if (pod.peerTemplate === undefined) throw new UsageError('--hostname needs --peer-template (e.g. memraft-{ordinal}.memraft-headless:11300)');
  if (pod.hostname === undefined) throw new UsageError('--peer-template needs --hostname (the pod name, e.g. memraft-0)');
  if (!pod.peerTemplate.includes('{ordinal}')) throw new UsageError(`--peer-template must contain {ordinal}, got ${JSON.stringify(pod.peerTemplate)}`);
  if (cluster.initialCluster.length > 0 || cluster.join !== null) {
    throw new UsageError('--hostname derives the members: leave --initial-cluster and --join out');
  }
  const ordinal = podOrdinal(pod.hostname);
  if (ordinal >= idsPerGeneration - 1) throw new UsageError(`pod ordinal ${ordinal} too high: at most ${idsPerGeneration - 2}`);
  const id = String(ordinal + 1 + pod.generation * idsPerGeneration);
  if (cluster.id !== null && cluster.id !== id) throw new UsageError(`--id ${cluster.id} contradicts --hostname ${pod.hostname} (node ${id})`);
  const peerOf = (o: number) => parseHostPort(pod.peerTemplate!.replaceAll('{ordinal}', String(o)), 'peer-template');
  const self = peerOf(ordinal);
  const founder = ordinal < pod.initialNodes && pod.generation === 0;
  // A returning founder joins through another founder (the cluster lives on without it).
  const via = ordinal === 0 ? 1 : 0;
  return {
    ...cluster,
    id,
    initialCluster: founder ? Array.from({ length: pod.initialNodes }, (_, o) => ({ id: String(o + 1), peer: peerOf(o) })) : [],
    join: founder ? null : peerOf(via),
    peerListen: cluster.peerListen ?? { host: '0.0.0.0', port: self.port },
    peerAdvertise: self,
    pod: { ordinal, generation: pod.generation },
  };
}

/**
 * After this pod's node was removed (NodeRemovedError): empties its data directory and
 * records the next generation there, so the container's restart starts a new node (a new
 * id) that joins, instead of a removed one that may never serve again. Answers the new id.
 */
export function retirePodData(dataDir: string, pod: { ordinal: number; generation: number }): number {
  const next = pod.generation + 1;
  fs.mkdirSync(dataDir, { recursive: true });
  for (const entry of fs.readdirSync(dataDir)) {
    if (entry !== generationFile) fs.rmSync(path.join(dataDir, entry), { recursive: true, force: true });
  }
  fs.writeFileSync(path.join(dataDir, generationFile), `${next}\n`);
  return pod.ordinal + 1 + next * idsPerGeneration;
}

/** The generation recorded in `dataDir` (0 when none). */
export function readPodGeneration(dataDir: string): number {
  try {
    const n = Number(fs.readFileSync(path.join(dataDir, generationFile), 'utf8').trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}
