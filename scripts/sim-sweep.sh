#!/usr/bin/env bash
# Runs the consensus-and-workloads simulator (`starling-sim run --workloads N`; see
# docs/ARCHITECTURE.md, "Workloads in the simulator") over a range of seeds, in parallel,
# and prints every failing seed with the command line that reproduces it, then a summary
# (seeds, failures, wall time).
# Exits 1 when any seed failed (an invariant was violated, or the simulator aborted).
#
# Usage: scripts/sim-sweep.sh --seeds A..B [--jobs J] [--bin PATH] [starling-sim run options]
#   --seeds A..B  the seeds to run (both included)
#   --jobs J      parallel processes (default: nproc)
#   --bin PATH    the starling-sim binary (default: build it with the release preset)
#   anything else is passed to `starling-sim run` (default --workloads 3); for example
#   --nodes 7, --faults crash,partition, --loss-max 0.1, --canary skip-lease.
# Each process runs a chunk of seeds (`starling-sim run --seeds a..b`): starting the binary
# costs more than a seed.
#
# Example: scripts/sim-sweep.sh --seeds 1..10000   (about 0.07 s of CPU per seed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seeds=""
jobs="$(nproc 2>/dev/null || echo 2)"
sim=""
pass=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    --bin) sim="$2"; shift ;;
    --seed) echo "sim-sweep.sh: use --seeds A..B" >&2; exit 2 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) pass+=("$1") ;;
  esac
  shift
done
if [[ ! "$seeds" =~ ^([0-9]+)\.\.([0-9]+)$ ]] || (( BASH_REMATCH[1] > BASH_REMATCH[2] )); then
  echo "sim-sweep.sh: --seeds A..B is required (A <= B)" >&2
  exit 2
fi
first="${BASH_REMATCH[1]}"
last="${BASH_REMATCH[2]}"
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
  echo "sim-sweep.sh: --jobs must be a positive number" >&2
  exit 2
fi
if [[ " ${pass[*]-} " != *" --workloads "* ]]; then
  pass=(--workloads 3 "${pass[@]+"${pass[@]}"}")
fi
if [[ -z "$sim" ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target starling-sim --parallel "$jobs" >/dev/null
  sim=build/bin/starling-sim
fi

total=$((last - first + 1))
# Chunks small enough to balance the processes (8 per process, at most 100 seeds), large
# enough to amortise the binary's start-up (at least 20 seeds, unless that idles a process).
chunk=$(( total / (jobs * 8) ))
(( chunk > 100 )) && chunk=100
(( chunk < 20 )) && chunk=20
per_job=$(( (total + jobs - 1) / jobs ))
(( chunk > per_job )) && chunk=$per_job

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '%s\n' "${pass[@]}" > "$work/args"
export SWEEP_SIM="$sim" SWEEP_WORK="$work"

# Runs one chunk; prints its failing seeds (one write, so chunks do not interleave lines).
run_chunk() {
  local range="$1" rc=0 found
  local -a args
  mapfile -t args < "$SWEEP_WORK/args"
  "$SWEEP_SIM" run "${args[@]}" --seeds "$range" > "$SWEEP_WORK/$range.log" 2>&1 || rc=$?
  echo "$rc" > "$SWEEP_WORK/$range.rc"
  found="$(grep -E '^(FAIL|reproduce:)' "$SWEEP_WORK/$range.log" || true)"
  if [[ -n "$found" ]]; then printf '%s\n' "$found"; fi
}
export -f run_chunk

start_ns=$(date +%s%N)
echo "sweep: seeds $first..$last ($total), $jobs processes, chunks of $chunk: $sim run ${pass[*]}"
# shellcheck disable=SC2016  # $1 is the chunk, expanded by the inner bash
for ((a = first; a <= last; a += chunk)); do
  b=$((a + chunk - 1))
  (( b > last )) && b=$last
  echo "$a..$b"
done | xargs -P "$jobs" -n 1 bash -c 'run_chunk "$1"' _

# A chunk that aborted (assertion, crash) did not report its later seeds: find the seed that
# aborts by running them one at a time.
ran=0
failed=0
for rcfile in "$work"/*.rc; do
  range="$(basename "$rcfile" .rc)"
  rc="$(cat "$rcfile")"
  summary="$(grep '"mode":"workloads-seeds"' "$work/$range.log" || true)"
  if [[ -n "$summary" && ( "$rc" == 0 || "$rc" == 1 ) ]]; then
    ran=$((ran + $(sed -E 's/.*"seeds":([0-9]+).*/\1/' <<< "$summary")))
    failed=$((failed + $(sed -E 's/.*"failures":([0-9]+).*/\1/' <<< "$summary")))
    continue
  fi
  echo "chunk $range aborted (exit $rc): $(tail -n 1 "$work/$range.log")"
  for ((s = ${range%..*}; s <= ${range#*..}; s++)); do
    rc=0
    "$sim" run "${pass[@]}" --seed "$s" --json > "$work/seed.log" 2>&1 || rc=$?
    ran=$((ran + 1))
    if [[ "$rc" == 0 ]]; then continue; fi
    failed=$((failed + 1))
    if [[ "$rc" != 1 ]]; then
      why="$(grep -m 1 -iE 'assert|error|abort' "$work/seed.log" || tail -n 1 "$work/seed.log")"
      echo "FAIL seed $s: aborted (exit $rc): $why"
      echo "reproduce: starling-sim run ${pass[*]} --seed $s"
    else
      grep -E '^(violation|reproduce):' "$work/seed.log" | sed "1s/^violation: /FAIL seed $s: /"
    fi
  done
done

wall=$(( ($(date +%s%N) - start_ns) / 1000000 ))
printf 'summary: %d seeds, %d failed, wall %d.%03d s (%d processes)\n' \
  "$ran" "$failed" $((wall / 1000)) $((wall % 1000)) "$jobs"
if (( ran != total )); then
  echo "sim-sweep.sh: expected $total seeds, ran $ran" >&2
  exit 1
fi
(( failed == 0 ))
