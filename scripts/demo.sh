#!/usr/bin/env bash
# demo.sh: the main job: builds jetsamd, starts simulated phones (devsim) and jetsamd, prints devices and limits, then watches
#
# usage: scripts/demo.sh [--real | --fleet] [--once] [--dir DIR] [--build DIR] [--no-deps] [--no-build]
#   (default)    a handful of simulated phones (devsim) in a temporary directory
#   --real       collect from the phones plugged into this machine, through usbmuxd
#   --fleet      a farm: a local PostgreSQL cluster and three jetsamd "hosts" with their own
#                simulated phones shipping to it; prints `jetsamctl --fleet ... limits`
#   --once       print devices and limits, then stop (no watch)
#   --dir DIR    keep phones, sockets, logs and the store in DIR (kept, reused next time)
#   --build DIR  build directory (default: build/)
#   --no-deps, --no-build   skip installing packages / compiling (the tests use these)
# Ctrl-C stops jetsamd and devsim and removes the temporary directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
real=0
fleet=0
once=0
workdir=
build=$here/build
deps=1
compile=1
for ((i = 1; i <= $#; i++)); do
	arg=${!i}
	case $arg in
	--real) real=1 ;;
	--fleet) fleet=1 ;;
	--once) once=1 ;;
	--dir)
		i=$((i + 1))
		workdir=${!i:-}
		[[ -n $workdir ]] || {
			echo "demo.sh: --dir needs a directory" >&2
			exit 2
		}
		;;
	--dir=*) workdir=${arg#--dir=} ;;
	--build)
		i=$((i + 1))
		build=${!i:-}
		[[ -n $build ]] || {
			echo "demo.sh: --build needs a directory" >&2
			exit 2
		}
		;;
	--build=*) build=${arg#--build=} ;;
	--no-deps) deps=0 ;;
	--no-build) compile=0 ;;
	-h | --help)
		sed -n '4,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
		exit 0
		;;
	*)
		echo "demo.sh: unknown option '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

if [[ -t 2 && -z ${NO_COLOR:-} ]]; then
	say() {
		printf '\033[1m==> %s\033[0m\n' "$*" >&2
	}
else
	say() {
		printf '==> %s\n' "$*" >&2
	}
fi
die() {
	echo "demo.sh: $*" >&2
	exit 1
}

if ((real && fleet)); then
	echo "demo.sh: --real and --fleet exclude each other" >&2
	exit 2
fi

# --- 1. packages and build -------------------------------------------------------------
if ((deps)); then
	if ((real)); then
		"$here/scripts/deps.sh" --real
	elif ((fleet)); then
		"$here/scripts/deps.sh" --fleet
	else
		"$here/scripts/deps.sh"
	fi
fi

if ((compile)); then
	say "building into $build"
	if [[ ! -f $build/meson-private/coredata.dat ]]; then
		meson setup "$build" "$here" >/dev/null
	fi
	# output paths, not target names: names such as jetsamctl are not unique
	targets=(daemon/jetsamd client/jetsamctl)
	((real)) || targets+=(tests/devsim/devsim tests/devsim/gen/jetsamgen)
	ninja -C "$build" "${targets[@]}" >/dev/null || ninja -C "$build" "${targets[@]}"
fi
jetsamd=$build/daemon/jetsamd
jetsamctl=$build/client/jetsamctl
devsim=$build/tests/devsim/devsim
jetsamgen=$build/tests/devsim/gen/jetsamgen
for exe in "$jetsamd" "$jetsamctl"; do
	[[ -x $exe ]] || die "build did not produce '$exe'"
done

# --- 2. working directory and cleanup --------------------------------------------------
keep=1
if [[ -z $workdir ]]; then
	# short path: Unix socket paths must stay under ~100 bytes
	workdir=$(mktemp -d /tmp/jetsamd-demo-XXXXXX)
	keep=0
