#!/bin/bash
# run.sh BUILD_DIR [SECONDS] -- run every libFuzzer target built in
# BUILD_DIR (configure CC=clang --enable-fuzzers --enable-sanitizers) for
# SECONDS each (default 20), from its seed corpus in tests/fuzz/.  The
# corpus grows in a temporary directory, never in the tree.  Prints one
# line per target and exits non-zero if any found a crash, a leak or a
# sanitizer report (the input is kept and named in the output).
set -u
build=$1
secs=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/gslbd-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0

# target seed-dir max-input-length
for spec in "query corpus 4096" "config corpus-config 16384" \
	    "kubefed corpus-kubefed 16384" "tcp_frame corpus-tcp-frame 8192" \
	    "control corpus-control 9000"; do
	set -- $spec
	bin="$build/tests/fuzz/fuzz_$1"
	if [ ! -x "$bin" ]; then
		echo "not ok - fuzz_$1: not built"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$work/$1" "$work/crash-$1"
	if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -max_len="$3" \
		-artifact_prefix="$work/crash-$1/" "$work/$1" "$here/$2" \
		> "$work/$1.log" 2>&1; then
		runs=$(grep -Eo 'Done [0-9]+ runs' "$work/$1.log" | grep -Eo '[0-9]+')
		echo "ok - fuzz_$1: ${runs:-?} inputs in ${secs}s, nothing found"
	else
		echo "not ok - fuzz_$1: see below"
		tail -40 "$work/$1.log"
		mkdir -p /tmp/gslbd-fuzz-crashes
		cp -r "$work/crash-$1" /tmp/gslbd-fuzz-crashes/ 2>/dev/null
		echo "(inputs kept in /tmp/gslbd-fuzz-crashes/crash-$1)"
		failed=$((failed + 1))
	fi
done
[ "$failed" -eq 0 ]
