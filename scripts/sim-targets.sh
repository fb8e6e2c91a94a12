#!/usr/bin/env bash
# Runs the membership simulator's 1,000-node target scenarios (docs/RESULTS.md) and prints
# one line per scenario with the figures that matter, plus the simulator's speed.
# Long: about 10-20 minutes on 2 cores. Not part of the default test run.
#
# Usage: scripts/sim-targets.sh [--nodes N] [--seed S] [--verify full|shared-cache|off]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

nodes=1000
seed=7
verify=shared-cache
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) nodes="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --verify) verify="$2"; shift ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sim-targets.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

cmake --preset release >/dev/null
cmake --build --preset release --target starling-sim --parallel "$(nproc 2>/dev/null || echo 2)" >/dev/null
sim=build/bin/starling-sim
common=(--nodes "$nodes" --duration 600s --seed "$seed" --verify "$verify" --json)

field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(' '.join(f'{k}={d[k]}' for k in sys.argv[1:]))" "$@"; }

echo "== 1. crashes: $nodes nodes, 600 s, 1% loss, 10 crashes (targets: wall <= 60 s, p99 <= suspicion + 3 s)"
"$sim" run "${common[@]}" --loss 0.01 --crashes 10 | tee /tmp/sim-target-1.json |
  field wall_s messages deliveries detect_p50_s detect_p99_s detect_max_s false_positives converge_s violations trace_hash
echo "== 2. Lifeguard: 5% loss, 10 nodes paused 2 s every 30 s (target: 0 false positives)"
"$sim" run "${common[@]}" --loss 0.05 --pauses 10:2s:30s |
  field wall_s false_positives false_positive_declarations converge_s violations
echo "== 3. partition: 50/50 for 60 s (target: views agree within 30 s of the heal)"
"$sim" run "${common[@]}" --partition 120s:60s:0.5 |
  field wall_s converge_s violations
echo "== 4. determinism: scenario 1 again (target: the same trace_hash)"
"$sim" run "${common[@]}" --loss 0.01 --crashes 10 | field trace_hash
echo "== speed: deliveries per wall second in scenario 1"
python3 -c "import json; d=json.loads(open('/tmp/sim-target-1.json').read().strip().splitlines()[-1]); print(f\"{d['deliveries']/d['wall_s']:.0f} deliveries/s, {d['events']/d['wall_s']:.0f} events/s\")"
