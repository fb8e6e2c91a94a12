#!/usr/bin/env bash
# Federated-learning benchmark table (issue 6 targets): runs `starling-sim run --fl` scenarios
# on Fashion-MNIST with one seed and prints one Markdown table (and the JSON lines behind it)
# that compares, row by row:
#   - FedAvg on 10 nodes (Dirichlet 0.5) against centralized training on the union of the data
#     and the mean of the nodes training alone (same total epochs);
#   - 3 of 10 Byzantine nodes (sign flip x5, Gaussian noise) under FedAvg, median and trimmed
#     mean, against the clean run;
#   - int8 against float32 updates (bytes per round and accuracy).
# Long: the cnn rows train 30 epochs-worth of Fashion-MNIST several times. Not part of the tests.
#
# Usage: scripts/fl-bench.sh [--main-model cnn] [--main-epochs 2] [--robust-model mlp] [--rounds 30]
#                            [--seed 1] [--threads 1] [--out FILE] [--quick]
#   --main-model    model of the accuracy-target row and its baselines (default cnn)
#   --main-epochs   local epochs per round of that row (default 2; the baselines train the same
#                   total number of epochs, rounds x local epochs)
#   --robust-model  model of the Byzantine and codec rows (default mlp: 10x faster on CPU)
#   --quick         3 rounds on 6,000 rows: checks the script end to end in a minute
#   --robust-only   skip the cnn row and its baselines (the Byzantine and codec rows take ~8 min)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

main_model=cnn
main_epochs=2
robust_model=mlp
rounds=30
seed=1
threads=1
out=
extra=()
robust_only=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --main-model) main_model="$2"; shift ;;
    --main-epochs) main_epochs="$2"; shift ;;
    --robust-model) robust_model="$2"; shift ;;
    --rounds) rounds="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --out) out="$2"; shift ;;
    --quick) rounds=3; extra=(--train-rows 6000) ;;
    --robust-only) robust_only=1 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fl-bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

cmake --preset release >/dev/null
cmake --build --preset release --target starling-sim --parallel "$(nproc 2>/dev/null || echo 2)" >/dev/null
sim=build/bin/starling-sim
jsonl=$(mktemp "${TMPDIR:-/tmp}/fl-bench.XXXXXX.jsonl")
common=(run --fl --nodes 10 --partition dirichlet:0.5 --rounds "$rounds" --seed "$seed"
        --threads "$threads" --json "${extra[@]}")

row() {  # LABEL ARGS...
  local label=$1; shift
  echo "== $label: starling-sim ${common[*]} $*" >&2
  local line
  line=$("$sim" "${common[@]}" "$@" | tail -1)
  printf '%s\t%s\n' "$label" "$line" >>"$jsonl"
}

if ((robust_only == 0)); then
  row "fedavg ($main_model, $main_epochs local epochs) + baselines" --model "$main_model" \
    --epochs "$main_epochs" --baselines centralized,isolated
