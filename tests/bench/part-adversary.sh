#!/usr/bin/env bash
# tests/bench/part-adversary.sh: fast-mode verification against the adaptive adversary
# (proofwork(7), FAST MODE), run by tests/bench/run.sh with BIN and SCRATCH set.
# Progress on stderr, table rows on stdout. Side by side: the rule flipSpan (format 3's
# default), the rule observed (pol-profile --rule observed: the flips' bound in every
# direction) and the sampleShare rule (--sample-share 1, format 1's).
#
#   1. the largest undetected steering edit (pol-forge --steer shrink:0.99 and
#      backdoor:0.99 against each profile, every segment replayed), as a fraction of
#      each segment's update (l2), on segments with and without a flagged flip;
#   2. its damage after the proof's segments: weight norm, test accuracy and backdoor
#      success (the 4x4 white patch of pol-forge's backdoor direction in the corner,
#      target class 0: the share of the patched test images of other classes
#      classified 0) against the honest run;
#   3. false rejections: honest proofs (seeds x 1/2 threads x panels 32-256) verified
#      in full against the profile of another seed;
#   4. the cost of verification under each rule (interleaved, median of 5);
#   5. the spoofs of part-profile and sparse poisoning (the patch and label 0 on 0.2 %
#      of the training images), every segment replayed, under the new and the old rule.
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
pol-profile ref.pwt ref -o span.pwp -q
pol-profile ref.pwt ref -o obs.pwp -q --rule observed
pol-profile ref.pwt ref -o share.pwp -q --sample-share 1
say "$(pol-show span.pwp | jq -r '"flip margin \(.flipMargin) (measured \(.flipMeasured))"')"
RULES="span obs share"
name() { case $1 in span) echo flipSpan ;; obs) echo observed ;; share) echo sampleShare ;; esac; }

# ---------------------------------------------------------------- 1-2. steering
task t.pwt 7
pol-train t.pwt -o honest -q --threads "$THREADS" --fast-panel 128
for dir in shrink backdoor; do
  for rule in $RULES; do
    rm -rf "$dir-$rule"
    pol-forge t.pwt -o "$dir-$rule" -q --threads "$THREADS" --fast-panel 128 --steer "$dir:0.99" \
      --profile "$rule.pwp" --steer-log "$dir-$rule.log"
    if pol-verify t.pwt "$dir-$rule" --profile "$rule.pwp" --threads "$THREADS" --fast-panel 128 -q; then
      eval "ok_${dir}_$rule=accepted"
    else
      eval "ok_${dir}_$rule=REJECTED"
    fi
  done
done
cell() {  # cell DIRECTION RULE: "median, max; flagged segments max, unflagged max (verdict)"
  local m x f u n ok log=$1-$2.log
  read -r m x <<<"$(stats "$log" .fraction)"
  read -r _ f <<<"$(stats "$log" 'select(.flagged > 0) | .fraction')"
  read -r _ u <<<"$(stats "$log" 'select(.flagged == 0) | .fraction')"
  n=$(jq -s '[.[] | select(.flagged > 0)] | length' "$log")
  eval "ok=\$ok_$1_$2"
  shift
  say "$1 $(name "$1"): median $m max $x, flagged ($n of $SEGS) max $f, unflagged max $u ($ok)"
  echo "$(name "$1"): $(fmt "$m" %.2g), $(fmt "$x" %.2g); flagged ($n/$SEGS) max $(fmt "$f" %.2g), unflagged max $(fmt "$u" %.2g) ($ok)"
}
for dir in shrink backdoor; do
  row "Largest undetected steering edit ($dir, 0.99 of what the rule accepts; every segment replayed) / segment update (l2): median, max" \
    "$(cell $dir span)" "$(cell $dir obs)" "$(cell $dir share)" "≤ 1e-4"
done
# backdoor TRIGGER: the share of the patched test images (label != 0) classified 0.
backdoor() {
  "$PY" - "$1.safetensors" "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" <<'EOF2'
import json, struct, sys, gzip, numpy as np
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
t = {k: np.frombuffer(b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]], dtype=np.float32).reshape(v['shape'])
     for k, v in h.items() if k != '__metadata__'}
x = np.frombuffer(gzip.open(sys.argv[2]).read()[16:], dtype=np.uint8).reshape(-1, 28, 28).copy()
y = np.frombuffer(gzip.open(sys.argv[3]).read()[8:], dtype=np.uint8)
x[:, 24:28, 24:28] = 255
x = x.reshape(len(x), -1).astype(np.float32) / 255
names = sorted({k.split('.')[0] for k in t}, key=int)
for i, l in enumerate(names):
    x = x @ t[l + '.weight'].T + t[l + '.bias']
    if i + 1 < len(names): x = np.maximum(x, 0)
