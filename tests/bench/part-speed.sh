#!/usr/bin/env bash
# tests/bench/part-speed.sh: exact-mode training speed against PyTorch at every thread
# setting, measured honestly (proofwork(7), TESTS AND BENCHMARKS). Run by tests/bench/run.sh
# with BIN and SCRATCH set, or alone:
#
#   BIN=build SCRATCH=/tmp/x tests/bench/part-speed.sh
#
# Progress on stderr, table rows (| what | proofwork | baseline | ratio | target |) on stdout.
#
#   1. The machine's FP32 FMA peak and one exact step op by op (bench_step): the step's
#      GFLOP/s as a share of the peak, and where its time goes.
#   2. One epoch (468 steps) of MLP 784-1024-1024-10 at batch 128, SGD lr 0.05 momentum
#      0.9, on Fashion-MNIST. Settings: pol-train --threads 1 and 2; PyTorch at every
#      combination of set_num_threads (and OMP_NUM_THREADS) 1/2 × OPENBLAS_NUM_THREADS 1/2;
#      pol-verify's replay of an honest proof at --threads 1 and 2. Each setting runs
#      $BENCH_REPEATS times, interleaved: round r runs every setting once, in an order
#      rotated by r, so load from elsewhere falls on all of them alike. Each setting's
#      median steps/s and spread (min–max); then best median against best median.
#
# What each figure times:
#   pol-train   `seconds` of its --json: from the end of opening the proof directory
#               (dataset read, checkpoint 0 written) to the end of the last step,
#               including the checkpoints after steps 234 and 468 and the manifest
#               writes; "steps only" subtracts its `checkpoint_seconds` (the time inside
#               those writes: serialising, hashing, fsync).
#   PyTorch     torch_mlp.py's loop: per step the batch gather and uint8→float/255,
#               zero_grad, forward, loss, backward, optimizer step; 10 untimed warm-up
#               steps first (a separate model); dataset read and interpreter start excluded.
#   pol-verify  `replaySeconds` of its verdict: the steps replayed from each checkpoint,
#               without reading and hashing the checkpoints (checkSeconds).
#   whole runs  the wall time of each pol-train and pol-verify process, start to exit:
#               what a user waits for. Both read and hash the dataset; pol-train writes
#               3 checkpoints and computes the test accuracy, pol-verify reads and hashes
#               the 3 checkpoints (each segment's first one read ahead on the spare core
#               at --threads 1: pol-verify --read-ahead) and replays both segments.
#
# Environment: BIN, SCRATCH (required); FASHION_MNIST (default Debian's
# /usr/share/datasets/fashion-mnist); BENCH_REPEATS (runs per setting, default 5; at
# least 5 for figures to quote); BENCH_SPEED_STEPS (default 468); PYTHON (default
# /usr/bin/python3); SKIP_TORCH=1 leaves PyTorch out.
set -euo pipefail
: "${BIN:?set BIN to the build directory}" "${SCRATCH:?set SCRATCH to an empty scratch directory}"
BIN=$(cd "$BIN" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
REPEATS=${BENCH_REPEATS:-5}
STEPS=${BENCH_SPEED_STEPS:-468}
PYTHON=${PYTHON:-/usr/bin/python3}
MODEL=784-1024-1024-10 BATCH=128 LR=0.05 MOMENTUM=0.9
EVERY=$(( STEPS / 2 > 0 ? STEPS / 2 : 1 ))
# json, calc, fmt, faster, stats: tests/bench/lib.sh.
source "$HERE/lib.sh"
say() { printf '  -- %s\n' "$*" >&2; }
die() { echo "part-speed.sh: $*" >&2; exit 4; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
for p in pol-task pol-train pol-verify; do [ -x "$BIN/$p" ] || die "$BIN/$p is missing; build first"; done
command -v jq >/dev/null || die "jq is needed (apt-get install jq)"
[ "$REPEATS" -ge 1 ] 2>/dev/null || die "BENCH_REPEATS must be a positive integer"
mkdir -p "$SCRATCH"
cd "$SCRATCH"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
say "machine: $(machine); load average $load_start"

# ---------------------------------------------------------------- 1. peak and step breakdown
step_bench=""
for d in "$BIN/tests" "$BIN"; do [ -x "$d/bench_step" ] && { step_bench=$d/bench_step; break; }; done
if [ -n "$step_bench" ]; then
  for t in 1 2; do
    say "1. FMA peak and one exact step op by op, $t thread(s)"
    "$step_bench" --threads "$t" --steps 30 --json "step-$t.json" --md "step-$t.md" >&2 || die "bench_step failed"
    cat "step-$t.md"
  done
else
  row "FMA peak and step breakdown" "skipped" "bench_step was not built" "—" "—"
fi

# ---------------------------------------------------------------- 2. training speed
say "2. MLP $MODEL, batch $BATCH, SGD lr $LR momentum $MOMENTUM, $STEPS steps; $REPEATS interleaved rounds"
"$BIN/pol-task" --model "mlp:$MODEL" --train-images "$DATA/train-images-idx3-ubyte.gz" \
  --train-labels "$DATA/train-labels-idx1-ubyte.gz" --optimizer sgd --lr $LR --momentum $MOMENTUM \
  --batch $BATCH --steps "$STEPS" --checkpoint-every $EVERY --seed 1 -o task.pwt -q ||
  die "pol-task failed (is Fashion-MNIST in $DATA? Debian: dataset-fashion-mnist)"

torch_ok=no
if [ "${SKIP_TORCH:-0}" != 1 ]; then
  if "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then torch_ok=yes; else
    say "PyTorch is not importable by $PYTHON (Debian: python3-torch python3-numpy): its rows are skipped"; fi
fi
# Settings: ours:T, torch:T:OB, verify:T. Verification replays the proof of the same
# round's pol-train at the same thread count (the proof exists by then: ours come first).
settings="ours:1 ours:2"
[ "$torch_ok" = no ] || settings="$settings torch:1:1 torch:1:2 torch:2:1 torch:2:2"
settings="$settings verify:1 verify:2"
read -r -a S <<<"$settings"
n=${#S[@]}

run_setting() {  # run_setting SETTING ROUND: appends "steps/s" to SETTING's file
  local s=$1 r=$2 kind t ob f out t0
  IFS=: read -r kind t ob <<<"$s"
  f=res-${s//:/-}
  case $kind in
    ours)
      rm -rf "proof-$t-$r"
      t0=$(now)
      "$BIN/pol-train" task.pwt -o "proof-$t-$r" --threads "$t" --json -q >"$f.r$r.json" || die "pol-train failed"
      since "$t0" >>"$f.wall" && echo >>"$f.wall"
      out=$(json "$f.r$r.json" .steps_per_second)
      echo "$(json "$f.r$r.json" "$STEPS / (.seconds - .checkpoint_seconds)")" >>"$f.steps-only"
      json "$f.r$r.json" .root >>"roots"
      say "round $r: pol-train --threads $t: $(fmt "$out" %.1f) steps/s (steps only $(fmt "$(tail -1 "$f.steps-only")" %.1f)), root $(json "$f.r$r.json" .root | cut -c1-12)"
      ;;
    torch)
      OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$ob "$PYTHON" "$HERE/torch_mlp.py" --threads "$t" --steps "$STEPS" \
        --repeats 1 --batch $BATCH --lr $LR --momentum $MOMENTUM --widths $MODEL --data "$DATA" >"$f.r$r.json" ||
        die "torch_mlp.py failed"
      out=$(json "$f.r$r.json" .steps_per_second)
      say "round $r: PyTorch threads $t, OpenBLAS $ob: $(fmt "$out" %.1f) steps/s"
      ;;
    verify)
      t0=$(now)
      "$BIN/pol-verify" task.pwt "proof-$t-$r" --threads "$t" --json -o "$f.r$r.json" -q ||
        die "pol-verify rejected an honest proof"
      since "$t0" >>"$f.wall" && echo >>"$f.wall"
      out=$(json "$f.r$r.json" "$STEPS / .replaySeconds")
      rm -rf "proof-$t-$r"
      say "round $r: pol-verify --threads $t: replay $(fmt "$out" %.1f) steps/s"
      ;;
  esac
  echo "$out" >>"$f.sps"
}
: >roots
for r in $(seq "$REPEATS"); do
  # Rotated by r: the torch and ours settings take turns going first; verification stays
  # after the training whose proof it replays.
  order=()
  for i in $(seq 0 $((n - 1))); do order+=("${S[$(( (i + r - 1) % n ))]}"); done
  for s in "${order[@]}"; do [ "${s%%:*}" = verify ] || run_setting "$s" "$r"; done
  for s in "${order[@]}"; do [ "${s%%:*}" != verify ] || run_setting "$s" "$r"; done
done

[ "$(sort -u roots | wc -l)" = 1 ] || die "pol-train's root differs between runs or thread counts: exact mode is broken"
root=$(head -1 roots)

# med SETTING [SUFFIX]: "median min max" of its steps/s.
med() { local v; mapfile -t v <"res-${1//:/-}.${2:-sps}"; stats "${v[@]}"; }
label() {
  local kind t ob
  IFS=: read -r kind t ob <<<"$1"
  case $kind in
    ours) echo "pol-train --threads $t" ;;
    torch) echo "PyTorch set_num_threads($t), OMP_NUM_THREADS=$t, OPENBLAS_NUM_THREADS=$ob" ;;
    verify) echo "pol-verify --threads $t (replay)" ;;
  esac
}
spread() { read -r m lo hi <<<"$1"; echo "$(fmt "$m" %.1f) ($(fmt "$lo" %.1f)–$(fmt "$hi" %.1f))"; }
best_of() {  # best_of KIND: the setting with the highest median
  local b="" bm=0 s m
  for s in "${S[@]}"; do
    [ "${s%%:*}" = "$1" ] || continue
    read -r m _ <<<"$(med "$s")"
    if [ -z "$b" ] || faster "$m" "$bm"; then b=$s bm=$m; fi
  done
  echo "$b"
}
what="MLP $MODEL, batch $BATCH, SGD momentum, $STEPS steps, median (min–max) of $REPEATS interleaved runs"
for s in "${S[@]}"; do
  extra=""
  [ "${s%%:*}" != ours ] || extra="; steps only (without the 2 checkpoint writes): $(spread "$(med "$s" steps-only)")"
  row "Training steps/s, $(label "$s") ($what)" "$(spread "$(med "$s")")$extra" "—" "—" "—"
