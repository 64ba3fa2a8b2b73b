#!/usr/bin/env bash
# test.sh: installs deps, builds jetsamd twice (gcc -Werror; clang ASan+UBSan+fuzzers) and runs the whole suite and the format check
#
# usage: scripts/test.sh [--no-asan] [MESON_TEST_ARGS...]
#   build/       gcc, -Dwerror=true: unit, integration tests
#   build-asan/  clang, -Db_sanitize=address,undefined -Db_lundef=false -Dfuzzing=true:
#                unit, integration and fuzz smoke tests under ASan (leak checks on) + UBSan
#   then clang-format --dry-run --Werror over the C sources.
# Extra arguments go to both `meson test` runs (e.g. --suite unit). The last line printed
# is "N passed, N failed, N skipped"; the exit status is non-zero when anything failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

asan=1
test_args=()
for arg in "$@"; do
	case $arg in
	--no-asan) asan=0 ;;
	-h | --help)
		sed -n '4,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
		exit 0
		;;
	*) test_args+=("$arg") ;;
	esac
done

section() {
	printf '\n=== %s ===\n' "$*"
}

section "dependencies"
scripts/deps.sh --test

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export MESON_TESTTHREADS=${MESON_TESTTHREADS:-$(nproc)}

steps=()
logs=()

# setup_build DIR CC OPTIONS...: configure DIR once; later runs only update the options
setup_build() {
	local dir=$1 cc=$2
	shift 2
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		meson configure "$dir" "$@" >/dev/null
	else
		CC=$cc meson setup "$dir" "$@"
	fi
}

# build_and_test NAME DIR CC TIMEOUT_MULTIPLIER OPTIONS...
build_and_test() {
	local name=$1 dir=$2 cc=$3 mult=$4
	shift 4
	section "$name: build ($dir)"
	rm -f "$dir/meson-logs/testlog.json"
	if setup_build "$dir" "$cc" "$@" && meson compile -C "$dir"; then
		steps+=("build $name=ok")
	else
		steps+=("build $name=fail")
		return 0
	fi
	section "$name: meson test"
	# failures are counted from the test log below
	meson test -C "$dir" --no-rebuild --print-errorlogs \
		--timeout-multiplier "$mult" "${test_args[@]}" || true
	logs+=("$dir/meson-logs/testlog.json")
}

build_and_test gcc build gcc 1 -Dwerror=true
if ((asan)); then
	build_and_test asan build-asan clang 3 \
		-Db_sanitize=address,undefined -Db_lundef=false -Dfuzzing=true
fi

section "clang-format"
mapfile -t sources < <(
	if git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$here" ls-files --cached --others --exclude-standard -- '*.c' '*.h'
	else
		find . \( -name '.git' -o -name 'build*' -o -name node_modules \) -prune -o \
			-type f \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||'
	fi | grep -v -e '^build' -e '/node_modules/' | sort -u
)
existing=()
for f in "${sources[@]}"; do
	[[ -f $f ]] && existing+=("$f")
done
if ((${#existing[@]} == 0)); then
	echo "no C sources found"
	steps+=("clang-format=fail")
else
	unformatted=()
	for f in "${existing[@]}"; do
		clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
	done
	if ((${#unformatted[@]} == 0)); then
		echo "clang-format: all ${#existing[@]} C files formatted"
		steps+=("clang-format=ok")
	else
		for f in "${unformatted[@]}"; do
			echo "not clang-formatted: $f (first lines of the change:)"
			diff -u "$f" <(clang-format "$f") | sed -n '3,14p' || true
		done
		echo "clang-format: ${#unformatted[@]} of ${#existing[@]} files need 'clang-format -i'"
		steps+=("clang-format=fail")
	fi
fi

section "summary"
step_args=()
for s in "${steps[@]}"; do
	step_args+=(--step "$s")
done
exec python3 scripts/test-summary.py "${step_args[@]}" "${logs[@]}"
