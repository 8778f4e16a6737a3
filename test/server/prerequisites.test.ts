/** test/support/prerequisites.ts: a missing program is named in one line with its install command. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { prerequisiteMessage } from '../support/prerequisites.js';

it('names a missing memccapable and the apt-get line; says nothing when it is on PATH', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'memraft-nopath-'));
  try {
    const message = prerequisiteMessage(empty);
    expect(message).toBe('npm test needs memccapable (Debian package libmemcached-tools), not found on PATH: install with `sudo apt-get install -y memcached libmemcached-tools`');
    expect(message).not.toContain('\n');
  } finally {
    rmSync(empty, { recursive: true });
  }
  expect(prerequisiteMessage(process.env.PATH ?? '')).toBeNull(); // this machine has it (CI installs it)
});
