#!/usr/bin/env bash
# The README's main command. Installs dependencies, builds, and runs Starling's trust workflow
# end to end with the real `starling` CLI: create a fleet, enrol two devices, show and verify
# their certificates, then show that a tampered certificate, a certificate from another fleet
# and a revoked certificate are all rejected.
# Then it starts a real swarm of four `starlingd` agents on 127.0.0.1 that train a cnn on their
# shares of Fashion-MNIST by federated averaging, shows the revoked device refused, kills one
# agent with kill -9 mid-training and shows the others declare it dead and finish the rounds,
# and runs the membership protocol on 64 nodes in the deterministic simulator. (Workloads and
# the report page join this demo with issues 5 and 7.)
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

step "8. A real swarm: four starlingd agents on 127.0.0.1 that train a cnn on Fashion-MNIST"
echo "(each agent trains on its own Dirichlet(0.5) share of the data and exchanges signed updates)"
for n in 2 3 4; do
  "$starling" keygen --data-dir "gateway-$n" 2>/dev/null >/dev/null
  "$starling" enroll --fleet fleet --data-dir "gateway-$n" --name "gateway-$n" \
    --label site=plant-a --out "gateway-$n/device.cert" >/dev/null
done
cp gateway-1.crt gateway-1/device.cert
cp robot-7.crt robot-7/device.cert
seed_key=$(sed -n 2p gateway-1/identity.pub)
base_port=$(( 20000 + RANDOM % 20000 ))
start_agent() {  # NAME PORT [extra flags...]
  local name=$1 port=$2; shift 2
  "$starlingd" --data-dir "$name" --bind "tcp://127.0.0.1:$port" --fleet-pub fleet/fleet.pub \
    --revocations fleet/revocations.list "$@" 2>"$name.log" &
  pids+=($!)
  echo "started $name on tcp://127.0.0.1:$port (pid $!)"
}
# Polls `starling status --json` of an agent until a Python condition on it holds.
wait_status() {  # DATA_DIR PYTHON_CONDITION_ON_s [SECONDS]
  local deadline=$(( SECONDS + ${3:-30} ))
  until "$starling" status --json --endpoint "ipc://$work/$1/control.sock" 2>/dev/null |
        python3 -c "import json,sys; s=json.load(sys.stdin); sys.exit(0 if ($2) else 1)"; do
    if (( SECONDS >= deadline )); then echo "demo: timed out waiting for: $2" >&2; exit 1; fi
    sleep 0.2
  done
}
rounds=6
learning() {  # N: federated learning flags of gateway-N
  echo --model cnn --data-shard "dirichlet:0.5:$(( $1 - 1 ))/4" --rounds "$rounds"
}
# shellcheck disable=SC2046
start_agent gateway-1 "$base_port" $(learning 1)
for n in 2 3 4; do
  # shellcheck disable=SC2046
  start_agent "gateway-$n" $(( base_port + n - 1 )) --join "$seed_key@tcp://127.0.0.1:$base_port" \
    $(learning "$n")
done
wait_status gateway-1 "s['members']['alive'] == 4"
export STARLING_ENDPOINT="ipc://$work/gateway-3/control.sock"
run "$starling" members
step "9. The revoked robot-7 tries to join: the swarm refuses it and counts it"
# robot-7 runs without the revocation list (it would refuse its own certificate otherwise).
"$starlingd" --data-dir robot-7 --bind "tcp://127.0.0.1:$(( base_port + 7 ))" \
  --fleet-pub fleet/fleet.pub --join "$seed_key@tcp://127.0.0.1:$base_port" 2>robot-7.log &
pids+=($!)
wait_status gateway-1 "s['peers_refused'].get('revoked', 0) >= 1"
run "$starling" status --endpoint "ipc://$work/gateway-1/control.sock"
wait_status gateway-3 "s.get('round', 0) >= 2" 300
run "$starling" model
step "10. kill -9 gateway-4 in the middle of training: the others declare it dead and go on"
t0=$EPOCHREALTIME
kill -9 "${pids[3]}"
wait "${pids[3]}" 2>/dev/null || true
wait_status gateway-3 "s['members']['dead'] == 1"
python3 -c "print(f'declared dead {$EPOCHREALTIME - $t0:.1f} s after the kill, as seen by gateway-3 (polled every 0.2 s)')"
run "$starling" members
run "$starling" events
echo "(the three survivors finish the $rounds rounds without gateway-4)"
wait_status gateway-3 "s.get('round', 0) >= $rounds" 600
run "$starling" model
step "11. The same membership code in the simulator: 64 nodes, 2% loss, 4 crashes, 2 restarts"
echo "(deterministic: the same seed prints the same trace_hash; every record is Ed25519-signed)"
run "$starling_sim" run --nodes 64 --duration 240s --loss 0.02 --crashes 4 --restarts 2 --seed 1

step "Done: the trust workflow, a real swarm that learns and survives a crash, and a simulated swarm"
[[ $keep -eq 1 ]] && echo "demo files kept in $work"
exit 0
