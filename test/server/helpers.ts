/**
 * Test helpers for real-process server tests: build dist if missing, pick free ports,
 * spawn `memraft serve`, wait for the port to accept, talk over raw sockets.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const mainJs = path.join(repoRoot, 'dist/cli/main.js');

/** Builds dist/ when it is missing (npm test builds first; a lone vitest run may not have). */
export function ensureBuilt(): void {
  if (existsSync(mainJs)) return;
  // Other parts may have type errors in progress; tsc still emits, so ignore its status.
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'ignore' });
  if (!existsSync(mainJs)) throw new Error(`build did not produce ${mainJs}`);
}

/** A port nothing listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  server.close();
  await once(server, 'close');
  return port;
}

/** A running `memraft serve` child process. */
export interface ServerProcess {
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Spawns `node dist/cli/main.js serve --listen 127.0.0.1:PORT ...extra` and waits until it
 * accepts. Without `--standalone` that is the embedded default, a durable single-node Raft
 * cluster, given a fresh data directory that `stop()` removes.
 */
export async function startServer(extra: string[] = []): Promise<ServerProcess> {
  ensureBuilt();
  const port = await freePort();
  const dataDir = extra.includes('--standalone') ? null : mkdtempSync(path.join(os.tmpdir(), 'memraft-server-test-'));
  const dirArgs = dataDir === null ? [] : ['--data-dir', dataDir];
  const child = spawn(process.execPath, [mainJs, 'serve', '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...dirArgs, ...extra], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit');
  await Promise.race([
    waitForPort(port),
    exited.then(() => {
      throw new Error(`server exited early:\n${output}`);
    }),
  ]);
  return {
    port,
    child,
    output: () => output,
    async stop() {
      let code = child.exitCode;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        [code] = (await exited) as [number | null];
      }
      if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Resolves once a TCP connect to the port succeeds (retrying on refusal; the event is the connect). */
export async function waitForPort(port: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    // Polling a port has no event to await before the process binds it; back off briefly.
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw client socket that collects everything the server sends. */
export class RawClient {
  readonly socket: net.Socket;
  // Chunks as they arrive; joined only when read, so a 40 MB reply stays linear.
  private chunks: Buffer[] = [];
  private receivedBytes = 0;
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.receivedBytes += d.length;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until at least `bytes` have arrived or the socket closed; returns and consumes them. */
  async readBytes(bytes: number): Promise<Buffer> {
    await this.until(() => this.receivedBytes >= bytes || this.closed);
    const all = this.take();
    const out = all.subarray(0, bytes);
    if (all.length > bytes) this.put(all.subarray(bytes));
    return out;
  }

  /** Waits until the bytes received so far end with `suffix` (or the socket closed); returns and consumes them. */
  async readUntil(suffix: string): Promise<string> {
    const want = Buffer.from(suffix, 'latin1');
    await this.until(() => this.tail(want.length).equals(want) || this.closed);
    return this.take().toString('latin1');
  }

  /** Waits until the text received so far matches `pattern` (or the socket closed); returns and consumes it. */
  async readUntilMatch(pattern: RegExp): Promise<string> {
    await this.until(() => pattern.test(this.peek().toString('latin1')) || this.closed);
    return this.take().toString('latin1');
  }

  /** Sends `request` and reads until the reply ends with `suffix`. */
  async request(request: string | Buffer, suffix: string): Promise<string> {
    this.write(request);
    return this.readUntil(suffix);
  }

  /** Waits for the server to close the connection; returns what arrived before. */
  async readToClose(): Promise<string> {
    await this.until(() => this.closed);
    return this.take().toString('latin1');
  }

  close(): void {
    this.socket.destroy();
  }

  /** The last `bytes` bytes received (fewer if fewer arrived). */
  private tail(bytes: number): Buffer {
    const parts: Buffer[] = [];
    let have = 0;
    for (let i = this.chunks.length - 1; i >= 0 && have < bytes; i--) {
      parts.unshift(this.chunks[i]!);
      have += this.chunks[i]!.length;
    }
    const joined = Buffer.concat(parts);
    return joined.subarray(Math.max(0, joined.length - bytes));
  }

  private peek(): Buffer {
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(): Buffer {
    const joined = Buffer.concat(this.chunks);
    this.chunks = [];
    this.receivedBytes = 0;
    return joined;
  }

  private put(rest: Buffer): void {
    this.chunks.unshift(rest);
    this.receivedBytes += rest.length;
  }

  private until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (done()) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
