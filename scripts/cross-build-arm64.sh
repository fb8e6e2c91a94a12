#!/usr/bin/env bash
# Cross-builds every Starling binary for aarch64 (NVIDIA Jetson and other 64-bit ARM boards) on a
# Debian 12 amd64 machine, then runs the unit tests under qemu-user. The first run installs the
# cross toolchain and creates an arm64 sysroot (a few minutes, mostly downloads); later runs
# reuse both. Exits non-zero on any failure.
#
# Usage: scripts/cross-build-arm64.sh [OPTIONS] [-- CTEST_ARGS...]
#   --sysroot DIR      arm64 sysroot to create or reuse (default ~/.cache/starling-arm64-sysroot)
#   --build-dir DIR    build directory (default build-arm64)
#   --jobs N           parallel compile and test jobs (default: every core)
#   --no-test          build only: skip the unit tests under qemu-user
#   --no-deps          do not install host packages (cross g++, qemu-user, mmdebstrap, ...)
#   --refresh-sysroot  recreate the sysroot (new package versions, e.g. security updates)
#   --mirror URL       Debian mirror for the sysroot (default http://deb.debian.org/debian)
#   --security URL     Debian security mirror (default http://deb.debian.org/debian-security)
#
# The sysroot is a directory of unpacked arm64 Debian packages (mmdebstrap --variant=extract: no
# maintainer scripts run, so no emulation is needed to make it). Multiarch (arm64 packages beside
# the amd64 ones) is not used: libtorch-dev and libcereal-dev are not Multi-Arch: same, so their
# arm64 versions would replace the amd64 ones the native build needs. Tests run as
# `qemu-aarch64 -L SYSROOT`; the integration tests (label `integration`) are not run: they exec
# starlingd directly, which needs binfmt_misc, and their failure-detection timeouts assume
# native speed. Fashion-MNIST is read from the build machine's /usr/share/datasets.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sysroot="${XDG_CACHE_HOME:-$HOME/.cache}/starling-arm64-sysroot"
build_dir=build-arm64
jobs=$(nproc 2>/dev/null || echo 2)
run_tests=1
deps=1
refresh=0
mirror=http://deb.debian.org/debian
security=http://deb.debian.org/debian-security
ctest_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sysroot) sysroot="${2:?--sysroot needs a directory}"; shift ;;
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift ;;
    --no-test) run_tests=0 ;;
    --no-deps) deps=0 ;;
    --refresh-sysroot) refresh=1 ;;
    --mirror) mirror="${2:?--mirror needs a URL}"; shift ;;
    --security) security="${2:?--security needs a URL}"; shift ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "cross-build-arm64.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "cross-build-arm64.sh: --jobs needs a positive number" >&2; exit 2; }
sysroot=$(realpath -m "$sysroot")
[[ "$sysroot" != *[[:space:]]* ]] || { echo "cross-build-arm64.sh: the sysroot path must not contain spaces" >&2; exit 2; }

