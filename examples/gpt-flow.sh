#!/usr/bin/env bash
# A GPT through the flow (proofwork(7), THE GPT), as a user would type it: a byte-level
# language model task on the plain text of Debian's fortunes package (pol-task --model
# gpt), trained with a proof (pol-train, which reports the validation bits per byte),
# a beacon sample of its segments verified (pol-verify), a generated sample from the
# first and the last checkpoint (pol-generate), and the weights exported with nanoGPT's
# names (pol-export). Every step checks its exit status and its result. make demo runs it
# after examples/flow.sh.
#
#   examples/gpt-flow.sh               # programs from $BIN, else from PATH
#
# Environment (all optional):
#   BIN              directory holding the programs
#   FORTUNES         the fortune files (default /usr/share/games/fortunes, Debian's fortunes)
#   GPT_MODEL        model (default gpt:2-4-64-64: 2 layers, 4 heads, 64 channels, context 64)
#   GPT_STEPS        training steps (default 1500: a few minutes on 2 cores)
#   GPT_BATCH        windows a step (default 16)
#   GPT_EVERY        checkpoint interval (default 250)
#   GPT_LR           AdamW learning rate (default 0.003), GPT_WARMUP its warm-up steps
#                    before the cosine decay (default 50)
#   GPT_SAMPLE       segments in the beacon sample (default 2)
#   GPT_PROMPT       the generated sample's prompt (default "Q: ")
#   DEMO_THREADS     threads (default: OMP_NUM_THREADS, else all cores)
#   DEMO_DIR         where to write (default: a new temporary directory, removed at the
#                    end unless DEMO_KEEP=1)
EXAMPLE=gpt-flow.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # set -euo pipefail; fail, section, say, run, ...

MODEL=${GPT_MODEL:-gpt:2-4-64-64}
STEPS=${GPT_STEPS:-1500}
BATCH=${GPT_BATCH:-16}
EVERY=${GPT_EVERY:-250}
LR=${GPT_LR:-0.003}
WARMUP=${GPT_WARMUP:-50}
SAMPLE=${GPT_SAMPLE:-2}
PROMPT=${GPT_PROMPT:-"Q: "}
FORTUNES=${FORTUNES:-/usr/share/games/fortunes}
threads=()
[ -n "${DEMO_THREADS:-}" ] && threads=(--threads "$DEMO_THREADS")

need_programs pol-task pol-train pol-verify pol-generate pol-export
[ -d "$FORTUNES" ] || fail "no directory '$FORTUNES' (install Debian's fortunes: 'make deps')"
enter_work_dir gpt
echo "proofwork GPT demo: $(pol-task --version); working in $WHERE"
start=$SECONDS

# --- 1. the text and the task ---------------------------------------------------------
section "1. pol-task: a byte-level GPT on the fortunes"
# The plain fortune files (not the .dat indexes or the .u8 copies), in name order; the
# last tenth, at most 100,000 bytes, is held out as the validation text.
files=()
for f in "$FORTUNES"/*; do
  case $f in *.dat | *.u8) continue ;; esac
  [ -f "$f" ] && files+=("$f")
done
[ ${#files[@]} -gt 0 ] || fail "no fortune files in '$FORTUNES'"
cat "${files[@]}" > all.txt
total=$(stat -c %s all.txt)
[ "$total" -ge 20000 ] || fail "the fortunes hold $total bytes, too few for the demo"
held=$(( total / 10 < 100000 ? total / 10 : 100000 ))
head -c $(( total - held )) all.txt > train.txt
tail -c "$held" all.txt > val.txt
rm all.txt
say "${#files[@]} fortune files: $(( total - held )) bytes to train on, $held held out"
run 0 pol-task --model "$MODEL" --text train.txt --val-text val.txt --optimizer adamw --lr "$LR" \
  --weight-decay 0.1 --beta1 0.9 --beta2 0.95 --clip 1.0 --schedule "cosine:$WARMUP" --batch "$BATCH" \
  --steps "$STEPS" --checkpoint-every "$EVERY" --seed 7 -o task.pwt
say "task.pwt: $(stat -c %s task.pwt) bytes; it commits to both texts by their hashes"

# --- 2. training ---------------------------------------------------------------------
section "2. pol-train: $STEPS steps of $BATCH windows, with a proof"
run 0 pol-train task.pwt -o proof --json "${threads[@]}" > train.json
sed 's/^/   /' train.json
bpb=$(jq -r .val_bits_per_byte train.json)
[ "$bpb" != null ] || fail "pol-train reported no validation bits per byte"
awk -v b="$bpb" 'BEGIN { exit !(b > 0 && b < 8) }' || fail "validation $bpb bits/byte: no better than uniform bytes"
say "validation: $bpb bits per byte (8 for uniform bytes)"

# --- 3. verification -------------------------------------------------------------------
section "3. pol-verify: a beacon sample of $SAMPLE segments, replayed"
BEACON=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
run 0 pol-verify task.pwt proof --segments "$SAMPLE" --beacon "$BEACON" "${threads[@]}"

# --- 4. generation -----------------------------------------------------------------------
section "4. pol-generate: what the model learned"
run 0 pol-generate task.pwt proof --checkpoint 0 --prompt "$PROMPT" --bytes 200 --temperature 0.8 --seed 1 -o first.txt -q
run 0 pol-generate task.pwt proof --prompt "$PROMPT" --bytes 300 --temperature 0.8 --seed 1 -o last.txt -q
[ "$(stat -c %s last.txt)" = 300 ] || fail "pol-generate wrote $(stat -c %s last.txt) bytes, not 300"
say "from the initial weights (step 0):"
{ printf '%s' "$PROMPT"; cat first.txt; } | tr -c '[:print:]\n' '?' | sed 's/^/     | /'
echo
say "from the last checkpoint (step $STEPS):"
{ printf '%s' "$PROMPT"; cat last.txt; } | tr -c '[:print:]\n' '?' | sed 's/^/     | /'
echo
run 0 pol-generate task.pwt proof --prompt "$PROMPT" --bytes 300 --temperature 0.8 --seed 1 -o again.txt -q --threads 1
cmp -s last.txt again.txt || fail "the same seed gave other bytes on 1 thread"
say "the same seed on 1 thread: the same 300 bytes"

# --- 5. export ------------------------------------------------------------------------------
section "5. pol-export: the final weights with nanoGPT's names"
run 0 pol-export proof --checkpoint -1 -o final.safetensors
hdr=$(od -An -tu8 -N8 final.safetensors | tr -d ' ')
dd if=final.safetensors bs=1 skip=8 count="$hdr" status=none > header.json
for name in transformer.wte.weight transformer.h.0.attn.c_attn.weight lm_head.weight; do
  jq -e --arg n "$name" 'has($n)' header.json >/dev/null || fail "no $name in the export"
done
say "final.safetensors: $(jq 'del(."__metadata__") | length' header.json) tensors, $(stat -c %s final.safetensors) bytes"

section "GPT demo done in $(( SECONDS - start )) s: every step behaved as documented"
