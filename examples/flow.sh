#!/usr/bin/env bash
# The full proofwork flow on Fashion-MNIST, as a user would type it:
#   task (pol-task) -> train with a proof (pol-train) -> kill and resume ->
#   verify all segments and a beacon sample (pol-verify) -> plot them (pol-plot) -> export (pol-export) ->
#   tamper with a copy of the proof and watch pol-verify reject it; then the market
#   (examples/market-flow.sh) and a GPT on the fortunes (examples/gpt-flow.sh).
# Every step checks its exit status and its result; the script exits non-zero as soon
# as something does not behave as documented.
#
#   examples/flow.sh                   # programs from $BIN, else from PATH
#   make demo                          # the same, after building (BIN = the build dir)
#
# Environment (all optional):
#   BIN            directory holding pol-task, pol-train, pol-verify, pol-export
#   FASHION_MNIST  Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist,
#                  Debian's dataset-fashion-mnist)
#   DEMO_MODEL     model (default mlp:784-1024-1024-10)
#   DEMO_STEPS     training steps (default 4680: 10 epochs at batch 128; about 2 minutes
#                  on 2 cores, and as long again to verify every segment)
#   DEMO_BATCH     batch size (default 128)
#   DEMO_EVERY     checkpoint interval in steps (default 234: half an epoch)
#   DEMO_LR        SGD learning rate (default 0.05), DEMO_MOMENTUM (default 0.9)
#   DEMO_SCHEDULE  learning-rate schedule (default cosine:200: 200 warm-up steps, then cosine)
#   Quick look: DEMO_MODEL=mlp:784-256-10 DEMO_STEPS=937 DEMO_BATCH=64 DEMO_EVERY=50 make demo
#   DEMO_SEED      task seed (default 42)
#   DEMO_SAMPLE    segments in the beacon sample (default 4)
#   DEMO_BEACON    beacon text (default: 16 random bytes in hex)
#   DEMO_THREADS   threads (default: OMP_NUM_THREADS, else all cores)
#   DEMO_RESUME    0 skips the kill-and-resume demonstration (default 1)
#   DEMO_GPT       0 skips examples/gpt-flow.sh, the GPT on the fortunes (default 1; its
#                  own settings are GPT_*, see that script)
#   DEMO_DIR       where to write (default: a new temporary directory, removed at the
#                  end unless DEMO_KEEP=1)
EXAMPLE=flow.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # set -euo pipefail; fail, section, say, run, ...

MODEL=${DEMO_MODEL:-mlp:784-1024-1024-10}
STEPS=${DEMO_STEPS:-4680}
BATCH=${DEMO_BATCH:-128}
EVERY=${DEMO_EVERY:-234}
LR=${DEMO_LR:-0.05}
SCHEDULE=${DEMO_SCHEDULE:-cosine:200}
MOMENTUM=${DEMO_MOMENTUM:-0.9}
SEED=${DEMO_SEED:-42}
SAMPLE=${DEMO_SAMPLE:-4}
RESUME=${DEMO_RESUME:-1}

# --- programs and data --------------------------------------------------------------
need_programs pol-task pol-train pol-verify pol-export pol-plot
need_fashion_mnist train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
threads=()
[ -n "${DEMO_THREADS:-}" ] && threads=(--threads "$DEMO_THREADS")

enter_work_dir demo
rm -rf proof resumed tampered proof.svg proof.png verdict-all.svg verdict-all.png  # a previous run's, in a kept DEMO_DIR
echo "proofwork demo: $(pol-task --version), programs from $(dirname "$(command -v pol-task)")"
echo "working in $WHERE"
start=$SECONDS