say() { printf '== %s\n' "$*"; }
now() { date +%s; }
elapsed() { local s=$(( $(now) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
t_start=$(now)

# Build-machine packages: one a line, what it is for.
HOST_PACKAGES=(
  g++-aarch64-linux-gnu  # the cross compiler (GCC 12, the native compiler's version)
  qemu-user              # qemu-aarch64: runs the arm64 test executables
  mmdebstrap             # creates the arm64 sysroot from Debian's packages
  cmake                  # build system and CTest
  ninja-build            # the generator the presets use
  pkg-config             # finds libsodium, libzmq, sqlite3 (in the sysroot, via PKG_CONFIG_LIBDIR)
  ccache                 # compiler cache (used when present)
  file                   # shows that the binaries are ELF aarch64
  dataset-fashion-mnist  # Fashion-MNIST (architecture-independent) for the data and learning tests
)
# The arm64 packages in the sysroot: the libraries of scripts/install-deps.sh, plus the C and
# C++ runtime headers that the native compiler gets from the build machine.
SYSROOT_PACKAGES=(
  libc6-dev libstdc++-12-dev
  libsodium-dev libzmq3-dev cppzmq-dev libcereal-dev libboost-dev libcli11-dev
  nlohmann-json3-dev libtomlplusplus-dev libspdlog-dev libsqlite3-dev zlib1g-dev doctest-dev
  libtorch-dev libopenblas0-openmp
)

SUDO=()
need_root() {
  if [[ $(id -u) -eq 0 ]]; then SUDO=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n)
  else
    echo "cross-build-arm64.sh: need root to install packages. Run as root, or with sudo:" >&2
    echo "  sudo apt-get install -y $*" >&2
    exit 1
  fi
}

# --- 1. host packages ----------------------------------------------------------------------------
t0=$(now)
if [[ $deps -eq 1 ]]; then
  missing=()
  for pkg in "${HOST_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    say "host packages: all ${#HOST_PACKAGES[@]} present"
  else
    say "host packages: installing ${missing[*]}"
    need_root "${missing[@]}"
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]]; then
      "${SUDO[@]}" apt-get update -q
    fi
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi
for tool in aarch64-linux-gnu-g++ cmake ninja pkg-config; do
  command -v "$tool" >/dev/null || { echo "cross-build-arm64.sh: $tool not found (drop --no-deps?)" >&2; exit 1; }
done
if [[ $run_tests -eq 1 ]] && ! command -v qemu-aarch64 >/dev/null; then
  echo "cross-build-arm64.sh: qemu-aarch64 not found (package qemu-user)" >&2; exit 1
fi

# --- 2. the arm64 sysroot ------------------------------------------------------------------------
# The stamp records the package list and mirrors the sysroot was made from: a change remakes it.
stamp_text="packages: ${SYSROOT_PACKAGES[*]}
mirror: $mirror
security: $security"
stamp="$sysroot/.starling-sysroot"
if [[ $refresh -eq 0 && -f "$stamp" && "$(cat "$stamp")" == "$stamp_text" ]]; then
  say "sysroot: reusing $sysroot"
else
  command -v mmdebstrap >/dev/null || { echo "cross-build-arm64.sh: mmdebstrap not found" >&2; exit 1; }
  say "sysroot: creating $sysroot (arm64 Debian 12, ${#SYSROOT_PACKAGES[@]} packages and their dependencies)"
  tmp="$sysroot.tmp"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$sysroot")"
  include=$(IFS=,; echo "${SYSROOT_PACKAGES[*]}")
  mmdebstrap --variant=extract --architectures=arm64 --include="$include" bookworm "$tmp" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main"
  # Absolute symlinks (libz.so -> /lib/aarch64-linux-gnu/libz.so.1...) would point into the
  # build machine: make them relative so that they resolve inside the sysroot.
  find "$tmp" -type l -lname '/*' -print0 | while IFS= read -r -d '' link; do
    target=$(readlink "$link")
    ln -sfn "$(realpath -m -s --relative-to="$(dirname "$link")" "$tmp$target")" "$link"
  done
  # What update-alternatives does in libopenblas0-openmp's postinst: libtorch needs
  # libblas.so.3 and liblapack.so.3, which need libopenblas.so.0.
  for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
    ln -sfn "openblas-openmp/$lib" "$tmp/usr/lib/aarch64-linux-gnu/$lib"
  done
  # qemu-user -L looks every absolute path up in the sysroot first: without dev/ and tmp/ here,
  # /dev/null and /tmp are the build machine's, as the tests expect.
  rm -rf "${tmp:?}/dev" "${tmp:?}/tmp" "${tmp:?}/proc" "${tmp:?}/sys"
  printf '%s\n' "$stamp_text" >"$tmp/.starling-sysroot"
  rm -rf "$sysroot"
  mv "$tmp" "$sysroot"
  say "sysroot: ready ($(du -sh "$sysroot" | cut -f1))"
fi
t_setup=$(elapsed "$t0")

# --- 3. configure and build ----------------------------------------------------------------------
t0=$(now)
say "configure ($build_dir, Release, aarch64)"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DSTARLING_SYSROOT="$sysroot"
say "build ($jobs jobs)"
cmake --build "$build_dir" --parallel "$jobs"
t_build=$(elapsed "$t0")

say "binaries"
shopt -s nullglob
binaries=("$build_dir"/bin/* "$build_dir"/tests/*_tests)
shopt -u nullglob
[[ ${#binaries[@]} -gt 0 ]] || { echo "cross-build-arm64.sh: no binaries in $build_dir" >&2; exit 1; }
not_arm=0
for bin in "${binaries[@]}"; do
  description=$(file -b "$bin")
  printf '%s: %s\n' "$bin" "${description%%, BuildID*}"
  [[ "$description" == *"ARM aarch64"* ]] || not_arm=1
done
[[ $not_arm -eq 0 ]] || { echo "cross-build-arm64.sh: a binary is not aarch64" >&2; exit 1; }

# --- 4. unit tests under qemu-user ---------------------------------------------------------------
t_test=skipped
test_status=0
if [[ $run_tests -eq 1 ]]; then
  t0=$(now)
  say "unit tests under $(qemu-aarch64 --version | head -n 1)"
  ctest --test-dir "$build_dir" --label-regex unit --parallel "$jobs" --output-on-failure \
    "${ctest_args[@]}" || test_status=$?
  t_test=$(elapsed "$t0")
fi

say "times: host packages + sysroot $t_setup, configure + build $t_build, unit tests $t_test, total $(elapsed "$t_start")"
exit "$test_status"
