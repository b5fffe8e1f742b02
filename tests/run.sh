#!/usr/bin/env bash
# tests/run.sh BUILD_DIR — what `make test` and `make asan` run: BUILD_DIR/unit_tests, then
# BUILD_DIR/integration_tests against a throwaway PostgreSQL (tests/pg.sh, random port, temp dir)
# with BUILD_DIR/pglane in front. Prints one closing line with the summed counts and exits
# non-zero when a test failed or a binary did not run. With ASAN=1 it also fails when any output
# of the tests or any pglane log holds a sanitizer report; with TSAN=1 when a pglane log holds
# a ThreadSanitizer report (PGLANE_RUN_BIN: the pglane to test, default BUILD_DIR/pglane).
set -uo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: tests/run.sh BUILD_DIR" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)

tmp=$(mktemp -d /tmp/pglane-test-XXXXXX) || exit 1
chmod 755 "$tmp" # PostgreSQL runs as an unprivileged user under it when we are root
pgdir=$tmp/pg
pg_started=0
status=0

cleanup() {
	local d
	# a standby a test built (tests/pg.sh standby) and could not stop, e.g. when it timed out
	for d in "$tmp"/it/*/; do
		[ -f "$d/data/postmaster.pid" ] || continue
		"$here/pg.sh" stop "$d" || echo "run.sh: could not stop PostgreSQL in $d" >&2
	done
	if [ "$pg_started" = 1 ]; then
		"$here/pg.sh" stop "$pgdir" || echo "run.sh: could not stop PostgreSQL in $pgdir" >&2
	fi
	if [ "$status" = 0 ]; then
		rm -rf "$tmp"
	else
		echo "run.sh: logs kept in $tmp (pglane logs in $tmp/it/*/pglane.log)" >&2
	fi
}
trap cleanup EXIT
trap 'status=1; exit 130' INT TERM

# "[====] Synthesis: Tested: 7 | Passing: 7 | Failing: 0 | Crashing: 0" -> "7 7 0 0"
synthesis() {
	sed 's/\x1b\[[0-9;]*m//g' "$1" |
		sed -n 's/.*Synthesis: Tested: \([0-9]*\) | Passing: \([0-9]*\) | Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2 \3 \4/p' |
		tail -n 1
}

# A free TCP port on 127.0.0.1 for PostgreSQL (below the ephemeral range, apart from the
# 20000-29999 range the harness picks pglane ports from).
free_port() {
	local p i
	for i in $(seq 1 100); do
		p=$((15432 + RANDOM % 4500))
		if command -v ss >/dev/null 2>&1; then
			[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
		elif ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

tested=0 passed=0 failed=0 crashed=0
unit_summary="did not run"
it_summary="did not run"

# Run one Criterion binary; add its counts; $2 names it in the summary.
run_criterion() {
	local name=$1 log=$2 rc counts t p f c
	shift 2
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	counts=$(synthesis "$log")
	if [ -z "$counts" ]; then
		echo "run.sh: $name did not finish (exit $rc, no Synthesis line)" >&2
		status=1
		return 1
	fi
	read -r t p f c <<<"$counts"
	tested=$((tested + t)) passed=$((passed + p)) failed=$((failed + f)) crashed=$((crashed + c))
	if [ "$name" = unit ]; then unit_summary="$p/$t"; else it_summary="$p/$t"; fi
	if [ "$rc" != 0 ] || [ "$f" != 0 ] || [ "$c" != 0 ] || [ "$p" != "$t" ]; then
		status=1
	fi
	if [ "$t" = 0 ]; then
		echo "run.sh: warning: $name ran no test" >&2
	fi
	return 0
}

# Every failed or crashed test of the logs given, with its first failed assertion, so that
# the last lines of a run (all a CI page may keep) name what failed.
failures() {
	sed 's/\x1b\[[0-9;]*m//g' "$@" 2>/dev/null | awk '
		/^\[RUN \]/ { first = ""; grab = 0; next }
		/Assertion Failed/ { if (first == "") { first = $2; grab = 1 } next }
		grab == 1 && /^\[----\]   [^ ]/ { first = first " " substr($0, 10); grab = 2; next }
		/^\[FAIL\] / { sub(/:$/, "", $2); print "run.sh: FAILED " $2 ": " first; first = "" }
		/CRASH/ && /^\[----\] / { print "run.sh: CRASHED " $0 }'
}

summary() {
	failures "$tmp/unit.log" "$tmp/integration.log"
	echo "TOTAL: tested $tested, passed $passed, failed $failed, crashed $crashed" \
		"(unit $unit_summary, integration $it_summary)"
	echo "pglane-tests: $passed passed, $((tested - passed)) failed"
}

# ---- unit tests ----
if [ -x "$build/unit_tests" ]; then
	run_criterion unit "$tmp/unit.log" "$build/unit_tests" --jobs 2
else
	echo "run.sh: $build/unit_tests is missing" >&2
	status=1
fi

# ---- integration tests ----
if [ ! -x "$build/integration_tests" ] || [ ! -x "$build/pglane" ]; then
	echo "run.sh: $build/integration_tests or $build/pglane is missing" >&2
	status=1
else
	pgport=$(free_port) || {
		echo "run.sh: no free port for PostgreSQL" >&2
		status=1
	}
	if [ -n "${pgport:-}" ] && "$here/pg.sh" start "$pgdir" "$pgport"; then
		pg_started=1
		export PGLANE_TEST_PGHOST=127.0.0.1
		export PGLANE_TEST_PGPORT=$pgport
		# for tests that build a standby: $PGLANE_TEST_PGSH standby $PGLANE_TEST_PGDIR DIR PORT
		export PGLANE_TEST_PGDIR=$pgdir
		export PGLANE_TEST_PGSH=$here/pg.sh
		export PGLANE_BIN=${PGLANE_RUN_BIN:-$build/pglane} # make tsan: a ThreadSanitizer build
		if [ "${TSAN:-0}" = 1 ]; then
			export TSAN_OPTIONS="suppressions=$here/tsan.supp second_deadlock_stack=1"
			export PGLANE_TEST_START_MS=60000 # a 10 MB certificate chain loads slowly
		fi
		export PGLANE_TEST_TMP=$tmp/it
		mkdir -p "$PGLANE_TEST_TMP"
		# The tests share one cluster: one at a time.
		run_criterion integration "$tmp/integration.log" "$build/integration_tests" --jobs 1 --verbose
	else
		echo "run.sh: could not start PostgreSQL" >&2
		status=1
	fi
fi

# ---- sanitizer reports ----
if [ "${TSAN:-0}" = 1 ]; then
	reports=$(grep -l -E 'WARNING: ThreadSanitizer|ThreadSanitizer: ' "$tmp"/it/*/pglane*.log \
		2>/dev/null || true)
	if [ -n "$reports" ]; then
		echo "run.sh: ThreadSanitizer reports in:" >&2
		for f in $reports; do
			echo "== $f" >&2
			grep -n -E -A 30 'WARNING: ThreadSanitizer' "$f" | head -n 80 >&2
		done
		status=1
	fi
fi
if [ "${ASAN:-0}" = 1 ]; then
	reports=$(grep -l -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' \
		"$tmp"/*.log "$tmp"/it/*/pglane*.log 2>/dev/null || true)
	if [ -n "$reports" ]; then
		echo "run.sh: sanitizer reports in:" >&2
		for f in $reports; do
			echo "== $f" >&2
			grep -n -E -A 12 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$f" |
				head -n 60 >&2
		done
		status=1
	fi
fi

if [ "$tested" = 0 ]; then
	status=1
fi
summary
exit "$status"
