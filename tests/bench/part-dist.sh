#!/usr/bin/env bash
# tests/bench/part-dist.sh: data-parallel pol-train (proofwork(7), DISTRIBUTED TRAINING),
# run by `make bench` (tests/bench/run.sh). Rows on stdout, progress on stderr.
#
#   1. the chunked batch reduction on one process vs today's single chain: pol-train
#      steps/s on the benchmark MLP (784-1024-1024-10, batch 128, Fashion-MNIST), one
#      thread, chunks of 8, 16 and 32 against none, interleaved, BENCH_DIST_REPEATS runs
#      of BENCH_DIST_REDUCTION_STEPS steps each, median and spread (target: <= 5 % slower);
#   1b. the same by one step's time (bench_step --versus 0: the chunked step and the
#      single chain's in turns in one process, the median of their time ratios), 1 and 2
#      threads, chunks of 8, 16 and 32, BENCH_DIST_REPEATS processes each;
#   2. wire bytes: what rank 0 sends per step combining the gradients (pol-train's
#      "wire:" note) for 2 and 4 ranks, against DT-FM's cost model (sched-partition's
#      DataPCost assumes 2(D-1)/D of the gradient bytes per device and iteration);
#   3. step time, 1 process (1 and 2 threads) vs 2 ranks of 1 thread under mpirun on this
#      machine, interleaved, median and spread; and the 2-rank proof's root against the
#      one-process root (must be equal).
#
#   3b. pipeline step time (proofwork(7), PIPELINE STAGES): mlp:784-1024-1024-1024-10
#      (batch 128, Fashion-MNIST; four Linear layers, so 2 stages of 2), 1 process (1 and 2
#      threads) vs 2 pipeline ranks of 1 thread, without a reduce chunk (the chains
#      continued across the micro-batches) and with chunks of 8, vs 2 data-parallel ranks
#      (chunks of 8), interleaved, median and spread; every root is its one-process root;
#   4. pipeline stages (proofwork(7), PIPELINE STAGES): the bytes each rank sends per
#      step with 2 stages, and 2 stages x 2 replicas, of mlp:784-1024-1024-1024-10 (batch
#      128, chunks of 8), without a cut and with an AQ-SGD cut at the stage boundary (2, 3
#      and 4 bits forward, 8 backward), against what sched-partition's DT-FM cost model
#      assumes for the layout (fp32 activations of the replica's samples each way, 2(D-1)/D
#      of the stage's gradient); the cut's rows run in the second and third epochs of the
#      tests' 1000-sample fixture, when most rows are coded (a sample the first epoch
#      dropped still crosses at full precision on its first sight), beside the size of a
#      batch with every row coded; every proof's root is the one-process root;
#   5. predicted iteration time for the DT-FM scenarios (the data folder's
#      dtfm-scenarios.json): sched-partition's cost with each case's links and workload,
#      its activation size scaled by the measured bytes over fp32 (forward and backward).
#   6. a GPT (proofwork(7), EXACT MODE and PIPELINE STAGES): gpt:2-4-64-64 on the first
#      64 KiB of proofwork(7) as text, batch 16 (1024 tokens), AdamW with clipping,
#      BENCH_DIST_GPT_STEPS steps (default 20): the chunked reduction (chunks of 2
#      samples) vs none on one process, 1 thread; wire bytes per rank per step for 2
#      data-parallel ranks against DT-FM's 2(D-1)/D x the gradient, and for 2 pipeline
#      stages against the activations each way plus what the tied embedding adds (the
#      embedding output's gradient to the last stage, wte and wpe back to the first);
#      step time of 1 process vs those 2 ranks; every root its one-process root.
#      BENCH_DIST_ONLY=gpt runs this section alone; BENCH_DIST_ONLY=reduction runs
#      sections 1 and 1b alone.
#
#   BIN=build SCRATCH=$(mktemp -d) bash tests/bench/part-dist.sh
#
# Environment: BIN, SCRATCH, FASHION_MNIST (default Debian's), BENCH_DIST_STEPS (default
# 40), BENCH_DIST_REDUCTION_STEPS (section 1, default 200), BENCH_DIST_REPEATS (default
# 5), PW_SHARED_DATA (the data folder, default ../shared/data beside the repository).
# Needs mpirun (openmpi-bin) and an MPI build.
# On a busy machine the timings are noisy; the medians and spreads say how much. Bytes
# are exact.
set -euo pipefail
: "${BIN:?set BIN to the build directory}" "${SCRATCH:?set SCRATCH to an empty directory}"
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
STEPS=${BENCH_DIST_STEPS:-40}
RSTEPS=${BENCH_DIST_REDUCTION_STEPS:-200}
REPEATS=${BENCH_DIST_REPEATS:-5}
export PATH="$BIN:$PATH"
say() { echo "part-dist: $*" >&2; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
calc() { awk "BEGIN { printf \"%s\", ($1) }" </dev/null; }
command -v mpirun >/dev/null || { say "mpirun not found (openmpi-bin)"; exit 4; }
ranks() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }
# The repository (the tiny fixture of section 4), found before the cd: the script may be
# named by a relative path.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# lib.sh's machine, from a shell of its own (lib.sh's stats and calc differ from these)
machine=$(bash -c 'source "$1" && machine' _ "$HERE/tests/bench/lib.sh")
say "machine: $machine; load average $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$SCRATCH"

