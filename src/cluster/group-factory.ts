/**
 * The real parts of a group replica (RawNode over MemoryStorage, the cache state machine,
 * the entry codec), as the host's GroupFactory. The simulator builds nodes from this too.
 */
import type { Logger } from 'pino';
import type { CacheOp } from '../cache/ops.js';
import { decodeEntry, encodeEntry } from '../cache/op-codec.js';
import { CacheStateMachine } from '../cache/state-machine.js';
import { MemoryStorage, RawNode, decodeConfChange } from '../raft/index.js';
import { mulberry32 } from '../raft/prng.js';
import type { GroupId, NodeId } from '../raft/types.js';
import type { CacheMachine, GroupFactory, RaftMemoryStorage, RaftNode } from './contracts.js';

/** Raft timing and flow-control settings of every group (DESIGN.md §4). */
export const raftSettings = {
  electionTicks: 10,
  heartbeatTicks: 2,
  maxSizePerMsgBytes: 1024 * 1024,
  maxInflightMsgs: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  maxUncommittedBytes: 64 * 1024 * 1024,
};


/** The real parts of a group replica. */
export function realGroupFactory(nodeId: NodeId, readMode: 'read-index' | 'lease', itemBytesMax: number, seed: number, log: Logger): GroupFactory {
  return {
    newStorage: () => new MemoryStorage(),
    bootstrap: (storage, voters, learners) => RawNode.bootstrap(storage as MemoryStorage, voters, learners),
    newRaft: (group: GroupId, storage: RaftMemoryStorage, applied: number): RaftNode =>
      new RawNode({
        id: nodeId,
        ...raftSettings,
        storage: storage as MemoryStorage,
        applied,
        checkQuorum: true,
        preVote: true,
        readOnlyOption: readMode === 'lease' ? 'lease' : 'safe',
        random: mulberry32(seed + group * 7919),
        logger: log.child({ group }),
      }) as unknown as RaftNode,
    // The protocol enforces -I on the value; the cache counts header and key too: give it room.
    newCache: (memoryBytesMax: number): CacheMachine => new CacheStateMachine({ memoryBytesMax, itemBytesMax: itemBytesMax + 1024 }),
    cacheFigures: (cache) => {
      const s = (cache as CacheStateMachine).stats();
      return { currItems: s.curr_items, totalItems: s.total_items, bytes: s.bytes, evictions: s.evictions, limitBytes: s.limit_maxbytes };
    },
    encodeEntry: (nowMs: number, ops: CacheOp[]) => encodeEntry({ nowMs, ops }),
    decodeEntry: (data: Uint8Array) => decodeEntry(data),
    decodeConfChange: (data: Uint8Array) => decodeConfChange(data),
  };
}

