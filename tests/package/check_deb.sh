#!/usr/bin/env bash
# The Debian package, end to end: builds the .deb from a build tree's binaries as they are
# (scripts/package.sh --no-build: the binaries the other tests ran), checks
# its contents and control fields, installs it into a throwaway root with dpkg (the maintainer
# scripts run there: DPKG_ROOT mode), runs the installed binaries (--help, --check-config of the
# packaged /etc/starling/agent.toml, and an enrolled agent started with that config as systemd
# would, answering the CLI, reloading on SIGHUP and leaving on SIGTERM), upgrades it keeping an
# edited conffile and the data directory, and purges it. The live-system branch of the postinst
# (adduser, systemctl) is checked with stub commands: a test must not create users on the host.
# Works as root and as an unprivileged user. Exit 77 (skipped) when dpkg's tools are missing.
#
# Usage: tests/package/check_deb.sh --build-dir DIR   (package this built tree's binaries)
#        tests/package/check_deb.sh --deb FILE        (check an existing .deb)
#   --keep   keep the scratch directory and print its path
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"  # dpkg wants ldconfig and start-stop-daemon

build_dir=""
deb=""
keep=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift ;;
    --deb) deb="${2:?--deb needs a file}"; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check_deb.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ -n "$build_dir" || -n "$deb" ]] || { echo "check_deb.sh: --build-dir or --deb is required" >&2; exit 2; }

for tool in dpkg dpkg-deb dpkg-shlibdeps systemd-sysusers; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not found (scripts/install-deps.sh installs it)"
    exit 77
  fi
done

