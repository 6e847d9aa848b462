#!/bin/sh
# Install the Debian packages a make target needs, only those missing.
# Usage: install-deps.sh build|fuzz|integration|valgrind|model|nspawn|packages...
# Needs root when something is missing (CI and the test machines are root).
set -eu

build="build-essential pkg-config libzmq3-dev libczmq-dev libprotobuf-c-dev
  protobuf-c-compiler libconfig-dev libsystemd-dev libssl-dev check
  libsqlite3-dev sqlite3 rpm dnf createrepo-c libmicrohttpd-dev"
fuzz="clang libclang-rt-14-dev"
valgrind="valgrind"
integration="iproute2 procps psmisc dbus python3 python3-zmq curl prometheus chromium"
# spin writes the model checker pan.c; gcc (build) compiles it
model="spin gcc"
nspawn="systemd-container debootstrap"
packages="debhelper devscripts rpm lintian dpkg-dev fakeroot dnf createrepo-c rpmlint"

want=""
for target in "$@"; do
  case "$target" in
    build) want="$want $build" ;;
    fuzz) want="$want $fuzz" ;;
    valgrind) want="$want $valgrind" ;;
    model) want="$want $model" ;;
    integration) want="$want $integration" ;;
    nspawn) want="$want $nspawn" ;;
    packages) want="$want $packages" ;;
    *) echo "install-deps.sh: unknown target '$target'" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages and not root; run as root: apt-get install$missing" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
