#!/usr/bin/env bash
# Builds the release preset's starling-bench-crypto (into build/bin) and runs it, passing every
# argument through: scripts/bench.sh [--seconds N] [--json]. The benchmark reports and does not
# gate; it exits non-zero only when a verification fails. Works from any directory. For steady
# figures run it on an otherwise idle machine: it is single-threaded but timing-sensitive.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p build
cmake --preset release >build/bench-configure.log 2>&1 || { cat build/bench-configure.log; exit 1; }
cmake --build --preset release --target starling-bench-crypto
exec build/bin/starling-bench-crypto "$@"
