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
# machine: the CPU as the figures depend on it, e.g. "AMD EPYC (x86 family 26 model 2;
# L1d 48K, L2 1M a core; AVX-512 present, our kernels AVX2 at most), 2 cores". The
# model name of a VM's CPU often names no generation; the family, the caches and the
# AVX-512 flag do, and the same code's ratios differ between generations.
machine() {
  local name fam model caches l1 l2 avx512=absent
  name=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
  fam=$(sed -n 's/^cpu family[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -1)
  model=$(sed -n 's/^model[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -1)
  caches=$(lscpu --caches=NAME,ONE-SIZE 2>/dev/null)
  l1=$(awk '$1 == "L1d" { print $2 }' <<<"$caches")
  l2=$(awk '$1 == "L2" { print $2 }' <<<"$caches")
  grep -qw avx512f /proc/cpuinfo 2>/dev/null && avx512=present
  printf '%s (x86 family %s model %s; L1d %s, L2 %s a core; AVX-512 %s, our kernels AVX2 at most), %s cores' \
    "${name:-unknown CPU}" "${fam:-?}" "${model:-?}" "${l1:-?}" "${l2:-?}" "$avx512" "$(nproc 2>/dev/null || echo '?')"
}
