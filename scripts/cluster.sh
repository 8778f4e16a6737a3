#!/usr/bin/env bash
# A local memraft cluster on 127.0.0.1, as background processes.
#
#   scripts/cluster.sh start [--nodes N] [--base-port P] [--dir D] [extra `memraft serve` flags]
#   scripts/cluster.sh stop|status [--dir D] [--json]  # status --json: `memraft ctl status --json`
#   scripts/cluster.sh add [--dir D]              # start one more node that joins; prints its line
#   scripts/cluster.sh drain <id> [--dir D]       # move its replicas away, then stop it
#   scripts/cluster.sh kill <id> [--dir D]        # SIGKILL, no shutdown
#   scripts/cluster.sh restart <id>|all [--dir D] # (re)start one node, or every node, with its saved flags
#   scripts/cluster.sh moves [--dir D]            # follow replica moves in flight until none is left
#
# Node i (1-based) gets client port P+i-1, peer port P+100+i, admin port P+200+i; its data
# in D/node-i, its log in D/node-i.log, its pid in D/node-i.pid. Defaults: N=3, P=11211,
# D=./.cluster. `start` on a directory that holds a cluster resumes it as recorded in
# D/cluster.env (other --nodes/--base-port/flags are ignored, with a note), also after a
# crash of every node; a start that fails stops the nodes it started. `start` waits until
# every node's admin /status reports a leader for every group, then prints one
# `node <id> <host:client-port>` line per node. `add` and `drain` show the replica moves
# on stderr (a bar on a terminal, plain lines otherwise). A drained node is recorded
# (D/node-i.removed) and never started again.
# The first node started writes a fresh admin token to D/admin-token (mode 600) unless one is there; every
# node gets --admin-token-file, and drain/status pass it to `memraft ctl`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAIN="$ROOT/dist/cli/main.js"
HOST=127.0.0.1
READY_TIMEOUT_S=${MEMRAFT_READY_TIMEOUT_S:-60}
# How long `status` waits for a node's admin listener (a loaded node answers slowly).
ADMIN_TIMEOUT_MS=${MEMRAFT_ADMIN_TIMEOUT_MS:-5000}

# Nodes this command launched: a command that fails stops them (no orphans).
STARTED=()

die() {
  echo "cluster.sh: $*" >&2
  # Only the main shell owns STARTED (die also runs inside $(...) subshells).
  if [[ $BASHPID == "$$" ]]; then stop_started; fi
  exit 1
}

trap 'die "interrupted"' INT TERM

usage() {
  sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 2
}

client_port() { echo $((BASE + $1 - 1)); }
peer_port() { echo $((BASE + 100 + $1)); }
admin_port() { echo $((BASE + 200 + $1)); }

# Reads the flags saved by `start` (nodes, base port, extra serve flags).
load_env() {
  [[ -f "$DIR/cluster.env" ]] || die "no cluster in $DIR (run start first)"
  # shellcheck disable=SC1091
  source "$DIR/cluster.env"
}

save_env() { printf 'NODES=%q\nBASE=%q\nEXTRA=%q\n' "$NODES" "$BASE" "$EXTRA" >"$DIR/cluster.env"; }

initial_cluster() {
  local list="" i
  for ((i = 1; i <= NODES; i++)); do list+="${list:+,}$i=$HOST:$(peer_port "$i")"; done
  echo "$list"
}

alive() { [[ -f "$DIR/node-$1.pid" ]] && kill -0 "$(cat "$DIR/node-$1.pid")" 2>/dev/null; }

# A node drained out of the cluster: never started again.
removed() { [[ -f "$DIR/node-$1.removed" ]]; }

# The nodes of the cluster that are not removed.
members() {
  local i
  for ((i = 1; i <= NODES; i++)); do removed "$i" || echo "$i"; done
}

# Why node $1 stopped: the last `memraft:` line of its log (a fatal error, a usage error).
exit_reason() {
  local line
  line=$(grep -a '^memraft' "$DIR/node-$1.log" 2>/dev/null | tail -n 1 || true)
  echo "${line:-no error line in the log}; see $DIR/node-$1.log"
}

launch() {
  local i=$1
  if alive "$i"; then die "node $i already running (pid $(cat "$DIR/node-$i.pid"))"; fi
  removed "$i" && die "node $i was drained out of the cluster; it cannot be started again"
  mkdir -p "$DIR/node-$i"
  ensure_admin_token
  # shellcheck disable=SC2086
  local members="--initial-cluster $(initial_cluster)"
  # A node added by `add` joins through any running member instead.
  if [[ -f "$DIR/node-$i.joined" ]]; then members="--join $HOST:$(peer_port "$(any_alive "$i")")"; fi
  # shellcheck disable=SC2086
  # glibc: return freed large buffers instead of keeping them fragmented (docs/perf/memory.md).
  MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}" \
  nohup node "$MAIN" serve --id "$i" \
    --listen "$HOST:$(client_port "$i")" \
    --peer-listen "$HOST:$(peer_port "$i")" \
    --admin-listen "$HOST:$(admin_port "$i")" \
    --admin-token-file "$DIR/admin-token" \
    $members \
    --data-dir "$DIR/node-$i" $EXTRA >>"$DIR/node-$i.log" 2>&1 </dev/null &
  echo $! >"$DIR/node-$i.pid"
  STARTED+=("$i")
}

