#!/usr/bin/env bash
# tests/bench/part-tsplib.sh: sched-tsp's TSP solver on every TSPLIB95 instance of the
# shared folder, against the published optima (optima.txt there): the closed tour's gap
# and the wall time of one `sched-tsp --tsplib FILE --closed` run (reading, solving,
# checking, printing), seed 1, default settings: two kick chains on the default thread
# count (all cores; the rows say how many, and the machine's load average, since a busy
# machine stretches the times). Beside it, the same solver without its iterated local
# search (--kicks 0: greedy start + 2-opt/Or-opt/LK only) shows what the kicks buy.
# Targets: every instance of at most 3,000 nodes within 0.5 % of the optimum, the mean
# gap at most 0.2 %, at most 2 s each on 2 cores; equal to the optimum up to 16 nodes. Last
# rows: the instances over 1,000 nodes with seeds 2 and 3 (how much the gap depends on the
# seed), and a seed giving the same tour on a second run and on one thread.
#
#   BIN=build SCRATCH=$(mktemp -d) bash tests/bench/part-tsplib.sh
#
# Environment: BIN (build directory with sched-tsp), SCRATCH (an empty directory),
# TSPLIB_DIR (default: ../shared/data/tsplib beside the repository, which CI provides;
# without it the part fails, exit 4, rather than print a table without its rows).
# Progress goes to stderr, the Markdown rows (five columns, no header) to stdout.
set -euo pipefail

