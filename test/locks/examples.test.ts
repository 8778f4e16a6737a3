// The fenced-lock examples of docs/locks.md, run as they are documented against a real
// 3-node cluster (child processes; small snapshot interval so snapshots happen): the raw
// meta-protocol one, then every node killed and restarted (new elections, log replay),
// then the `memcached` npm client one on the same lock. Tokens must rise across the
// restart, the stalled holder's late write must be refused by the fence, and its release
// must not free its successor's lock.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster, repoRoot } from '../cluster/process-cluster.js';

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start(3, ['--groups', '4'], { MEMRAFT_SNAPSHOT_ENTRIES: '50' });
});

afterAll(async () => {
  await cluster?.stop();
});

/** Runs an example to its end; returns its last stdout line parsed as JSON (and the whole output for messages). */
function runExample(file: string, args: string[]): Promise<{ summary: Record<string, unknown>; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'examples/locks', file), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const last = output.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${file} exited ${code}:\n${output}`));
      try {
        resolve({ summary: JSON.parse(last) as Record<string, unknown>, output });
      } catch {
        reject(new Error(`${file}: no JSON summary:\n${output}`));
      }
    });
  });
}

describe('docs/locks.md examples on a 3-node cluster', () => {
  it('raw protocol, a full restart, then the memcached npm client: the fence holds and tokens rise', async () => {
    const servers = [1, 2, 3].map((id) => `127.0.0.1:${cluster.clientPort(id)}`).join(',');
    const raw = await runExample('raw-protocol.mjs', ['--servers', servers, '--name', 'shared']);
    const r = raw.summary;
    expect(r, raw.output).toMatchObject({ aWrite: 'accepted', bHeldOff: true, bWrite: 'accepted', aLateWrite: 'refused', aRelease: false, bWrite2: 'accepted', bRelease: true });
    expect(BigInt(r.tokenB as string), raw.output).toBeGreaterThan(BigInt(r.tokenA as string));
    expect(BigInt(r.tokenB2 as string), raw.output).toBeGreaterThan(BigInt(r.tokenB as string));
    expect(r.finalValue, raw.output).toBe(`${r.tokenB2 as string}:B after renew`);
    // The raw transcript shows the meta commands of the recipe.
    expect(raw.output).toMatch(/> ms lock:shared \d+ T2 ME c/);
    expect(raw.output).toMatch(/> md lock:shared C\d+/);

    await cluster.killAll();
    for (const id of [1, 2, 3]) cluster.spawnNode(id);
    await cluster.waitReady();

    const npm = await runExample('npm-memcached.mjs', ['--servers', servers, '--name', 'shared']);
    const n = npm.summary;
    expect(n, npm.output).toMatchObject({ bWrite: 'accepted', aLateWrite: 'refused', aRenew: null, aRelease: false, bWrite2: 'accepted', bRelease: true, holds: 15, accepted: 15 });
    // Tokens rise across the restart: every token after it is above every token before it.
    expect(BigInt(n.tokenA as string), npm.output).toBeGreaterThan(BigInt(r.tokenB2 as string));
    expect(BigInt(n.tokenB as string)).toBeGreaterThan(BigInt(n.tokenA as string));
    expect(BigInt(n.tokenB2 as string)).toBeGreaterThan(BigInt(n.tokenB as string));
    const tokens = (n.tokens as string[]).map(BigInt);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens.every((t) => t > BigInt(n.tokenB2 as string))).toBe(true);
    // The last holder wrote last, with the highest token.
    expect(n.finalToken, npm.output).toBe(n.maxToken);
  });
});
