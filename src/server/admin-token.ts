/**
 * The admin listener's bearer token (`--admin-token`, `--admin-token-file`): every mutating
 * request must carry `Authorization: Bearer TOKEN`. Without a configured token, mutations
 * are refused outright rather than left open.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import { UsageError } from './config.js';

/** Why a mutating admin request may not proceed; null when it may. */
export type AdminRefusal = { status: 401 | 403; message: string } | null;

/** The token from the flags: given inline, or the first line of a file (whitespace trimmed). */
export function resolveAdminToken(token: string | null, file: string | null): string | null {
  if (token !== null) return token;
  if (file === null) return null;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--admin-token-file ${file}: ${(err as Error).message}`);
  }
  const value = text.trim();
  if (value === '') throw new UsageError(`--admin-token-file ${file} is empty`);
  return value;
}

/** Checks a request's bearer token against `token` in constant time. */
export function checkAdminToken(token: string | null, req: http.IncomingMessage): AdminRefusal {
  if (token === null) {
    return { status: 403, message: 'admin mutations are disabled on this node: start it with --admin-token or --admin-token-file (docs/security.md)' };
  }
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null) return { status: 401, message: 'admin token required: send Authorization: Bearer TOKEN (memraft ctl --admin-token-file FILE)' };
  if (!sameSecret(match[1]!, token)) return { status: 401, message: 'wrong admin token' };
  return null;
}

// Hashing first makes the comparison constant-time whatever the lengths.
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string): Buffer => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(a), digest(b));
}
