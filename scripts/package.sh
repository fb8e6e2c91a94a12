#!/usr/bin/env bash
# Builds the Debian package starling_VERSION_ARCH.deb: configures a Release build in
# build-package/ (tests and benchmarks off) unless the build tree exists already, builds it,
# and runs CPack's DEB generator (cmake/Packaging.cmake). The last line printed is the path of
# the .deb. Idempotent: a second run rebuilds only what changed and rewrites the same file.
#
# Usage: scripts/package.sh [--build-dir DIR] [--out DIR] [--no-deps] [--no-build]
#   --build-dir DIR  build tree to configure or reuse (default: build-package); an existing
#                    tree, e.g. build/, is built and packaged as it is configured
#   --out DIR        where the .deb is written (default: BUILD_DIR/packages)
#   --no-deps        skip scripts/install-deps.sh (dependencies already installed)
#   --no-build       package the tree's binaries as they are, without building (they must
#                    exist: tests/package packages the binaries the other tests ran)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

build_dir="$repo/build-package"
out_dir=""
deps=1
build=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift ;;
    --out) out_dir="${2:?--out needs a directory}"; shift ;;
    --no-deps) deps=0 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
build_dir="$(mkdir -p "$build_dir" && cd "$build_dir" && pwd)"
out_dir="${out_dir:-$build_dir/packages}"
out_dir="$(mkdir -p "$out_dir" && cd "$out_dir" && pwd)"

[[ $deps -eq 1 ]] && "$repo/scripts/install-deps.sh"

if [[ $build -eq 0 ]]; then
  for exe in starlingd starling starling-sim; do
    [[ -x "$build_dir/bin/$exe" ]] && continue
    echo "package.sh: --no-build: $build_dir/bin/$exe is missing; build it first" >&2
    exit 1
  done
elif [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  echo "== configure (Release) in $build_dir" >&2
  cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSTARLING_TESTS=OFF -DSTARLING_BENCH=OFF >&2
fi
if [[ ! -f "$build_dir/CPackConfig.cmake" ]]; then
  echo "package.sh: $build_dir has no CPackConfig.cmake; reconfiguring" >&2
  cmake -S "$repo" -B "$build_dir" >&2
fi

if [[ $build -eq 1 ]]; then
  jobs=$(nproc 2>/dev/null || echo 2)
  echo "== build ($jobs jobs)" >&2
  cmake --build "$build_dir" --parallel "$jobs" >&2
fi

echo "== cpack -G DEB" >&2
log="$(cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$out_dir" 2>&1)" || {
  echo "$log" >&2
  echo "package.sh: cpack failed" >&2
  exit 1
}
echo "$log" >&2
deb="$(sed -n 's/^CPack: - package: \(.*\.deb\) generated\.$/\1/p' <<<"$log" | tail -n 1)"
if [[ -z "$deb" || ! -f "$deb" ]]; then
  echo "package.sh: cpack did not report a .deb" >&2
  exit 1
fi
echo "$deb"
