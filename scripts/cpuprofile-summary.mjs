#!/usr/bin/env node
/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`), e.g. the ones
 * scripts/profile-cluster.sh writes for each node of a cluster.
 *
 *   node scripts/cpuprofile-summary.mjs [--top 40] [--repo DIR] [--ops N] [--main-cpu-us C]
 *       [--from-us T0 --to-us T1] [--callers REGEX [--depth 3]] FILE_OR_DIR...
 *
 * Directories are searched (recursively) for *.cpuprofile. Several profiles are merged
 * (their samples add up). Prints:
 *   (a) the top functions by self time (share of all samples, and of the busy ones,
 *       i.e. excluding `(idle)`), with file basename:line (1-based, of the file V8 ran:
 *       dist/*.js for memraft's own code);
 *   (b) self time by source file: repo-relative paths, node_modules/<pkg>/..., node's own
 *       JavaScript as `node:internal`, and `(garbage collector)`, `(program)`, `(idle)`,
 *       `(native)` (functions without a script, e.g. C++ builtins) separately;
 *   (c) inclusive time of named entry points (each sample counted once per entry point,
 *       however deep the recursion);
 *   (e) busy time by activity, each sample in exactly one: GC, (program), socket write
 *       calls (client / peer), else the area of the nearest frame outside node's own code
 *       (msgpack encode / decode, LevelDB + storage, client protocol + connection, Raft
 *       core, cache state machine, transport, cluster host + replica, other).
 * With --ops N (client operations served while profiling) times are also given per
 * operation: profiled µs per op, or, with --main-cpu-us C (the main threads' measured CPU
 * time, utime + stime, over the same window), C distributed over the functions by their
 * share of the busy samples. V8 samples wall-clock time: a busy sample is taken whether
 * the main thread is on a CPU or waiting for one (preempted on a busy machine) or blocked
 * in a system call, so busy time can exceed CPU time; the scaled column assumes the
 * difference is spread evenly. Threads other than the main one (libuv pool: LevelDB
 * writes and fsync; V8's GC helpers) are not in the profile at all. Each sample is
 * weighted by the time until the next sample (as Chrome DevTools does), so a changed
 * --cpu-prof-interval needs no correction. --from-us/--to-us
 * keep only the samples taken in that window, in V8's clock, which is CLOCK_MONOTONIC in
 * µs (`process.hrtime.bigint() / 1000n` in any process on the machine): e.g. only the
 * load phase of a run, without start-up and shutdown.
 * --callers REGEX (repeatable): (d) the self time of the functions whose name matches,
 * split by their nearest --depth (default 3) callers outside node's own code, e.g.
 * `--callers '^writeBuffer$'` for who writes to sockets.
 * Plain Node ESM, no dependencies.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({
  options: {
    top: { type: 'string', default: '40' },
    repo: { type: 'string', default: resolve(dirname(fileURLToPath(import.meta.url)), '..') },
    ops: { type: 'string' },
    'main-cpu-us': { type: 'string' },
    callers: { type: 'string', multiple: true, default: [] },
    depth: { type: 'string', default: '3' },
    'from-us': { type: 'string' },
    'to-us': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: true,
});
if (opts.help || positionals.length === 0) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0].replace(/^#!.*\n\/\*\*\n/, '').replace(/^ \* ?/gm, ''));
  process.exit(positionals.length === 0 && !opts.help ? 2 : 0);
}
const topN = Number(opts.top);
const repo = resolve(opts.repo);
const ops = opts.ops === undefined ? 0 : Number(opts.ops);
const mainCpuUs = opts['main-cpu-us'] === undefined ? 0 : Number(opts['main-cpu-us']);
// Sample window in V8's clock (CLOCK_MONOTONIC µs, = process.hrtime.bigint() / 1000n).
const fromUs = opts['from-us'] === undefined ? -Infinity : Number(opts['from-us']);
const toUs = opts['to-us'] === undefined ? Infinity : Number(opts['to-us']);

/**
 * Entry points for (c): a label, a test on the source file (repo-relative path or url)
 * and one on the function name. A frame matching both puts the sample in the label.
 */
const entryPoints = [
  ['ClusterHost runFlush (the whole flush pass)', /cluster\/host\.js$/, /^runFlush$/],
  ['ClusterHost.flush', /cluster\/host\.js$/, /^flush$/],
  ['ClusterHost.persist / complete (batch to LevelDB; after it, send + apply)', /cluster\/host\.js$/, /^persist$|^complete$/],
  ['ClusterHost.sendMessages (Raft msgs -> transport)', /cluster\/host\.js$/, /^sendMessages$/],
  ['ClusterHost.onPeerMessages (Raft msgs in)', /cluster\/host\.js$/, /^onPeerMessages$/],
  ['ClusterHost.onPeerRequest (serve a forwarded op)', /cluster\/host\.js$/, /^onPeerRequest$/],
  ['ClusterHost.attemptRemote (forward an op)', /cluster\/host\.js$/, /^attemptRemote$/],
  ['ClusterHost.onRemoteAnswer', /cluster\/host\.js$/, /^onRemoteAnswer$/],
  ['ClusterHost.tick', /cluster\/host\.js$/, /^tick$/],
  ['ClientConnection onData (client socket in)', /server\/connection\.js$/, /^onData$/],
  ['any frame in server/connection.js', /server\/connection\.js$/, /./],
  ['any frame in protocol/*', /(^|\/)protocol\/[^/]+\.js$/, /./],
  ['any frame in raft/* (Raft core)', /(^|\/)raft\/[^/]+\.js$/, /./],
  ['Replica.* (any replica.js method)', /cluster\/replica\.js$/, /./],
  ['Replica.prepare', /cluster\/replica\.js$/, /^prepare$/],
  ['Replica.collect', /cluster\/replica\.js$/, /^collect$/],
  ['Replica.afterPersist / finishPersisted / applyEarly', /cluster\/replica\.js$/, /^(afterPersist|finishPersisted|applyEarly)$/],
  ['Replica.submit', /cluster\/replica\.js$/, /^submit$/],
  ['LevelLogStore.write', /storage\/level-log-store\.js$/, /^write$/],
  ['any frame in storage/*', /(^|\/)storage\/[^/]+\.js$/, /./],
  ['any frame in classic-level/abstract-level', /node_modules\/(classic-level|abstract-level|level)\//, /./],
  ['Transport.send', /transport\/transport\.js$/, /^send$/],
  ['OutboundLink.flush (encode + write a batch)', /transport\/outbound-link\.js$/, /^flush$/],
  ['encodeFrame (msgpackr pack of a frame)', /transport\/frame\.js$/, /^encodeFrame$/],
  ['decodeFrameBody (msgpackr unpack of a frame)', /transport\/frame\.js$/, /^decodeFrameBody$/],
  ['msgpackr pack (any caller)', /node_modules\/msgpackr\//, /^pack$/],
  ['msgpackr unpack (any caller)', /node_modules\/msgpackr\//, /^(unpack|checkedRead)$/],
  ['InboundConnection onData (peer socket in)', /transport\/inbound-connection\.js$/, /^onData$/],
  ['OutboundLink onData (peer answers in)', /transport\/outbound-link\.js$/, /^onData$/],
  ['any frame in transport/*', /(^|\/)transport\/[^/]+\.js$/, /./],
  ['any frame in cache/* (state machine, LRU)', /(^|\/)cache\/[^/]+\.js$/, /./],
  ['socket writes (stream_base writeGeneric / writevGeneric)', /^node:internal\/stream_base_commons$/, /^(writeGeneric|writevGeneric)$/],
  ['stream Writable.write / uncork (any stream)', /^node:internal\/streams\/writable$/, /^(Writable\.write|Writable\.uncork)$/],
  ['socket reads (node:internal onStreamRead)', /^node:internal\/stream_base_commons$/, /^onStreamRead$/],
  ['processTicksAndRejections (promise jobs / nextTick)', /^node:internal\/process\/task_queues$/, /^processTicksAndRejections$/],
  ['processImmediate (setImmediate callbacks)', /^node:internal\/timers$/, /^processImmediate$/],
  ['listOnTimeout (timers)', /^node:internal\/timers$/, /^listOnTimeout$/],
  ['pino logging', /node_modules\/pino\//, /./],
];

/** (e): areas by the file of the nearest frame outside node's own code. */
const areas = [
  ['msgpack encode (msgpackr pack)', /node_modules\/msgpackr\/pack\.js$|node_modules\/msgpackr\/dist\/.*/],
  ['msgpack decode (msgpackr unpack)', /node_modules\/msgpackr\/unpack\.js$/],
  ['LevelDB + storage (classic-level, storage/*)', /node_modules\/(classic-level|abstract-level|level|level-transcoder|module-error|maybe-combine-errors)\/|(^|\/)storage\/[^/]+\.js$/],
  ['client protocol + connection (protocol/*, server/*)', /(^|\/)(protocol|server)\/[^/]+\.js$/],
  ['Raft core (raft/*)', /(^|\/)raft\/[^/]+\.js$/],
  ['cache state machine (cache/*)', /(^|\/)cache\/[^/]+\.js$/],
  ['transport (framing, links, requests)', /(^|\/)transport\/[^/]+\.js$/],
  ['cluster host + replica (cluster/*)', /(^|\/)cluster\/[^/]+\.js$/],
  ['membership (meta state, planner)', /(^|\/)membership\/[^/]+\.js$/],
  ['pino logging', /node_modules\/pino/],
];
const socketWriteFns = /^(writeBuffer|writev|writeUtf8String|writeLatin1String|writeAsciiString|writeUcs2String)$/;

// ---- reading --------------------------------------------------------------------------

function findProfiles(p, out) {
  const st = statSync(p);
  if (st.isDirectory()) {
    for (const e of readdirSync(p).sort()) findProfiles(join(p, e), out);
  } else if (p.endsWith('.cpuprofile') || out.explicit.has(p)) {
    out.files.push(p);
  }
  return out;
}

const found = { files: [], explicit: new Set(positionals.map((p) => resolve(p))) };
for (const p of positionals) findProfiles(resolve(p), found);
if (found.files.length === 0) {
  console.error('cpuprofile-summary: no .cpuprofile files found');
  process.exit(1);
}

/** Display name of a script url: repo-relative, node_modules/..., node:..., or ''. */
function fileOf(url) {
  if (url === '') return '';
  if (url.startsWith('node:')) return url;
  let path = url;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch {
      path = url.slice(7);
    }
  }
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + 1);
  if (path.startsWith(repo + '/')) return relative(repo, path);
  return path;
}

/** The (b) bucket of a frame. */
function bucketOf(fn, file) {
  if (file === '') {
    if (fn === '(garbage collector)' || fn === '(program)' || fn === '(idle)' || fn === '(root)') return fn;
    return '(native)';
  }
  if (file.startsWith('node:')) return 'node:internal';
  return file;
}

// Merged totals over all profiles.
const selfByFn = new Map(); // key -> { fn, file, line, us, samples }
const selfByFile = new Map(); // bucket -> us
const inclusive = new Map(); // label -> us
const activity = new Map(); // (e) area -> us
const callerRes = opts.callers.map((r) => new RegExp(r));
const callerDepth = Number(opts.depth);
const callerPaths = callerRes.map(() => new Map()); // per regex: path -> us
let totalUs = 0;
let totalSamples = 0;
const perProfile = [];

for (const file of found.files) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map();
  for (const n of prof.nodes) byId.set(n.id, n);
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Per node: its display fields and the entry-point labels on its stack (memoised).
  const info = new Map();
  const infoOf = (id) => {
    let x = info.get(id);
    if (x !== undefined) return x;
    const n = byId.get(id);
    const cf = n.callFrame;
    const f = fileOf(cf.url ?? '');
    const fn = cf.functionName || '(anonymous)';
    const own = [];
    for (let i = 0; i < entryPoints.length; i++) {
      const [, fileRe, fnRe] = entryPoints[i];
      if (f !== '' && fileRe.test(f) && fnRe.test(fn)) own.push(i);
    }
    const p = parent.get(id);
    const labels = new Set(p === undefined ? [] : infoOf(p).labels);
    for (const i of own) labels.add(i);
    x = { id, fn, file: f, line: (cf.lineNumber ?? -1) + 1, bucket: bucketOf(fn, f), labels, callers: null, area: null };
    info.set(id, x);
    return x;
  };

  // The activity of a sample whose leaf is x (see (e)).
  const areaOf = (x) => {
    if (x.fn === '(idle)' || x.fn === '(garbage collector)' || x.fn === '(program)' || x.fn === '(root)') return x.fn;
    let nearest = null;
    for (let p = x.id; p !== undefined; p = parent.get(p)) {
      const y = infoOf(p);
      if (y.file === '' || y.file.startsWith('node:')) continue;
      nearest = y;
      break;
    }
    if (x.file === '' && socketWriteFns.test(x.fn)) {
      const who = nearest === null ? 'other' : /server\/connection\.js$/.test(nearest.file) ? 'to clients' : /transport\//.test(nearest.file) ? 'to peers' : 'other';
      return `socket write calls ${who} (native, incl. the syscall)`;
    }
    if (nearest === null) return 'node internals only (timers, streams, microtasks)';
    for (const [label, re] of areas) if (re.test(nearest.file)) return label;
    return `other: ${nearest.file}`;
  };

  const samples = prof.samples ?? [];
  const deltas = prof.timeDeltas ?? [];
  const meanDelta = samples.length > 1 ? (prof.endTime - prof.startTime) / samples.length : 1000;
  let profUs = 0;
  let idleUs = 0;
  let kept = 0;
  let t = prof.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    if (t < fromUs || t >= toUs) continue;
    kept++;
    // The interval [t_i, t_{i+1}) belongs to sample i.
    let w = i + 1 < deltas.length ? deltas[i + 1] : meanDelta;
    if (!(w >= 0)) w = 0;
    const x = infoOf(samples[i]);
    profUs += w;
    if (x.fn === '(idle)') idleUs += w;
    const key = `${x.fn}\u0000${x.file}\u0000${x.line}`;
    let s = selfByFn.get(key);
    if (s === undefined) selfByFn.set(key, (s = { fn: x.fn, file: x.file, line: x.line, us: 0, samples: 0 }));
    s.us += w;
    s.samples++;
    selfByFile.set(x.bucket, (selfByFile.get(x.bucket) ?? 0) + w);
    for (const l of x.labels) inclusive.set(l, (inclusive.get(l) ?? 0) + w);
    if (x.area === null) x.area = areaOf(x);
    activity.set(x.area, (activity.get(x.area) ?? 0) + w);
    for (let c = 0; c < callerRes.length; c++) {
      if (!callerRes[c].test(x.fn)) continue;
      if (x.callers === null) {
        const path = [];
        for (let p = parent.get(x.id); p !== undefined && path.length < callerDepth; p = parent.get(p)) {
          const y = infoOf(p);
          if (y.file === '' || y.file.startsWith('node:')) continue;
          path.push(`${y.fn} ${basename(y.file)}:${y.line}`);
        }
        x.callers = path.join(' < ') || '(no caller outside node)';
      }
      const m = callerPaths[c];
      m.set(x.callers, (m.get(x.callers) ?? 0) + w);
    }
  }
  totalUs += profUs;
  totalSamples += kept;
  perProfile.push({ file, samples: kept, us: profUs, idleUs });
}

// ---- printing -------------------------------------------------------------------------

const idleUs = selfByFile.get('(idle)') ?? 0;
const busyUs = totalUs - idleUs;
const pct = (us, of) => (of > 0 ? ((100 * us) / of).toFixed(1) : '-').padStart(6);
const ms = (us) => (us / 1000).toFixed(0).padStart(8);
const scale = mainCpuUs > 0 && busyUs > 0 ? mainCpuUs / busyUs : 1;
const perOp = (us, idle = false) => (ops > 0 ? (idle && mainCpuUs > 0 ? '-' : ((us * scale) / ops).toFixed(2)).padStart(9) : '');
const opHead = ops > 0 ? (mainCpuUs > 0 ? ' cpuus/op' : '   us/op') : '';

console.log(`profiles: ${found.files.length}, samples: ${totalSamples}, profiled ${(totalUs / 1e6).toFixed(1)} s of main-thread wall time, of which busy (not idle) ${(busyUs / 1e6).toFixed(1)} s`);
for (const p of perProfile) {
  console.log(`  ${relative(process.cwd(), p.file) || p.file}: ${p.samples} samples, ${(p.us / 1e6).toFixed(1)} s, idle ${pct(p.idleUs, p.us).trim()}%`);
}
if (ops > 0 && mainCpuUs > 0) {
  console.log(`client ops: ${ops}; main threads' CPU ${(mainCpuUs / 1e6).toFixed(2)} s = ${(mainCpuUs / ops).toFixed(1)} us/op vs ${(busyUs / ops).toFixed(1)} us/op of busy samples (ratio ${scale.toFixed(2)})`);
  console.log('cpuus/op = main-thread CPU us per client op, shared out by busy-sample share (all profiles together)');
} else if (ops > 0) {
  console.log(`client ops during the profile: ${ops}; us/op = profiled (sampled wall) us per client op, all profiles together`);
}

