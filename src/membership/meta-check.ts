/**
 * Structural check of a meta command before it is proposed. A forwarded meta command comes
 * from a peer as bytes and, once committed, is applied by every node at every restart: a
 * command the state machine cannot apply would take the whole cluster down for good, so
 * the meta leader proposes only commands of a known shape.
 */
import type { MetaCommand } from './meta-state.js';
import { decodeMetaCommand } from './meta-state.js';

const nodeStates: ReadonlySet<unknown> = new Set(['joining', 'up', 'draining', 'dead', 'removed']);
const movePhases: ReadonlySet<unknown> = new Set(['learner', 'voter', 'remove']);

/** Longest address string ("host:port") a command may carry. */
const addressBytesMax = 300;

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isNodeId(v: unknown): v is number {
  return isCount(v) && v > 0;
}

function isAddress(v: unknown): v is string {
  return typeof v === 'string' && v.length <= addressBytesMax;
}

function isGroup(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const g = v as Record<string, unknown>;
  const replicas = g['replicas'];
  return isNodeId(g['id']) && isCount(g['lo']) && isCount(g['hi']) && (g['lo'] as number) <= (g['hi'] as number) &&
    Array.isArray(replicas) && replicas.length <= 16 && replicas.every(isNodeId) && isCount(g['epoch']);
}

function checkBootstrap(c: Record<string, unknown>): string | null {
  const config = c['config'] as Record<string, unknown> | null | undefined;
  if (typeof config !== 'object' || config === null) return 'bootstrap without config';
  if (!isNodeId(config['replicas']) || !isNodeId(config['groups']) || !isNodeId(config['memoryBytesPerGroup'])) return 'bad bootstrap config';
  const nodes = c['nodes'];
  const okNodes = Array.isArray(nodes) && nodes.length > 0 && nodes.length <= 4096 &&
    nodes.every((n) => typeof n === 'object' && n !== null && isNodeId((n as Record<string, unknown>)['id']) && isAddress((n as Record<string, unknown>)['peer']));
  if (!okNodes) return 'bad bootstrap nodes';
  const groups = c['groups'];
  return Array.isArray(groups) && groups.length <= 4096 && groups.every(isGroup) ? null : 'bad bootstrap groups';
}

/** Null when `cmd` is a meta command the state machine can apply, else why not. */
export function checkMetaCommand(cmd: unknown): string | null {
  if (typeof cmd !== 'object' || cmd === null || Array.isArray(cmd)) return 'meta command not an object';
  const c = cmd as Record<string, unknown>;
  switch (c['type']) {
    case 'bootstrap':
      return checkBootstrap(c);
    case 'register':
      return isNodeId(c['id']) && isAddress(c['peer']) && isAddress(c['client']) && isAddress(c['admin']) ? null : 'bad register';
    case 'node-state':
      return isNodeId(c['id']) && nodeStates.has(c['state']) ? null : 'bad node-state';
    case 'join':
      return isNodeId(c['id']) && isAddress(c['peer']) ? null : 'bad join';
    case 'move-start':
    case 'move-done':
      return isNodeId(c['group']) && isCount(c['from']) && isCount(c['to']) ? null : `bad ${c['type']}`;
    case 'move-phase':
      return isNodeId(c['group']) && movePhases.has(c['phase']) ? null : 'bad move-phase';
    case 'move-abort':
      return isNodeId(c['group']) ? null : 'bad move-abort';
    case 'prefer-leader':
      return isNodeId(c['group']) && isNodeId(c['leader']) ? null : 'bad prefer-leader';
    default:
      return 'unknown meta command';
  }
}

/** Decodes meta command bytes; null with the reason when they are not a command of a known shape. */
export function decodeCheckedMetaCommand(data: Uint8Array): { cmd: MetaCommand | null; why: string | null } {
  let cmd: unknown;
  try {
    cmd = decodeMetaCommand(data);
  } catch {
    return { cmd: null, why: 'undecodable meta command' };
  }
  const why = checkMetaCommand(cmd);
  return why === null ? { cmd: cmd as MetaCommand, why: null } : { cmd: null, why };
}
