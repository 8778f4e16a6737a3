/**
 * Packaging: `npm pack`, install the tarball in an empty directory, `npx memraft serve`
 * answers memcached clients. The tarball holds the built CLI and no sources or tests; the
 * runtime dependencies come from `dependencies` alone (a devDependency missing there fails
 * here). `npm test` builds first, so the pack skips its prepare script (a rebuild of dist/
 * would race the other process tests); that prepare builds is checked on package.json.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { freePorts, removeTempDirs, tempDir } from '../cluster/helpers.js';
import { ensureBuilt, repoRoot, TextClient } from '../cluster/process-cluster.js';

const exec = promisify(execFile);
const children: ReturnType<typeof spawn>[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(-c.pid!, 'SIGKILL');
  await removeTempDirs();
});

it('npm pack installs a working memraft command', async () => {
  ensureBuilt();
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
  expect(pkg.scripts.prepare ?? pkg.scripts.prepack).toMatch(/npm run build|tsc/);
  expect(pkg.bin.memraft).toBe('dist/cli/main.js');

  const work = await tempDir('pack');
  const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: repoRoot, timeout: 60_000 });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = packed!.files.map((f) => f.path);
  expect(files).toContain('dist/cli/main.js');
  expect(files.filter((f) => /^(src|test|scripts|jepsen-lite)\//.test(f) || f.endsWith('.map'))).toEqual([]);

  const app = path.join(work, 'app');
  await exec('mkdir', [app]);
  await writeFile(path.join(app, 'package.json'), '{"name":"app","private":true}\n');
  await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, packed!.filename)], { cwd: app, timeout: 120_000 });

  const [port] = await freePorts(1);
  const child = spawn('npx', ['--no-install', 'memraft', 'serve', '-p', String(port), '--data-dir', path.join(work, 'data')], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npx does not pass SIGTERM on to memraft
  });
  children.push(child);
  let log = '';
  child.stdout!.on('data', (d: Buffer) => void (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => void (log += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!log.includes('bootstrapping the cluster ranges')) {
    if (child.exitCode !== null) throw new Error(`memraft exited:\n${log}`);
    if (Date.now() > deadline) throw new Error(`memraft did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const c = await TextClient.connect(port!);
  expect(await c.set('packed', 'works')).toBe('STORED\r\n');
  expect(await c.get('packed')).toBe('works');
  expect(await c.call('version')).toMatch(/^VERSION 1\.6\.\d+-memraft-/);
  c.close();
  const exited = once(child, 'exit');
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
}, 180_000);