console.log(`\n(a) top ${topN} functions by self time (%all = of all samples, %busy = of non-idle samples)`);
console.log(`${'%all'.padStart(6)} ${'%busy'.padStart(6)} ${'ms'.padStart(8)}${opHead}  function  (file:line)`);
const fns = [...selfByFn.values()].sort((a, b) => b.us - a.us).slice(0, topN);
for (const s of fns) {
  const where = s.file === '' ? '' : `  ${s.file.startsWith('node:') ? s.file : basename(s.file)}:${s.line}`;
  const busy = s.fn === '(idle)' ? '     -' : pct(s.us, busyUs);
  console.log(`${pct(s.us, totalUs)} ${busy} ${ms(s.us)}${perOp(s.us, s.fn === '(idle)')}  ${s.fn}${where}`);
}

console.log('\n(b) self time by source file');
console.log(`${'%all'.padStart(6)} ${'%busy'.padStart(6)} ${'ms'.padStart(8)}${opHead}  file`);
for (const [bucket, us] of [...selfByFile.entries()].sort((a, b) => b[1] - a[1])) {
  if (us / totalUs < 0.001 && bucket !== '(garbage collector)') continue;
  const busy = bucket === '(idle)' ? '     -' : pct(us, busyUs);
  console.log(`${pct(us, totalUs)} ${busy} ${ms(us)}${perOp(us, bucket === '(idle)')}  ${bucket}`);
}
const small = [...selfByFile.entries()].filter(([b, us]) => us / totalUs < 0.001 && b !== '(garbage collector)');
if (small.length > 0) {
  const us = small.reduce((a, [, u]) => a + u, 0);
  console.log(`${pct(us, totalUs)} ${pct(us, busyUs)} ${ms(us)}${perOp(us)}  (${small.length} more files under 0.1% each)`);
}

