#!/bin/sh
# postinstall.sh: after `meson install` as root on a live system, create the jetsamd user and state dir and reload systemd
# usage (from meson): postinstall.sh SYSUSERSDIR TMPFILESDIR
set -eu

sysusersdir=$1
tmpfilesdir=$2

# A staged install (packaging, tests) only copies files.
if [ -n "${DESTDIR:-}" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "postinstall: not root: run 'systemd-sysusers' and 'systemd-tmpfiles --create' yourself" >&2
	exit 0
fi
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers "$sysusersdir/jetsamd.conf" ||
		echo "postinstall: systemd-sysusers failed: create user and group 'jetsamd' by hand" >&2
fi
if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create "$tmpfilesdir/jetsamd.conf" ||
		echo "postinstall: systemd-tmpfiles failed: create '/var/lib/jetsamd' by hand" >&2
fi
# Only when systemd is the running init (not in containers and chroots).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload ||
		echo "postinstall: 'systemctl daemon-reload' failed" >&2
fi
exit 0
