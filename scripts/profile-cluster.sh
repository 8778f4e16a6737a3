#!/usr/bin/env bash
# CPU profile of a 3-node memraft cluster under memcaslap load.
#
#   bash scripts/profile-cluster.sh [--seconds 20] [--out DIR] [--mix get90|set]
#        [--concurrency 32] [--threads 2] [--strace SECS] [--perf] [--no-cpu-prof]
#        [-- extra serve flags]
#
# Starts 3 nodes of this checkout (dist/cli/main.js, built if missing) under
# `node --cpu-prof`, with cluster.sh's flags (--id --listen --peer-listen --admin-listen
# --initial-cluster --data-dir) plus `--fsync always -m 1024 --log-level warn` as
# scripts/bench-cluster.ts does (16 groups, ReadIndex reads: the defaults), on free ports.
# Waits until every node's admin /status says ready (a leader for every group) and (up to
# 20 s) until leader balancing has spread the group leaders evenly, then runs memcaslap
# (-T threads, -c concurrency in total, 16-byte keys, 100-byte values, all three nodes in
# its server list) for --seconds, stops the nodes with SIGTERM (graceful shutdown, after
# which the process exits by itself and V8 writes the profile) and summarises the
# profiles, restricted to the load window, with scripts/cpuprofile-summary.mjs.
#
# Prints: memcaslap's ops and TPS, the servers' own cmd_get + cmd_set delta, each node's
# CPU (utime + stime of all its threads, from /proc/PID/stat; the main thread's user, sys
# and run-queue wait from /proc/PID/task/TID/schedstat), CPU µs per op for the three
# nodes together, write/read syscalls per op (/proc/PID/io syscw, syscr: sockets, LevelDB
# files and logs together), memcaslap's own CPU, and the profile summary.
#   --strace SECS  also `strace -c -f` node 1's syscalls for SECS s mid-run (slows that
#                  node down a lot: use a separate run, not the one whose figures you keep)
#   --perf         also `perf record -g` (499 Hz) all threads of the 3 nodes over the
#                  load window (nodes get --perf-basic-prof so JIT frames are named) and
#                  print perf's on-CPU breakdown by thread, shared object and symbol: it
#                  sees only on-CPU time, every thread, and the kernel (apt-get install -y
#                  linux-perf). It costs throughput: a separate run, again.
#   --no-cpu-prof  no V8 profiler, figures only (what the profiler itself costs).
#
# Files in DIR (default: a new /tmp/memraft-profile.XXXXXX): node<i>/*.cpuprofile,
# node<i>.log, memcaslap.txt, figures.txt, summary.txt, strace.txt, perf.txt; the data
# directories are deleted at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAIN="$ROOT/dist/cli/main.js"
HOST=127.0.0.1
READY_TIMEOUT_S=${MEMRAFT_READY_TIMEOUT_S:-60}

SECONDS_RUN=20 OUT="" MIX=get90 CONC=32 THREADS=2 STRACE_S=0 PERF=0 CPUPROF=1 EXTRA=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --mix) MIX=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --strace) STRACE_S=$2; shift 2 ;;
    --perf) PERF=1; shift ;;
    --no-cpu-prof) CPUPROF=0; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,35p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "profile-cluster.sh: unknown argument $1 (serve flags go after --)" >&2; exit 2 ;;
  esac
done
case "$MIX" in
  get90) CMDS=$'0 0.1\n1 0.9' ;;
  set) CMDS=$'0 1.0\n1 0.0' ;;
  *) echo "profile-cluster.sh: --mix get90|set" >&2; exit 2 ;;
esac
command -v memcaslap >/dev/null || { echo "profile-cluster.sh: memcaslap not found (apt-get install -y libmemcached-tools)" >&2; exit 1; }
[[ -f "$MAIN" ]] || (cd "$ROOT" && npm run build >/dev/null) || { echo "profile-cluster.sh: build failed" >&2; exit 1; }

if ((THREADS < 3)); then
  echo "profile-cluster.sh: note: memcaslap binds each thread to one server (thread i -> server i mod 3), so with --threads $THREADS node 3 gets no client connections; --threads 3 loads all three" >&2
