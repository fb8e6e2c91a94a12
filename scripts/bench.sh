#!/usr/bin/env bash
# Builds the release preset's benchmarks (into build/bin) and runs them. Benchmarks report and do
# not gate: each prints ratios against a baseline measured in the same run.
#   scripts/bench.sh [crypto] [--seconds N] [--json]   signed-record verify vs raw libsodium
#   scripts/bench.sh sim [--nodes N] [--duration D]     simulator deliveries/s vs bare kernel
#   scripts/bench.sh swarm [--fp] [--train]             real agents on 127.0.0.1 (issue 4 targets):
#       detection after kill -9 at 5 and 20 agents (10 kills each), idle traffic, RSS and CPU at
#       20 agents, `starling members --json` latency; --fp adds the 10-minute false-positive run
#       with both cores kept busy; --train adds the training speed of a learner inside an agent
#       against a bare training loop (starling-bench-swarm --help for single runs)
#   scripts/bench.sh aggregate                          FedAvg and robust aggregators vs memory read
#   scripts/bench.sh workloads                          real agents on 127.0.0.1 (issue 5 targets):
#       worker kill -9 at 20 agents until its workloads run elsewhere (10 kills), leader kill -9
#       with 3 voters until a new leader (10 kills), committed operations/s on 5 voters beside
#       the disk's fsync rate (starling-bench-workloads --help for single runs)
# Works from any directory. For steady figures run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
which=crypto
case "${1:-}" in
  crypto|sim|swarm|aggregate|workloads) which="$1"; shift ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
mkdir -p build
cmake --preset release >build/bench-configure.log 2>&1 || { cat build/bench-configure.log; exit 1; }
cmake --build --preset release --target "starling-bench-$which"
if [[ $which == workloads ]]; then
  bench=build/bin/starling-bench-workloads
  "$bench" --json failover --agents 20 --kills 10 --workloads 40 --target 3.0
  "$bench" --json leader --agents 5 --voters 3 --kills 10
  "$bench" --json ops --agents 5 --seconds 10
  exit 0
fi
if [[ $which != swarm ]]; then
  exec "build/bin/starling-bench-$which" "$@"
fi
fp=0
train=0
for arg in "$@"; do
  [[ $arg == --fp ]] && fp=1
  [[ $arg == --train ]] && train=1
done
bench=build/bin/starling-bench-swarm
"$bench" --json detect --agents 5 --kills 10 --target 2.0
"$bench" --json detect --agents 20 --kills 10 --target 2.5
"$bench" --json idle --agents 20 --seconds 60
"$bench" --json cli --agents 20 --runs 50
if [[ $fp -eq 1 ]]; then
  "$bench" --json fp --agents 20 --seconds 600 --burners 2
fi
if [[ $train -eq 1 ]]; then
  "$bench" --json train --model cnn --reps 3
fi
