#!/usr/bin/env bash
# deps.sh: installs the Debian 12 (and npm) packages jetsamd needs to build, test and demo; idempotent
#
# usage: scripts/deps.sh [--test] [--real] [--fleet] [--list]
#   (default) what the demo needs: the compiler, meson and the libraries jetsamd links
#   --test   also what only the test suite needs (clang and its sanitizer runtime,
#            clang-format, shellcheck, tmux, strace, node/npm and the node packages of tests/appium)
#   --real   also install usbmuxd, to collect from real phones
#   --fleet  also the PostgreSQL 15 server of `demo.sh --fleet`
#   --list   print the Debian packages the other options select, one a line; install nothing
# Runs apt-get only when a package is missing; uses sudo when not root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
want_test=0
want_real=0
want_fleet=0
list=0
for arg in "$@"; do
	case $arg in
	--test | --npm) want_test=1 ;;
	--real) want_real=1 ;;
	--fleet) want_fleet=1 ;;
	--list) list=1 ;;
	-h | --help)
		sed -n '4,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
		exit 0
		;;
	*)
		echo "deps.sh: unknown option '$arg'" >&2
		exit 2
		;;
	esac
done

# build and run jetsamd, jetsamctl and devsim: all the demo needs
packages=(
	build-essential meson ninja-build pkg-config
	libimobiledevice-dev libusbmuxd-dev libplist-dev libuv1-dev libcjson-dev
	libsqlite3-dev libssl-dev libsystemd-dev libpq-dev
)
# only the test suite: the second (clang ASan+UBSan+fuzzer) build, the format and script
# checks, the peer tools devsim is checked against, the tmux screen test, appium, strace
# (devices-nosleep)
test_packages=(
	clang libclang-rt-14-dev clang-format shellcheck
	libimobiledevice-utils python3 nodejs npm tmux sqlite3 systemd postgresql-15 prometheus
	strace
)
# demo.sh --fleet: a local PostgreSQL cluster (initdb, pg_ctl, psql)
fleet_packages=(postgresql-15)
((want_test)) && packages+=("${test_packages[@]}")
((want_real)) && packages+=(usbmuxd)
((want_fleet && !want_test)) && packages+=("${fleet_packages[@]}")

if ((list)); then
	printf '%s\n' "${packages[@]}"
	exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "deps.sh: not root and 'sudo' is not installed: run this as root" >&2
		exit 1
	fi
	sudo=(sudo)
fi

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${packages[@]}"; do
	# A nodejs build that bundles npm (e.g. NodeSource's) conflicts with Debian's npm
	# package: an npm command on the PATH is enough.
	if [[ $p == npm ]] && command -v npm >/dev/null 2>&1; then
		continue
	fi
	installed "$p" || missing+=("$p")
done

if ((${#missing[@]})); then
	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ((want_test)) && [[ -f $here/tests/appium/package-lock.json ]]; then
	stamp=$here/tests/appium/node_modules/.package-lock.json
	# npm ci rewrites node_modules/.package-lock.json: newer than the lock file means done
	if [[ ! -f $stamp || $here/tests/appium/package-lock.json -nt $stamp ]]; then
		echo "deps.sh: npm ci --prefix tests/appium"
		npm ci --prefix "$here/tests/appium" --no-audit --no-fund --loglevel=error
	fi
fi
exit 0