fi
if [[ -z "$OUT" ]]; then OUT=$(mktemp -d /tmp/memraft-profile.XXXXXX); fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
DATA="$OUT/data"
rm -rf "$DATA" "$OUT"/node[123]
mkdir -p "$DATA"

# Nine free ports: client 1-3, peer 1-3, admin 1-3.
read -r -a PORTS <<<"$(node -e '
  const net = require("net");
  Promise.all(Array.from({ length: 9 }, () => new Promise((r) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => r(s)); })))
    .then((ss) => { const p = ss.map((s) => s.address().port); ss.forEach((s) => s.close()); console.log(p.join(" ")); });')"
client_port() { echo "${PORTS[$(($1 - 1))]}"; }
peer_port() { echo "${PORTS[$(($1 + 2))]}"; }
admin_port() { echo "${PORTS[$(($1 + 5))]}"; }
INITIAL="1=$HOST:$(peer_port 1),2=$HOST:$(peer_port 2),3=$HOST:$(peer_port 3)"
SERVERS="$HOST:$(client_port 1),$HOST:$(client_port 2),$HOST:$(client_port 3)"

PIDS=() ALL_PIDS=()
stop_nodes() {
  local pid i
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "profile-cluster.sh: node pid $pid still running 30 s after SIGTERM; SIGKILL (no profile)" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
cleanup() {
  stop_nodes
  [[ -n "${STRACE_PID:-}" ]] && kill "$STRACE_PID" 2>/dev/null || true
  [[ -n "${PERF_PID:-}" ]] && kill -INT "$PERF_PID" 2>/dev/null || true
  if ((PERF)); then for pid in "${ALL_PIDS[@]}"; do rm -f "/tmp/perf-$pid.map"; done; fi
  rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NODE_FLAGS=()
if ((PERF)); then
  command -v perf >/dev/null || { echo "profile-cluster.sh: perf not found (apt-get install -y linux-perf)" >&2; exit 1; }
  NODE_FLAGS+=(--perf-basic-prof)
fi
for i in 1 2 3; do
  mkdir -p "$OUT/node$i" "$DATA/node-$i"
  PROF_FLAGS=()
  if ((CPUPROF)); then PROF_FLAGS=(--cpu-prof --cpu-prof-dir="$OUT/node$i"); fi
  node "${NODE_FLAGS[@]}" "${PROF_FLAGS[@]}" "$MAIN" serve --id "$i" \
    --listen "$HOST:$(client_port "$i")" \
    --peer-listen "$HOST:$(peer_port "$i")" \
    --admin-listen "$HOST:$(admin_port "$i")" \
    --initial-cluster "$INITIAL" \
    --data-dir "$DATA/node-$i" \
    --fsync always -m 1024 --log-level warn "${EXTRA[@]}" >"$OUT/node$i.log" 2>&1 </dev/null &
  PIDS+=($!)
done
ALL_PIDS=("${PIDS[@]}")

node_ready() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => r.json())
    .then((s) => process.exit(s.ready === true ? 0 : 1), () => process.exit(1))' "http://$HOST:$(admin_port "$1")/status"
}
deadline=$((SECONDS + READY_TIMEOUT_S))
for i in 1 2 3; do
  until node_ready "$i"; do
    kill -0 "${PIDS[$((i - 1))]}" 2>/dev/null || { echo "profile-cluster.sh: node $i exited; see $OUT/node$i.log" >&2; exit 1; }
    ((SECONDS < deadline)) || { echo "profile-cluster.sh: node $i not ready after ${READY_TIMEOUT_S}s" >&2; exit 1; }
    sleep 0.2
  done
done
# Groups each node leads (data groups only), from node 1's /status. Leader balancing hands
# each node its fair share a few seconds after start: wait up to 20 s for max - min <= 1.
leads() {
  node -e 'fetch(process.argv[1]).then((r) => r.json()).then((s) => {
    const n = [0, 0, 0]; for (const g of s.groups ?? []) if (g.id !== 0 && g.leader >= 1 && g.leader <= 3) n[g.leader - 1]++;
    console.log(JSON.stringify(n)); process.exit(Math.max(...n) - Math.min(...n) <= 1 ? 0 : 1); }, () => { console.log("[0,0,0]"); process.exit(1); })' "http://$HOST:$(admin_port 1)/status"
}
deadline=$((SECONDS + 20))
until LEADS=$(leads); do ((SECONDS < deadline)) || break; sleep 0.5; done
echo "cluster ready: groups led by node 1/2/3: $LEADS; nodes $SERVERS (pids ${PIDS[*]}), out $OUT"