# --- 1. the task ------------------------------------------------------------------
section "1. pol-task: the submitter writes the task"
run 0 pol-task --model "$MODEL" \
  --train-images "$DATA/train-images-idx3-ubyte.gz" --train-labels "$DATA/train-labels-idx1-ubyte.gz" \
  --test-images "$DATA/t10k-images-idx3-ubyte.gz" --test-labels "$DATA/t10k-labels-idx1-ubyte.gz" \
  --optimizer sgd --lr "$LR" --momentum "$MOMENTUM" --schedule "$SCHEDULE" --batch "$BATCH" \
  --steps "$STEPS" --checkpoint-every "$EVERY" --seed "$SEED" -o task.pwt
[ -s task.pwt ] || fail "pol-task wrote no task"
segments=$(( (STEPS + EVERY - 1) / EVERY ))
say "task.pwt: $(stat -c %s task.pwt) bytes; $STEPS steps, a checkpoint every $EVERY: $segments segments"

# --- 2. training ------------------------------------------------------------------
section "2. pol-train: the solver trains and writes the proof"
run 0 pol-train task.pwt -o proof --json "${threads[@]}" > train.json
sed 's/^/   /' train.json
root=$(sed -n 's/.*"root": "\([0-9a-f]*\)".*/\1/p' train.json)
[ ${#root} = 64 ] || fail "pol-train --json gave no Merkle root"
nckpt=$(ls proof/ckpt-*.pwc | wc -l)
[ "$nckpt" = $((segments + 1)) ] || fail "expected $((segments + 1)) checkpoints, found $nckpt"
say "proof/: manifest.pwm and $nckpt checkpoints ($(du -sh proof | cut -f1)):"
{ ls proof | head -3; echo ...; ls proof | tail -2; } | sed 's/^/     /'

# --- 3. kill and resume -------------------------------------------------------------
if [ "$RESUME" = 1 ] && [ "$STEPS" -gt "$EVERY" ]; then
  section "3. pol-train, killed and run again: resumes with identical bits"
  first=$(printf 'ckpt-%08d.pwc' "$EVERY")
  echo "\$ pol-train task.pwt -o resumed -q &    # then kill -9 once $first exists"
  pol-train task.pwt -o resumed -q "${threads[@]}" & pid=$!
  while kill -0 "$pid" 2>/dev/null && [ ! -e "resumed/$first" ]; do sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  say "killed with $(ls resumed/ckpt-*.pwc 2>/dev/null | wc -l) checkpoint(s) on disk"
  run 0 pol-train task.pwt -o resumed "${threads[@]}"
  for f in proof/ckpt-*.pwc; do
    cmp -s "$f" "resumed/$(basename "$f")" || fail "resumed run differs from the uninterrupted one at $(basename "$f")"
  done
  say "all $nckpt checkpoint files are byte-identical to the uninterrupted run's"
fi

# --- 4. verification -------------------------------------------------------------
section "4. pol-verify: replay every segment"
run 0 pol-verify task.pwt proof -o verdict-all.pwv "${threads[@]}"

BEACON=${DEMO_BEACON:-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}
section "4b. pol-verify: a spot check of $SAMPLE segments drawn from a beacon, plus the top-1 update"
say "beacon $BEACON (public randomness published after the root $root)"
run 0 pol-verify task.pwt proof --segments "$SAMPLE" --beacon "$BEACON" --top-q 1 --json -o verdict-sample.json "${threads[@]}"
grep -q '"accepted": true' verdict-sample.json || fail "the verdict does not say accepted"
say "replayed (segment why): $(grep -o '"index": [0-9]*\|"why": "[a-zA-Z]*"' verdict-sample.json |
  sed 's/.*: //; s/"//g' | paste -d' ' - - | paste -sd, | sed 's/,/, /g')"
say "one forged segment of $segments is caught by $SAMPLE draws with probability $SAMPLE/$segments;"
say "a fraction f forged, by q draws, with probability >= 1 - (1 - f)^q (man pol-verify)"

# --- 4c. pictures -------------------------------------------------------------------
section "4c. pol-plot: the proof and the verdict as pictures, beside them"
run 0 pol-plot task.pwt proof -o proof.svg
run 0 pol-plot verdict-all.pwv -o verdict-all.svg
grep -q "the solver's claim" proof.svg || fail "proof.svg does not tell the claimed losses apart"
if command -v rsvg-convert >/dev/null; then
  run 0 pol-plot task.pwt proof -o proof.png -q
  run 0 pol-plot verdict-all.pwv -o verdict-all.png -q
fi
say "loss per step, learning rate and update norm per segment: $WHERE/proof.svg"
say "every replayed segment, equal or not: $WHERE/verdict-all.svg (PNG beside them with rsvg-convert)"
[ -n "${DEMO_DIR:-}" ] || [ "${DEMO_KEEP:-0}" = 1 ] || say "(this directory is removed at the end: DEMO_KEEP=1 keeps it)"

# --- 5. export --------------------------------------------------------------------
section "5. pol-export: the final weights as safetensors, the batch order as text"
run 0 pol-export proof --checkpoint -1 -o final.safetensors
hdr=$(od -An -tu8 -N8 final.safetensors | tr -d ' ')
say "final.safetensors: $(stat -c %s final.safetensors) bytes; tensors:" \
  "$(dd if=final.safetensors bs=1 skip=8 count="$hdr" status=none | grep -o '"[0-9]*\.[a-z]*":{"dtype":"F32","shape":\[[0-9,]*\]' |
     sed 's/":{"dtype":"F32","shape":/ /; s/^"//' | paste -sd' ')"
