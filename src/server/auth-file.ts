/**
 * memcached's auth file (`-Y FILE`): one `user:password` per line, the password running to
 * the end of the line. The same file serves the text protocol's ASCII auth and binary SASL
 * PLAIN. SIGHUP reloads it; a file that fails to load leaves the old credentials in force,
 * as memcached's authfile_load does.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';

/** A credentials file that does not parse; the message names the line. */
export class AuthFileError extends Error {
  /** Stable code for callers that match on it. */
  readonly code = 'E_AUTH_FILE';
  constructor(message: string) {
    super(message);
    this.name = 'AuthFileError';
  }
}

interface Entry {
  user: Buffer;
  password: Buffer;
}

/** Parses the text of an auth file; empty lines are skipped, a line without `:` is an error. */
export function parseAuthFile(text: string, file: string): Entry[] {
  const entries: Entry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new AuthFileError(`${file} line ${i + 1}: malformed entry, should be 'user:password'`);
    entries.push({ user: Buffer.from(line.slice(0, colon)), password: Buffer.from(line.slice(colon + 1)) });
  }
  if (entries.length === 0) throw new AuthFileError(`${file}: no 'user:password' entries`);
  return entries;
}

/** The loaded credentials; `check` is what the parsers call. */
export class Credentials {
  private entries: Entry[];

  /** @param file the path, also shown in `stats settings` (auth_enabled_ascii) as memcached does. */
  private constructor(readonly file: string) {
    this.entries = parseAuthFile(fs.readFileSync(file, 'utf8'), file);
  }

  /** Reads `file`; throws AuthFileError or the read error. */
  static load(file: string): Credentials {
    return new Credentials(file);
  }

  /** Reads the file again; on error the old entries stay and the error is thrown. */
  reload(): void {
    this.entries = parseAuthFile(fs.readFileSync(this.file, 'utf8'), this.file);
  }

  /** Compares against every entry in constant time per entry (memcached's safe_memcmp). */
  readonly check = (user: Buffer, password: Buffer): boolean => {
    let found = false;
    for (const entry of this.entries) {
      if (sameBytes(user, entry.user) && sameBytes(password, entry.password)) found = true;
    }
    return found;
  };
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
