#!/usr/bin/env bash
# The README's main command. Installs dependencies, builds, and runs Starling's trust workflow
# end to end with the real `starling` CLI: create a fleet, enrol two devices, show and verify
# their certificates, then show that a tampered certificate, a certificate from another fleet
# and a revoked certificate are all rejected.
# Then it runs the membership protocol in the deterministic simulator. (Real multi-process
# swarms are not built yet: when they land, this script runs a local swarm instead.)
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
cmake --build --preset release --target starling starling-sim --parallel "$(nproc 2>/dev/null || echo 2)"

starling="$PWD/build/bin/starling"
starling_sim="$PWD/build/bin/starling-sim"
work=$(mktemp -d "${TMPDIR:-/tmp}/starling-demo.XXXXXX")
[[ $keep -eq 1 ]] || trap 'rm -rf "$work"' EXIT
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

step "8. The same membership code in the simulator: 64 nodes, 2% loss, 4 crashes, 2 restarts"
echo "(deterministic: the same seed prints the same trace_hash; every record is Ed25519-signed)"
run "$starling_sim" run --nodes 64 --duration 240s --loss 0.02 --crashes 4 --restarts 2 --seed 1

step "Done: the trust workflow and a simulated swarm, end to end"
[[ $keep -eq 1 ]] && echo "demo files kept in $work"
exit 0