console.log('\n(c) inclusive time of entry points (self + callees; absent ones omitted)');
console.log(`${'%all'.padStart(6)} ${'%busy'.padStart(6)} ${'ms'.padStart(8)}${opHead}  entry point`);
for (let i = 0; i < entryPoints.length; i++) {
  const us = inclusive.get(i);
  if (us === undefined) continue;
  console.log(`${pct(us, totalUs)} ${pct(us, busyUs)} ${ms(us)}${perOp(us)}  ${entryPoints[i][0]}`);
}

console.log('\n(e) busy time by activity (each sample once: GC, (program), socket write calls by caller, else the area of the nearest frame outside node)');
console.log(`${'%busy'.padStart(6)} ${'ms'.padStart(8)}${opHead}  activity`);
for (const [area, us] of [...activity.entries()].filter(([a]) => a !== '(idle)').sort((a, b) => b[1] - a[1])) {
  console.log(`${pct(us, busyUs)} ${ms(us)}${perOp(us)}  ${area}`);
}

for (let c = 0; c < callerRes.length; c++) {
  const m = callerPaths[c];
  const total = [...m.values()].reduce((a, b) => a + b, 0);
  console.log(`\n(d) self time of functions matching /${callerRes[c].source}/ (${pct(total, busyUs).trim()}% of busy) by nearest callers outside node (callee < caller < ...)`);
  console.log(`${'%busy'.padStart(6)} ${'ms'.padStart(8)}${opHead}  callers`);
  for (const [path, us] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`${pct(us, busyUs)} ${ms(us)}${perOp(us)}  ${path}`);
  }
}