task() {  # task OUT [flags]
  local out=$1; shift
  pol-task --model mlp:784-1024-1024-10 --train-images "$DATA/train-images-idx3-ubyte.gz" \
    --train-labels "$DATA/train-labels-idx1-ubyte.gz" --lr 0.05 --momentum 0.9 --batch 128 \
    --steps "$STEPS" --checkpoint-every "$STEPS" --seed 1 -q -o "$out" "$@"
}
# rtask OUT [flags]: the same MLP for section 1, RSTEPS steps (a longer run: a 40-step
# run is half a second, within the machine's jitter)
rtask() { STEPS=$RSTEPS task "$@"; }
# median and spread (min-max) of the numbers on stdin
stats() { sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                                               printf "%.2f %.2f %.2f\n", m, v[1], v[NR] }'; }
sps() { jq -r .steps_per_second "$1"; }
# interleaved PREFIX RUNNER RUN...: REPEATS rounds, each running `RUNNER RUN` (its JSON in
# PREFIX-RUN.json) for every RUN in turn; each run's steps/s appended to PREFIX-RUN.sps.
interleaved() {
  local prefix=$1 runner=$2 r t
  shift 2
  for t in "$@"; do : >"$prefix-$t.sps"; done
  for r in $(seq 1 "$REPEATS"); do
    for t in "$@"; do
      rm -rf "${prefix:?}-$t"
      "$runner" "$t"
      sps "$prefix-$t.json" >>"$prefix-$t.sps"
    done
  done
}
# step_ms PREFIX RUN: "median ms (min-max)" of a step over RUN's runs; step_ms_median: the median.
step_ms() { read -r m lo hi < <(stats <"$1-$2.sps"); printf '%.1f ms (%.1f-%.1f)' "$(calc "1000 / $m")" "$(calc "1000 / $hi")" "$(calc "1000 / $lo")"; }
step_ms_median() { read -r m _ _ < <(stats <"$1-$2.sps"); calc "1000 / $m"; }
wire_of() {  # wire_of ERR RANK: "to-stages to-replicas" of that rank's note
  sed -n "s/.*wire: rank $2 (stage [0-9]*, replica [0-9]*) sent \([0-9]*\) bytes per step to the stages beside it and \([0-9]*\) combining.*/\1 \2/p" "$1"
}

if [ "${BENCH_DIST_ONLY:-}" != gpt ]; then   # sections 1 to 5 (6 alone: BENCH_DIST_ONLY=gpt)
task c8.pwt --reduce-chunk 8
params=$(( 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10 ))   # the gradients, in floats

