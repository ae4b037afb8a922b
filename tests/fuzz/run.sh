#!/bin/bash
# Runs every fuzz target (tests/fuzz/targets) for SECONDS each, from its committed seeds
# (corpus/NAME/, read only) and a working corpus in BUILD/fuzz-corpus/NAME that grows
# between runs, with -rss_limit_mb=1024 and -timeout=10. Prints one row a target:
# executions, coverage (libFuzzer's cov: and ft:), crashes, hangs (over 10 s), inputs
# over the memory bound, peak RSS; the inputs that failed in this run are kept in
# BUILD/fuzz-findings/NAME/ (emptied when NAME runs again).
# Exit 1 when any target found anything (proofwork(7), TESTS AND BENCHMARKS).
# With FUZZ_RUNS=N in the environment, each target runs N executions instead (no time
# bound): the long run that shows 10^6 executions a target.
#   tests/fuzz/run.sh BUILD_FUZZ_DIR [SECONDS [TARGET...]]     (make fuzz FUZZ_SECONDS=N)
set -uo pipefail
BUILD=$(cd "${1:?usage: run.sh BUILD_FUZZ_DIR [SECONDS [TARGET...]]}" && pwd)
SECONDS_EACH=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
HERE=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(grep -E '^[a-z_]+$' "$HERE/targets")
FIND=$BUILD/fuzz-findings
LOGS=$BUILD/fuzz-logs
mkdir -p "$FIND" "$LOGS"
# Leaks are findings too; a UBSan report stops the run like a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1

printf '%-13s %10s %7s %7s %7s %6s %6s %6s %9s %6s\n' target execs exec/s cov ft crash hang oom peak_MB corpus
bad=0
for t in "${targets[@]}"; do
  bin=$BUILD/tests/fuzz/fuzz-$t
  if [ ! -x "$bin" ]; then echo "run.sh: $bin is not built (make fuzz)" >&2; bad=1; continue; fi
  work=$BUILD/fuzz-corpus/$t
  mkdir -p "$work"
  log=$LOGS/$t.log
  rm -rf "${FIND:?}/$t"
  mkdir -p "$FIND/$t"
  if [ -n "${FUZZ_RUNS:-}" ]; then bound=(-runs="$FUZZ_RUNS"); else bound=(-max_total_time="$SECONDS_EACH"); fi
  "$bin" "${bound[@]}" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$FIND/$t/" "$work" "$HERE/corpus/$t" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  crash=$(ls "$FIND/$t" | grep -Ec "^(crash|leak|deadly)-" || true)
  hang=$(ls "$FIND/$t" | grep -c "^timeout-" || true)
  oom=$(ls "$FIND/$t" | grep -c "^oom-" || true)
  found=$(ls "$FIND/$t" | wc -l)
  printf '%-13s %10s %7s %7s %7s %6s %6s %6s %9s %6s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "$crash" "$hang" "$oom" "${peak:-?}" "$(ls "$work" | wc -l)"
  if [ "$rc" != 0 ] || [ "$found" != 0 ] || [ -z "$execs" ]; then
    echo "  $t: exit $rc; see $log and $FIND/$t/" >&2
    bad=1
  fi
done
exit $bad
