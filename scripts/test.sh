#!/usr/bin/env bash
# Installs dependencies, configures, builds in parallel and runs the test suite with CTest.
# Exits non-zero on any failure. This is the README's test command and what CI runs.
#
# Usage: scripts/test.sh [--no-deps] [--preset release|debug|asan] [--all] [-- CTEST_ARGS...]
#   --no-deps   skip scripts/install-deps.sh (dependencies already installed)
#   --preset    CMake preset to build and test (default: release)
#   --all       also run the long tests labelled soak, chaos or fuzz (excluded by default)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

deps=1
preset=release
all=0
ctest_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-deps) deps=0 ;;
    --preset) preset="${2:?--preset needs a name}"; shift ;;
    --all) all=1 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "test.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

[[ $deps -eq 1 ]] && scripts/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
echo "== configure ($preset)"
cmake --preset "$preset"
echo "== build ($jobs jobs)"
cmake --build --preset "$preset" --parallel "$jobs"
echo "== test"
exclude=()
[[ $all -eq 0 ]] && exclude=(--label-exclude 'soak|chaos|fuzz')
ctest --preset "$preset" --parallel "$jobs" "${exclude[@]}" "${ctest_args[@]}"
