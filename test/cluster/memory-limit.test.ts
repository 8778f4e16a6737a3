/**
 * -m is the node's cache memory whatever the number of groups (issue 15): one node with
 * `-m 8` and 16 groups held 16 MiB of items (a 1 MiB floor per group); it now holds at
 * most 8 MiB (memcached's item bytes, summed over its groups) and uses nearly all of it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ClusterNode } from '../../src/server/cluster-node.js';
import { clusterPorts, removeTempDirs, run, setOp, startInProcess, tempDir, until } from './helpers.js';

afterAll(removeTempDirs);

const mib = 1024 * 1024;

function heldBytes(node: ClusterNode): { bytes: number; limit: number } {
  let bytes = 0;
  let limit = 0;
  for (const r of node.host.replicas.values()) {
    const f = node.host.figuresOf(r);
    if (f === null) continue;
    bytes += f.bytes;
    limit += f.limitBytes;
  }
  return { bytes, limit };
}

describe('-m on one node with 16 groups', () => {
  let node: ClusterNode | null = null;

  afterAll(async () => {
    await node?.close();
  });

  it('holds at most -m of items, and fills it', async () => {
    const ports = await clusterPorts(1);
    const dir = await tempDir('memlimit');
    node = await startInProcess(1, ports, dir, ['-m', '8', '--groups', '16', '--fsync', 'never']);
    const n = node;
    await until(() => n.host.allGroupsHaveLeaders(), 'leaders of every group');
    const value = 'v'.repeat(1000);
    // 20,000 items of ~1 KB: 2.4x the limit.
    for (let batch = 0; batch < 40; batch++) {
      await Promise.all(Array.from({ length: 500 }, (_, i) => run(n, [setOp(`key-${batch}-${i}`, value)])));
    }
    const { bytes, limit } = heldBytes(n);
    expect(bytes).toBeLessThanOrEqual(8 * mib);
    expect(bytes).toBeGreaterThan(7 * mib);
    expect(limit).toBeLessThanOrEqual(8 * mib);
  }, 120_000);
});
