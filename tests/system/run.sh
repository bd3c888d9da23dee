#!/bin/sh
# run.sh -- automake entry for the system tests (TAP driver).
#
# Runs pytest on tests/system against $GSLBD (exported by make) and turns
# its JUnit report into one TAP line per test case; pytest's own output
# follows as TAP comments, so a failing case's traceback is in the .log.
# Environment: GSLBD, top_srcdir (from make); PYTHON overrides the
# interpreter (default: Debian's /usr/bin/python3, which has python3-dnspython
# and python3-pytest; a pyenv python3 earlier in PATH would not).

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
export top_srcdir
# no __pycache__ in the source tree
PYTHONDONTWRITEBYTECODE=1; export PYTHONDONTWRITEBYTECODE
if [ -z "${PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
if [ -z "${GSLBD:-}" ] || [ ! -x "$GSLBD" ]; then
	echo "1..1"
	echo "not ok 1 - GSLBD is not an executable (GSLBD=${GSLBD:-unset})"
	exit 0
fi
export GSLBD

work=$(mktemp -d "${TMPDIR:-/tmp}/gslbd-systest.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM

# -p no:cacheprovider: no .pytest_cache in the (possibly read-only) tree.
"$PYTHON" -m pytest -q -rA -p no:cacheprovider \
	--junitxml="$work/junit.xml" -o junit_family=xunit1 --durations=10 \
	--rootdir="$top_srcdir/tests/system" \
	"$top_srcdir/tests/system" >"$work/pytest.out" 2>&1
rc=$?

"$PYTHON" "$top_srcdir/tests/system/junit2tap.py" "$work/junit.xml" "$rc"
sed 's/^/# /' "$work/pytest.out"
exit 0
