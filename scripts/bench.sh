#!/usr/bin/env bash
# Builds the release preset's benchmarks (into build/bin) and runs them. Benchmarks report and do
# not gate: each prints ratios against a baseline measured in the same run.
#   scripts/bench.sh [crypto] [--seconds N] [--json]   signed-record verify vs raw libsodium
#   scripts/bench.sh sim [--nodes N] [--duration D]     simulator deliveries/s vs bare kernel
# Works from any directory. For steady figures run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
which=crypto
case "${1:-}" in
  crypto|sim) which="$1"; shift ;;
  -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
mkdir -p build
cmake --preset release >build/bench-configure.log 2>&1 || { cat build/bench-configure.log; exit 1; }
cmake --build --preset release --target "starling-bench-$which"
exec "build/bin/starling-bench-$which" "$@"
