/**
 * Client authentication as the protocol layer sees it: one synchronous check of a user
 * name and password, handed in by the server (its `-Y` auth file). Text connections call
 * it from memcached's ASCII auth `set` (ascii-auth-parser.ts), binary connections from
 * SASL PLAIN (binary-parser.ts).
 */

/** True when `user` and `password` are a pair of the credentials file. */
export type CredentialCheck = (user: Buffer, password: Buffer) => boolean;

/** SASL mechanisms offered by LIST_MECHS: PLAIN only (the credentials are a password file). */
export const saslMechanisms = 'PLAIN';

/**
 * Checks a SASL PLAIN message (RFC 4616: `[authzid] NUL authcid NUL passwd`). An authzid,
 * when given, must equal the authcid: memraft has no proxy authorisation.
 */
export function checkSaslPlain(message: Buffer, check: CredentialCheck): boolean {
  const first = message.indexOf(0);
  if (first < 0) return false;
  const second = message.indexOf(0, first + 1);
  if (second < 0 || message.indexOf(0, second + 1) >= 0) return false;
  const authzid = message.subarray(0, first);
  const user = message.subarray(first + 1, second);
  if (authzid.length > 0 && !authzid.equals(user)) return false;
  return check(user, message.subarray(second + 1));
}
