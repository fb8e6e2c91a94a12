#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan, UBSan, into build/fuzz) and runs
# each for SECONDS (default 60) from a scratch copy of its seed corpus (build/fuzz/corpus-work/,
# so tests/fuzz/corpus/ stays as checked in); crash, leak, timeout and out-of-memory inputs land
# in build/fuzz/artifacts/<target>/ and the full logs in build/fuzz/logs/. Prints a table per
# target and exits 1 if any target found a problem. Runs the targets one after another.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   targets: certificate revocation_list
#                                                 signed_record armor wire_message consensus
#                                                 federated (default: all)
#        scripts/fuzz.sh --make-corpus            regenerate tests/fuzz/corpus/ and exit
#        scripts/fuzz.sh --help
# Reproduce a finding: build/fuzz/bin/fuzz_<target> build/fuzz/artifacts/<target>/crash-...
set -euo pipefail

ALL_TARGETS=(certificate revocation_list signed_record armor wire_message consensus federated)

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

seconds=60
make_corpus=0
targets=()
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --make-corpus) make_corpus=1 ;;
    ''|*[!0-9]*)
      if [[ " ${ALL_TARGETS[*]} " != *" $arg "* ]]; then
        echo "fuzz.sh: unknown target or option '$arg' (try --help)" >&2
        exit 2
      fi
      targets+=("$arg") ;;
    *) seconds="$arg" ;;
  esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
if ((seconds < 1)); then echo "fuzz.sh: SECONDS must be at least 1" >&2; exit 2; fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=build/fuzz

# Longest generated input per target: above the decoder's size limit where that is cheap
# (certificates: 8 KiB), libFuzzer's default elsewhere.
max_len_of() {
  case "$1" in
    certificate) echo 9216 ;;
    *) echo 4096 ;;
  esac
}

echo "== configuring and building ($build)"
cmake --preset fuzz >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
build_targets=(fuzz_make_corpus)
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
cmake --build --preset fuzz --target "${build_targets[@]}"

if ((make_corpus)); then
  "$build/bin/fuzz_make_corpus" tests/fuzz/corpus
  exit 0
fi

mkdir -p "$build/logs"
stamp="$build/logs/.run-started"
touch "$stamp"
rows=()
failed=0
for t in "${targets[@]}"; do
  work="$build/corpus-work/$t"
  artifacts="$build/artifacts/$t"
  log="$build/logs/$t.log"
  mkdir -p "$work" "$artifacts"
  if [[ -d tests/fuzz/corpus/$t ]]; then cp tests/fuzz/corpus/"$t"/* "$work"/; fi
  echo "== fuzz_$t for ${seconds}s (log: $log)"
  rc=0
  "$build/bin/fuzz_$t" "$work" -max_total_time="$seconds" -print_final_stats=1 \
    -max_len="$(max_len_of "$t")" -timeout=10 -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
  corpus=$(find "$work" -type f | wc -l)
  found=$(find "$artifacts" -type f -newer "$stamp" \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  if ((found > 0 || rc != 0)); then
    failed=1
    echo "   fuzz_$t: exit code $rc, $found finding(s) in $artifacts/:"
    grep -E 'ERROR:|FUZZ_CHECK|runtime error|SUMMARY' "$log" | head -n 5 | sed 's/^/     /' || true
  fi
  rows+=("$(printf '%-16s %8s %12s %9s %6s %7s %8s' "$t" "$seconds" "${executions:-?}" \
    "${per_second:-?}" "${coverage:-?}" "$corpus" "$found")")
done

echo
printf '%-16s %8s %12s %9s %6s %7s %8s\n' target seconds executions exec/s cov corpus crashes
for row in "${rows[@]}"; do echo "$row"; done
if ((failed)); then
  echo "fuzz.sh: findings above; reproduce with $build/bin/fuzz_<target> <artifact>" >&2
  exit 1
fi
