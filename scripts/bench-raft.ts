/**
 * Microbenchmark of the Raft core alone (not a test): commits/s of a 3-node group of
 * RawNodes in one process, messages handed over in memory, persistence into MemoryStorage.
 * Measures the CPU cost of the core per committed entry (all three nodes' work counted),
 * so the cluster's budget for I/O is what remains.
 *
 *   npm run bench:raft -- [--seconds 3] [--batch 64] [--bytes 100] [--nodes 3]
 *
 * Scenarios: `--batch` proposals per flush (the cluster batches per event-loop turn), then
 * every node's Ready loop runs until the batch is applied on the leader; and batch 1
 * (one proposal per flush, the worst case).
 */
import { parseArgs } from 'node:util';
import { decodeConfChange, EntryType, MemoryStorage, mulberry32, RawNode, type Message, type NodeId } from '../src/raft/index.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '64' },
    bytes: { type: 'string', default: '100' },
    nodes: { type: 'string', default: '3' },
  },
});
const seconds = Number(args.seconds);
const entryBytes = Number(args.bytes);
const nodeCount = Number(args.nodes);

interface BenchNode {
  node: RawNode;
  storage: MemoryStorage;
  applied: number;
}

function makeGroup(): Map<NodeId, BenchNode> {
  const ids = Array.from({ length: nodeCount }, (_, i) => i + 1);
  const nodes = new Map<NodeId, BenchNode>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    RawNode.bootstrap(storage, ids);
    const node = new RawNode({
      id,
      storage,
      electionTicks: 10,
      heartbeatTicks: 2,
      maxSizePerMsgBytes: 1 << 20,
      maxInflightMsgs: 256,
      maxInflightBytes: 0,
      checkQuorum: true,
      preVote: true,
      readOnlyOption: 'safe',
      random: mulberry32(id),
    });
    nodes.set(id, { node, storage, applied: 0 });
  }
  return nodes;
}

let queue: Message[] = [];

function handleReady(n: BenchNode): boolean {
  if (!n.node.hasReady()) return false;
  const rd = n.node.ready();
  for (const m of rd.messagesBeforePersist) queue.push(m);
  if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
  n.storage.append(rd.entries);
  if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
  for (const m of rd.messages) queue.push(m);
  for (const e of rd.committedEntries) {
    if (e.type === EntryType.ConfChange) n.node.applyConfChange(decodeConfChange(e.data));
    n.applied = e.index;
  }
  n.node.advance(rd);
  return true;
}

function settle(nodes: Map<NodeId, BenchNode>): void {
  for (;;) {
    let any = false;
    for (const n of nodes.values()) while (handleReady(n)) any = true;
    if (queue.length > 0) {
      const msgs = queue;
      queue = [];
      for (const m of msgs) nodes.get(m.to)!.node.step(m);
      any = true;
    }
    if (!any) return;
  }
}

function run(batch: number): { commits: number; ms: number } {
  const nodes = makeGroup();
  settle(nodes);
  nodes.get(1)!.node.campaign();
  settle(nodes);
  const leader = nodes.get(1)!;
  const payload = new Uint8Array(entryBytes).fill(7);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let commits = 0;
  let tickEvery = 0;
  while (performance.now() < deadline) {
    for (let r = 0; r < 50; r++) {
      for (let i = 0; i < batch; i++) leader.node.propose(payload);
      settle(nodes);
      commits += batch;
      // Heartbeats at a realistic ratio: one tick per ~5 ms of a 40k/s stream.
      if (++tickEvery % 8 === 0) {
        for (const n of nodes.values()) n.node.tick();
        settle(nodes);
      }
    }
  }
  const ms = performance.now() - start;
  const st = leader.node.status();
  if (st.role !== 'leader' || leader.applied !== st.commit) throw new Error('leader lost leadership or lagging');
  // Keep memory bounded across runs: nothing to compact here, the run is short.
  return { commits, ms };
}

for (const batch of [Number(args.batch), 1]) {
  run(batch); // warm-up JIT
  const r = run(batch);
  const perSec = Math.round((r.commits / r.ms) * 1000);
  console.log(
    `raft core, ${nodeCount} nodes in one process, batch ${batch}, ${entryBytes} B entries: ` +
      `${perSec.toLocaleString('en-US')} commits/s (${r.commits} in ${Math.round(r.ms)} ms)`,
  );
}
