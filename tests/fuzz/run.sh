#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD_DIR SECONDS TARGET... — what `make fuzz` runs: for each libFuzzer
# target BUILD_DIR/TARGET in turn, one at a time, first the saved reproducers
# tests/fuzz/crashes/TARGET-* (regressions: each must now pass), then fuzzing for SECONDS
# (-max_total_time) from the seed corpus tests/fuzz/corpus/TARGET (read only: new units go to
# BUILD_DIR/corpus/TARGET). Prints one line per target (runs executed, new units, result) and
# exits non-zero when any target crashed, leaked, timed out (an input running over FUZZ_TIMEOUT
# seconds, default 10) or left a sanitizer report; the input is then in
# BUILD_DIR/artifacts/TARGET/ and the log in FUZZ_LOG_DIR (default BUILD_DIR/logs)/TARGET.log.
# FUZZ_FLAGS adds libFuzzer options. Leaks of third-party code are suppressed by lsan.supp.
set -uo pipefail

if [ $# -lt 3 ] || [ ! -d "$1" ]; then
	echo "usage: tests/fuzz/run.sh BUILD_DIR SECONDS TARGET..." >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
seconds=$2
shift 2
timeout=${FUZZ_TIMEOUT:-10}
logs=${FUZZ_LOG_DIR:-$build/logs}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/lsan.supp:print_suppressions=0}
status=0
summary=()

for t in "$@"; do
	bin=$build/$t
	seeds=$here/corpus/$t
	work=$build/corpus/$t
	arts=$build/artifacts/$t
	log=$logs/$t.log
	mkdir -p "$work" "$arts" "$logs"
	[ -d "$seeds" ] || seeds=
	echo "fuzz: $t for ${seconds}s (log: $log)"
	: >"$log"
	touch -d '-1 second' "$log.start"
	regressions=("$here/crashes/$t"-*)
	rc=0
	if [ -e "${regressions[0]}" ]; then
		echo "---- ${#regressions[@]} saved reproducer(s)" >>"$log"
		"$bin" -timeout="$timeout" "${regressions[@]}" >>"$log" 2>&1 || rc=$?
		echo "---- fuzzing" >>"$log"
	fi
	if [ "$rc" = 0 ]; then
		# shellcheck disable=SC2086 # FUZZ_FLAGS is a list of options
		"$bin" -max_total_time="$seconds" -timeout="$timeout" -print_final_stats=1 \
			-artifact_prefix="$arts/" ${FUZZ_FLAGS:-} "$work" $seeds >>"$log" 2>&1
		rc=$?
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
	[ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
	units=$(sed -n 's/^stat::new_units_added: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
	reports=$(grep -cE '^(==[0-9]+== ?ERROR|SUMMARY: |.*runtime error: |.*invariant failed: )' "$log")
	crash=$(find "$arts" -type f -newer "$log.start" | head -n 1) # this run's, not older ones'
	rm -f "$log.start"
	if [ "$rc" = 0 ] && [ "$reports" = 0 ] && [ -z "$crash" ]; then
		result=ok
	else
		result="FAILED (exit $rc, $reports report line(s)${crash:+, input $crash})"
		status=1
	fi
	summary+=("$(printf '%-20s %12s runs %6s new units  %s' "$t" "${runs:-?}" "${units:-?}" "$result")")
done

echo "---- fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit $status