done
bo=$(best_of ours)
read -r mo _ <<<"$(med "$bo")"
read -r mo_steps _ <<<"$(med "$bo" steps-only)"
if [ "$torch_ok" = yes ]; then
  bt=$(best_of torch)
  read -r mt _ <<<"$(med "$bt")"
  row "**Training steps/s, best vs best median** (ours incl. its 2 checkpoint writes; $what)" \
    "**$(fmt "$mo" %.1f)** ($(label "$bo"))" "**$(fmt "$mt" %.1f)** ($(label "$bt"))" \
    "**$(fmt "$(calc "$mo / $mt")" %.2f)×**" "≥ 1.2× (stretch 1.4×)"
  row "Training steps/s, best vs best median, ours steps only (its checkpoint_seconds taken out)" \
    "$(fmt "$mo_steps" %.1f) ($(label "$bo"))" "$(fmt "$mt" %.1f)" "$(fmt "$(calc "$mo_steps / $mt")" %.2f)×" "—"
fi
# Replay against training at each thread count (the best training setting's first).
for t in ${bo#ours:} $((3 - ${bo#ours:})); do
  read -r mv _ <<<"$(med "verify:$t")"
  read -r mtr _ <<<"$(med "ours:$t")"
  read -r mtr_steps _ <<<"$(med "ours:$t" steps-only)"
  row "Verification: pol-verify replay steps/s vs pol-train steps/s (medians, --threads $t; replay excludes checkpoint reads and hashes, training includes writes)" \
    "$(fmt "$mv" %.1f)" "$(fmt "$mtr" %.1f) (training; steps only $(fmt "$mtr_steps" %.1f))" "$(fmt "$(calc "$mv / $mtr")" %.2f)× ($(fmt "$(calc "$mv / $mtr_steps")" %.2f)× of steps only)" "≥ 1.0×"
done
# Whole runs, at each thread count: pol-verify's wall time against pol-train's (seconds,
# lower is better; the ratio is training's over verification's, so ≥ 1 is as fast).
for t in 1 2; do
  read -r wv wv_lo wv_hi <<<"$(med "verify:$t" wall)"
  read -r wt wt_lo wt_hi <<<"$(med "ours:$t" wall)"
  row "Whole runs, --threads $t: pol-verify (every segment) vs pol-train, wall seconds start to exit (median (min–max))" \
    "$(fmt "$wv" %.2f) s ($(fmt "$wv_lo" %.2f)–$(fmt "$wv_hi" %.2f))" "$(fmt "$wt" %.2f) s ($(fmt "$wt_lo" %.2f)–$(fmt "$wt_hi" %.2f)) (training)" \
    "$(fmt "$(calc "$wt / $wv")" %.2f)× (training time / verification time)" "≥ 1.0×"
done
row "Training root, every run and thread count ($STEPS steps)" "identical: ${root:0:12}" "—" "—" "identical"
if [ -n "$step_bench" ]; then
  t=${bo#ours:}
  peak=$(json "step-$t.json" .peak_gflops)
  row "An epoch's training as a share of the FMA peak ($t thread(s)): 6·B·Σ in·out FLOPs per step × best median steps/s" \
    "$(fmt "$(calc "$mo * $(json "step-$t.json" .step_gflops) * $(json "step-$t.json" .step_ms) / 1000")" %.1f) GFLOP/s" \
    "$(fmt "$peak" %.1f) GFLOP/s peak" "$(fmt "$(calc "100 * $mo * $(json "step-$t.json" .step_gflops) * $(json "step-$t.json" .step_ms) / 1000 / $peak")" %.0f) %" "≥ 70 %"
fi
say "load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