# 1. chunked reduction vs the single chain, one process, one thread, interleaved.
rtask r-plain.pwt
for c in 8 16 32; do rtask "r-c$c.pwt" --reduce-chunk "$c"; done
say "reduction cost: $REPEATS x 4 runs of $RSTEPS steps"
prun() { pol-train "r-$1.pwt" -o "p-$1" -q --threads 1 --json >"p-$1.json"; }
interleaved p prun plain c8 c16 c32
read -r pm plo phi < <(stats <p-plain.sps)
for t in c8 c16 c32; do
  read -r cm clo chi < <(stats <"p-$t.sps")
  slower=$(calc "($pm / $cm - 1) * 100")
  row "chunked batch reduction, chunks of ${t#c}: pol-train steps/s ($RSTEPS steps a run), 784-1024-1024-10 batch 128, 1 thread (median of $REPEATS, min-max)" \
      "$(printf '%.2f (%.2f-%.2f)' "$cm" "$clo" "$chi")" \
      "single chain $(printf '%.2f (%.2f-%.2f)' "$pm" "$plo" "$phi")" \
      "$(printf '%+.1f %% time per step' "$slower")" \
      "<= 5 % slower: $(calc "($slower <= 5) ? \"yes\" : \"NO\"")"
done

# 1b. the same by one step's time (bench_step --versus 0: in one process, after the data
# are loaded, a workspace with the chunk and one without stepped in turns, ABBA, 40 steps
# each; the median of the steps' time ratios, so that the machine's drifts touch both
# sides of each ratio alike), 1 and 2 threads, interleaved, REPEATS processes each; the
# median of the processes' ratios and their min-max.
step_bench=
for d in "$BIN/tests" "$BIN"; do [ -x "$d/bench_step" ] && { step_bench=$d/bench_step; break; }; done
if [ -n "$step_bench" ]; then
  say "reduction cost by bench_step --versus 0: $REPEATS x 6 runs of 2 x 40 steps"
  for th in 1 2; do for c in 8 16 32; do : >"bs-$th-$c.ratio"; : >"bs-$th-$c.ms"; : >"bs-$th-$c.base"; done; done
  for r in $(seq 1 "$REPEATS"); do
    for th in 1 2; do
      for c in 8 16 32; do
        "$step_bench" --threads "$th" --steps 40 --reduce-chunk "$c" --versus 0 --json "bs.json" >/dev/null 2>&1 ||
          { say "bench_step --reduce-chunk $c --versus 0 failed"; exit 4; }
        echo "$(calc "($(jq -r .ratio bs.json) - 1) * 100")" >>"bs-$th-$c.ratio"
        jq -r .step_ms bs.json >>"bs-$th-$c.ms"
        jq -r .versus_ms bs.json >>"bs-$th-$c.base"
      done
    done
  done
  for th in 1 2; do
    for c in 8 16 32; do
      read -r cm _ _ < <(stats <"bs-$th-$c.ms")
      read -r bm _ _ < <(stats <"bs-$th-$c.base")
      read -r slower slo shi < <(stats <"bs-$th-$c.ratio")
      row "chunked batch reduction, chunks of $c: one step's time in turns with the single chain (bench_step --versus 0, 40 steps each), 784-1024-1024-10 batch 128, $th thread(s) (median of $REPEATS processes, min-max)" \
          "$(printf '%.2f ms' "$cm")" \
          "single chain $(printf '%.2f ms' "$bm")" \
          "$(printf '%+.1f %% time per step (%+.1f to %+.1f)' "$slower" "$slo" "$shi")" \
          "<= 5 % slower: $(calc "($slower <= 5) ? \"yes\" : \"NO\"")"
    done
  done
else
  say "bench_step was not built: the reduction cost by one step's time is not measured"
fi

if [ "${BENCH_DIST_ONLY:-}" != reduction ]; then   # sections 2 to 5
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