fi
mkdir -p "$workdir"
workdir=$(cd "$workdir" && pwd)
ctl_sock=$workdir/jetsamd.sock
mux_sock=$workdir/usbmuxd.sock
devsim_ctl=$workdir/devsim.ctl
state=$workdir/state
pids=()

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	! declare -F fleet_pg_stop >/dev/null || fleet_pg_stop
	if ((keep)); then
		echo "demo.sh: state kept in $workdir" >&2
	else
		rm -rf "$workdir"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ctl() {
	"$jetsamctl" --socket "$ctl_sock" "$@"
}

# --- --fleet: a farm: PostgreSQL, three jetsamd hosts, jetsamctl --fleet ----------------
pg_bin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
pg_dir=
pg_user=

# run a PostgreSQL server tool as the cluster's owner (an unprivileged user when run as root)
as_pg() {
	if [[ -n $pg_user ]]; then
		runuser -u "$pg_user" -- "$@"
	else
		"$@"
	fi
}

fleet_pg_stop() {
	[[ -n $pg_dir && -f $pg_dir/data/postmaster.pid ]] || return 0
	as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

psql_su() {
	"$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_dir" -p 5432 -U postgres "$@"
}

# A cluster in $workdir/pg, Unix socket only (no TCP), and the role "jetsam" that the hosts
# ship as: its password is in the passfile $workdir/pgpass (libpq's PGPASSFILE format), never
# in a conninfo. Sets conninfo and passfile.
fleet_postgres() {
	local t pass
	for t in initdb pg_ctl psql; do
		[[ -x $pg_bin/$t ]] || die "$pg_bin/$t missing: install postgresql-15 (scripts/deps.sh --fleet)"
	done
	pg_dir=$workdir/pg
	if [[ $(id -u) -eq 0 ]]; then
		pg_user=nobody # PostgreSQL refuses to run as root
		chmod o+x "$workdir"
	fi
	if [[ ! -d $pg_dir/data ]]; then
		say "creating a PostgreSQL cluster in $pg_dir (Unix socket only)"
		mkdir -p "$pg_dir"
		[[ -z $pg_user ]] || chown "$pg_user" "$pg_dir"
		chmod 700 "$pg_dir"
		as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth-local=trust \
			--auth-host=reject --encoding=UTF8 --locale=C.UTF-8 --no-instructions >"$workdir/initdb.log" 2>&1 ||
			die "initdb failed (log: $workdir/initdb.log)"
		cat >>"$pg_dir/data/postgresql.conf" <<EOT
# demo.sh --fleet: no TCP, the socket in the cluster's private directory
listen_addresses = ''
unix_socket_directories = '$pg_dir'
port = 5432
EOT
		# the role the hosts ship as logs in with its password; the superuser stays local
		# to the owner of the (mode 0700) socket directory
		sed -i '1i local all jetsam scram-sha-256' "$pg_dir/data/pg_hba.conf"
	fi
	say "starting PostgreSQL ($pg_dir/.s.PGSQL.5432)"
	as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w start >/dev/null ||
		die "PostgreSQL did not start (log: $pg_dir/server.log)"
	passfile=$workdir/pgpass
	if [[ ! -s $passfile ]]; then
		pass=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
		(umask 077 && echo "*:5432:jetsam:jetsam:$pass" >"$passfile")
	fi
	pass=$(cut -d: -f5 "$passfile")
	psql_su -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'jetsam'" | grep -q 1 ||
		psql_su -d postgres -c "CREATE DATABASE jetsam"
	psql_su -d postgres >/dev/null <<EOT
DO \$\$ BEGIN CREATE ROLE jetsam LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;
ALTER ROLE jetsam PASSWORD '$pass';
ALTER DATABASE jetsam OWNER TO jetsam;
EOT
	conninfo="host=$pg_dir port=5432 dbname=jetsam user=jetsam"
}

# host N's phones: udid product os build name reports
fleet_phones() {
	case $1 in
	1) printf '%s\n' "00008101-00F1EE710E12345E iPhone13,2 15.5 19F77 Host1-iPhone-12 14" \
		"00008110-00F1EE710C41801E iPhone14,5 17.0.3 21A360 Host1-iPhone-13 10" ;;
	2) printf '%s\n' "00008101-00F1EE720E12345E iPhone13,2 15.5 19F77 Host2-iPhone-12 12" \
		"00008030-00F1EE720E43802E iPhone12,1 14.2 18B5061e Host2-iPhone-11 8" ;;
	3) printf '%s\n' "00008110-00F1EE730C41801E iPhone14,5 17.0.3 21A360 Host3-iPhone-13 12" \
		"f1b2c3d4e5f60718293a4b5c6d7e8f90123f1ee7 iPad8,2 13.1.2 17A860 Host3-iPad-Pro-11 6" ;;
	esac
}

