#!/usr/bin/env bash
# Installs the Debian 12 packages Starling needs to build, test and run. Idempotent: when every
# package is already installed it returns in about a second and touches neither apt nor the
# network. Works as root or through password-less sudo; otherwise it says what to run.
#
# Usage: scripts/install-deps.sh [--check]   (--check: only report what is missing; exit 1 if any)
set -euo pipefail

# One package a line: what it is for. Keep this list exact: nothing here that the project does not use.
PACKAGES=(
  # --- toolchain -------------------------------------------------------------------------------
  g++                    # C++20 compiler (g++ 12 on Debian 12)
  cmake                  # build system (3.25) and CTest
  ninja-build            # fast parallel builds; the CMake presets use the Ninja generator
  pkg-config             # locates libsodium and libzmq
  ccache                 # compiler cache: rebuilds on 2 cores stay short
  clang                  # libFuzzer targets (-DSTARLING_FUZZ=ON) are built with clang
  libclang-rt-14-dev     # clang's libFuzzer and sanitizer runtimes
  python3                # scripts/sim-targets.sh reads the simulator's JSON reports
  # --- packaging (scripts/package.sh, tests/package) -------------------------------------------
  dpkg-dev               # dpkg-shlibdeps: CPack derives the .deb's Depends from the binaries
  file                   # CPack's DEB generator finds the ELF files to hand to dpkg-shlibdeps
  systemd                # systemd-analyze verify of the unit; systemd-sysusers for the test's throwaway root
  chromium               # tests/up: renders starling-sim up's report page headless (no script errors)
  chromium-driver        # WebDriver for the same browser, for scripted checks of the report page
  # --- libraries -------------------------------------------------------------------------------
  libsodium-dev          # Ed25519 signatures, X25519 conversion, hashing, memzero (crypto/)
  libzmq3-dev            # ZeroMQ transport with CurveZMQ (agent runtime)
  cppzmq-dev             # C++ bindings for ZeroMQ (agent runtime)
  libcereal-dev          # portable binary wire codecs (agent/wire)
  libboost-dev           # Boost.Asio event loop and Boost.Beast metrics endpoint (header-only)
  libcli11-dev           # command-line parsing for starling, starlingd and starling-sim
  nlohmann-json3-dev     # JSON for the control API and --json output
  libtomlplusplus-dev    # TOML config files for starlingd
  libspdlog-dev          # logging, human or JSON lines
  libsqlite3-dev         # agent persistence (peers, consensus log, checkpoints)
  zlib1g-dev             # gzip'd IDX data files (Fashion-MNIST, device data) in federated/data
  doctest-dev            # unit tests
  libbenchmark-dev       # microbenchmarks under bench/
  # --- federated learning ----------------------------------------------------------------------
  libtorch-dev           # local training (federated/torch only), CPU build 1.13
  libopenblas0-openmp    # takes over libblas.so.3 from the reference BLAS that libtorch would
                         # otherwise use: measured 11-14x faster MLP and 2-4x faster CNN training
  dataset-fashion-mnist  # Fashion-MNIST in gzip'd IDX files for training and the demo
)

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "install-deps.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: missing: ${missing[*]}"
[[ $check_only -eq 1 ]] && exit 1

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "install-deps: need root to install packages. Run as root, or with sudo:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh package lists only when they are missing or older than a day.
lists=/var/lib/apt/lists
if [[ -z "$(find "$lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]]; then
  "${SUDO[@]}" apt-get update -q
fi
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${#missing[@]} package(s)"
