#!/usr/bin/env bash
# tests/bench/part-plot.sh: pol-plot's speed (pol-plot(1)), run by `make bench`
# (tests/bench/run.sh). Rows on stdout, progress on stderr.
#
#   1. a 10,000-step proof (MLP 784-32-10 on the tiny fixture, 100 segments), with its
#      task: the loss, the learning rate and the update norm of every segment (every
#      checkpoint file read and checked against the manifest); target < 1 s;
#   2. the same steps with 1,000 segments: 1,001 checkpoint files read and checked;
#   3. a verdict of 1,000 replayed segments; target < 1 s;
#   4. rows 1 and 3 to PNG: pol-plot and rsvg-convert together.
# Each time is the best of three runs, wall clock, on all cores.
#
#   BIN=build SCRATCH=$(mktemp -d) bash tests/bench/part-plot.sh
set -euo pipefail
: "${BIN:?set BIN to the build directory}"
: "${SCRATCH:?set SCRATCH to an empty directory}"
HERE=$(cd "$(dirname "$0")" && pwd)
TINY=$HERE/../fixtures/tiny
for p in pol-task pol-train pol-verify pol-plot; do
  [ -x "$BIN/$p" ] || { echo "part-plot: $BIN/$p is missing; build first" >&2; exit 4; }
done
export PATH="$BIN:$PATH"
cd "$SCRATCH"
say() { echo "part-plot: $*" >&2; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
calc() { awk "BEGIN { printf \"%s\", ($1) }" </dev/null; }
now() { date +%s.%N; }
best() {  # best CMD...: the fastest of three runs, seconds
  local b=1e9 t0 t
  for _ in 1 2 3; do
    t0=$(now)
    "$@" -f -q
    t=$(calc "$(now) - $t0")
    b=$(calc "$t < $b ? $t : $b")
  done
  printf '%.3f' "$b"
}
task() {  # task OUT EVERY
  pol-task --model mlp:784-32-10 --train-images "$TINY/train-images-idx3-ubyte.gz" \
    --train-labels "$TINY/train-labels-idx1-ubyte.gz" --lr 0.05 --momentum 0.9 --batch 32 \
    --steps 10000 --checkpoint-every "$2" --seed 5 -q -o "$1"
}

say "training two 10,000-step proofs (100 and 1,000 segments) and verifying the second in full"
task t100.pwt 100
task t1000.pwt 10
pol-train t100.pwt -o p100 -q
pol-train t1000.pwt -o p1000 -q
pol-verify t1000.pwt p1000 -o v1000.pwv -q

t1=$(best pol-plot t100.pwt p100 -o p100.svg)
row "pol-plot: a 10,000-step proof with its task (100 segments: loss, learning rate, update norms), SVG" \
  "$t1 s" "$(stat -c %s p100.svg) bytes" "—" "< 1 s"
t2=$(best pol-plot t1000.pwt p1000 -o p1000.svg)
row "pol-plot: the same with 1,000 segments (1,001 checkpoint files read and checked), SVG" \
  "$t2 s" "$(stat -c %s p1000.svg) bytes" "—" "—"
t3=$(best pol-plot v1000.pwv -o v1000.svg)
row "pol-plot: a verdict of 1,000 replayed segments, SVG" "$t3 s" "$(stat -c %s v1000.svg) bytes" "—" "< 1 s"
if command -v rsvg-convert >/dev/null; then
  t4=$(best pol-plot t100.pwt p100 -o p100.png)
  t5=$(best pol-plot v1000.pwv -o v1000.png)
  row "pol-plot to PNG (with rsvg-convert): the 10,000-step proof; the 1,000-segment verdict" "$t4 s" "$t5 s" "—" "—"
else
  say "rsvg-convert missing: no PNG rows (install librsvg2-bin)"
fi
