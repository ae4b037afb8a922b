#!/usr/bin/env bash
# tests/bench/part-profile.sh: fast mode and tolerance verification (proofwork(7), FAST MODE), run by
# tests/bench/run.sh with BIN and SCRATCH set. Progress on stderr, table rows on stdout.
#
#   1. fast vs exact training speed on the CPU (MLP 784-1024-1024-10, batch 128);
#   2. pol-profile's cost against the training it profiles;
#   3. no false rejections: 20 honest fast-mode proofs (seeds 1-20, 1 or all threads,
#      four GEMM panel lengths) verified in full against a profile made from another run;
#   4. detection: a proof with 10 % of its 100 segments forged (each perturbed once),
#      verified with q beacon-drawn segments under many beacons: the measured rejection
#      rate beside 1 − (1 − f)^q and the exact figure; and the verification cost of 99 %;
#   5. spoofs (a)-(e), several trials each, at the 99 % setting.
#
# Environment: FASHION_MNIST (default /usr/share/datasets/fashion-mnist), BENCH_THREADS,
# PROFILE_TRIALS (beacons per q in part 4, default 30), SPOOF_TRIALS (default 5).
set -euo pipefail
: "${BIN:?}" "${SCRATCH:?}"
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
THREADS=${BENCH_THREADS:-$(nproc 2>/dev/null || echo 2)}
TRIALS=${PROFILE_TRIALS:-30}
SPOOFS=${SPOOF_TRIALS:-5}
cd "$SCRATCH"
export PATH="$BIN:$PATH"

say() { printf '  -- %s\n' "$*" >&2; }
calc() { awk "BEGIN { printf \"%s\", $1 }" </dev/null; }
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }' </dev/null; }
now() { date +%s.%N; }
since() { calc "$(now) - $1"; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }

task() {  # task OUT MODEL BATCH STEPS EVERY [flags...]
  local out=$1 model=$2 batch=$3 steps=$4 every=$5; shift 5
  rm -f "$out"
  pol-task --model "mlp:$model" --train-images "$DATA/train-images-idx3-ubyte.gz" \
    --train-labels "$DATA/train-labels-idx1-ubyte.gz" --lr 0.05 --momentum 0.9 --weight-decay 0.0001 \
    --batch "$batch" --steps "$steps" --checkpoint-every "$every" -q -o "$out" "$@"
}

# ---------------------------------------------------------------- 1. speed
# (OMP_WAIT_POLICY as the caller set it: run.sh compares settings on an idle machine.)
say "1. fast vs exact training, MLP 784-1024-1024-10, batch 128, 200 steps, $THREADS threads"
task exact.pwt 784-1024-1024-10 128 200 200 --seed 1
task fast.pwt 784-1024-1024-10 128 200 200 --seed 1 --mode fast
best() {  # best MODE: the faster of two runs, steps/s
  local b=0 sps
  for rep in 1 2; do
    rm -rf "p-$1"
    pol-train "$1.pwt" -o "p-$1" --threads "$THREADS" --json -q >"$1.json"
    sps=$(jq -r .steps_per_second "$1.json")
    b=$(calc "(($sps > $b) ? $sps : $b)")
  done
  echo "$b"
}
sx=$(best exact)
sf=$(best fast)
say "exact $sx steps/s, fast $sf steps/s"
row "Fast vs exact training on the CPU (MLP 784-1024-1024-10, batch 128, $THREADS threads): steps/s" \
  "$(fmt "$sf" %.1f) fast" "$(fmt "$sx" %.1f) exact" "$(fmt "$(calc "$sf / $sx")" %.2f)×" "≥ 1.0×"
[ "$(jq -r .root exact.json)" != "$(jq -r .root fast.json)" ] ||
  { echo "part-profile: fast mode gave exact's bits" >&2; exit 1; }
rm -rf p-exact p-fast
# The rest measures counts and ratios of whole runs: passive waiting keeps OpenMP from
# spinning when other processes share the cores.
export OMP_WAIT_POLICY=PASSIVE

# ---------------------------------------------------------------- 2-3. profile, honest proofs
# 100 segments of 4 steps: MLP 784-128-10, batch 64, 400 steps.
MODEL=784-128-10
task ref.pwt $MODEL 64 400 4 --seed 100 --mode fast
t0=$(now)
pol-train ref.pwt -o ref -q --threads "$THREADS" --fast-panel 64
ttrain=$(since "$t0")
t0=$(now)
pol-profile ref.pwt ref -o prof.pwp --segments 4 -q
tprof=$(since "$t0")
nsrc=$(pol-show prof.pwp | jq '.sources | length')
say "2. training 400 steps: $(fmt "$ttrain" %.2f) s; pol-profile (4 segments x $nsrc sources): $(fmt "$tprof" %.2f) s"
row "pol-profile cost: 4 segments × $nsrc sources (2 thread counts × 4 panels + exact) of a 100-segment proof, vs training it" \
  "$(fmt "$tprof" %.2f) s" "$(fmt "$ttrain" %.2f) s" "$(fmt "$(calc "$tprof / $ttrain")" %.2f)×" "—"