# 3b. Pipeline step time: 2 stages of 2 Linear layers, 8 micro-batches (the default)
# of 16 samples; on a machine with 2 cores the ranks share them with whatever else runs.
ltask() {  # ltask OUT [flags]
  local out=$1; shift
  pol-task --model mlp:784-1024-1024-1024-10 --train-images "$DATA/train-images-idx3-ubyte.gz" \
    --train-labels "$DATA/train-labels-idx1-ubyte.gz" --lr 0.05 --momentum 0.9 --batch 128 \
    --steps "$STEPS" --checkpoint-every "$STEPS" --seed 1 -q -o "$out" "$@"
}
ltask l-plain.pwt
ltask l-c8.pwt --reduce-chunk 8
say "pipeline step time: $REPEATS x 6 runs of $STEPS steps"
lrun() {
  case $1 in
    one1) pol-train l-plain.pwt -o l-$1 -q --threads 1 --json >l-$1.json ;;
    one2) pol-train l-plain.pwt -o l-$1 -q --threads 2 --json >l-$1.json ;;
    one1c) pol-train l-c8.pwt -o l-$1 -q --threads 1 --json >l-$1.json ;;
    pp2) ranks 2 pol-train l-plain.pwt -o l-$1 -q --threads 1 --pipeline 2 --json >l-$1.json ;;
    pp2c) ranks 2 pol-train l-c8.pwt -o l-$1 -q --threads 1 --pipeline 2 --json >l-$1.json ;;
    dp2c) ranks 2 pol-train l-c8.pwt -o l-$1 -q --threads 1 --data-parallel 2 --json >l-$1.json ;;
  esac
}
interleaved l lrun one1 one2 one1c pp2 pp2c dp2c
for t in one2 pp2; do
  [ "$(jq -r .root l-$t.json)" = "$(jq -r .root l-one1.json)" ] || { say "$t gave another root than one process"; exit 1; }
done
for t in pp2c dp2c; do
  [ "$(jq -r .root l-$t.json)" = "$(jq -r .root l-one1c.json)" ] || { say "$t gave another root than one process"; exit 1; }
done
row "pipeline step time: 2 stages x 1 thread under mpirun, 784-1024-1024-1024-10 batch 128, 8 micro-batches, this 2-core machine (median of $REPEATS, min-max)" \
    "no reduce chunk (chains continued) $(step_ms l pp2); chunks of 8 $(step_ms l pp2c)" \
    "1 process: 1 thread $(step_ms l one1), 2 threads $(step_ms l one2); chunks of 8, 1 thread $(step_ms l one1c); 2 data-parallel ranks (chunks of 8) $(step_ms l dp2c)" \
    "$(printf 'pipeline %.2f x, data-parallel %.2f x the 1-thread time per step' "$(calc "$(step_ms_median l pp2) / $(step_ms_median l one1)")" "$(calc "$(step_ms_median l dp2c) / $(step_ms_median l one1c)")")" \
    "same root as 1 process: yes"

