#!/usr/bin/env bash
# tests/bench/part-adversary.sh: fast-mode verification against the adaptive adversary
# (proofwork(7), FAST MODE), run by tests/bench/run.sh with BIN and SCRATCH set.
# Progress on stderr, table rows on stdout. Side by side: the sampleShare rule (a
# profile made with --sample-share 1, format 1's rule) and the observed rule.
#
#   1. the largest undetected steering edit (pol-forge --steer shrink:0.99 against each
#      profile, every segment replayed), as a fraction of each segment's update (l2);
#   2. its damage after the proof's segments: weight norm and test accuracy against the
#      honest run of the same seed;
#   3. false rejections: honest proofs (seeds x 1/2 threads x panels 32-256) verified
#      in full against the profile of another seed;
#   4. the cost of verification under each rule (interleaved, median of 5);
#   5. the spoofs of part-profile, every segment replayed, under the observed rule.
#
# MLP 784-64-10, batch 64, 60 segments of 4 steps (ADV_SEGMENTS), Fashion-MNIST.
# Environment: FASHION_MNIST (default /usr/share/datasets/fashion-mnist), ADV_SEEDS
# (honest seeds, default 13: 13 x 2 x 4 = 104 proofs), ADV_SEGMENTS (default 60),
# BENCH_THREADS.
set -euo pipefail
: "${BIN:?}" "${SCRATCH:?}"
DATA=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
THREADS=${BENCH_THREADS:-$(nproc 2>/dev/null || echo 2)}
SEEDS=${ADV_SEEDS:-13}
SEGS=${ADV_SEGMENTS:-60}
PY=/usr/bin/python3
cd "$SCRATCH"
export PATH="$BIN:$PATH"
export OMP_WAIT_POLICY=PASSIVE

say() { printf '  -- %s\n' "$*" >&2; }
calc() { awk "BEGIN { printf \"%s\", $1 }" </dev/null; }
fmt() { awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }' </dev/null; }
now() { date +%s.%N; }
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
task() {  # task OUT SEED
  rm -f "$1"
  pol-task --model mlp:784-64-10 --train-images "$DATA/train-images-idx3-ubyte.gz" \
    --train-labels "$DATA/train-labels-idx1-ubyte.gz" --test-images "$DATA/t10k-images-idx3-ubyte.gz" \
    --test-labels "$DATA/t10k-labels-idx1-ubyte.gz" --lr 0.05 --momentum 0.9 --weight-decay 0.0001 \
    --batch 64 --steps $((SEGS * 4)) --checkpoint-every 4 --mode fast --seed "$2" -q -o "$1"
}
# weight_norm PROOF: ‖parameters‖₂ of the last checkpoint (pol-export's safetensors).
weight_norm() {
  pol-export "$1" --checkpoint -1 -o "$1.safetensors" -f -q
  "$PY" - "$1.safetensors" <<'EOF'
import json, struct, sys, array, math
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
s = 0.0
for k, v in h.items():
    if k == '__metadata__': continue
    a = array.array('f'); a.frombytes(b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]])
    s += sum(x * x for x in a)
print(math.sqrt(s))
EOF
}
acc() { pol-show "$1/manifest.pwm" | jq -r .testAccuracy; }
stats() {  # stats FILE JQ-FILTER: "median max" of the numbers the filter gives
  jq -s "[.[] | $2]" "$1" | jq -r 'sort | if length == 0 then "nan nan" else "\(.[length / 2 | floor]) \(.[-1])" end'
}

say "profiles of seed 100 ($SEGS segments of 4 steps, MLP 784-64-10, batch 64)"
task ref.pwt 100
pol-train ref.pwt -o ref -q --threads "$THREADS" --fast-panel 64
pol-profile ref.pwt ref -o obs.pwp -q
pol-profile ref.pwt ref -o share.pwp -q --sample-share 1
say "$(pol-show obs.pwp | jq -r '"flip margin \(.flipMargin) (measured \(.flipMeasured))"')"

# ---------------------------------------------------------------- 1-2. steering
task t.pwt 7
pol-train t.pwt -o honest -q --threads "$THREADS" --fast-panel 128
for rule in share obs; do
  rm -rf "steer-$rule"
  pol-forge t.pwt -o "steer-$rule" -q --threads "$THREADS" --fast-panel 128 --steer shrink:0.99 \
    --profile "$rule.pwp" --steer-log "$rule.log"
  if pol-verify t.pwt "steer-$rule" --profile "$rule.pwp" --threads "$THREADS" --fast-panel 128 -q; then
    eval "ok_$rule=accepted"
  else
    eval "ok_$rule=REJECTED"
  fi