: "${BIN:?set BIN to the build directory}"
: "${SCRATCH:?set SCRATCH to an empty directory}"
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${TSPLIB_DIR:-$HERE/../../../shared/data/tsplib}
TSP=$BIN/sched-tsp
[ -x "$TSP" ] || { echo "part-tsplib: $TSP is missing; build first" >&2; exit 4; }
command -v jq >/dev/null || { echo "part-tsplib: jq is needed" >&2; exit 4; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
[ -r "$DIR/optima.txt" ] ||
  { echo "part-tsplib: no $DIR/optima.txt: the TSPLIB folder beside the repository is missing (set TSPLIB_DIR)" >&2; exit 4; }
calc() { awk "BEGIN { printf \"%s\", ($1) }" </dev/null; }  # parenthesised: awk reads a bare > as a redirection
now() { date +%s.%N; }

count=0 within2=0 within05=0 small=0 small_exact=0 over_time=0
worst_gap=0 worst_name="" max_time=0 max_name="" sum_gap=0
for f in "$DIR"/*.tsp; do
  name=$(basename "$f" .tsp)
  opt=$(awk -v n="$name" '$1 == n { print $3 }' "$DIR/optima.txt")
  [ -n "$opt" ] || { echo "part-tsplib: no optimum for $name in $DIR/optima.txt" >&2; exit 4; }
  t0=$(now)
  "$TSP" --tsplib "$f" --closed --json -q >"$SCRATCH/$name.json"
  wall=$(calc "$(now) - $t0")
  "$TSP" --tsplib "$f" --closed --kicks 0 --json -q >"$SCRATCH/$name.nokick.json"
  len=$(jq -r .length "$SCRATCH/$name.json")
  n=$(jq -r .dimension "$SCRATCH/$name.json")
  capped=$(jq -r .time_capped "$SCRATCH/$name.json")
  nok=$(jq -r .length "$SCRATCH/$name.nokick.json")
  gap=$(calc "100 * ($len - $opt) / $opt")
  nogap=$(calc "100 * ($nok - $opt) / $opt")
  echo "$name ($n nodes): $len vs optimum $opt, gap $(printf %.2f "$gap") % in $(printf %.2f "$wall") s" \
    "($(jq -r .kicks "$SCRATCH/$name.json") kicks$([ "$capped" = true ] && echo ", TIME CAP"));" \
    "without kicks $nok ($(printf %.2f "$nogap") %)" >&2
  count=$((count + 1))
  ok=$(calc "($gap <= 0.5) && ($wall <= 2)")
  [ "$(calc "$gap <= 2")" = 1 ] && within2=$((within2 + 1))
  [ "$(calc "$gap <= 0.5")" = 1 ] && within05=$((within05 + 1))
  [ "$(calc "$wall > 2")" = 1 ] && over_time=$((over_time + 1))
  if [ "$n" -le 16 ]; then
    small=$((small + 1))
    [ "$len" = "$opt" ] && small_exact=$((small_exact + 1))
  fi
  [ "$(calc "$gap > $worst_gap")" = 1 ] && worst_gap=$gap worst_name=$name
  [ "$(calc "$wall > $max_time")" = 1 ] && max_time=$wall max_name=$name
  sum_gap=$(calc "$sum_gap + $gap")
  row "TSPLIB $name ($n nodes), closed tour, seed 1$([ "$n" -le 16 ] && echo ", Held–Karp")" \
    "$len (+$(printf %.2f "$gap") %) in $(printf %.2f "$wall") s$([ "$capped" = true ] && echo " (time cap)")" \
    "optimum $opt; no kicks $nok (+$(printf %.2f "$nogap") %)" "$(printf %.4f "$(calc "$len / $opt")")×" \
    "≤ 1.005× in ≤ 2 s$([ "$ok" = 1 ] && echo " ✓" || echo " ✗")"
done
[ "$count" -gt 0 ] || { echo "part-tsplib: no instances in $DIR" >&2; exit 4; }

# Other seeds on the instances over 1,000 nodes: the gap of each, the worst of them.
seeds_text="" seeds_worst=0 seeds_over=0 seeds_runs=0
for f in "$DIR"/*.tsp; do
  name=$(basename "$f" .tsp)
  n=$(jq -r .dimension "$SCRATCH/$name.json")
  [ "$n" -gt 1000 ] || continue
  opt=$(awk -v n="$name" '$1 == n { print $3 }' "$DIR/optima.txt")
  for seed in 2 3; do
    len=$("$TSP" --tsplib "$f" --closed --seed "$seed" --json -q | jq -r .length)
    gap=$(calc "100 * ($len - $opt) / $opt")
    echo "$name seed $seed: $len, gap $(printf %.2f "$gap") %" >&2
    seeds_text="$seeds_text $name/$seed +$(printf %.2f "$gap") %;"
    seeds_runs=$((seeds_runs + 1))
    [ "$(calc "$gap > 0.5")" = 1 ] && seeds_over=$((seeds_over + 1))
    [ "$(calc "$gap > $seeds_worst")" = 1 ] && seeds_worst=$gap
  done
done

# Determinism: the largest instance again, and on one thread: the same tour expected.
big=$(ls -S "$DIR"/*.tsp | head -1)
"$TSP" --tsplib "$big" --closed -q >"$SCRATCH/again-1.txt"
"$TSP" --tsplib "$big" --closed -q >"$SCRATCH/again-2.txt"
"$TSP" --tsplib "$big" --closed -q --threads 1 >"$SCRATCH/again-t1.txt"
same=$(cmp -s "$SCRATCH/again-1.txt" "$SCRATCH/again-2.txt" && cmp -s "$SCRATCH/again-1.txt" "$SCRATCH/again-t1.txt" &&
  echo identical || echo DIFFERENT)
echo "determinism: $(basename "$big") twice with seed 1 and once on one thread: $same tours" >&2
threads=${OMP_NUM_THREADS:-$(nproc)}
load=$(cut -d' ' -f1-3 /proc/loadavg)

row "**TSPLIB, all $count instances**: within 2 % / within 0.5 % of the optimum; worst gap; mean gap" \
  "**$within2 / $within05 of $count**; worst +$(printf %.2f "$worst_gap") % ($worst_name); mean +$(printf %.2f "$(calc "$sum_gap / $count")") %" \
  "published optima" "—" "all ≤ 0.5 %, mean ≤ 0.2 %$([ "$within05" = "$count" ] && [ "$(calc "$sum_gap / $count <= 0.2")" = 1 ] && echo " ✓" || echo " ✗")"
row "TSPLIB: slowest instance (wall time per run, incl. reading and the tour check, $threads threads, load average $load on $(nproc) cores); runs over 2 s" \
  "$(printf %.2f "$max_time") s ($max_name); $over_time over 2 s" "—" "—" "≤ 2 s each$([ "$over_time" = 0 ] && echo " ✓" || echo " ✗")"
row "TSPLIB: instances of ≤ 16 nodes solved to the optimum (Held–Karp)" "$small_exact of $small" "—" "—" "all"
row "TSPLIB: instances over 1,000 nodes with seeds 2 and 3 (closed); runs over 0.5 %" \
  "worst +$(printf %.2f "$seeds_worst") %; $seeds_over of $seeds_runs over 0.5 %" "$seeds_text" "—" "≤ 0.5 % each$([ "$seeds_over" = 0 ] && echo " ✓" || echo " ✗")"
row "TSPLIB: same seed, same tour ($(basename "$big" .tsp) run twice, and on one thread)" "$same" "—" "—" "identical"
