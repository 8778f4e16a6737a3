/** test/support/prerequisites.ts: a missing program is named in one line with its install command. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { prerequisiteMessage } from '../support/prerequisites.js';

it('names the missing programs and the apt-get line in one line; says nothing when they are there', () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'memraft-nopath-'));
  try {
    const message = prerequisiteMessage(empty, false);
    expect(message).toMatch(/^npm test needs memccapable \(Debian package libmemcached-tools\), memcached \(Debian package memcached\), openssl \(Debian package openssl\)/);
    expect(message).toMatch(/, not found on PATH: install with `sudo apt-get install -y memcached libmemcached-tools openssl python3-pymemcache iproute2 nftables`$/);
    expect(message).not.toContain('ip (Debian'); // only the root-only network-namespace tests need ip and nft
    expect(prerequisiteMessage(empty, true)).toContain('nft (Debian package nftables)');
    expect(message).not.toContain('\n');
  } finally {
    rmSync(empty, { recursive: true });
  }
  expect(prerequisiteMessage(process.env.PATH ?? '')).toBeNull(); // this machine has them (CI installs them)
});
