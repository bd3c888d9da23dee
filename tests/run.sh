#!/bin/bash
# run.sh -- the whole test suite, as the README tells: `bash tests/run.sh`.
#
# 1. installs the Debian packages (tests/deps.sh; quick when present),
# 2. autoreconf -fi,
# 3. _build/:     configure --enable-werror, make, make check
#                 (unit TAP tests + system tests against the real binary),
# 4. _build-san/: the same with --enable-sanitizers (ASan + UBSan, leaks on).
# Both builds are out of tree so the source tree stays clean.  On failure
# the failing tests' .log files are printed.  The last line is
# "N passed, N failed", summed over both runs from automake's .trs files;
# the exit status is non-zero on any failure (a failed build counts as one).
#
# Environment: JOBS (default 2), SKIP_DEPS=1 to skip the package step,
# SKIP_SAN=1 to skip the sanitizer build (quicker local runs); a third
# stage fuzzes every libFuzzer target for FUZZ_SECONDS each (SKIP_FUZZ=1).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
jobs=${JOBS:-2}
steps_failed=0
t_start=$(date +%s)

say() { printf '==> %s\n' "$*"; }

if [ "${SKIP_DEPS:-0}" != 1 ]; then
	say "installing dependencies"
	bash "$top/tests/deps.sh" || { echo "deps.sh failed"; echo "0 passed, 1 failed"; exit 1; }
fi

if [ -f "$top/config.status" ]; then
	echo "the source tree is configured in place; run 'make distclean' there first"
	echo "0 passed, 1 failed"
	exit 1
fi

say "autoreconf -fi"
if ! autoreconf -fi >"$top/autoreconf.log" 2>&1; then
	cat "$top/autoreconf.log"
	echo "0 passed, 1 failed"
	exit 1
fi
rm -f "$top/autoreconf.log"

# print_failed_logs DIR: the .log of every test whose result was not a pass.
print_failed_logs() {
	local trs
	find "$1" -name '*.trs' | sort | while read -r trs; do
		if grep -Eq '^:global-test-result: (FAIL|ERROR|XPASS)' "$trs"; then
			echo "----- ${trs%.trs}.log -----"
			cat "${trs%.trs}.log"
			echo "----- end of ${trs%.trs}.log -----"
		fi
	done
}

# build_and_check NAME DIR CONFIGURE-ARGS...
build_and_check() {
	local name=$1 dir=$2 t0 rc
	shift 2
	t0=$(date +%s)
	say "[$name] configure $* (in ${dir#$top/})"
	mkdir -p "$dir"
	find "$dir" -name '*.trs' -delete
	if ! (cd "$dir" && "$top/configure" --enable-werror "$@" >configure.out 2>&1); then
		tail -n 40 "$dir/configure.out"
		[ -f "$dir/config.log" ] && tail -n 60 "$dir/config.log"
		echo "[$name] configure FAILED"
		steps_failed=$((steps_failed + 1))
		return
	fi
	say "[$name] make -j$jobs"
	if ! (cd "$dir" && make -j"$jobs" >make.out 2>&1); then
		tail -n 80 "$dir/make.out"
		echo "[$name] build FAILED"
		steps_failed=$((steps_failed + 1))
		return
	fi
	say "[$name] make check"
	# Only non-passes and the summary on the console; every result is in
	# check.out and the per-test .log files.  Bounded: a wedged test must
	# not eat CI's budget.
	(cd "$dir" && timeout 1200 make -j"$jobs" check >check.out 2>&1)
	rc=$?
	grep -E '^(FAIL|ERROR|XPASS|XFAIL|SKIP):|^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$dir/check.out"
	if [ "$rc" -ne 0 ]; then
		echo "[$name] make check FAILED (exit $rc)"
		print_failed_logs "$dir"
		# make check failed without a failing .trs: a check program did not build.
		if ! find "$dir" -name '*.trs' -exec grep -Eq '^:test-result: (FAIL|ERROR|XPASS)' {} + 2>/dev/null; then
			tail -n 60 "$dir/check.out"
			steps_failed=$((steps_failed + 1))
		fi
	fi
	say "[$name] done in $(( $(date +%s) - t0 ))s"
}

build_and_check plain "$top/_build"

if [ "${SKIP_SAN:-0}" != 1 ]; then
	export ASAN_OPTIONS=detect_leaks=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	build_and_check sanitizers "$top/_build-san" --enable-sanitizers
	unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# Fuzzing: every libFuzzer target for FUZZ_SECONDS (default 20) under
# ASan+UBSan, from its seed corpus; SKIP_FUZZ=1 skips it.
fuzz_passed=0
fuzz_failed=0
if [ "${SKIP_FUZZ:-0}" != 1 ]; then
	t0=$(date +%s)
	say "[fuzz] configure CC=clang --enable-fuzzers --enable-sanitizers (in _build-fuzz)"
	mkdir -p "$top/_build-fuzz"
	if ( cd "$top/_build-fuzz" && "$top/configure" -q CC=clang \
		--enable-fuzzers --enable-sanitizers &&
	     make -s -j2 tests/fuzz/fuzz_query tests/fuzz/fuzz_config \
		tests/fuzz/fuzz_kubefed tests/fuzz/fuzz_tcp_frame \
		tests/fuzz/fuzz_control ) > "$top/_build-fuzz/build.log" 2>&1; then
		out=$(ASAN_OPTIONS=detect_leaks=1 bash "$top/tests/fuzz/run.sh" \
			"$top/_build-fuzz" "${FUZZ_SECONDS:-20}")
		echo "$out"
		fuzz_passed=$(grep -c '^ok ' <<< "$out" || true)
		fuzz_failed=$(grep -c '^not ok ' <<< "$out" || true)
	else
		tail -30 "$top/_build-fuzz/build.log"
		echo "[fuzz] build FAILED"
		fuzz_failed=1
	fi
	say "[fuzz] done in $(( $(date +%s) - t0 ))s"
fi

# count RESULT-REGEX: test cases with that result over both build dirs.
count() {
	local dirs=() d
	for d in "$top/_build" "$top/_build-san"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	[ ${#dirs[@]} -eq 0 ] && { echo 0; return; }
	find "${dirs[@]}" -name '*.trs' -exec cat {} + 2>/dev/null |
		grep -Ec "^:test-result: ($1)\$" || true
}
if [ "${SKIP_SAN:-0}" = 1 ]; then
	rm -rf "$top/_build-san"
fi

passed=$(( $(count 'PASS|XFAIL') + fuzz_passed ))
failed=$(( $(count 'FAIL|ERROR|XPASS') + steps_failed + fuzz_failed ))
skipped=$(count 'SKIP')

say "total time $(( $(date +%s) - t_start ))s; $skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