# SIGTERM node $1, SIGKILL after 10 s; forgets its pid.
stop_node() {
  local i=$1 tries=0
  if alive "$i"; then
    kill -TERM "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true
    while alive "$i" && ((tries < 100)); do sleep 0.1; tries=$((tries + 1)); done
    if alive "$i"; then kill -KILL "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true; fi
  fi
  rm -f "$DIR/node-$i.pid"
}

stop_started() {
  local i
  ((${#STARTED[@]})) || return 0
  echo "cluster.sh: stopping the nodes this command started: ${STARTED[*]}" >&2
  for i in "${STARTED[@]}"; do alive "$i" && kill -TERM "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true; done
  for i in "${STARTED[@]}"; do stop_node "$i"; done
  STARTED=()
}

# GET http://$HOST:<admin port of node $1>/status; prints {"unreachable": why} when the node
# does not answer. Node's own fetch, not curl: a fresh machine has node but maybe no curl.
admin_status() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(Number(process.argv[2])) }).then((r) => r.text())
    .then((t) => process.stdout.write(t), (e) => process.stdout.write(JSON.stringify({ unreachable:
      e.name === "TimeoutError" ? `no answer in ${process.argv[2]} ms` : String(e.cause?.code ?? e.message) })))' \
    "http://$HOST:$(admin_port "$1")/status" "${2:-2000}"
}

node_ready() {
  admin_status "$1" | grep -q '"ready":true'
}

