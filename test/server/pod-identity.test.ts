/** `memraft serve` configured the way a StatefulSet pod is (src/server/pod-identity.ts). */
import { describe, expect, it } from 'vitest';
import { parseServeArgs, type ServeConfig } from '../../src/server/config.js';

const template = 'memraft-{ordinal}.memraft-headless.cache.svc.cluster.local:11300';

function config(env: Record<string, string>, argv: string[] = []): ServeConfig {
  const parsed = parseServeArgs(argv, { MEMRAFT_PEER_TEMPLATE: template, MEMRAFT_CLUSTER_SECRET: 's', ...env });
  if (parsed.kind !== 'serve') throw new Error('help');
  return parsed.config;
}

describe('pod identity', () => {
  it('memraft-0 of 3 initial nodes: node 1, bootstraps with ordinals 0..2, listens on all interfaces', () => {
    const c = config({ MEMRAFT_HOSTNAME: 'memraft-0' }).cluster;
    expect(c.id).toBe('1');
    expect(c.join).toBeNull();
    expect(c.initialCluster).toEqual([0, 1, 2].map((o) => ({ id: String(o + 1), peer: { host: `memraft-${o}.memraft-headless.cache.svc.cluster.local`, port: 11300 } })));
    expect(c.peerListen).toEqual({ host: '0.0.0.0', port: 11300 });
    expect(c.peerAdvertise).toEqual({ host: 'memraft-0.memraft-headless.cache.svc.cluster.local', port: 11300 });
  });

  it('an ordinal beyond --initial-nodes joins through ordinal 0 and advertises its own name', () => {
    const c = config({ MEMRAFT_HOSTNAME: 'memraft-5', MEMRAFT_INITIAL_NODES: '3' }).cluster;
    expect(c.id).toBe('6');
    expect(c.initialCluster).toEqual([]);
    expect(c.join).toEqual({ host: 'memraft-0.memraft-headless.cache.svc.cluster.local', port: 11300 });
    expect(c.peerAdvertise?.host).toBe('memraft-5.memraft-headless.cache.svc.cluster.local');
  });

  it('argv wins over env, an explicit peer listener is kept', () => {
    const c = config({ MEMRAFT_HOSTNAME: 'memraft-0' }, ['--hostname', 'cache-2', '--peer-listen', '10.0.0.7:11300']).cluster;
    expect(c.id).toBe('3');
    expect(c.peerListen).toEqual({ host: '10.0.0.7', port: 11300 });
  });

  it('refuses what cannot name a pod or contradicts it, saying why', () => {
    expect(() => config({ MEMRAFT_HOSTNAME: 'memraft' })).toThrow(/NAME-ORDINAL/);
    expect(() => config({ MEMRAFT_HOSTNAME: 'memraft-0', MEMRAFT_PEER_TEMPLATE: 'memraft-0.x:11300' })).toThrow(/\{ordinal\}/);
    expect(() => config({ MEMRAFT_HOSTNAME: 'memraft-0', MEMRAFT_ID: '4' })).toThrow(/contradicts/);
    expect(() => config({ MEMRAFT_HOSTNAME: 'memraft-0', MEMRAFT_JOIN: 'a:1' })).toThrow(/leave --initial-cluster and --join out/);
    expect(() => parseServeArgs(['--hostname', 'memraft-0'], {})).toThrow(/--peer-template/);
  });

  it('without pod flags nothing changes', () => {
    const parsed = parseServeArgs([], {});
    expect(parsed.kind === 'serve' && parsed.config.cluster.peerAdvertise).toBeNull();
  });
});