# One snapshot: monotonic µs (V8's profile clock), per node CPU ticks (all threads, main
# thread), syscr/syscw, and the servers' summed stats counters. Prints one JSON line.
snapshot() {
  node -e '
    const fs = require("fs"), net = require("net");
    const [pids, ports] = [process.argv[1].split(" "), process.argv[2].split(",")];
    const t = Number(process.hrtime.bigint() / 1000n);
    const stat = (path) => { const f = fs.readFileSync(path, "utf8").split(") ")[1].split(" "); return { user: Number(f[11]), sys: Number(f[12]) }; };
    const nodes = pids.map((pid) => {
      const io = Object.fromEntries(fs.readFileSync(`/proc/${pid}/io`, "utf8").trim().split("\n").map((l) => l.split(": ")).map(([k, v]) => [k, Number(v)]));
      const threads = {};
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        try {
          const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
          const [run, wait] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
          threads[tid] = { comm: tid === pid ? "main" : comm, ...stat(`/proc/${pid}/task/${tid}/stat`), runNs: run, waitNs: wait };
        } catch {}
      }
      return { pid, ...stat(`/proc/${pid}/stat`), threads, syscr: io.syscr, syscw: io.syscw };
    });
    const stats = (port) => new Promise((res, rej) => {
      const s = net.connect(Number(port), "127.0.0.1"); let buf = "";
      s.on("data", (d) => { buf += d; if (buf.includes("END\r\n")) { s.destroy(); res(buf); } });
      s.on("error", rej); s.write("stats\r\n");
    });
    Promise.all(ports.map((p) => stats(p.split(":")[1]))).then((outs) => {
      const c = {};
      outs.forEach((o, i) => {
        for (const m of o.matchAll(/^STAT (cmd_get|cmd_set|get_hits|get_misses) (\d+)/gm)) {
          c[m[1]] = (c[m[1]] ?? 0) + Number(m[2]);
          nodes[i][m[1]] = Number(m[2]);
        }
      });
      // Whole machine: busy and total jiffies over all CPUs (to see what else ran meanwhile).
      const cpu = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number); // user..steal
      const machine = { total: cpu.reduce((x, y) => x + y, 0), idle: cpu[3] + cpu[4] };
      console.log(JSON.stringify({ t, loadavg: fs.readFileSync("/proc/loadavg", "utf8").trim(), nodes, counters: c, machine }));
    });' "${PIDS[*]}" "$SERVERS"
}

printf 'key\n16 16 1\nvalue\n100 100 1\ncmd\n%s\n' "$CMDS" >"$OUT/memcaslap.cfg"
BEFORE=$(snapshot)
if ((STRACE_S > 0)); then
  command -v strace >/dev/null || { echo "profile-cluster.sh: strace not found (apt-get install -y strace)" >&2; exit 1; }
  (
    sleep $(((SECONDS_RUN - STRACE_S) / 2))
    timeout -s INT "$STRACE_S" strace -c -f -e trace=write,writev,pwrite64,sendmsg,sendto,fdatasync,fsync,read,readv,recvfrom,recvmsg,pread64 -p "${PIDS[0]}" -o "$OUT/strace.txt" || true
  ) &
  STRACE_PID=$!
fi
if ((PERF)); then
  perf record -q -F 499 -g -p "$(IFS=,; echo "${PIDS[*]}")" -o "$OUT/perf.data" -- sleep "$SECONDS_RUN" 2>"$OUT/perf-record.log" &
  PERF_PID=$!
