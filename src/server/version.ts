/**
 * Versions: memraft's own (package.json) and the one `version` and `stats` report.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** package.json's version; the same relative path works from src/server and dist/server. */
export const memraftVersion: string = (require('../../package.json') as { version: string }).version;

/** The memcached release whose protocol behaviour memraft matches byte for byte. */
export const memcachedProtocolVersion = '1.6.18';

/**
 * What `version` answers: memcached's version first, because clients and tools parse it to
 * pick protocol features (memccapable runs its 1.6 test expectations only for a 1.x
 * version), then memraft's own, e.g. `1.6.18-memraft-0.1.0`.
 */
export const wireVersion = `${memcachedProtocolVersion}-memraft-${memraftVersion}`;