# Host N: its simulated phones, its devsim and its jetsamd shipping as lab-host-N
fleet_host() {
	local n=$1 udid product os bld name nrep
	local dir=$workdir/host-$n seed=$((100 * n))
	mkdir -p "$dir/state"
	if [[ ! -d $dir/phones ]]; then
		while read -r udid product os bld name nrep; do
			seed=$((seed + 1))
			"$jetsamgen" phone --dir "$dir/phones.tmp/$name" --udid "$udid" \
				--product "$product" --os-version "$os" --build "$bld" \
				--name "${name//-/ }" --reports "$nrep" --seed "$seed" --retired >/dev/null
		done < <(fleet_phones "$n")
		mv "$dir/phones.tmp" "$dir/phones"
	fi
	cat >"$dir/jetsamd.conf" <<EOT
# demo.sh --fleet: host $n ships to the local PostgreSQL (password in fleet_passfile)
fleet_conninfo = $conninfo
fleet_host_id = lab-host-$n
fleet_passfile = $passfile
EOT
	rm -f "$dir/usbmuxd.sock" "$dir/devsim.ctl" "$dir/jetsamd.sock"
	"$devsim" --socket "$dir/usbmuxd.sock" --control "$dir/devsim.ctl" "$dir/phones"/*/ \
		>"$dir/devsim.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		[[ -S $dir/usbmuxd.sock ]] && break
		sleep 0.1
	done
	[[ -S $dir/usbmuxd.sock ]] || die "devsim of host $n did not start (log: $dir/devsim.log)"
	"$jetsamd" --config "$dir/jetsamd.conf" --socket "$dir/jetsamd.sock" --state-dir "$dir/state" \
		--usbmuxd-socket "UNIX:$dir/usbmuxd.sock" >"$dir/jetsamd.log" 2>&1 &
	pids=("$!" "${pids[@]}") # jetsamd before devsim
	for _ in $(seq 100); do
		"$jetsamctl" --socket "$dir/jetsamd.sock" status >/dev/null 2>&1 && return 0
		kill -0 "${pids[0]}" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/jetsamd.log" >&2
	die "jetsamd of host $n did not start (log above)"
}

# Whether every host has shipped everything: connected, outbox 0, and PostgreSQL holds as
# many reports as the hosts together
fleet_shipped() {
	local n st held total=0
	for n in 1 2 3; do
		st=$("$jetsamctl" --socket "$workdir/host-$n/jetsamd.sock" --json status 2>/dev/null) || return 1
		[[ $st == *'"fleet":{'* && ${st#*\"fleet\":\{} == *'"outbox":0'* &&
			${st#*\"fleet\":\{} == *'"connected":true'* ]] || return 1
		held=$(grep -o '"reports":[0-9]*' <<<"$st" | head -n1)
		total=$((total + ${held#*:}))
	done
	held=$(psql_su -d jetsam -tAc "SELECT count(*) FROM reports" 2>/dev/null) || return 1
	[[ $held == "$total" ]]
}

fleet_demo() {
	local n shipped=0
	[[ -x $devsim && -x $jetsamgen ]] || die "build did not produce devsim and jetsamgen"
	fleet_postgres
	for n in 1 2 3; do
		say "starting host lab-host-$n: devsim with its phones, jetsamd shipping to PostgreSQL"
		fleet_host "$n"
	done
	say "syncing every phone of every host (jetsamctl sync --wait)"
	for n in 1 2 3; do
		timeout 300 "$jetsamctl" --socket "$workdir/host-$n/jetsamd.sock" sync --wait >/dev/null ||
			echo "demo.sh: host $n: sync did not finish cleanly" >&2
	done
	say "waiting until every host has shipped (status: fleet outbox 0)"
	for _ in $(seq 600); do
		if fleet_shipped; then
			shipped=1
			break
		fi
		sleep 0.2
	done
	((shipped)) || echo "demo.sh: not everything is shipped yet (see host-*/jetsamd.log)" >&2
	say "jetsamctl --fleet '$conninfo' devices"
	PGPASSFILE=$passfile "$jetsamctl" --fleet "$conninfo" devices
	echo
	say "jetsamctl --fleet '$conninfo' limits"
	PGPASSFILE=$passfile "$jetsamctl" --fleet "$conninfo" limits
	echo
	((once)) && return 0
	cat >&2 <<EOT