# 4. Pipeline wire bytes. The fixture's 1000 samples make 7 steps of 128 an epoch: one
# process trains the first epoch (killed after its checkpoint at step 7), then each
# layout resumes a copy and trains steps 7 to 21, most samples already seen.
TINY="$HERE/tests/fixtures/tiny"
ptask() {  # ptask OUT [flags]
  local out=$1; shift
  pol-task --model mlp:784-1024-1024-1024-10 --train-images "$TINY/train-images-idx3-ubyte.gz" \
    --train-labels "$TINY/train-labels-idx1-ubyte.gz" --lr 0.05 --momentum 0.9 --batch 128 --reduce-chunk 8 \
    --steps 21 --checkpoint-every 7 --seed 1 -q -o "$out" "$@"
}
B=128 W=1024
stage0=$(( 784 * 1024 + 1024 + 1024 * 1024 + 1024 ))   # stage 0's gradient, floats (layers 0, 1)
stage1=$(( 1024 * 1024 + 1024 + 1024 * 10 + 10 ))       # stage 1's (layers 2, 3)
: >ratios
for cut in none 2 3 4; do
  if [ "$cut" = none ]; then ptask "pp-$cut.pwt"; else ptask "pp-$cut.pwt" --cut "2:$cut"; fi
  rm -rf "pp-$cut-one" "pp-$cut-e1"
  pol-train "pp-$cut.pwt" -o "pp-$cut-one" -q --threads 1 --json >"pp-$cut-one.json"
  (pol-train "pp-$cut.pwt" -o "pp-$cut-e1" -q --threads 1 --kill-after 7 || true) 2>/dev/null
  test -f "pp-$cut-e1/ckpt-00000007.pwc" || { say "no checkpoint after the first epoch"; exit 1; }
  for layout in "2 1" "4 2"; do
    read -r n D <<<"$layout"
    dir="pp-$cut-$n"
    rm -rf "$dir"; cp -r "pp-$cut-e1" "$dir"
    ranks "$n" pol-train "pp-$cut.pwt" -o "$dir" --threads 1 --pipeline 2 --data-parallel "$D" --json >"$dir.json" 2>"$dir.err"
    [ "$(jq -r .root "$dir.json")" = "$(jq -r .root "pp-$cut-one.json")" ] || { say "pipeline $layout gave another root"; exit 1; }
    read -r f0 c0 < <(wire_of "$dir.err" 0)   # rank 0: stage 0, replica 0
    read -r b1 c1 < <(wire_of "$dir.err" "$D")  # stage 1, replica 0
    act=$(( B / D * W * 4 ))
    m0=$(calc "2 * ($D - 1) / $D * 4 * $stage0")
    m1=$(calc "2 * ($D - 1) / $D * 4 * ($stage1 + 1)")
    name=$([ "$cut" = none ] && echo "no cut, fp32" || echo "AQ-SGD cut at the boundary, $cut bits forward, 8 backward")
    coded=$([ "$cut" = none ] && echo "" || echo " (every row coded: $(( 1 + 4 * W + B / D * W * cut / 8 )) B)")
    row "pipeline wire bytes per rank per step, 2 stages x $D replica(s), 784-1024-1024-1024-10 batch 128, $name" \
        "stage 0 sends $f0 B forward$coded, stage 1 $b1 B backward; combining $c0 / $c1 B" \
        "DT-FM: activations $act B each way; DataPCost 2(D-1)/D x stage gradient = $(printf '%.0f / %.0f' "$m0" "$m1") B" \
        "$(printf 'forward %.4f x, backward %.4f x the fp32 activations' "$(calc "$f0 / $act")" "$(calc "$b1 / $act")")" \
        "same root as 1 process: yes"
    [ "$D" = 1 ] && echo "$cut $(calc "($f0 + $b1) / (2 * $act)")" >>ratios
  done
done

# 5. Predicted iteration time for the DT-FM scenarios, the activations scaled by the
# measured ratios.
base=${PW_SHARED_DATA:-$HERE/../shared/data}
SC="$base/dtfm-scenarios.json"
[ -f "$SC" ] || { say "missing $SC: the DT-FM scenarios (the data folder beside the repository; PW_SHARED_DATA names another)"; exit 1; }
for case in $(jq -r '.cases[].name' "$SC"); do
  act_gb=$(jq -r --arg c "$case" '.cases[] | select(.name == $c) | .activation_gb' "$SC")
  line=""
  while read -r cut ratio; do
    sched-partition --scenarios "$SC" --scenario "$case" --effort 0.05 -q --json \
      --activation-gb "$(calc "$act_gb * $ratio")" >"pred-$case-$cut.json"
    line="$line $( [ "$cut" = none ] && echo fp32 || echo "$cut-bit") $(jq -r '.cost.cost_s | . * 1000 | round / 1000' "pred-$case-$cut.json") s;"
  done <ratios
  row "DT-FM predicted iteration cost (DataPCost + 2 x PipelinePCost), $case, activations x measured ratio (first sights included)" \
      "$line" "scenario activations $act_gb GB fp32" "ratios: $(tr '\n' ' ' <ratios)" "sched-partition --effort 0.05"
done
fi
fi
[ "${BENCH_DIST_ONLY:-}" = reduction ] && exit 0

