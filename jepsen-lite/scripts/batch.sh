#!/usr/bin/env bash
# Runs jepsen-lite once per seed, sequentially, and prints a Markdown table of the results.
#
#   jepsen-lite/scripts/batch.sh OUT_DIR FIRST_SEED LAST_SEED [npm run jepsen flags...]
#   e.g. jepsen-lite/scripts/batch.sh runs/all-60s 1 20 --time 60 --nemesis partition,kill,pause,clock
#
# Each run goes to OUT_DIR/seed-<N> (its own results.json, report.html, logs); the table is
# also written to OUT_DIR/table.md. Exit 1 if any run was not valid.
set -uo pipefail
[[ $# -ge 3 ]] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
OUT=$1 FIRST=$2 LAST=$3
shift 3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "$OUT"
cd "$ROOT" || exit 2
for ((seed = FIRST; seed <= LAST; seed++)); do
  echo "== seed $seed: $(date -u +%H:%M:%S)"
  node --input-type=module -e "await (await import('vite')).runnerImport('./jepsen-lite/cli.ts')" -- \
    --seed "$seed" --out "$OUT/seed-$seed" "$@" 2>&1 | grep --line-buffered -E '^(jepsen-lite|outcome|final reads|membership|harness error)'
done
node --input-type=module - "$OUT" "$FIRST" "$LAST" <<'JS' | tee "$OUT/table.md"
import fs from 'node:fs';
const [out, first, last] = process.argv.slice(2);
const rows = ['| seed | outcome | ops | ops/s | ok | fail | info | checker ms | ms per 10k ops | crashes | digests | faults |', '|---|---|---|---|---|---|---|---|---|---|---|---|'];
let bad = 0;
for (let s = Number(first); s <= Number(last); s++) {
  const file = `${out}/seed-${s}/results.json`;
  if (!fs.existsSync(file)) { rows.push(`| ${s} | no results | | | | | | | | | | |`); bad++; continue; }
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (r.outcome !== 'valid') bad++;
  const faults = {};
  for (const f of r.schedule ?? []) faults[f.fault] = (faults[f.fault] ?? 0) + 1;
  const per10k = r.ops > 0 ? Math.round((r.checkerMs * 10000) / r.ops) : '';
  const m = r.membership;
  const membership = m === undefined ? '' : ` (joined ${m.joined.join(',') || '-'}, drained ${m.drained.join(',') || '-'}${m.unfinished.length > 0 ? `, UNFINISHED ${m.unfinished.join(', ')}` : ''})`;
  if (m !== undefined && m.unfinished.length > 0) bad++;
  rows.push(`| ${s} | ${r.outcome} | ${r.ops} | ${r.opsPerSec} | ${r.okOps} | ${r.failOps} | ${r.infoOps} | ${r.checkerMs} | ${per10k} | ${r.crashes.length} | ${r.digests.agree ? 'agree' : 'DISAGREE'} | ${Object.entries(faults).map(([k, v]) => `${k}×${v}`).join(' ')}${membership} |`);
}
console.log(rows.join('\n'));
process.exitCode = bad > 0 ? 1 : 0;
JS