Three jetsamd hosts ship to PostgreSQL (logs: $workdir/host-*/jetsamd.log). In another terminal:
    export PGPASSFILE=$passfile JETSAMCTL_FLEET='$conninfo'
    $jetsamctl events --limit 10
    $jetsamctl limit --product iPhone13,2
    $pg_bin/psql '$conninfo' -c 'SELECT * FROM jetsam_hosts'
Ctrl-C stops the hosts and PostgreSQL.
EOT
	wait "${pids[0]}"
}

if ((fleet)); then
	fleet_demo
	exit 0
fi

# --- 3. phones ---------------------------------------------------------------------------
if ((real)); then
	usbmuxd_socket=/var/run/usbmuxd
	if [[ ! -S $usbmuxd_socket ]]; then
		say "starting usbmuxd"
		if [[ -d /run/systemd/system ]]; then
			systemctl start usbmuxd.service || true
		else
			usbmuxd --user usbmux || true
		fi
		for _ in $(seq 50); do
			[[ -S $usbmuxd_socket ]] && break
			sleep 0.1
		done
		[[ -S $usbmuxd_socket ]] || die "usbmuxd is not running ('$usbmuxd_socket' missing): plug in a phone or start usbmuxd"
	fi
	mux_arg=UNIX:$usbmuxd_socket