say "3. 20 honest fast-mode proofs against the profile of seed 100"
ok=0
panels=(32 64 128 256)
for seed in $(seq 1 20); do
  t=$(( seed % 2 ? 1 : THREADS ))
  p=${panels[$(( seed % 4 ))]}
  task h.pwt $MODEL 64 400 4 --seed "$seed" --mode fast
  rm -rf h
  pol-train h.pwt -o h -q --threads "$t" --fast-panel "$p"
  if pol-verify h.pwt h --profile prof.pwp -q; then ok=$((ok + 1)); else say "seed $seed (threads $t, panel $p) REJECTED"; fi
done
row "No false rejections: honest fast-mode proofs (seeds 1-20; 1 or $THREADS threads; panels 32-256) accepted against a profile of another seed, all 100 segments replayed" \
  "$ok / 20" "—" "—" "20 / 20"

# ---------------------------------------------------------------- 4. detection
say "4. detection: 10 of 100 segments forged"
task d.pwt $MODEL 64 400 4 --seed 7 --mode fast
forged=$(seq -s' ' 5 10 95)
args=()
for i in $forged; do args+=(--perturb-segment "$i"); done
pol-forge d.pwt -o forged -q "${args[@]}" --dress-noise 0.001
pol-verify d.pwt forged --profile prof.pwp --keep-going --json -q >all.json || true
nbad=$(jq '[.segments[] | select(.ok | not)] | length' all.json)
badlist=$(jq -r '[.segments[] | select(.ok | not) | .index] | map(tostring) | join(" ")' all.json)
[ "$badlist" = "$forged" ] || { echo "part-profile: full replay flagged '$badlist', forged '$forged'" >&2; exit 1; }
say "full replay flags exactly the $nbad forged segments"
for q in 5 10 20 36; do
  caught=0
  for b in $(seq 1 "$TRIALS"); do
    if ! pol-verify d.pwt forged --profile prof.pwp --segments "$q" --beacon "trial-$q-$b" -q; then caught=$((caught + 1)); fi
  done
  pol-verify h.pwt h --profile prof.pwp --segments "$q" --beacon x --json -q >det.json
  bound=$(jq -r .detection.pDetectBound det.json)
  exact=$(jq -r .detection.pDetect det.json)
  say "q=$q: caught $caught / $TRIALS; bound $(fmt "$bound" %.3f), exact $(fmt "$exact" %.3f)"
  row "Detection, 10 of 100 segments forged, q = $q beacon-drawn: measured rejection rate ($TRIALS beacons) vs 1−(1−f)^q (exact without replacement)" \
    "$(fmt "$(calc "$caught / $TRIALS")" %.2f)" "$(fmt "$bound" %.3f) ($(fmt "$exact" %.3f))" "—" "measured ≥ bound"
done
q99=$(jq -r .detection.replayedFor99 det.json)
# Verification cost at 99 %: wall time of a q99-segment verification vs training the proof.
t0=$(now)
pol-verify h.pwt h --profile prof.pwp --segments "$q99" --beacon cost -q
tver=$(since "$t0")
t0=$(now)
rm -rf h2
pol-train h.pwt -o h2 -q --threads "$THREADS"
tt=$(since "$t0")
row "Verification cost for 99 % detection of 10 % forged segments: q = $q99 of 100 segments (all checks, wall) vs training" \
  "$(fmt "$tver" %.2f) s" "$(fmt "$tt" %.2f) s" "$(fmt "$(calc "$tver / $tt")" %.2f)×" "—"
q1000=$(awk 'BEGIN { C = 1000; F = 100; for (q = 0; q <= C; q++) { m = 1; for (i = 0; i < q; i++) m *= (C - F - i) / (C - i); if (1 - m >= 0.99) { print q; exit } } }')
row "… the same for a 1,000-segment proof (replay fraction q/C, arithmetic)" "q = $q1000" "C = 1000" "$(fmt "$(calc "$q1000 / 1000")" %.3f)" "—"

# ---------------------------------------------------------------- 5. spoofs
say "5. spoofs, $SPOOFS trials each, verified with q = $q99 segments"
spoof() {  # spoof NAME FLAGS...
  local name=$1 caught=0; shift
  for s in $(seq 1 "$SPOOFS"); do
    task sp.pwt $MODEL 64 400 4 --seed "$((s + 40))" --mode fast
    rm -rf sp
    pol-forge sp.pwt -o sp -q "$@"
    if ! pol-verify sp.pwt sp --profile prof.pwp --segments "$q99" --beacon "spoof-$s" -q; then caught=$((caught + 1)); fi
  done
  say "$name: rejected $caught / $SPOOFS"
  row "Spoof rejected: $name" "$caught / $SPOOFS" "—" "—" "all"
}
spoof "(a) skipped steps: 10 segments' checkpoints copied forward" $(for i in $forged; do printf -- '--skip-segment %s ' "$i"; done)
spoof "(b) weights interpolated between the initial and final checkpoints" --interpolate
spoof "(c) another batch order" --order-seed 99
spoof "(d) half the steps at twice the learning rate, dressed with noise (1e-4)" --shortcut 2 --dress-noise 0.0001
spoof "(e) other hyperparameters (learning rate ×1.1)" --lr-scale 1.1