# Waits until every given node is ready; any of them exiting meanwhile fails at once with its reason.
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT_S)) i pending=("$@") left
  while ((${#pending[@]})); do
    left=()
    for i in "${pending[@]}"; do
      alive "$i" || die "node $i exited: $(exit_reason "$i")"
      node_ready "$i" || left+=("$i")
    done
    ((${#left[@]})) || break
    pending=("${left[@]}")
    ((SECONDS < deadline)) || die "node(s) ${pending[*]} not ready after ${READY_TIMEOUT_S}s (down: $(down_list)); see $DIR/node-<id>.log"
    sleep 0.2
  done
}

down_list() {
  local i out=""
  for i in $(members); do alive "$i" || out+="${out:+,}$i"; done
  echo "${out:-none}"
}

print_nodes() {
  local i
  for i in $(members); do echo "node $i $HOST:$(client_port "$i")"; done
}

cmd_start() {
  local nodes="" base="" extra=""
  while (($#)); do
    case "$1" in
      --nodes) nodes=$2; shift 2 ;;
      --base-port) base=$2; shift 2 ;;
      --dir) DIR=$2; shift 2 ;;
      *) extra+="${extra:+ }$1"; shift ;;
    esac
  done
  [[ -f "$MAIN" ]] || (cd "$ROOT" && npm run build >/dev/null) || die "build failed"
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  if [[ -f "$DIR/cluster.env" ]]; then
    # Resume the recorded cluster: its data directories belong to that configuration.
    load_env
    local ignored=""
    [[ -n "$nodes" && "$nodes" != "$NODES" ]] && ignored+=" --nodes $nodes"
    [[ -n "$base" && "$base" != "$BASE" ]] && ignored+=" --base-port $base"
    [[ -n "$extra" && "$extra" != "$EXTRA" ]] && ignored+=" $extra"
    echo "cluster.sh: resuming the cluster recorded in $DIR/cluster.env ($(members | wc -l) nodes, base port $BASE)${ignored:+; ignored:$ignored (stop it and remove $DIR, or use another --dir, for a new cluster)}" >&2
  else
    NODES=${nodes:-3} BASE=${base:-11211} EXTRA=$extra
    save_env
  fi
  start_members
  print_nodes
}

# Launches every member that is not running, then waits until all members are ready.
start_members() {
  local i
  for i in $(members); do alive "$i" || launch "$i"; done
  # shellcheck disable=SC2046
  wait_ready $(members)
}

cmd_stop() {
  load_env
  local i
  for ((i = 1; i <= NODES; i++)); do
    alive "$i" && kill -TERM "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true
  done
  for ((i = 1; i <= NODES; i++)); do stop_node "$i"; done
  echo "stopped"
}

# The lowest running node other than $1.
any_alive() {
  local i
  for ((i = 1; i <= NODES; i++)); do
    if [[ "$i" != "${1:-0}" ]] && alive "$i"; then echo "$i"; return; fi
  done
  die "no running node"
}

ctl() { node "$MAIN" ctl --admin "$HOST:$(admin_port "$(any_alive "${EXCEPT:-0}")")" --admin-token-file "$DIR/admin-token" "$@"; }

# One admin token per cluster directory, kept across restarts (the nodes read it at start).
ensure_admin_token() {
  [[ -s "$DIR/admin-token" ]] && return
  (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("hex") + "\n")' >"$DIR/admin-token")
}

# Follows replica moves (scripts/cluster-progress.mjs) for `add`/`drain` of node $2, or `settle`.
progress() {
  local via
  via=$(any_alive "${EXCEPT:-0}")
  node "$ROOT/scripts/cluster-progress.mjs" "$1" "$2" "http://$HOST:$(admin_port "$via")" \
    "http://$HOST:$(admin_port "$2")" "${MEMRAFT_DRAIN_TIMEOUT_S:-300}" || die "$1 did not finish"
}

cmd_add() {
  load_env
  local i=$((NODES + 1))
  touch "$DIR/node-$i.joined"
  NODES=$i
  launch "$i"
  wait_ready "$i"
  save_env   # recorded once it runs: a failed add leaves cluster.env as it was
  STARTED=() # it is a member now: a slow rebalance below does not undo the add
  progress add "$i"
  echo "node $i $HOST:$(client_port "$i")"
}

cmd_drain() {
  load_env
  local i=$1 out
  out=$(EXCEPT=$i ctl drain "$i" 2>&1) || die "drain of node $i refused: ${out#"drain node $i: "}"
  EXCEPT=$i progress drain "$i"
  touch "$DIR/node-$i.removed"
  stop_node "$i"
  echo "drained node $i"
}

cmd_moves() {
  load_env
  progress settle 0
}

cmd_status() {
  load_env
  if [[ "${JSON:-0}" == 1 ]]; then ctl status --json; return; fi
  local i
  for ((i = 1; i <= NODES; i++)); do
    if removed "$i"; then
      echo "node $i removed"
    elif alive "$i"; then
      local s
      s=$(admin_status "$i" "$ADMIN_TIMEOUT_MS")
      node -e '
        const s = JSON.parse(process.argv[1] || "{}");
        const head = `node ${process.argv[2]} up pid ${process.argv[3]} client ${process.argv[4]}`;
        if (s.unreachable !== undefined) {
          console.log(`${head} admin not answering (${s.unreachable}): readiness unknown`);
        } else {
          const g = (s.groups || []).filter((x) => x.id !== 0);
          const lead = g.filter((x) => x.role === "leader").map((x) => x.id);
          console.log(`${head} ready ${s.ready === true} leads ${lead.length}/${g.length} groups [${lead.join(",")}]`);
        }
      ' "$s" "$i" "$(cat "$DIR/node-$i.pid")" "$HOST:$(client_port "$i")"
    else
      echo "node $i down"
    fi
  done
}

cmd_kill() {
  load_env
  local i=${1:?node id}
  alive "$i" || die "node $i is not running"
  kill -KILL "$(cat "$DIR/node-$i.pid")"
  rm -f "$DIR/node-$i.pid"
  echo "killed node $i"
}

cmd_restart() {
  load_env
  local i=${1:?node id}
  if [[ "$i" == all ]]; then
    for i in $(members); do stop_node "$i"; done
    start_members
    print_nodes
    return
  fi
  [[ "$i" =~ ^[0-9]+$ ]] && ((i >= 1 && i <= NODES)) || die "no node $i in $DIR (nodes 1..$NODES)"
  stop_node "$i"
  launch "$i"
  # Readiness needs a quorum: after a crash of most nodes, restarting them one by one must
  # not wait on the first ones (restart all starts them together).
  local total running=0 m
  total=$(members | wc -l)
  for m in $(members); do alive "$m" && running=$((running + 1)); done
  if ((running * 2 > total)); then
    wait_ready "$i"
  else
    echo "cluster.sh: node $i started; not waiting until it is ready: $running of $total nodes run, a quorum needs $((total / 2 + 1)) (down: $(down_list); restart them, or use restart all)" >&2
  fi
  echo "node $i $HOST:$(client_port "$i")"
}

main() {
  (($#)) || usage
  local cmd=$1
  shift
  DIR=./.cluster
  local args=() id=""
  while (($#)); do
    case "$1" in
      --dir) DIR=$2; shift 2 ;;
      --json) JSON=1; shift ;;
      *) args+=("$1"); shift ;;
    esac
  done
  case "$cmd" in
    start) cmd_start --dir "$DIR" "${args[@]}" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    kill) id=${args[0]:-}; [[ -n "$id" ]] || usage; cmd_kill "$id" ;;
    add) cmd_add ;;
    drain) id=${args[0]:-}; [[ -n "$id" ]] || usage; cmd_drain "$id" ;;
    restart) id=${args[0]:-}; [[ -n "$id" ]] || usage; cmd_restart "$id" ;;
    moves) cmd_moves ;;
    *) usage ;;
  esac
}

main "$@"