else
	[[ -x $devsim && -x $jetsamgen ]] || die "build did not produce devsim and jetsamgen"
	phones=$workdir/phones
	# udid product os build name reports pending (iPhone7,2 has 4096-byte pages)
	specs=(
		"00008101-001234560E12345E iPhone13,2 15.5 19F77 Lab-iPhone-12 24 2"
		"00008101-0019A4C21E78002E iPhone13,2 15.5 19F77 Lab-iPhone-12-b 12 0"
		"00008110-000A3D5C0C41801E iPhone14,5 17.0.3 21A360 Lab-iPhone-13 20 1"
		"00008030-001C19E00E43802E iPhone12,1 14.2 18B5061e Lab-iPhone-11 16 0"
		"f1b2c3d4e5f60718293a4b5c6d7e8f9012345678 iPad8,2 13.1.2 17A860 Lab-iPad-Pro-11 10 1"
		"9a8b7c6d5e4f30211203a4b5c6d7e8f9a0b1c2d3 iPhone7,2 12.5.7 16H81 Old-iPhone-6 8 0"
	)
	if [[ ! -d $phones ]]; then
		say "generating ${#specs[@]} simulated phones in $phones"
		mkdir -p "$phones.tmp"
		seed=1
		for spec in "${specs[@]}"; do
			read -r udid product os bld name nrep npend <<<"$spec"
			"$jetsamgen" phone --dir "$phones.tmp/$name" --udid "$udid" \
				--product "$product" --os-version "$os" --build "$bld" \
				--name "${name//-/ }" --reports "$nrep" --pending "$npend" \
				--seed "$seed" --retired --synced >/dev/null
			seed=$((seed + 1))
		done
		mv "$phones.tmp" "$phones"
	fi
	say "starting devsim ($mux_sock)"
	rm -f "$mux_sock" "$devsim_ctl"
	"$devsim" --socket "$mux_sock" --control "$devsim_ctl" "$phones"/*/ \
		>"$workdir/devsim.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 100); do
		[[ -S $mux_sock ]] && break
		kill -0 "${pids[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	[[ -S $mux_sock ]] || {
		cat "$workdir/devsim.log" >&2
		die "devsim did not start (log above)"
	}
	mux_arg=UNIX:$mux_sock
fi

# --- 4. jetsamd ------------------------------------------------------------------------
say "starting jetsamd ($ctl_sock)"
mkdir -p "$state"
config_args=()
[[ -f $here/config/jetsamd.conf ]] && config_args=(--config "$here/config/jetsamd.conf")
rm -f "$ctl_sock"
"$jetsamd" "${config_args[@]}" --socket "$ctl_sock" --state-dir "$state" \
	--usbmuxd-socket "$mux_arg" >"$workdir/jetsamd.log" 2>&1 &
jetsamd_pid=$!
pids=("$jetsamd_pid" "${pids[@]}") # stop jetsamd before devsim
for _ in $(seq 100); do
	ctl status >/dev/null 2>&1 && break
	kill -0 "$jetsamd_pid" 2>/dev/null || break
	sleep 0.1
done
ctl status >/dev/null 2>&1 || {
	cat "$workdir/jetsamd.log" >&2
	die "jetsamd did not start (log above)"
}

say "syncing every phone (jetsamctl sync --wait)"
timeout 300 "$jetsamctl" --socket "$ctl_sock" sync --wait >/dev/null ||
	echo "demo.sh: sync did not finish cleanly; showing what is there" >&2

say "jetsamctl devices"
ctl devices
echo
say "jetsamctl limits"
ctl limits
echo

if ((once)); then
	exit 0
fi

cat >&2 <<EOT
jetsamd is running (log: $workdir/jetsamd.log). In another terminal:
    export JETSAMD_SOCKET=$ctl_sock
    $jetsamctl events --limit 10
    $jetsamctl limit --product iPhone13,2 --role foreground
EOT
if ((!real)); then
	cat >&2 <<EOT
    # a new kill on a simulated phone: write a report into its pending/ and sync
    $jetsamgen report --product iPhone13,2 --os-version 15.5 --build 19F77 \\
        --out $workdir/phones/Lab-iPhone-12/pending/JetsamEvent-new.ips && $jetsamctl sync
EOT
fi
say "watching kill events and phone states (Ctrl-C to stop)"
# In the background, so that a TERM or INT reaches our trap at once (bash runs traps only
# after a foreground child has exited). jetsamctl itself, not a subshell running ctl(): the
# TERM of cleanup() must reach it (a watch reconnects while jetsamd is away).
"$jetsamctl" --socket "$ctl_sock" watch &
watch_pid=$!
pids=("$watch_pid" "${pids[@]}")
if ! wait "$watch_pid"; then
	kill -0 "$jetsamd_pid" 2>/dev/null || die "jetsamd stopped (log: $workdir/jetsamd.log)"
	echo "demo.sh: 'jetsamctl watch' stopped; jetsamd keeps running until Ctrl-C" >&2
fi
wait "$jetsamd_pid"