fi
row "clean, fedavg" --model "$robust_model"
row "clean, median" --model "$robust_model" --aggregator median
row "clean, trimmed mean 0.3" --model "$robust_model" --aggregator trimmed-mean:0.3
row "clean, multi-krum f=3" --model "$robust_model" --aggregator multi-krum:3
row "3 signflip x5, fedavg" --model "$robust_model" --byzantine 3:signflip
row "3 signflip x5, median" --model "$robust_model" --byzantine 3:signflip --aggregator median
row "3 signflip x5, trimmed mean 0.3" --model "$robust_model" --byzantine 3:signflip --aggregator trimmed-mean:0.3
row "3 signflip x5, multi-krum f=3" --model "$robust_model" --byzantine 3:signflip --aggregator multi-krum:3
row "3 noise, fedavg" --model "$robust_model" --byzantine 3:noise
row "3 noise, median" --model "$robust_model" --byzantine 3:noise --aggregator median
row "3 noise, trimmed mean 0.3" --model "$robust_model" --byzantine 3:noise --aggregator trimmed-mean:0.3
row "3 noise, multi-krum f=3" --model "$robust_model" --byzantine 3:noise --aggregator multi-krum:3
# The adaptive norm filter (updates above 3x the round's median norm are left out) in front of
# the aggregator.
nf=(--norm-filter 3)
row "clean, median, norm filter 3" --model "$robust_model" --aggregator median "${nf[@]}"
row "clean, trimmed mean 0.3, norm filter 3" --model "$robust_model" --aggregator trimmed-mean:0.3 "${nf[@]}"
row "3 signflip x5, median, norm filter 3" --model "$robust_model" --byzantine 3:signflip --aggregator median "${nf[@]}"
row "3 signflip x5, trimmed mean 0.3, norm filter 3" --model "$robust_model" --byzantine 3:signflip --aggregator trimmed-mean:0.3 "${nf[@]}"
row "3 noise, median, norm filter 3" --model "$robust_model" --byzantine 3:noise --aggregator median "${nf[@]}"
row "3 noise, trimmed mean 0.3, norm filter 3" --model "$robust_model" --byzantine 3:noise --aggregator trimmed-mean:0.3 "${nf[@]}"
row "clean, fedavg, int8" --model "$robust_model" --codec int8

python3 - "$jsonl" "$seed" "$rounds" <<'EOF' | tee ${out:+"$out"}
import json, sys
rows = [line.rstrip("\n").split("\t", 1) for line in open(sys.argv[1])]
data = [(label, json.loads(js)) for label, js in rows]
print(f"Seed {sys.argv[2]}, {sys.argv[3]} rounds, 10 nodes, Dirichlet 0.5; 1 local epoch per round unless stated.\n")
print("| scenario | model | accuracy (mean) | min | bytes/round/node | rejected | wall s | notes |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
clean = next((d for l, d in data if l == "clean, fedavg"), None)
# The same aggregator without attackers, for the robust rows.
def key(d):
    return (d["aggregator"], d.get("norm_filter", 0))
clean_by_aggregator = {key(d): d for l, d in data
                       if l.startswith("clean") and d["codec"] == "float32" and d["model"] == (clean or {}).get("model")}
for label, d in data:
    notes = []
    if "centralized_accuracy" in d:
        notes.append(f"centralized {d['centralized_accuracy']:.4f} (gap {100*(d['centralized_accuracy']-d['accuracy']):+.2f} pt)")
    if "isolated_mean_accuracy" in d:
        notes.append(f"isolated mean {d['isolated_mean_accuracy']:.4f} (FL {100*(d['accuracy']-d['isolated_mean_accuracy']):+.2f} pt)")
    if clean is not None and d is not clean and d["model"] == clean["model"]:
        notes.append(f"{100*(d['accuracy']-clean['accuracy']):+.2f} pt vs clean fedavg")
        same = clean_by_aggregator.get(key(d))
        if d["byzantine"] and same is not None and same is not clean:
            rule = d["aggregator"] + (" + filter" if d.get("norm_filter", 0) else "")
            notes.append(f"{100*(d['accuracy']-same['accuracy']):+.2f} pt vs clean {rule}")
        if d["codec"] != clean["codec"]:
            notes.append(f"{clean['bytes_per_round_per_node']/d['bytes_per_round_per_node']:.2f}x fewer bytes")
    print(f"| {label} | {d['model']} | {d['accuracy']:.4f} | {d['min_accuracy']:.4f} | "
          f"{d['bytes_per_round_per_node']:.0f} | {d['updates_rejected']} | {d['wall_s']:.0f} | {'; '.join(notes)} |")
print()
for label, d in data:
    d.pop("history", None)
    print(f"<!-- {label}: {json.dumps(d, sort_keys=True)} -->")
EOF
rm -f "$jsonl"
