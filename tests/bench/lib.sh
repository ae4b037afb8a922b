# shellcheck shell=bash
# tests/bench/lib.sh: helpers shared by tests/bench/run.sh and its part-*.sh scripts
# (sourced; proofwork(7), TESTS AND BENCHMARKS).

# json FILE EXPR: one field of a JSON document, via jq.
json() { jq -r "$2" "$1"; }
# calc EXPR: floating-point arithmetic with awk.
calc() { awk "BEGIN { printf \"%s\", $1 }" </dev/null; }
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }' </dev/null; }
# now: a wall-clock timestamp; since T0: seconds elapsed since now gave T0.
now() { date +%s.%N; }
since() { calc "$(now) - $1"; }
# faster A B: A > B (both numbers).
faster() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
# stats X...: "MEDIAN MIN MAX" of the numbers (the median of an even count is the mean
# of the middle two).
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}
