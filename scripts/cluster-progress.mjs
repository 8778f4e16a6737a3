#!/usr/bin/env node
/**
 * Progress of replica moves for scripts/cluster.sh (`add`, `drain`, `moves`): polls the
 * admin endpoints (`/ctl/status` of any node, `/status` of the node that changes) and
 * prints moves done/total, moves in flight and bytes moved: a bar redrawn in place when
 * stderr is a terminal, otherwise one plain line whenever a figure changes. Exits 0 when
 * done, 1 with the reason on stderr when the deadline passes.
 *
 *   node cluster-progress.mjs drain|add|settle <node id> <ctl admin URL> <node admin URL> <timeout s>
 *
 * drain: total = data groups on the node at the start; done = those no longer on it; bytes
 *   = their size on the node; finished when the meta state says `removed`.
 * add: total = the node's fair share, ceil(groups x replicas / up nodes); done = groups on
 *   it; bytes = their size there; finished when no move is in flight (twice in a row) and
 *   it holds a replica, or nothing has moved for 10 s.
 * settle: total = moves seen; done = those finished; finished when none is in flight.
 */
const [mode, idArg, ctlUrl, nodeUrl, timeoutArg] = process.argv.slice(2);
const id = Number(idArg);
const deadline = Date.now() + Number(timeoutArg) * 1000;
const tty = process.stderr.isTTY === true;
const label = mode === 'settle' ? 'rebalance' : `${mode} node ${id}`;

async function get(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return res.status === 200 ? await res.json() : null;
  } catch {
    return null;
  }
}

const mib = (b) => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
let lastLine = '';

function show(done, total, inFlight, bytes) {
  const moved = mode === 'settle' ? '' : `, ${bytes === null ? '? bytes' : mib(bytes)} moved`;
  const figures = `${done}/${total} moves done, ${inFlight} in flight${moved}`;
  if (tty) {
    const width = 24;
    const filled = total === 0 ? width : Math.round((Math.min(done, total) / total) * width);
    process.stderr.write(`\r${label}: [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${figures}\x1b[K`);
  } else if (figures !== lastLine) {
    process.stderr.write(`${label}: ${figures}\n`);
  }
  lastLine = figures;
}

function finish(code, message) {
  if (tty && lastLine !== '') process.stderr.write('\n');
  if (message !== undefined) process.stderr.write(`cluster.sh: ${message}\n`);
  process.exit(code);
}

const dataGroups = (s) => (s?.groups ?? []).filter((g) => g.id !== 0);
const sizes = async () => {
  const s = await get(`${nodeUrl}/status`);
  return s === null ? null : new Map(dataGroups(s).map((g) => [g.id, g.bytes]));
};

let startSizes = null;
let startGroups = null;
const seenMoves = new Set();
let settledPolls = 0;
let lastChange = Date.now();
let lastFigures = '';

for (;;) {
  const s = await get(`${ctlUrl}/ctl/status`);
  if (s !== null) {
    const mine = dataGroups(s).filter((g) => g.replicas.includes(id)).map((g) => g.id);
    const moves = s.moves ?? [];
    const state = s.nodes.find((n) => n.id === id)?.state;
    if (mode === 'drain') {
      startGroups ??= new Set(mine);
      startSizes ??= await sizes();
      const gone = [...startGroups].filter((g) => !mine.includes(g));
      const bytes = startSizes === null ? null : gone.reduce((sum, g) => sum + (startSizes.get(g) ?? 0), 0);
      show(gone.length, startGroups.size, moves.filter((m) => m.from === id).length, bytes);
      if (state === 'removed') finish(0);
    } else if (mode === 'add') {
      const groups = dataGroups(s);
      const up = s.nodes.filter((n) => n.state === 'up').length;
      const total = Math.ceil((groups.length * (groups[0]?.replicas.length ?? 0)) / Math.max(up, 1));
      const now = await sizes();
      const bytes = now === null ? null : mine.reduce((sum, g) => sum + (now.get(g) ?? 0), 0);
      show(Math.min(mine.length, total), total, moves.filter((m) => m.to === id).length, bytes);
      const figures = `${mine.length} ${moves.length}`;
      if (figures !== lastFigures) [lastFigures, lastChange] = [figures, Date.now()];
      settledPolls = moves.length === 0 && state === 'up' ? settledPolls + 1 : 0;
      if (settledPolls >= 2 && (mine.length > 0 || Date.now() - lastChange > 10_000)) finish(0);
    } else {
      for (const m of moves) seenMoves.add(`${m.group}:${m.from}:${m.to}`);
      const current = new Set(moves.map((m) => `${m.group}:${m.from}:${m.to}`));
      show(seenMoves.size - current.size, seenMoves.size, current.size, null);
      if (moves.length === 0) finish(0);
    }
  }
  if (Date.now() > deadline) finish(1, `${label} not finished after ${timeoutArg} s (last: ${lastLine || 'no answer from the admin listener'})`);
  await new Promise((r) => setTimeout(r, 500));
}
