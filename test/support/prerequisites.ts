/**
 * vitest globalSetup: `npm test` needs a few programs beyond Node (README "Quick start").
 * When one is missing it stops before any test, with one line naming the install command,
 * instead of failing deep inside a protocol test with `spawn memccapable ENOENT`.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** A program the tests run, and the Debian package that has it. */
const needed: Array<{ program: string; apt: string }> = [{ program: 'memccapable', apt: 'libmemcached-tools' }];

/** The install command for everything the tests need. */
export const installCommand = 'sudo apt-get install -y memcached libmemcached-tools';

/** The needed programs not found on `searchPath` (a PATH value). */
export function missingPrograms(searchPath: string): string[] {
  const dirs = searchPath.split(path.delimiter).filter((d) => d !== '');
  const found = (program: string): boolean =>
    dirs.some((d) => {
      try {
        accessSync(path.join(d, program), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  return needed.filter((n) => !found(n.program)).map((n) => `${n.program} (Debian package ${n.apt})`);
}

/** The one-line message for missing programs, or null when nothing is missing. */
export function prerequisiteMessage(searchPath: string): string | null {
  const missing = missingPrograms(searchPath);
  return missing.length === 0 ? null : `npm test needs ${missing.join(', ')}, not found on PATH: install with \`${installCommand}\``;
}

export default function setup(): void {
  const message = prerequisiteMessage(process.env.PATH ?? '');
  if (message !== null) {
    process.stderr.write(`\n${message}\n\n`);
    throw new Error(message);
  }
}
