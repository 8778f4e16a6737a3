#!/usr/bin/env bash
# CPU per op of two builds side by side: a 3-node cluster of each (scripts/cluster.sh of each
# checkout, started at once on base ports 25211 and 26211), memcaslap 90/10 get/set with 10
# connections to every node of both clusters at the same time, ROUNDS rounds of 10 s. Both
# clusters share the machine, so absolute figures are inflated: compare within a round.
#
#   bash scripts/ab-clusters.sh CHECKOUT_A CHECKOUT_B [ROUNDS]   (each built: npm run build)
#   e.g. git worktree add --detach /tmp/old <commit> && (cd /tmp/old && npm ci && npm run build)
set -euo pipefail
A=$(cd "$1" && pwd) B=$(cd "$2" && pwd) ROUNDS=${3:-3}
WORK=$(mktemp -d /tmp/memraft-ab-XXXXXX)
printf 'key\n16 16 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n' >"$WORK/get90.cfg"
stop() {
  (cd "$A" && bash scripts/cluster.sh stop --dir "$WORK/a" >/dev/null 2>&1) || true
  (cd "$B" && bash scripts/cluster.sh stop --dir "$WORK/b" >/dev/null 2>&1) || true
  rm -rf "$WORK"
}
trap stop EXIT
(cd "$A" && bash scripts/cluster.sh start --dir "$WORK/a" --nodes 3 --base-port 25211 >/dev/null)
(cd "$B" && bash scripts/cluster.sh start --dir "$WORK/b" --nodes 3 --base-port 26211 >/dev/null)
ticks() { local t=0 p; for p in $(cat "$1"/node-*.pid); do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo "$t"; }
ops() { local n=0 p; for p in "$@"; do n=$((n + $(grep -o 'Ops: [0-9]*' "$WORK/caslap-$p.txt" | tail -1 | awk '{print $2}'))); done; echo "$n"; }
sleep 8 # leader balancing spreads the group leaders
hz=$(getconf CLK_TCK)
for ((r = 1; r <= ROUNDS; r++)); do
  a0=$(ticks "$WORK/a") b0=$(ticks "$WORK/b")
  for p in 25211 25212 25213 26211 26212 26213; do
    timeout 30 memcaslap -s "127.0.0.1:$p" -t 10s -T 1 -c 10 -F "$WORK/get90.cfg" -S 10s >"$WORK/caslap-$p.txt" 2>&1 &
  done
  wait
  a1=$(ticks "$WORK/a") b1=$(ticks "$WORK/b")
  ao=$(ops 25211 25212 25213) bo=$(ops 26211 26212 26213)
  echo "round $r: A $ao ops, $(((a1 - a0) * 1000000 / hz / (ao > 0 ? ao : 1))) µs/op | B $bo ops, $(((b1 - b0) * 1000000 / hz / (bo > 0 ? bo : 1))) µs/op"
done
