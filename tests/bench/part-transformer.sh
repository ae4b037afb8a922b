#!/usr/bin/env bash
# tests/bench/part-transformer.sh: the exact-mode transformer kernels (bench_transformer),
# run by tests/bench/run.sh with BIN (the build directory) and SCRATCH (an empty
# directory). Markdown rows on stdout, the full table on stderr.
#
# Each kernel at the shapes of one gpt:6-6-384-256 step at batch 8, on 1 and on
# BENCH_THREADS (default nproc) threads: ms/call (median of TRANSFORMER_REPS calls,
# default 9, with the spread) and GB/s or GFLOP/s. No competitor runs here: the training
# benchmark compares whole steps with PyTorch's.
set -euo pipefail
: "${BIN:?}" "${SCRATCH:?}"
THREADS=${BENCH_THREADS:-$(nproc 2>/dev/null || echo 2)}
REPS=${TRANSFORMER_REPS:-9}
mkdir -p "$SCRATCH"
bench=""
for d in "$BIN/tests" "$BIN"; do [ -x "$d/bench_transformer" ] && { bench="$d/bench_transformer"; break; }; done
[ -n "$bench" ] || { echo "part-transformer: bench_transformer not built" >&2; exit 4; }

rows=$SCRATCH/rows.md
: >"$rows"
for t in $(printf '%s\n' 1 "$THREADS" | sort -un); do
  echo "part-transformer: bench_transformer --threads $t" >&2
  "$bench" --threads "$t" --reps "$REPS" --md "$rows" >&2
done
cat "$rows"
