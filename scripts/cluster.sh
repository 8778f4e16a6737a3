#!/usr/bin/env bash
# A local memraft cluster on 127.0.0.1, as background processes.
#
#   scripts/cluster.sh start [--nodes N] [--base-port P] [--dir D] [extra `memraft serve` flags]
#   scripts/cluster.sh stop|status [--dir D] [--json]  # status --json: `memraft ctl status --json`
#   scripts/cluster.sh add [--dir D]              # start one more node that joins; prints its line
#   scripts/cluster.sh drain <id> [--dir D]       # move its replicas away, then stop it
#   scripts/cluster.sh kill <id> [--dir D]        # SIGKILL, no shutdown
#   scripts/cluster.sh restart <id> [--dir D]     # (re)start one node with its saved flags
#
# Node i (1-based) gets client port P+i-1, peer port P+100+i, admin port P+200+i; its data
# in D/node-i, its log in D/node-i.log, its pid in D/node-i.pid. Defaults: N=3, P=11211,
# D=./.cluster. `start` waits until every node's admin /status reports a leader for every
# group, then prints one `node <id> <host:client-port>` line per node.
# The first node started writes a fresh admin token to D/admin-token (mode 600) unless one is there; every
# node gets --admin-token-file, and drain/status pass it to `memraft ctl`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAIN="$ROOT/dist/cli/main.js"
HOST=127.0.0.1
READY_TIMEOUT_S=${MEMRAFT_READY_TIMEOUT_S:-60}

die() { echo "cluster.sh: $*" >&2; exit 1; }

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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

initial_cluster() {
  local list="" i
  for ((i = 1; i <= NODES; i++)); do list+="${list:+,}$i=$HOST:$(peer_port "$i")"; done
  echo "$list"
}

alive() { [[ -f "$DIR/node-$1.pid" ]] && kill -0 "$(cat "$DIR/node-$1.pid")" 2>/dev/null; }

launch() {
  local i=$1
  if alive "$i"; then die "node $i already running (pid $(cat "$DIR/node-$i.pid"))"; fi
  mkdir -p "$DIR/node-$i"
  ensure_admin_token
  # shellcheck disable=SC2086
  local members="--initial-cluster $(initial_cluster)"
  # A node added by `add` joins through any running member instead.
  if [[ -f "$DIR/node-$i.joined" ]]; then members="--join $HOST:$(peer_port "$(any_alive "$i")")"; fi
  # shellcheck disable=SC2086
  nohup node "$MAIN" serve --id "$i" \
    --listen "$HOST:$(client_port "$i")" \
    --peer-listen "$HOST:$(peer_port "$i")" \
    --admin-listen "$HOST:$(admin_port "$i")" \
    --admin-token-file "$DIR/admin-token" \
    $members \
    --data-dir "$DIR/node-$i" $EXTRA >>"$DIR/node-$i.log" 2>&1 </dev/null &
  echo $! >"$DIR/node-$i.pid"
}

# GET http://$HOST:<admin port of node $1>/status; prints {} when the node does not answer.
# Node's own fetch, not curl: a fresh machine has node but maybe no curl.
admin_status() {
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => r.text())
    .then((t) => process.stdout.write(t), () => process.stdout.write("{}"))' "http://$HOST:$(admin_port "$1")/status"
}

node_ready() {
  admin_status "$1" | grep -q '"ready":true'
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT_S)) i
  for i in "$@"; do
    until node_ready "$i"; do
      alive "$i" || die "node $i exited; see $DIR/node-$i.log"
      ((SECONDS < deadline)) || die "node $i not ready after ${READY_TIMEOUT_S}s; see $DIR/node-$i.log"
      sleep 0.2
    done
  done
}

print_nodes() {
  local i
  for ((i = 1; i <= NODES; i++)); do echo "node $i $HOST:$(client_port "$i")"; done
}

cmd_start() {
  NODES=3 BASE=11211 EXTRA=""
  while (($#)); do
    case "$1" in
      --nodes) NODES=$2; shift 2 ;;
      --base-port) BASE=$2; shift 2 ;;
      --dir) DIR=$2; shift 2 ;;
      *) EXTRA+="${EXTRA:+ }$1"; shift ;;
    esac
  done
  [[ -f "$MAIN" ]] || (cd "$ROOT" && npm run build >/dev/null) || die "build failed"
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  printf 'NODES=%q\nBASE=%q\nEXTRA=%q\n' "$NODES" "$BASE" "$EXTRA" >"$DIR/cluster.env"
  local i
  for ((i = 1; i <= NODES; i++)); do launch "$i"; done
  wait_ready $(seq 1 "$NODES")
  print_nodes
}

cmd_stop() {
  load_env
  local i pid
  for ((i = 1; i <= NODES; i++)); do
    alive "$i" && kill -TERM "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true
  done
  for ((i = 1; i <= NODES; i++)); do
    local tries=0
    while alive "$i" && ((tries < 100)); do sleep 0.1; tries=$((tries + 1)); done
    if alive "$i"; then kill -KILL "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true; fi
    rm -f "$DIR/node-$i.pid"
  done
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

cmd_add() {
  load_env
  local i=$((NODES + 1))
  touch "$DIR/node-$i.joined"
  NODES=$i
  printf 'NODES=%q\nBASE=%q\nEXTRA=%q\n' "$NODES" "$BASE" "$EXTRA" >"$DIR/cluster.env"
  launch "$i"
  wait_ready "$i"
  echo "node $i $HOST:$(client_port "$i")"
}

cmd_drain() {
  load_env
  local i=$1 deadline=$((SECONDS + ${MEMRAFT_DRAIN_TIMEOUT_S:-300}))
  EXCEPT=$i ctl drain "$i" >/dev/null || die "drain of node $i refused"
  until EXCEPT=$i ctl status --json | node -e '
      const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
      process.exit(s.nodes.some((n) => n.id === Number(process.argv[1]) && n.state === "removed") ? 0 : 1);' "$i"; do
    ((SECONDS < deadline)) || die "node $i not drained after ${MEMRAFT_DRAIN_TIMEOUT_S:-300}s"
    sleep 0.5
  done
  if alive "$i"; then
    kill -TERM "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true
    local tries=0
    while alive "$i" && ((tries < 100)); do sleep 0.1; tries=$((tries + 1)); done
    alive "$i" && kill -KILL "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true
    rm -f "$DIR/node-$i.pid"
  fi
  echo "drained node $i"
}

cmd_status() {
  load_env
  if [[ "${JSON:-0}" == 1 ]]; then ctl status --json; return; fi
  local i
  for ((i = 1; i <= NODES; i++)); do
    if alive "$i"; then
      local s
      s=$(admin_status "$i")
      node -e '
        const s = JSON.parse(process.argv[1] || "{}");
        const g = (s.groups || []).filter((x) => x.id !== 0);
        const lead = g.filter((x) => x.role === "leader").map((x) => x.id);
        console.log(`node ${process.argv[2]} up pid ${process.argv[3]} client ${process.argv[4]} ready ${s.ready === true} leads ${lead.length}/${g.length} groups [${lead.join(",")}]`);
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
  if alive "$i"; then
    kill -TERM "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true
    local tries=0
    while alive "$i" && ((tries < 100)); do sleep 0.1; tries=$((tries + 1)); done
    alive "$i" && kill -KILL "$(cat "$DIR/node-$i.pid")" 2>/dev/null || true
  fi
  launch "$i"
  wait_ready "$i"
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
    *) usage ;;
  esac
}

main "$@"
