/**
 * Observability (issue 15) on a real 3-node cluster of child processes: /metrics has the
 * connection, forwarding, election, leader-change, move and snapshot series after some
 * traffic, and every series (histograms included) carries the `node` label;
 * `--log-format pretty` prints human lines instead of JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../cluster/helpers.js';
import { ProcessCluster, TextClient } from '../cluster/process-cluster.js';

afterAll(removeTempDirs);

async function metricsOf(cluster: ProcessCluster, id: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${cluster.ports.admin[id - 1]}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of the sample `name{labels}` (labels as written, in order). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('observability on a 3-node cluster', () => {
  let cluster: ProcessCluster;

  beforeAll(async () => {
    cluster = await ProcessCluster.start(3, ['--groups', '4', '--fsync', 'never', '--log-format', 'pretty', '--log-level', 'info']);
    // Traffic through every node: keys of every group, so each node forwards some.
    for (let id = 1; id <= 3; id++) {
      const client = await TextClient.connect(cluster.clientPort(id));
      for (let i = 0; i < 30; i++) {
        expect(await client.call(`set key-${id}-${i} 0 0 5`, 'value')).toBe('STORED\r\n');
        expect(await client.call(`get key-${id}-${i}`)).toContain('VALUE');
      }
      client.close();
    }
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('/metrics: the new series are there, and every sample carries its node label', async () => {
    let forwarded = 0;
    let leaderChanges = 0;
    let elections = 0;
    for (let id = 1; id <= 3; id++) {
      const text = await metricsOf(cluster, id);
      const node = `node="${id}"`;
      for (const name of [
        'memraft_connections', 'memraft_connections_total', 'memraft_forwarded_requests_total', 'memraft_elections_total',
        'memraft_leader_changes_total', 'memraft_moves_total', 'memraft_snapshots_total', 'memraft_moved_bytes_total',
        'memraft_snapshot_bytes_sent_total', 'memraft_item_bytes', 'memraft_limit_bytes', 'memraft_raft_log_bytes',
        'memraft_proposal_seconds', 'memraft_fsync_seconds',
      ]) {
        expect(text, name).toContain(`# TYPE ${name} `);
      }
      const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      expect(samples.length).toBeGreaterThan(50);
      for (const line of samples) expect(line, line).toMatch(new RegExp(`^[a-z_]+\\{${node}[,}]`));
      expect(sample(text, `memraft_connections_total{${node}}`)).toBeGreaterThanOrEqual(1);
      expect(sample(text, `memraft_proposal_seconds_count{${node}}`)).toBeGreaterThanOrEqual(0);
      expect(text).toContain(`memraft_fsync_seconds_bucket{${node},le="+Inf"}`);
      expect(sample(text, `memraft_limit_bytes{${node}}`)).toBeLessThanOrEqual(64 * 1024 * 1024);
      forwarded += sample(text, `memraft_forwarded_requests_total{${node}}`) ?? 0;
      // Well-behaved peers send nothing the peer message checks refuse (every kind is known).
      expect(sample(text, `memraft_peer_bad_messages_total{${node}}`)).toBe(0);
      leaderChanges += sample(text, `memraft_leader_changes_total{${node}}`) ?? 0;
      elections += sample(text, `memraft_elections_total{${node}}`) ?? 0;
    }
    // 4 groups led by 3 nodes: some sets arrived where their group's leader was not.
    expect(forwarded).toBeGreaterThan(0);
    // 5 groups (meta + 4) elect a leader on each of 3 nodes at least once.
    expect(leaderChanges).toBeGreaterThanOrEqual(15);
    expect(elections).toBeGreaterThanOrEqual(15);
  });

  it('--log-format pretty prints human lines (time, level, message), not JSON', () => {
    const lines = cluster.logOf(1).split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines.slice(0, 20)) expect(line.startsWith('{'), line).toBe(false);
    expect(lines.some((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO  .*listening/.test(l))).toBe(true);
  });
});
