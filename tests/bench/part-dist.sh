#!/usr/bin/env bash
# tests/bench/part-dist.sh: data-parallel pol-train (proofwork(7), DISTRIBUTED TRAINING),
# run by `make bench` (tests/bench/run.sh). Rows on stdout, progress on stderr.
#
#   1. the chunked batch reduction on one process vs today's single chain: pol-train
#      steps/s on the benchmark MLP (784-1024-1024-10, batch 128, Fashion-MNIST), one
#      thread, chunks of 8 and 32 against none, interleaved, BENCH_DIST_REPEATS runs
#      each, median and spread (target: <= 5 % slower);
#   2. wire bytes: what rank 0 sends per step combining the gradients (pol-train's
#      "wire:" note) for 2 and 4 ranks, against DT-FM's cost model (sched-partition's
#      DataPCost assumes 2(D-1)/D of the gradient bytes per device and iteration);
#   3. step time, 1 process (1 and 2 threads) vs 2 ranks of 1 thread under mpirun on this
#      machine, interleaved, median and spread; and the 2-rank proof's root against the
#      one-process root (must be equal).
#
#   BIN=build SCRATCH=$(mktemp -d) bash tests/bench/part-dist.sh
#
# Environment: BIN, SCRATCH, FASHION_MNIST (default Debian's), BENCH_DIST_STEPS (default
# 40), BENCH_DIST_REPEATS (default 5). Needs mpirun (openmpi-bin) and an MPI build. Not
# measured: pipeline stages and the AQ-SGD cut's bytes across ranks (not implemented).
# On a busy machine the timings are noisy; the medians and spreads say how much.
set -euo pipefail
: "${BIN:?set BIN to the build directory}" "${SCRATCH:?set SCRATCH to an empty directory}"
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
STEPS=${BENCH_DIST_STEPS:-40}
REPEATS=${BENCH_DIST_REPEATS:-5}
export PATH="$BIN:$PATH"
say() { echo "part-dist: $*" >&2; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
calc() { awk "BEGIN { printf \"%s\", ($1) }" </dev/null; }
command -v mpirun >/dev/null || { say "mpirun not found (openmpi-bin)"; exit 4; }
ranks() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }
cd "$SCRATCH"

task() {  # task OUT [flags]
  local out=$1; shift
  pol-task --model mlp:784-1024-1024-10 --train-images "$DATA/train-images-idx3-ubyte.gz" \
    --train-labels "$DATA/train-labels-idx1-ubyte.gz" --lr 0.05 --momentum 0.9 --batch 128 \
    --steps "$STEPS" --checkpoint-every "$STEPS" --seed 1 -q -o "$out" "$@"
}
# median and spread (min-max) of the numbers on stdin
stats() { sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                                               printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'; }
sps() { jq -r .steps_per_second "$1"; }

task plain.pwt
task c8.pwt --reduce-chunk 8
task c32.pwt --reduce-chunk 32
params=$(( 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10 ))   # the gradients, in floats

# 1. chunked reduction vs the single chain, one process, one thread, interleaved.
say "reduction cost: $REPEATS x 3 runs of $STEPS steps"
: >plain.sps; : >c8.sps; : >c32.sps
for r in $(seq 1 "$REPEATS"); do
  for t in plain c8 c32; do
    rm -rf "p-$t"
    pol-train "$t.pwt" -o "p-$t" -q --threads 1 --json >"$t.json"
    sps "$t.json" >>"$t.sps"
  done
done
read -r pm plo phi < <(stats <plain.sps)
for t in c8 c32; do
  read -r cm clo chi < <(stats <"$t.sps")
  slower=$(calc "($pm / $cm - 1) * 100")
  row "chunked batch reduction, chunks of ${t#c}: pol-train steps/s, 784-1024-1024-10 batch 128, 1 thread (median of $REPEATS, min-max)" \
      "$(printf '%.2f (%.2f-%.2f)' "$cm" "$clo" "$chi")" \
      "single chain $(printf '%.2f (%.2f-%.2f)' "$pm" "$plo" "$phi")" \
      "$(printf '%+.1f %% time per step' "$slower")" \
      "<= 5 % slower: $(calc "($slower <= 5) ? \"yes\" : \"NO\"")"
done

# 2 and 3. ranks: wire bytes and step time; the root is one process's.
say "ranks: $REPEATS x 3 runs"
: >one1.sps; : >one2.sps; : >dp2.sps
for r in $(seq 1 "$REPEATS"); do
  rm -rf one1 one2 dp2
  pol-train c8.pwt -o one1 -q --threads 1 --json >one1.json; sps one1.json >>one1.sps
  pol-train c8.pwt -o one2 -q --threads 2 --json >one2.json; sps one2.json >>one2.sps
  ranks 2 pol-train c8.pwt -o dp2 --threads 1 --data-parallel 2 --json >dp2.json 2>dp2.err; sps dp2.json >>dp2.sps
done
[ "$(jq -r .root dp2.json)" = "$(jq -r .root one1.json)" ] || { say "2 ranks gave another root"; exit 1; }
rm -rf dp4
ranks 4 pol-train c8.pwt -o dp4 --threads 1 --data-parallel 4 --json >dp4.json 2>dp4.err
[ "$(jq -r .root dp4.json)" = "$(jq -r .root one1.json)" ] || { say "4 ranks gave another root"; exit 1; }
for n in 2 4; do
  got=$(sed -n 's/.*wire: rank 0 sent \([0-9]*\) bytes per step.*/\1/p' dp$n.err)
  model=$(calc "2 * ($n - 1) / $n * 4 * $params")
  row "wire bytes per rank per step, $n data-parallel ranks (784-1024-1024-10, fp32 gradients)" \
      "$got B" "DT-FM DataPCost: 2(D-1)/D x gradient = $(printf '%.0f' "$model") B" \
      "$(printf '%.6f x the model' "$(calc "$got / $model")")" "the loss's 4 bytes more: $(calc "($got - $model) <= 8 ? \"yes\" : \"NO\"")"
done
read -r a alo ahi < <(stats <one1.sps)
read -r b blo bhi < <(stats <one2.sps)
read -r c clo chi < <(stats <dp2.sps)
row "step time: 2 data-parallel ranks x 1 thread under mpirun vs 1 process, this machine (median of $REPEATS, min-max)" \
    "$(printf '%.2f steps/s (%.2f-%.2f)' "$c" "$clo" "$chi")" \
    "$(printf '1 process: 1 thread %.2f (%.2f-%.2f), 2 threads %.2f (%.2f-%.2f)' "$a" "$alo" "$ahi" "$b" "$blo" "$bhi")" \
    "$(printf '%.2f x 1 thread, %.2f x 2 threads' "$(calc "$c / $a")" "$(calc "$c / $b")")" \
    "same root as 1 process (1, 2, 4 ranks): yes"
