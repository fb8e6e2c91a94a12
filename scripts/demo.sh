#!/usr/bin/env bash
# The README's main command. Installs dependencies, builds, and runs Starling's trust workflow
# end to end with the real `starling` CLI: create a fleet, enrol two devices, show and verify
# their certificates, then show that a tampered certificate, a certificate from another fleet
# and a revoked certificate are all rejected.
# Then the main job: `starling-sim up` starts a real swarm of five `starlingd` agents on
# 127.0.0.1 that train a cnn on their Dirichlet(0.5) shares of Fashion-MNIST for 10 rounds by
# federated averaging, run 10 `stream` workloads replicated through their consensus cluster,
# and lose one agent to kill -9 in the middle of training; the workloads it held move, the others finish
# the rounds. The demo prints `starling members`, `workloads`, `leader` and `model` from a
# surviving agent and the path of the report page (report.html: accuracy per round, membership
# timeline, failovers), then runs the membership protocol on 64 simulated nodes.
#
# Usage: scripts/demo.sh [--no-deps] [--keep]   (--keep: leave the demo directory in place)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

deps=1
keep=0
for arg in "$@"; do
  case "$arg" in
    --no-deps) deps=0 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

[[ $deps -eq 1 ]] && scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target starling starlingd starling-sim --parallel "$(nproc 2>/dev/null || echo 2)"

starling="$PWD/build/bin/starling"
starlingd="$PWD/build/bin/starlingd"
starling_sim="$PWD/build/bin/starling-sim"
work=$(mktemp -d "${TMPDIR:-/tmp}/starling-demo.XXXXXX")
pids=()
main_shell=$BASHPID
cleanup() {  # stops every agent this demo started; only the main shell cleans up
  [[ $BASHPID == "$main_shell" ]] || return 0
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ $keep -eq 1 ]] || rm -rf "$work"
}
trap cleanup EXIT
repo=$PWD
kill_at=45  # seconds after the swarm is healthy: mid-training on 2 cores (round 1 ~30 s, then 5-7 s a round)
cd "$work"

if [[ -t 1 ]]; then bold=$'\033[1m'; plain=$'\033[0m'; else bold=; plain=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# Runs a command that must fail, and fails the demo if it does not.
must_fail() {
  printf '$ %s\n' "$*"
  local rc=0
  "$@" || rc=$?
  if [[ $rc -eq 0 ]]; then echo "demo: expected this command to be rejected" >&2; exit 1; fi
  echo "(rejected, exit code $rc)"
}

step "1. The operator creates a fleet (its root key stays offline)"
run "$starling" fleet init --out fleet

step "2. Two devices create their identities (Ed25519 keys in their data directories)"
run "$starling" keygen --data-dir gateway-1
run "$starling" keygen --data-dir robot-7
run ls -l gateway-1

step "3. The operator enrols them: the fleet key signs a certificate for each"
run "$starling" enroll --fleet fleet --data-dir gateway-1 --name gateway-1 \
  --label site=plant-a --label role=gateway --out gateway-1.crt
run "$starling" enroll --fleet fleet --device-pub robot-7/identity.pub --name robot-7 \
  --label site=plant-a --label role=robot --valid-days 90 --out robot-7.crt

step "4. Show and verify the certificates against the fleet key and revocation list"
run "$starling" cert show gateway-1.crt
run "$starling" cert verify gateway-1.crt --fleet-pub fleet/fleet.pub \
  --revocations fleet/revocations.list
run "$starling" cert verify robot-7.crt --fleet-pub fleet/fleet.pub \
  --revocations fleet/revocations.list --json

step "5. A tampered certificate is rejected (one byte of robot-7's device key changed)"
# Decode the armour, flip one byte of the device public key (offset 25: after the 25-byte
# header), and re-armour: what an attacker substituting their own key would try.
sed '1d;$d' robot-7.crt | base64 -d > robot-7.bin
printf '\xff' | dd of=robot-7.bin bs=1 seek=25 conv=notrunc status=none
{ echo "-----BEGIN STARLING CERTIFICATE-----"; base64 -w 64 robot-7.bin;
  echo "-----END STARLING CERTIFICATE-----"; } > tampered.crt
must_fail "$starling" cert verify tampered.crt --fleet-pub fleet/fleet.pub

step "6. A certificate from another fleet is rejected"
run "$starling" fleet init --out other-fleet
run "$starling" enroll --fleet other-fleet --data-dir robot-7 --name robot-7 --out foreign.crt
must_fail "$starling" cert verify foreign.crt --fleet-pub fleet/fleet.pub

step "7. The operator revokes robot-7; its certificate is then rejected"
run "$starling" revoke --fleet fleet --serial 2
must_fail "$starling" cert verify robot-7.crt --fleet-pub fleet/fleet.pub \
  --revocations fleet/revocations.list
run "$starling" cert verify gateway-1.crt --fleet-pub fleet/fleet.pub \
  --revocations fleet/revocations.list

step "8. The main job: starling-sim up runs a real swarm of 5 starlingd agents on 127.0.0.1"
echo "(a throwaway fleet of its own; each agent trains a cnn on its Dirichlet(0.5) share of"
echo " Fashion-MNIST and exchanges signed updates; 10 stream workloads are added through the"
echo " consensus cluster; one agent is killed with kill -9 in the middle of training)"
run "$starling_sim" up --nodes 5 --model cnn --partition dirichlet:0.5 --rounds 10 \
  --workloads 10 --chaos "kill:3@${kill_at}s" --data-dir "$work/swarm" --keep-running
report="$work/swarm/report/report.json"
# The agents left running (--keep-running): stopped by cleanup at exit.
mapfile -t kept < <(python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
for n in r['nodes']:
    if n.get('running'):
        print(n['pids'][-1], n['control'])
" "$report")
for line in "${kept[@]}"; do pids+=("${line%% *}"); done
(( ${#kept[@]} > 0 )) || { echo "demo: no agent was left running" >&2; exit 1; }
export STARLING_ENDPOINT="${kept[0]#* }"

step "9. The swarm's state, from a surviving agent ($STARLING_ENDPOINT)"
run "$starling" members
run "$starling" workloads
run "$starling" leader
run "$starling" model

step "10. The same membership code in the simulator: 64 nodes, 2% loss, 4 crashes, 2 restarts"
echo "(deterministic: the same seed prints the same trace_hash; every record is Ed25519-signed)"
run "$starling_sim" run --nodes 64 --duration 240s --loss 0.02 --crashes 4 --restarts 2 --seed 1

step "Done: the trust workflow, a real swarm that learns, runs workloads and survives a kill -9"
[[ $keep -eq 1 ]] && echo "report: $work/swarm/report/report.html (open it in a browser; report.json beside it)"
if [[ $keep -eq 0 ]]; then
  mkdir -p "$repo/build/demo-report"
  cp "$work/swarm/report/report.html" "$work/swarm/report/report.json" "$repo/build/demo-report/"
  echo "report: $repo/build/demo-report/report.html (open it in a browser; report.json beside it;"
  echo "        copied out of the demo directory, which is removed at exit: --keep keeps it)"
fi
exit 0
