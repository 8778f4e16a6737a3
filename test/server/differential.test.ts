// Differential test (issue 13): generated sequences of valid text and meta commands go to a
// real memcached, to a standalone memraft and to a 3-node memraft cluster (through one node,
// a different one per run), one command at a time; the replies must be equal byte for
// byte once CAS values are compared per key and times to within memcached's clock tick
// (see differential-commands.ts). The seed is printed; replay a failure with
// DIFF_SEED=<seed> (and DIFF_RUNS=<n> for a longer search).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ProcessCluster } from '../cluster/process-cluster.js';
import { freePort, startServer, waitForPort, type ServerProcess } from './helpers.js';
import { ServerView, normalise, render, runArb, type Command } from './differential-commands.js';

const hasMemcached = spawnSync('memcached', ['-V']).status === 0;
const seed = process.env.DIFF_SEED !== undefined ? Number(process.env.DIFF_SEED) : Math.floor(Math.random() * 2 ** 31);
const numRuns = Number(process.env.DIFF_RUNS ?? 60);

/** A connection that sends one command and reads its whole reply (up to a `version` sentinel). */
class Probe {
  private buffered = '';
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffered += d;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<Probe> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new Probe(socket);
  }

  async send(bytes: string): Promise<string> {
    this.socket.write(bytes + 'version\r\n');
    for (;;) {
      const m = /VERSION [^\r\n]*\r\n$/.exec(this.buffered);
      if (m !== null) {
        const reply = this.buffered.slice(0, m.index);
        this.buffered = '';
        return reply;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

interface Target {
  name: string;
  port: () => number;
}

let memcached: ChildProcess | null = null;
let memcachedPort = 0;
let standalone: ServerProcess;
let cluster: ProcessCluster;
let runCounter = 0;

beforeAll(async () => {
  if (!hasMemcached) return;
  memcachedPort = await freePort();
  const user = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  memcached = spawn('memcached', [...user, '-p', String(memcachedPort), '-U', '0', '-l', '127.0.0.1'], { stdio: 'ignore' });
  await waitForPort(memcachedPort);
  // One after the other: each picks free ports, which only binding makes taken.
  cluster = await ProcessCluster.start(3);
  standalone = await startServer(['--standalone']);
  // Unlogged fetch marks (meta h) live at a group's leader: start once leaderships settled.
  await cluster.waitStableLeaders();
}, 90_000);

afterAll(async () => {
  if (memcached !== null) {
    const exited = once(memcached, 'exit');
    memcached.kill('SIGTERM');
    await exited;
  }
  await Promise.all([standalone?.stop(), cluster?.stop()]);
});

/** Runs `commands` on every target in lockstep; the first difference throws. */
async function compare(commands: Command[], targets: Target[]): Promise<void> {
  const prefix = `d${runCounter++}_`;
  const probes = await Promise.all(targets.map((t) => Probe.connect(t.port())));
  const views = targets.map(() => new ServerView());
  try {
    const transcript: string[] = [];
    for (const c of commands) {
      const sent = targets.map((_, i) => render(c, prefix, views[i]!));
      const replies = await Promise.all(probes.map((p, i) => p.send(sent[i]!)));
      const metaKey = 'key' in c && c.t.startsWith('m') ? `${prefix}${c.key}` : null;
      const normal = replies.map((r, i) => normalise(r, metaKey, views[i]!));
      transcript.push(`> ${sent[0]!.split('\r\n')[0]}\n< ${JSON.stringify(replies[0])}`);
      for (let i = 1; i < targets.length; i++) {
        if (normal[i] === normal[0]) continue;
        throw new Error(
          `${targets[i]!.name} differs from ${targets[0]!.name} at\n${sent[i]}\n` +
            `${targets[0]!.name}: ${JSON.stringify(replies[0])}\n${targets[i]!.name}: ${JSON.stringify(replies[i])}\n` +
            `normalised: ${JSON.stringify(normal[0])} vs ${JSON.stringify(normal[i])}\ntranscript:\n${transcript.join('\n')}`,
        );
      }
    }
  } finally {
    for (const p of probes) p.close();
  }
}

describe.skipIf(!hasMemcached)('differential: memraft answers as memcached does', () => {
  it(`valid text and meta commands, seed ${seed}`, async () => {
    console.log(`differential test: seed ${seed}, ${numRuns} runs (replay: DIFF_SEED=${seed})`);
    const targets: Target[] = [
      { name: 'memcached', port: () => memcachedPort },
      { name: 'memraft --standalone', port: () => standalone.port },
      // Through one node, a different one each run (reads served by leaders, followers, forwarded).
      { name: 'memraft 3-node cluster', port: () => cluster.clientPort((runCounter % 3) + 1) },
    ];
    await fc.assert(
      fc.asyncProperty(runArb, async (commands) => {
        await compare(commands, targets);
      }),
      { seed, numRuns },
    );
  }, 120_000);
});
