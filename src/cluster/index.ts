/**
 * The multi-Raft host: every group replica of one node, and how client requests reach
 * their group's leader. It composes raft/, storage/, transport/, cache/ and membership/
 * through the structural interfaces of contracts.ts and knows nothing of sockets,
 * processes or the memcached protocol (server/ wires those).
 *
 * How to drive it (server/cluster-node.ts does this with the real parts; the simulator in
 * test/cluster/sim does it with virtual ones):
 *
 *   const host = new ClusterHost(config, realGroupFactory(...), logStore, transport, runtime, logger);
 *   await host.start();                       // load stored groups, meta replica, tick timer
 *   host.runOps(group, ops, mutates, cb);     // a client request's share of one group
 *   host.proposeMeta(cmd);                    // a membership command (rebalancer, join)
 *   await host.close();                       // fail waiting work, stop ticking
 *
 * One job per file:
 *   host.ts          the flush loop (RawNode recipe for all groups, one durable write per
 *                    flush), peer message dispatch, replica creation and destruction
 *   replica.ts       one group's replica: batching, proposals, read rounds, follower reads
 *   forwarder.ts     finding a group's leader, running requests there, serving forwards
 *   read-rounds.ts   read confirmations and read index questions between nodes, self-clocked
 *   housekeeping.ts  tick duties: bump/expire entries, leader balancing, meta registration
 *   rebalancer.ts    the meta leader's membership driver (moves, joins, drains, dead nodes)
 *   moves.ts         the group-side steps of a replica move
 *   machines.ts      the cache and meta state machines behind one interface
 *   wire.ts          every message shape between nodes, as named types
 *   errors.ts        ClusterError and its codes, and the SERVER_ERROR text made from them
 *   runtime.ts       the clock and timers the host is handed
 *   group-factory.ts the real parts of a replica (RawNode, MemoryStorage, cache, codec)
 *
 * Time: nothing here reads Date.now() or calls setTimeout/setImmediate; everything goes
 * through the Runtime (wall time for entry timestamps, monotonic time for deadlines).
 */
export { ClusterHost, defaultHostTiming, metaGroupId, type GroupCallback, type HostConfig, type InitialMember, type UnsafeModes } from './host.js';
export { ClusterError, ClusterErrorCode, serverErrorText, type Applied } from './errors.js';
export { realGroupFactory, raftSettings } from './group-factory.js';
export { realRuntime, type Runtime, type Timer } from './runtime.js';
export { Rebalancer, defaultRebalancerOptions } from './rebalancer.js';
export { defaultReplicaOptions, type ReplicaOptions } from './replica.js';
