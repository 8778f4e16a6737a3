/**
 * The one place the simulator imports the Raft core: everything else in test/raft/sim/
 * goes through these names, so an API change touches a single file.
 */
export {
  RawNode,
  MemoryStorage,
  ProposalDroppedError,
  decodeConfChange,
} from '../../../src/raft/index.js';
export type { RaftConfig, Ready, RaftStatus } from '../../../src/raft/index.js';
export {
  EntryType,
  MessageType,
  ConfChangeType,
  NONE,
} from '../../../src/raft/types.js';
export type {
  ConfChange,
  ConfChangeSingle,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  Snapshot,
} from '../../../src/raft/types.js';