scratch="$(mktemp -d "${TMPDIR:-/tmp}/starling-deb.XXXXXX")"
agent_pid=""
cleanup() {
  if [[ -n "$agent_pid" ]]; then kill -9 "$agent_pid" 2>/dev/null || true; fi
  if [[ $keep -eq 1 ]]; then echo "kept $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT

failures=0
ok() { echo "ok:   $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...
  local what="$1"; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
has_line() { grep -qxF -- "$2" <<<"$1"; }
has_text() { grep -qF -- "$2" <<<"$1"; }

# ---- 1. build ---------------------------------------------------------------------------
if [[ -z "$deb" ]]; then
  echo "== scripts/package.sh --build-dir $build_dir --no-build"
  started=$SECONDS
  deb="$("$repo/scripts/package.sh" --build-dir "$build_dir" --out "$scratch/out" --no-deps \
           --no-build 2>"$scratch/package.log" | tail -n 1)" || { cat "$scratch/package.log"; exit 1; }
  echo "packaged $deb in $((SECONDS - started)) s"
fi
[[ -f "$deb" ]] || { echo "FAIL: no .deb at '$deb'"; exit 1; }
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"

# ---- 2. contents and control fields -----------------------------------------------------
echo "== contents"
listing="$(dpkg-deb -c "$deb" | awk '{ print $1, $6 }')"
for path in ./usr/bin/starlingd ./usr/bin/starling ./usr/bin/starling-sim; do
  check "$path is an executable" has_line "$listing" "-rwxr-xr-x $path"
done
for path in ./lib/systemd/system/starlingd.service ./etc/starling/agent.toml \
            ./usr/share/doc/starling/OPERATIONS.md ./usr/share/doc/starling/README.md; do
  check "$path is a file (0644)" has_line "$listing" "-rw-r--r-- $path"
done
check "nothing enables the unit at install (no /etc/systemd in the package)" \
  bash -c '! grep -q "etc/systemd" <<<"$1"' _ "$listing"

field() { dpkg-deb -f "$deb" "$1"; }
check "Package: starling" test "$(field Package)" = starling
if [[ -n "$build_dir" ]]; then
  version="$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build_dir/CMakeCache.txt")"
  check "Version: $version (the project's)" test "$(field Version)" = "$version"
fi
check "Architecture: $(dpkg --print-architecture)" test "$(field Architecture)" = "$(dpkg --print-architecture)"
check "Maintainer is set" test -n "$(field Maintainer)"
check "Section: net" test "$(field Section)" = net
depends="$(field Depends)"
echo "Depends: $depends"
depends_names="$(sed 's/[,|]/\n/g' <<<"$depends" | sed 's/^ *//; s/ .*//')"
names_package() {  # names_package PKG: PKG, or a virtual PKG-SUFFIX (libspdlog1.10-fmt9)
  local name
  while read -r name; do
    [[ "$name" == "$1" || "$name" == "$1"-* ]] && return 0
  done <<<"$depends_names"
  return 1
}
for pkg in adduser libc6 libstdc++6 libsodium23 libzmq5 libsqlite3-0 libtorch1.13 libfmt9 \
           libspdlog1.10 libtomlplusplus3 zlib1g; do
  check "Depends names $pkg" names_package "$pkg"
done
check "conffiles lists /etc/starling/agent.toml" \
  test "$(dpkg-deb -I "$deb" conffiles)" = /etc/starling/agent.toml
control_listing="$(dpkg-deb --ctrl-tarfile "$deb" | tar -tvf - | awk '{ print $1, $6 }')"
for script in postinst prerm postrm; do
  check "maintainer script $script (0755)" has_line "$control_listing" "-rwxr-xr-x ./$script"
done

unit="$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./lib/systemd/system/starlingd.service)"
for line in "ExecStart=/usr/bin/starlingd --config /etc/starling/agent.toml" \
            "User=starling" "Group=starling" "StateDirectory=starling" \
            "ConfigurationDirectory=starling" "ProtectSystem=strict" "ProtectHome=yes" \
            "PrivateTmp=yes" "NoNewPrivileges=yes" "Restart=on-failure" "KillSignal=SIGTERM" \
            'ExecReload=/bin/kill -HUP $MAINPID' "WantedBy=multi-user.target"; do
  check "unit: $line" has_line "$unit" "$line"
done
check "the packaged agent.toml is packaging/agent.toml" \
  cmp -s <(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./etc/starling/agent.toml) \
         "$repo/packaging/agent.toml"

# ---- 3. install into a throwaway root ---------------------------------------------------
echo "== dpkg --root into a throwaway root"
root="$scratch/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status"
run_dpkg() {
  # Dependencies are not installed in the empty root (--force-depends); the maintainer scripts
  # run on this machine with DPKG_ROOT set (--force-script-chrootless).
  HOME="$scratch" dpkg --root="$root" --force-not-root --force-script-chrootless \
    --force-depends --force-confold --log=/dev/null "$@" >"$scratch/dpkg.log" 2>&1 ||
    { cat "$scratch/dpkg.log"; return 1; }
}
check "dpkg -i succeeds" run_dpkg -i "$deb"
check "dpkg records starling as installed" \
  test "$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' starling)" = \
       "install ok installed"
for path in usr/bin/starlingd usr/bin/starling usr/bin/starling-sim; do
  check "/$path installed and executable" test -x "$root/$path"
done
check "/lib/systemd/system/starlingd.service installed" test -f "$root/lib/systemd/system/starlingd.service"
check "/etc/starling/agent.toml installed" test -f "$root/etc/starling/agent.toml"
user_line="$(grep '^starling:' "$root/etc/passwd" || true)"
check "postinst created the system user starling (home /var/lib/starling, no login)" \
  bash -c '[[ "$1" == starling:x:*:*:*:/var/lib/starling:/usr/sbin/nologin ]]' _ "$user_line"
check "postinst created group starling" grep -q '^starling:' "$root/etc/group"
check "postinst created /var/lib/starling with mode 0750" \
  test "$(stat -c %a "$root/var/lib/starling" 2>/dev/null)" = 750
if [[ $(id -u) -eq 0 ]]; then
  check "/var/lib/starling belongs to the starling user" \
    test "$(stat -c %u "$root/var/lib/starling")" = "$(cut -d: -f3 <<<"$user_line")"
fi
check "nothing enabled the unit" test ! -e "$root/etc/systemd/system/multi-user.target.wants/starlingd.service"

if command -v systemd-analyze >/dev/null; then
  # verify resolves ExecStart on this machine: point it at the throwaway root's binary.
  sed "s#^ExecStart=/usr/bin/starlingd #ExecStart=$root/usr/bin/starlingd #" \
    "$root/lib/systemd/system/starlingd.service" >"$scratch/starlingd.service"
  if verify_out="$(systemd-analyze verify "$scratch/starlingd.service" 2>&1)" &&
     [[ -z "$verify_out" ]]; then
    ok "systemd-analyze verify: no complaints"
  else
    fail "systemd-analyze verify: $verify_out"
  fi
fi

# ---- 4. the installed binaries -------------------------------------------------------------
echo "== the installed binaries"
bin="$root/usr/bin"
check "starlingd --help" bash -c '"$1" --help | grep -q "starlingd: the Starling agent"' _ "$bin/starlingd"
check "starling --help" bash -c '"$1" --help >/dev/null' _ "$bin/starling"
check "starling-sim --help" bash -c '"$1" run --help >/dev/null' _ "$bin/starling-sim"
if [[ -n "${version:-}" ]]; then
  check "starlingd --version is $version" \
    test "$("$bin/starlingd" --version)" = "starlingd $version"
fi
# As systemd runs it: StateDirectory=starling sets STATE_DIRECTORY.
if effective="$(env -i STATE_DIRECTORY=/var/lib/starling "$bin/starlingd" \
                  --config "$root/etc/starling/agent.toml" --check-config 2>&1)"; then
  ok "starlingd --config /etc/starling/agent.toml --check-config"
else
  fail "starlingd --check-config of the packaged config: $effective"
fi
for line in 'data_dir = "/var/lib/starling"' 'control = "ipc:///var/lib/starling/control.sock"' \
            'fleet_pub = "/var/lib/starling/fleet.pub"' 'cert = "/var/lib/starling/device.cert"' \
            'bind = "tcp://127.0.0.1:7946"'; do
  check "effective config: $line" has_line "$effective" "$line"
done

# The enrolment of docs/OPERATIONS.md with the installed CLI, in a scratch data directory that
# stands for /var/lib/starling; then the agent with the packaged config, as the unit starts it.
data="$scratch/state"
"$bin/starling" fleet init --out "$scratch/fleet" >/dev/null 2>&1
"$bin/starling" keygen --data-dir "$data" >/dev/null 2>&1
"$bin/starling" enroll --fleet "$scratch/fleet" --data-dir "$data" --name pkg-check \
  --out "$data/device.cert" >/dev/null 2>&1
cp "$scratch/fleet/fleet.pub" "$data/"
env -i PATH="$PATH" STATE_DIRECTORY="$data" "$bin/starlingd" \
  --config "$root/etc/starling/agent.toml" --bind tcp://127.0.0.1:0 >"$scratch/agent.log" 2>&1 &
agent_pid=$!
status=""
for _ in $(seq 1 100); do
  status="$("$bin/starling" status --endpoint "ipc://$data/control.sock" 2>/dev/null)" && break
  kill -0 "$agent_pid" 2>/dev/null || break
  sleep 0.1
done
check "the installed agent runs on the packaged config and answers 'starling status'" \
  has_text "$status" "pkg-check"
kill -HUP "$agent_pid" 2>/dev/null || true
sleep 0.3
check "SIGHUP (ExecReload) keeps it running" kill -0 "$agent_pid"
kill -TERM "$agent_pid" 2>/dev/null || true
agent_rc=0
wait "$agent_pid" || agent_rc=$?
agent_pid=""
check "SIGTERM (KillSignal) ends it with a graceful leave, exit code 0" test "$agent_rc" -eq 0
if [[ $failures -gt 0 ]]; then echo "-- agent log:"; cat "$scratch/agent.log"; fi

# ---- 5. upgrade: the edited conffile and the data directory stay ---------------------------
echo "== upgrade to a newer version"
echo '# edited by the operator' >>"$root/etc/starling/agent.toml"
echo "key material" >"$root/var/lib/starling/identity.key"
newer="$scratch/newer"
dpkg-deb -R "$deb" "$newer"
old_version="$(field Version)"
sed -i "s/^Version: .*/Version: ${old_version}+check1/" "$newer/DEBIAN/control"
dpkg-deb -Znone -b "$newer" "$scratch/starling-newer.deb" >/dev/null
check "dpkg -i of a newer version succeeds" run_dpkg -i "$scratch/starling-newer.deb"
check "the newer version is installed" \
  test "$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Version}' starling)" = "${old_version}+check1"
check "the edited /etc/starling/agent.toml is kept" grep -q '^# edited by the operator$' "$root/etc/starling/agent.toml"
check "/var/lib/starling is kept" test -f "$root/var/lib/starling/identity.key"
check "the user is not created twice" test "$(grep -c '^starling:' "$root/etc/passwd")" -eq 1

# ---- 6. remove and purge -----------------------------------------------------------------
echo "== remove, purge"
check "dpkg --remove succeeds" run_dpkg --remove starling
check "remove takes the binaries" test ! -e "$root/usr/bin/starlingd"
check "remove keeps the conffile and the data directory" \
  test -f "$root/etc/starling/agent.toml" -a -f "$root/var/lib/starling/identity.key"
check "dpkg --purge succeeds" run_dpkg --purge starling
check "purge takes /etc/starling and /var/lib/starling" \
  test ! -e "$root/etc/starling" -a ! -e "$root/var/lib/starling"

# ---- 7. the postinst's live-system branch, with stub commands ---------------------------
echo "== postinst on a live system (stubbed adduser, getent, install, chown, systemctl)"
stubs="$scratch/stubs"
mkdir -p "$stubs"
dpkg-deb -e "$deb" "$scratch/control"
for cmd in adduser install chown systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$cmd" "$scratch/calls" >"$stubs/$cmd"
done
# getent: the user exists once STARLING_STUB_USER_EXISTS is set.
printf '#!/bin/sh\n[ -n "$STARLING_STUB_USER_EXISTS" ]\n' >"$stubs/getent"
chmod +x "$stubs"/*
run_postinst() {
  : >"$scratch/calls"
  env -u DPKG_ROOT PATH="$stubs:$PATH" "$@" sh "$scratch/control/postinst" configure "${old_version_arg:-}"
}
if [[ -d /var/lib/starling ]]; then
  echo "skip: /var/lib/starling exists on this machine; the stubbed run would not create it"
else
  old_version_arg="" run_postinst env
  calls="$(cat "$scratch/calls")"
  check "fresh install: adduser --system --group starling" \
    has_text "$calls" "adduser --system --group --home /var/lib/starling --no-create-home"
  check "fresh install: /var/lib/starling created 0750" has_text "$calls" "install -d -m 0750 /var/lib/starling"
  old_version_arg="0.0.1" run_postinst env STARLING_STUB_USER_EXISTS=1
  calls="$(cat "$scratch/calls")"
  check "reinstall: the existing user is kept (no adduser)" bash -c '! grep -q "^adduser" <<<"$1"' _ "$calls"
fi
check "no maintainer script enables or starts the unit" \
  bash -c '! grep -qE "systemctl +(enable|start)|--now|deb-systemd-helper +enable" "$@"' _ \
  "$scratch/control/postinst" "$scratch/control/prerm" "$scratch/control/postrm"

echo
if [[ $failures -gt 0 ]]; then
  echo "check_deb: $failures check(s) failed"
  exit 1
fi
echo "check_deb: all checks passed ($(basename "$deb"))"
