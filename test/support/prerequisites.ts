/**
 * vitest globalSetup: `npm test` needs a few programs beyond Node (README "Quick start").
 * When one is missing it stops before any test, with one line naming the install command,
 * instead of failing deep inside a protocol test with `spawn memccapable ENOENT`.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** A program the tests run (on PATH, or an absolute path), and the Debian package that has it. */
interface Needed {
  program: string;
  apt: string;
  /** Needed only when the tests run as root (the network-namespace tests skip otherwise). */
  rootOnly?: boolean;
  /** How the message names it, when not by `program`. */
  label?: string;
}

const needed: Needed[] = [
  { program: 'memccapable', apt: 'libmemcached-tools' },
  { program: 'memcached', apt: 'memcached' }, // the differential test's reference server
  { program: 'openssl', apt: 'openssl' }, // the TLS tests' throwaway certificates
  // pymemcache over TLS, through Debian's own python (a pyenv shim may shadow python3).
  { program: '/usr/lib/python3/dist-packages/pymemcache/__init__.py', apt: 'python3-pymemcache', label: 'pymemcache for /usr/bin/python3' },
  { program: 'ip', apt: 'iproute2', rootOnly: true },
  { program: 'nft', apt: 'nftables', rootOnly: true },
];

/** The install command for everything the tests need. */
export const installCommand = 'sudo apt-get install -y memcached libmemcached-tools openssl python3-pymemcache iproute2 nftables';

/** The needed programs not found on `searchPath` (a PATH value); `root`: the tests run as root. */
export function missingPrograms(searchPath: string, root = process.getuid?.() === 0): string[] {
  const dirs = searchPath.split(path.delimiter).filter((d) => d !== '');
  const runnable = (file: string): boolean => {
    try {
      accessSync(file, path.isAbsolute(file) && file.endsWith('.py') ? constants.R_OK : constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const found = (program: string): boolean => (path.isAbsolute(program) ? runnable(program) : dirs.some((d) => runnable(path.join(d, program))));
  return needed
    .filter((n) => (root || n.rootOnly !== true) && !found(n.program))
    .map((n) => `${n.label ?? n.program} (Debian package ${n.apt})`);
}

/** The one-line message for missing programs, or null when nothing is missing. */
export function prerequisiteMessage(searchPath: string, root?: boolean): string | null {
  const missing = missingPrograms(searchPath, root);
  return missing.length === 0 ? null : `npm test needs ${missing.join(', ')}, not found on PATH: install with \`${installCommand}\``;
}

export default function setup(): void {
  const message = prerequisiteMessage(process.env.PATH ?? '');
  if (message !== null) {
    process.stderr.write(`\n${message}\n\n`);
    throw new Error(message);
  }
}