fi
# Client connections per node, counted mid-run.
(
  sleep $((SECONDS_RUN / 2))
  for i in 1 2 3; do ss -Htn state established "( sport = :$(client_port "$i") )" 2>/dev/null | wc -l; done | tr '\n' ' ' >"$OUT/connections.txt"
) &
CONN_PID=$!
TIMEFORMAT='user %U s, sys %S s, wall %R s'
{ time memcaslap -s "$SERVERS" -t "${SECONDS_RUN}s" -T "$THREADS" -c "$CONC" -F "$OUT/memcaslap.cfg" -S "${SECONDS_RUN}s" >"$OUT/memcaslap.txt" 2>&1 || true; } 2>"$OUT/memcaslap-time.txt"
AFTER=$(snapshot)
wait "$CONN_PID" 2>/dev/null || true
if [[ -n "${STRACE_PID:-}" ]]; then wait "$STRACE_PID" || true; STRACE_PID=""; fi
if [[ -n "${PERF_PID:-}" ]]; then wait "$PERF_PID" || true; PERF_PID=""; fi

stop_nodes
for i in 1 2 3; do
  ((CPUPROF)) || break
  ls "$OUT/node$i"/*.cpuprofile >/dev/null 2>&1 || { echo "profile-cluster.sh: node $i wrote no .cpuprofile (see $OUT/node$i.log)" >&2; exit 1; }
done

# The figures.
OPS=$(node -e '
  const [out, before, after, seconds, mix, conc, threads, extra, leads, connsText, caslapTime] = process.argv.slice(1);
  const conns = connsText.trim().split(/\s+/);
  const b = JSON.parse(before), a = JSON.parse(after);
  const m = /Run time: ([\d.]+)s Ops: (\d+) TPS: (\d+)/.exec(out);
  const caslapOps = m ? Number(m[2]) : 0, tps = m ? Number(m[3]) : 0;
  const d = (k) => (a.counters[k] ?? 0) - (b.counters[k] ?? 0);
  const served = d("cmd_get") + d("cmd_set");
  const wallS = (a.t - b.t) / 1e6;
  const hz = 100; // USER_HZ
  const lines = [];
  lines.push(`mix ${mix}, memcaslap -T ${threads} -c ${conc}, ${seconds}s, 16-byte keys, 100-byte values; serve flags: --fsync always -m 1024 --log-level warn ${extra}`.trimEnd());
  lines.push(`loadavg before: ${b.loadavg}   after: ${a.loadavg}`);
  lines.push(m ? `memcaslap: ${caslapOps} ops, TPS ${tps}` : "memcaslap: output not understood (see memcaslap.txt)");
  lines.push(`servers: cmd_get ${d("cmd_get")} (hits ${d("get_hits")}, misses ${d("get_misses")}), cmd_set ${d("cmd_set")}; ${served} ops in ${wallS.toFixed(1)} s = ${(served / wallS).toFixed(0)} ops/s (${caslapOps ? ((100 * served) / caslapOps).toFixed(1) : "-"}% of memcaslap ops)`);
  let cpuAll = 0, cpuMain = 0, waitMain = 0, w = 0, r = 0;
  a.nodes.forEach((n, i) => {
    const o = b.nodes[i];
    const cpu = (n.user + n.sys - o.user - o.sys) / hz;
    const th = (tid) => { const x = n.threads[tid], y = o.threads[tid] ?? { user: 0, sys: 0, runNs: 0, waitNs: 0 };
      return { comm: x.comm, user: (x.user - y.user) / hz, sys: (x.sys - y.sys) / hz, wait: (x.waitNs - y.waitNs) / 1e9 }; };
    const main = th(n.pid);
    const others = Object.keys(n.threads).filter((t) => t !== n.pid).sort((x, y) => x - y).map((t) => ({ tid: t, ...th(t) }))
      .filter((t) => t.user + t.sys > 0).map((t) => `${t.comm}[${t.tid}] ${(t.user + t.sys).toFixed(2)}`);
    cpuAll += cpu; cpuMain += main.user + main.sys; waitMain += main.wait; w += n.syscw - o.syscw; r += n.syscr - o.syscr;
    const clientOps = n.cmd_get + n.cmd_set - o.cmd_get - o.cmd_set;
    lines.push(`node ${i + 1} (pid ${n.pid}, leads ${JSON.parse(leads)[i]} groups, served ${clientOps} client ops = ${((100 * clientOps) / Math.max(1, served)).toFixed(0)}%, ${conns[i] ?? "?"} client connections mid-run): CPU ${cpu.toFixed(2)} s (user ${((n.user - o.user) / hz).toFixed(2)}, sys ${((n.sys - o.sys) / hz).toFixed(2)}) = ${((100 * cpu) / wallS).toFixed(0)}% of a core; write syscalls ${n.syscw - o.syscw}, read syscalls ${n.syscr - o.syscr}`);
    lines.push(`    main thread: user ${main.user.toFixed(2)} s, sys ${main.sys.toFixed(2)} s, runnable-but-waiting-for-a-CPU ${main.wait.toFixed(2)} s; other threads (CPU s): ${others.join(", ") || "-"}`);
  });
  const per = (x) => (served > 0 ? (x / served) : NaN);
  lines.push(`3 nodes: CPU ${cpuAll.toFixed(2)} s (main threads ${cpuMain.toFixed(2)} s) = ${(per(cpuAll) * 1e6).toFixed(0)} us per op (main threads ${(per(cpuMain) * 1e6).toFixed(0)} us), per server-counted op; main threads waited ${waitMain.toFixed(2)} s for a CPU`);
  lines.push(`3 nodes: ${per(w).toFixed(2)} write syscalls and ${per(r).toFixed(2)} read syscalls per op (all fds; /proc/PID/io syscw, syscr)`);
  const mTotal = (a.machine.total - b.machine.total) / hz, mBusy = mTotal - (a.machine.idle - b.machine.idle) / hz;
  const caslap = /user ([0-9.]+) s, sys ([0-9.]+) s/.exec(caslapTime);
  const caslapCpu = caslap ? Number(caslap[1]) + Number(caslap[2]) : 0;
  lines.push(`memcaslap process: ${caslapTime.trim() || "?"}`);
  lines.push(`machine: ${mBusy.toFixed(1)} of ${mTotal.toFixed(1)} CPU-s busy (${((100 * mBusy) / mTotal).toFixed(0)}%): the 3 nodes ${cpuAll.toFixed(1)}, memcaslap ${caslapCpu.toFixed(1)}, everything else (other users, kernel threads, these scripts) ${(mBusy - cpuAll - caslapCpu).toFixed(1)} CPU-s`);
  lines.push(`profile window (monotonic us): ${b.t} .. ${a.t}`);
  process.stderr.write(lines.join("\n") + "\n");
  console.log(`${served} ${b.t} ${a.t} ${Math.round(cpuMain * 1e6)}`);
' "$(cat "$OUT/memcaslap.txt")" "$BEFORE" "$AFTER" "$SECONDS_RUN" "$MIX" "$CONC" "$THREADS" "${EXTRA[*]:-}" "$LEADS" "$(cat "$OUT/connections.txt" 2>/dev/null)" "$(cat "$OUT/memcaslap-time.txt")" 2>"$OUT/figures.txt")
cat "$OUT/figures.txt"
read -r SERVED T0 T1 MAINCPU <<<"$OPS"
if [[ -s "$OUT/strace.txt" ]]; then
  echo; echo "strace -c -f of node 1 for ${STRACE_S}s (this run's node 1 was slowed by it):"; cat "$OUT/strace.txt"
fi
perf_top() { # perf report sorted by $1, first $2 lines (head closing the pipe early is fine)
  perf report -i "$OUT/perf.data" --no-children --stdio --sort "$1" -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -"$2" || true
}
if ((PERF)) && [[ -s "$OUT/perf.data" ]]; then
  {
    echo; echo "perf (on-CPU samples of all threads of the 3 nodes, load window):"
    echo "-- by thread name:"; perf_top comm 12
    echo "-- by shared object:"; perf_top dso 15
    echo "-- top 40 symbols (self):"; perf_top dso,sym 40
  } >"$OUT/perf.txt"
  cat "$OUT/perf.txt"
fi
((CPUPROF)) || exit 0
echo
node "$ROOT/scripts/cpuprofile-summary.mjs" --repo "$ROOT" --ops "$SERVED" --main-cpu-us "$MAINCPU" --from-us "$T0" --to-us "$T1" --depth 4 \
  --callers '^(writeBuffer|writev|writeUtf8String|writeLatin1String)$' --callers '^_write$' "$OUT"/node1 "$OUT"/node2 "$OUT"/node3 | tee "$OUT/summary.txt"
echo
echo "profiles: $OUT/node{1,2,3}/*.cpuprofile (open in Chrome DevTools > Performance, or speedscope); figures: $OUT/figures.txt"