# 6. A GPT across ranks: gpt:2-4-64-64, batch 16, interleaved runs.
GSTEPS=${BENCH_DIST_GPT_STEPS:-20}
head -c 65536 "$HERE/man/proofwork.7" >gpt-text.txt
gtask() {  # gtask OUT [flags]
  local out=$1; shift
  pol-task --model gpt:2-4-64-64 --text gpt-text.txt --optimizer adamw --lr 0.001 --weight-decay 0.1 --clip 1.0 \
    --batch 16 --steps "$GSTEPS" --checkpoint-every "$GSTEPS" --seed 1 -q -o "$out" "$@"
}
gtask g-plain.pwt
gtask g-c2.pwt --reduce-chunk 2
L=2 C=64 T=64 V=256 GB=16
gparams=$(( V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C ))   # the gradients, in floats
say "GPT: $REPEATS x 5 runs of $GSTEPS steps"
grun() {
  case $1 in
    one1) pol-train g-plain.pwt -o g-$1 -q --threads 1 --json >g-$1.json ;;
    one1c) pol-train g-c2.pwt -o g-$1 -q --threads 1 --json >g-$1.json ;;
    dp2c) ranks 2 pol-train g-c2.pwt -o g-$1 --threads 1 --data-parallel 2 --json >g-$1.json 2>g-$1.err ;;
    pp2) ranks 2 pol-train g-plain.pwt -o g-$1 --threads 1 --pipeline 2 --json >g-$1.json 2>g-$1.err ;;
    pp2c) ranks 2 pol-train g-c2.pwt -o g-$1 --threads 1 --pipeline 2 --json >g-$1.json 2>g-$1.err ;;
  esac
}
interleaved g grun one1 one1c dp2c pp2 pp2c
[ "$(jq -r .root g-pp2.json)" = "$(jq -r .root g-one1.json)" ] || { say "GPT: 2 stages gave another root"; exit 1; }
for t in dp2c pp2c; do
  [ "$(jq -r .root g-$t.json)" = "$(jq -r .root g-one1c.json)" ] || { say "GPT: $t gave another root"; exit 1; }
done
row "GPT chunked batch reduction, chunks of 2 samples (128 rows): pol-train time per step, gpt:2-4-64-64 batch 16, 1 thread (median of $REPEATS, min-max)" \
    "$(step_ms g one1c)" "single chain $(step_ms g one1)" \
    "$(printf '%+.1f %% time per step' "$(calc "($(step_ms_median g one1c) / $(step_ms_median g one1) - 1) * 100")")" "-"
got=$(sed -n 's/.*wire: rank 0 sent \([0-9]*\) bytes per step.*/\1/p' g-dp2c.err)
model=$(calc "2 * (2 - 1) / 2 * 4 * $gparams")
row "GPT wire bytes per rank per step, 2 data-parallel ranks (gpt:2-4-64-64, $gparams fp32 gradients)" \
    "$got B" "DT-FM DataPCost: 2(D-1)/D x gradient = $(printf '%.0f' "$model") B" \
    "$(printf '%.6f x the model' "$(calc "$got / $model")")" "the loss's 4 bytes more: $(calc "($got - $model) <= 8 ? \"yes\" : \"NO\"")"
act=$(( GB * T * C * 4 )) tied=$(( (V + T) * C * 4 ))
for t in pp2 pp2c; do
  read -r f0 _ < <(wire_of "g-$t.err" 0)
  read -r b1 _ < <(wire_of "g-$t.err" 1)
  row "GPT pipeline wire bytes per rank per step, 2 stages, $([ $t = pp2 ] && echo "no reduce chunk" || echo "chunks of 2")" \
      "stage 0 sends $f0 B, stage 1 $b1 B" \
      "DT-FM: activations $act B each way; the tied embedding adds $act B (stage 0 to 1) and $tied B (wte, wpe: 1 to 0)" \
      "$(printf 'stage 0 %.4f x, stage 1 %.4f x (activations + tie)' "$(calc "$f0 / (2 * $act)")" "$(calc "$b1 / ($act + $tied)")")" \
      "same root as 1 process: yes"
done
row "GPT step time: 2 ranks x 1 thread under mpirun vs 1 process, gpt:2-4-64-64 batch 16, this 2-core machine (median of $REPEATS, min-max)" \
    "2 data-parallel ranks (chunks of 2) $(step_ms g dp2c); 2 stages: no chunk $(step_ms g pp2), chunks of 2 $(step_ms g pp2c)" \
    "1 process, 1 thread: $(step_ms g one1); chunks of 2 $(step_ms g one1c)" \
    "$(printf 'data-parallel %.2f x, pipeline %.2f x the 1-thread time' "$(calc "$(step_ms_median g dp2c) / $(step_ms_median g one1c)")" "$(calc "$(step_ms_median g pp2) / $(step_ms_median g one1)")")" \
    "same root as 1 process: yes"
