/**
 * memraft's Raft core: a pure, synchronous Raft state machine modelled on etcd-io/raft.
 * No sockets, disk, timers, Date.now or Math.random: time is `tick()`, randomness is
 * `config.random`, and all I/O is done by the host from `Ready` batches.
 *
 * Features: leader election with randomized timeouts, pre-vote, check-quorum (leader
 * steps down without a quorum; followers ignore votes while a leader is recent), log
 * replication with fast conflict back-off, commit of current-term entries by counting,
 * ReadIndex (safe, batched: one heartbeat quorum releases every waiting read) and lease
 * reads (anchored at heartbeat send time; see "Lease reads" below), leader transfer,
 * learners, membership change by joint consensus (like etcd; one voter change is applied
 * directly, more enter a joint config that the leader leaves automatically), snapshots and log compaction, flow control (probe / replicate /
 * snapshot, inflights by count and bytes), and the leader persisting its own entries in
 * parallel with replication (Raft thesis 10.2.1).
 *
 * Driving a node (one loop per flush; the same for every group of a node):
 *
 * ```ts
 * const storage = new MemoryStorage();          // loaded from disk on restart
 * RawNode.bootstrap(storage, [1, 2, 3]);         // brand-new group only; persist what it wrote
 * const node = new RawNode({ id: 1, storage, electionTicks: 10, heartbeatTicks: 2, ... });
 * // every tick interval: node.tick(); on a message: node.step(msg); on a request:
 * // node.propose(data) / node.readIndex(ctx) (ProposalDroppedError if not leader).
 * while (node.hasReady()) {
 *   const rd = node.ready();
 *   send(rd.messagesBeforePersist);              // leader appends go out while we write
 *   persist(rd.snapshot, rd.entries, rd.hardState, { fsync: rd.mustSync }); // one batch
 *   if (rd.snapshot) storage.applySnapshot(rd.snapshot);   // and restore the state machine
 *   storage.append(rd.entries);
 *   if (rd.hardState) storage.setHardState(rd.hardState);
 *   send(rd.messages);                           // votes and acks only after they are durable
 *   for (const e of rd.committedEntries) {
 *     if (e.type === EntryType.ConfChange) node.applyConfChange(decodeConfChange(e.data));
 *     else apply(e);                             // empty data = a new leader's no-op
 *   }
 *   for (const rs of rd.readStates) serveReadsWhenApplied(rs.index, rs.context);
 *   node.advance(rd);
 * }
 * ```
 *
 * Notes for hosts:
 * - One Ready at a time: hasReady() is false and ready() asserts until advance(rd).
 * - The leader counts its own entries toward the commit quorum only at advance() of the
 *   Ready that carried them (after they are durable), never at propose time. A single-node
 *   group therefore commits a proposal one Ready after persisting it.
 * - Proposals and commit advances between two Ready calls are sent to followers together,
 *   in the next Ready's messagesBeforePersist (App messages up to maxSizePerMsgBytes each,
 *   as many as the follower's inflight window allows). proposeBatch(datas) appends many
 *   entries in one step.
 * - Committed entries may include entries of the same Ready's `entries`: apply them only
 *   after that Ready is durable.
 * - Restart: build MemoryStorage from disk (snapshot, entries, hard state), then pass
 *   `applied` = the index the state machine restarts from (normally the snapshot index:
 *   the entries after it come back as committedEntries, ConfChange entries included, so
 *   initialState().confState must describe the config at `applied`).
 * - Reads: a ReadState at index i answers readIndex(ctx): serve the read once applied >= i.
 *   No answer comes if there is no leader, the request is lost, or leadership changes
 *   (pending requests are dropped on any role change): time reads out and retry. A new
 *   leader answers only after committing the empty entry of its term.
 * - Lease reads ('lease', requires checkQuorum) answer at once, without a heartbeat round,
 *   while the leader's lease is valid, and otherwise fall back to a ReadIndex round (never
 *   refused). Every heartbeat carries the leader's tick count (Message.index), echoed in
 *   HeartbeatResp; if s is the newest send tick acknowledged by a quorum (of both halves of
 *   a joint config; the leader counts as now), the lease holds while
 *   now < s + electionTicks - leaseDriftTicks (default 1). It rests on the followers'
 *   promise: a follower that heard from the leader helps elect no one (no vote, no
 *   pre-vote, no campaign() of its own) for electionTicks of its own ticks, a promise that
 *   survives term changes and, from term 2 on, restarts (a restarted node waits
 *   electionTicks before voting). There is no lease before the leader has committed an
 *   entry of its term and an acknowledged heartbeat round, while a transfer is in progress,
 *   or for the rest of the term once TimeoutNow was sent (a transfer's election bypasses
 *   the promise, and a delayed TimeoutNow can start one at any time).
 *   Clock assumption: every node's ticks advance at the same rate, the leader's falling
 *   behind a follower's by at most leaseDriftTicks within an election timeout. A host that
 *   misses ticks (event-loop stalls, a suspended process) must make them up (call tick()
 *   once per elapsed interval) or not use lease mode; it must not stop ticking a leader
 *   while its followers tick (quiescence is safe only if all of them stop). Message delays
 *   need no bound.
 * - Snapshots: create with storage.createSnapshot(appliedIndex, confState, data), then
 *   storage.compact(index) (never past the applied index). A follower behind the
 *   compaction point is sent storage.snapshot() (a Snap message with `snapshot`); report
 *   the transfer with reportSnapshot(id, ok) — until then, or until the follower acks, the
 *   leader sends it nothing else. A snapshot older than the new member's own addition is
 *   still accepted: the entries after it add the member.
 * - Membership uses joint consensus as in etcd. A ConfChange with one change and
 *   transition 'auto' is applied directly (one voter change is always safe); several
 *   changes, or transition 'explicit', enter a joint config C(old,new) where elections and
 *   commits need majorities of both; 'auto' leaves it by itself (the leader proposes the
 *   empty ConfChange once the joint one is applied), 'explicit' waits for the host to
 *   propose { changes: [] }. A config takes effect when its entry is applied (so it was
 *   committed under the previous config, whose quorums overlap the next one's); only one
 *   change is pending at a time, and a new leader accepts none until it has applied every
 *   entry it had when elected. Invalid changes throw ProposalDroppedError at propose time.
 *   Typical move: AddLearnerNode(n) -> (caught up) AddNode(n) -> RemoveNode(old).
 * - A leader removed from the config (or demoted) steps down when it applies the change
 *   (stepDownOnRemoval, default true); the others elect a leader after an election
 *   timeout. To avoid that gap, transferLeader() to another voter first.
 * - Leader transfer: transferLeader(to) catches `to` up, then sends it TimeoutNow; it
 *   campaigns at once, bypassing pre-vote and the followers' lease. Proposals are refused
 *   during a transfer; it is abandoned after one election timeout.
 * - Idle groups: canQuiesce() on the leader says everything is committed, applied and
 *   replicated with nothing pending; the host may then stop ticking the group (and ask the
 *   followers to stop) until new work, a message, or a peer failure wakes it. In lease
 *   mode a quiesced leader's clock stands still: it must not stop ticking unless its
 *   followers do too.
 * - A lower-term App or Heartbeat is always answered (AppResp at our term), as in the Raft
 *   paper, so a stale leader steps down; etcd answers only under check-quorum or pre-vote,
 *   which leaves a node whose term grew while it held a stale config stranded.
 * - Errors: ProposalDroppedError (code ERR_RAFT_PROPOSAL_DROPPED) for refused proposals;
 *   storage errors CompactedError / UnavailableError / SnapshotTemporarilyUnavailableError;
 *   broken invariants are node:assert failures (programmer errors: crash).
 */
export * from './types.js';
export { RawNode } from './raw-node.js';
export { MemoryStorage } from './memory-storage.js';
export {
  RaftError,
  ProposalDroppedError,
  CompactedError,
  UnavailableError,
  SnapshotTemporarilyUnavailableError,
  SnapOutOfDateError,
} from './errors.js';
export { ConfChangeError, encodeConfChange, decodeConfChange } from './conf-change.js';
export { newMessage, emptyConfState, isSendBeforePersistMsg } from './util.js';
export { mulberry32 } from './prng.js';