grep -q '"0.weight"' <(dd if=final.safetensors bs=1 skip=8 count="$hdr" status=none) || fail "no 0.weight in the export"
run 0 pol-export proof --batches -o batches.txt
lines=$(grep -vc '^#' batches.txt)
[ "$lines" = "$STEPS" ] || fail "batches.txt has $lines lines, expected $STEPS"
awk -v n=$((BATCH + 1)) '!/^#/ && NF != n { exit 1 }' batches.txt || fail "a line of batches.txt does not hold $BATCH indices"
say "batches.txt: $STEPS lines of 'step index...'; step 0 begins: $(grep -v '^#' batches.txt | head -1 | cut -d' ' -f1-9) ..."

# --- 6. tampering -------------------------------------------------------------------
section "6. Tampering: one flipped byte in a checkpoint of a copy of the proof"
victim=$(printf 'ckpt-%08d.pwc' $(( (STEPS / EVERY / 2) * EVERY )))
rm -rf tampered && cp -r proof tampered
f=tampered/$victim
off=$(( $(stat -c %s "$f") / 2 ))
byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
# shellcheck disable=SC2059  # the format is the escaped byte
printf "$(printf '\\%03o' $(( byte ^ 1 )))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
cmp -s "$f" "proof/$victim" && fail "the byte flip did not change $victim"
say "flipped the low bit of byte $off of $victim (same size, other content)"
run 1 pol-verify task.pwt tampered --segments 1 --beacon "$BEACON"
say "rejected (exit 1), even though the beacon sample need not include that segment:"
say "every checkpoint file is hashed against the manifest before any replay"

section "6b. Damage: the same checkpoint truncated"
head -c 1000 "proof/$victim" > "$f"
run 3 pol-verify task.pwt tampered
say "bad input (exit 3): a checkpoint of another size than the manifest says is damage, not a verdict"

(cd "$OLDPWD" && FASHION_MNIST="$DATA" DEMO_DIR="$WORK/market" "$(dirname "$0")/market-flow.sh") || fail "examples/market-flow.sh (the market on the ledger) failed"
[ "${DEMO_GPT:-1}" = 0 ] ||
  (cd "$OLDPWD" && DEMO_DIR="$WORK/gpt" "$(dirname "$0")/gpt-flow.sh") || fail "examples/gpt-flow.sh (a GPT on the fortunes) failed"
section "done in $(( SECONDS - start )) s: every step behaved as documented"