done
read -r sm sx <<<"$(stats share.log .fraction)"
read -r om ox <<<"$(stats obs.log .fraction)"
read -r o0m o0x <<<"$(stats obs.log 'select(.flagged == 0) | .fraction')"
flagged=$(jq -s '[.[] | select(.flagged > 0)] | length' obs.log)
say "share: median $sm max $sx ($ok_share); observed: median $om max $ox ($ok_obs), unflagged max $o0x, $flagged of $SEGS segments flagged"
row "Largest undetected steering edit (shrink, 0.99 of what the rule accepts; every segment replayed) / segment update (l2): median, max" \
  "observed: $(fmt "$om" %.2g), $(fmt "$ox" %.2g) ($ok_obs)" "sampleShare: $(fmt "$sm" %.2g), $(fmt "$sx" %.2g) ($ok_share)" \
  "segments without a flagged flip: max $(fmt "$o0x" %.2g); $flagged of $SEGS flagged" "≤ 1e-4"
wh=$(weight_norm honest)
ah=$(acc honest)
for rule in share obs; do
  eval "w_$rule=$(weight_norm "steer-$rule")"
  eval "a_$rule=$(acc "steer-$rule")"
done
row "Damage after $SEGS segments of that steering: weight norm vs honest, test accuracy (honest $(fmt "$ah" %.4f))" \
  "observed: $(fmt "$(calc "100 * ($w_obs / $wh - 1)")" %+.3f) %, $(fmt "$a_obs" %.4f)" \
  "sampleShare: $(fmt "$(calc "100 * ($w_share / $wh - 1)")" %+.3f) %, $(fmt "$a_share" %.4f)" "—" "—"

# ---------------------------------------------------------------- 3. honest proofs
say "honest proofs: seeds 1-$SEEDS x threads 1/$THREADS x panels 32-256"
n=0
bad_obs=0
bad_share=0
for seed in $(seq 1 "$SEEDS"); do
  task h.pwt "$seed"
  for t in 1 "$THREADS"; do
    for p in 32 64 128 256; do
      rm -rf h
      pol-train h.pwt -o h -q --threads "$t" --fast-panel "$p"
      n=$((n + 1))
      pol-verify h.pwt h --profile obs.pwp -q || { bad_obs=$((bad_obs + 1)); say "seed $seed threads $t panel $p REJECTED (observed)"; }
      pol-verify h.pwt h --profile share.pwp -q || bad_share=$((bad_share + 1))
    done
  done
done
row "False rejections: honest fast proofs (seeds 1-$SEEDS × 1/$THREADS threads × panels 32-256), profile of seed 100, every segment replayed" \
  "observed: $bad_obs / $n" "sampleShare: $bad_share / $n" "—" "0"

# ---------------------------------------------------------------- 4. cost
say "verification cost, interleaved, 5 repeats"
: >cost.txt
for r in 1 2 3 4 5; do
  for rule in obs share; do
    t0=$(now)
    pol-verify t.pwt honest --profile "$rule.pwp" --threads "$THREADS" -q
    echo "$rule $(calc "$(now) - $t0")" >>cost.txt
  done
done
med() { awk -v r="$1" '$1 == r { print $2 }' cost.txt | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
spread() { awk -v r="$1" '$1 == r { print $2 }' cost.txt | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }
co=$(med obs)
cs=$(med share)
row "Verification cost, every segment replayed (wall, median of 5, spread; busy machine)" \
  "observed: $(fmt "$co" %.2f) s ($(spread obs))" "sampleShare: $(fmt "$cs" %.2f) s ($(spread share))" \
  "$(fmt "$(calc "$co / $cs")" %.2f)×" "≤ 1.1×"

# ---------------------------------------------------------------- 5. spoofs
spoof() {  # spoof NAME FLAGS...
  local name=$1; shift
  rm -rf sp
  pol-forge t.pwt -o sp -q "$@"
  if pol-verify t.pwt sp --profile obs.pwp -q; then res="ACCEPTED"; else res="rejected"; fi
  say "$name: $res"
  row "Spoof under the observed rule: $name" "$res" "—" "—" "rejected"
}
spoof "skipped segment" --skip-segment 5
spoof "interpolated checkpoints" --interpolate
spoof "another batch order" --order-seed 99
spoof "half the steps at twice the learning rate, dressed (1e-4)" --shortcut 2 --dress-noise 0.0001
spoof "learning rate x1.01" --lr-scale 1.01
spoof "one perturbed segment (noise 1e-3)" --perturb-segment 5
