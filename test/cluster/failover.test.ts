/**
 * Crash tests on a real 3-node cluster: SIGKILL the node leading the most groups while
 * clients write (writes resume, every acknowledged write stays readable, the node catches
 * up after restart), then SIGKILL all three and restart (nothing acknowledged is lost).
 * Snapshots are taken every 200 entries here, so the killed node's groups compact their
 * logs while it is down and it catches up by InstallSnapshot, and restarts replay from
 * snapshot + log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster, TextClient } from './process-cluster.js';

let cluster: ProcessCluster;
/** Every write acknowledged with STORED: key -> value. */
const acked = new Map<string, string>();
/** Number of acknowledgements so far. */
let ackCount = 0;

beforeAll(async () => {
  cluster = await ProcessCluster.start(3, ['--groups', '8'], { MEMRAFT_SNAPSHOT_ENTRIES: '200' });
});

afterAll(async () => {
  await cluster?.stop();
});

/** A writer looping on one node until `stop()`; records acknowledged writes. */
function writer(port: number, name: string): { stop: () => Promise<number> } {
  let stopped = false;
  const done = (async () => {
    let errors = 0;
    let client = await TextClient.connect(port);
    for (let i = 0; !stopped; i++) {
      const key = `${name}-${i % 300}`;
      const value = `${name}-${i}`;
      try {
        const reply = await client.set(key, value);
        if (reply === 'STORED\r\n') {
          acked.set(key, value);
          ackCount++;
        } else {
          errors++;
        }
      } catch {
        // The node died: this writer is done.
        errors++;
        break;
      }
    }
    client.close();
    return errors;
  })();
  return {
    stop: async () => {
      stopped = true;
      return done;
    },
  };
}

/** Node with the most data-group leaderships. */
async function busiestLeader(): Promise<number> {
  let best = 1;
  let most = -1;
  for (const id of [1, 2, 3]) {
    const s = await cluster.status(id);
    if (s !== null && s.leaderOf > most) {
      most = s.leaderOf;
      best = id;
    }
  }
  return best;
}

async function checkAcked(viaPort: number): Promise<void> {
  const c = await TextClient.connect(viaPort);
  try {
    for (const [key, value] of acked) {
      // A later write to the same key may have been applied without its ack reaching
      // us (its writer saw an error), but an acknowledged value may never be lost:
      // per key, each writer writes increasing suffixes, so the read must be >= acked.
      const got = await c.get(key);
      expect(got, key).not.toBeNull();
      expect(Number(got!.split('-').pop()), key).toBeGreaterThanOrEqual(Number(value.split('-').pop()));
    }
  } finally {
    c.close();
  }
}

describe('failover', () => {
  it('keeps serving writes when the busiest leader is killed, and loses no acknowledged write', async () => {
    const victim = await busiestLeader();
    const survivors = [1, 2, 3].filter((id) => id !== victim);
    const writers = [1, 2, 3].map((id) => writer(cluster.clientPort(id), `w${id}`));
    await until(() => ackCount >= 300, 'some writes before the kill');
    await cluster.kill(victim);
    const before = ackCount;
    // Writes through the survivors must resume.
    // Enough writes that the groups snapshot and compact past what the victim has.
    await until(() => ackCount >= before + 3000, 'writes resuming after the kill', 120_000);
    await Promise.all(writers.map((w) => w.stop()));
    await checkAcked(cluster.clientPort(survivors[0]!));
    await cluster.restart(victim);
    await checkAcked(cluster.clientPort(victim));
    await cluster.convergedDigests();
    // The victim was behind the survivors' compacted logs: it caught up by snapshot.
    const restarted = await cluster.status(victim);
    expect(restarted!.groups.reduce((n, g) => n + g.snapshotsInstalled, 0)).toBeGreaterThan(0);
  });

  it('loses no acknowledged write when every node is killed and restarted', async () => {
    const writers = [1, 2, 3].map((id) => writer(cluster.clientPort(id), `x${id}`));
    const before = ackCount;
    await until(() => ackCount >= before + 300, 'writes before the crash');
    await cluster.killAll();
    await Promise.all(writers.map((w) => w.stop()));
    for (const id of [1, 2, 3]) cluster.spawnNode(id);
    await cluster.waitReady();
    for (const id of [1, 2, 3]) await checkAcked(cluster.clientPort(id));
  });
});

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
