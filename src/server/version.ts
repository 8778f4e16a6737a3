/**
 * The memraft version, from package.json, for `version` replies and stats.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** package.json's version; the same relative path works from src/server and dist/server. */
export const memraftVersion: string = (require('../../package.json') as { version: string }).version;