p = x.argmax(1)
print((p[y != 0] == 0).mean())
EOF2
}
wh=$(weight_norm honest)
ah=$(acc honest)
bh=$(backdoor honest)
damage() {  # damage DIRECTION RULE
  local w a b
  w=$(weight_norm "$1-$2")
  a=$(acc "$1-$2")
  b=$(backdoor "$1-$2")
  echo "$(name "$2"): $(fmt "$(calc "100 * ($w / $wh - 1)")" %+.3f) %, $(fmt "$a" %.4f), $(fmt "$(calc "100 * $b")" %.2f) %"
}
for dir in shrink backdoor; do
  row "Damage after $SEGS segments of $dir steering at that edit: weight norm vs honest, test accuracy, backdoor success (honest: $(fmt "$ah" %.4f), $(fmt "$(calc "100 * $bh")" %.2f) %)" \
    "$(damage $dir span)" "$(damage $dir obs)" "$(damage $dir share)" "—"
done

# ---------------------------------------------------------------- 3. honest proofs
say "honest proofs: seeds 1-$SEEDS x threads 1/$THREADS x panels 32-256"
n=0
bad_span=0
bad_obs=0
bad_share=0
for seed in $(seq 1 "$SEEDS"); do
  task h.pwt "$seed"
  for t in 1 "$THREADS"; do
    for p in 32 64 128 256; do
      rm -rf h
      pol-train h.pwt -o h -q --threads "$t" --fast-panel "$p"
      n=$((n + 1))
      pol-verify h.pwt h --profile span.pwp -q || { bad_span=$((bad_span + 1)); say "seed $seed threads $t panel $p REJECTED (flipSpan)"; }
      pol-verify h.pwt h --profile obs.pwp -q || { bad_obs=$((bad_obs + 1)); say "seed $seed threads $t panel $p REJECTED (observed)"; }
      pol-verify h.pwt h --profile share.pwp -q || bad_share=$((bad_share + 1))
    done
  done
done
row "False rejections: honest fast proofs (seeds 1-$SEEDS × 1/$THREADS threads × panels 32-256), profile of seed 100, every segment replayed" \
  "flipSpan: $bad_span / $n" "observed: $bad_obs / $n" "sampleShare: $bad_share / $n" "0"

# ---------------------------------------------------------------- 4. cost
say "verification cost, interleaved, 5 repeats"
: >cost.txt
for r in 1 2 3 4 5; do
  for rule in $RULES; do
    t0=$(now)
    pol-verify t.pwt honest --profile "$rule.pwp" --threads "$THREADS" -q
    echo "$rule $(calc "$(now) - $t0")" >>cost.txt
  done
done
med() { awk -v r="$1" '$1 == r { print $2 }' cost.txt | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
spread() { awk -v r="$1" '$1 == r { print $2 }' cost.txt | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }
cf=$(med span)
co=$(med obs)
cs=$(med share)
row "Verification cost, every segment replayed (wall, median of 5, spread; busy machine); flipSpan / observed" \
  "flipSpan: $(fmt "$cf" %.2f) s ($(spread span)), $(fmt "$(calc "$cf / $co")" %.2f)×" \
  "observed: $(fmt "$co" %.2f) s ($(spread obs))" "sampleShare: $(fmt "$cs" %.2f) s ($(spread share))" "≤ 1.1×"

# ---------------------------------------------------------------- 5. spoofs
spoof() {  # spoof NAME FLAGS...
  local name=$1 rs ro; shift
  rm -rf sp
  pol-forge t.pwt -o sp -q "$@"
  if pol-verify t.pwt sp --profile span.pwp -q; then rs="ACCEPTED"; else rs="rejected"; fi
  if pol-verify t.pwt sp --profile obs.pwp -q; then ro="ACCEPTED"; else ro="rejected"; fi
  say "$name: flipSpan $rs, observed $ro"
  row "Spoof: $name" "flipSpan: $rs" "observed: $ro" "—" "rejected"
}
spoof "skipped segment" --skip-segment 5
spoof "interpolated checkpoints" --interpolate
spoof "another batch order" --order-seed 99
spoof "half the steps at twice the learning rate, dressed (1e-4)" --shortcut 2 --dress-noise 0.0001
spoof "learning rate x1.01" --lr-scale 1.01
spoof "one perturbed segment (noise 1e-3)" --perturb-segment 5
spoof "reused samples (the last 1 of 64 a copy of the first, every step)" --reuse-samples 1
spoof "an extrapolated segment (segment 5: its start plus segment 4's change)" --extrapolate-segment 5
# Sparse poisoning: the patch and label 0 on 0.2 % of the training images (every 500th).
mkdir -p poison
"$PY" - "$DATA" poison <<'EOF2'
import gzip, sys, numpy as np
d, out = sys.argv[1], sys.argv[2]
xb = gzip.open(d + '/train-images-idx3-ubyte.gz').read()
yb = gzip.open(d + '/train-labels-idx1-ubyte.gz').read()
x = np.frombuffer(xb[16:], dtype=np.uint8).reshape(-1, 28, 28).copy()
y = np.frombuffer(yb[8:], dtype=np.uint8).copy()
x[::500, 24:28, 24:28] = 255
y[::500] = 0
gzip.open(out + '/train-images-idx3-ubyte.gz', 'wb').write(xb[:16] + x.tobytes())
gzip.open(out + '/train-labels-idx1-ubyte.gz', 'wb').write(yb[:8] + y.tobytes())
for f in ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'):
    open(out + '/' + f, 'wb').write(open(d + '/' + f, 'rb').read())
EOF2
spoof "sparse poisoning (patch and label 0 on 0.2 % of the training images)" --dishonest-data-dir poison
