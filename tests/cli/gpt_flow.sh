# A GPT through the flow (proofwork(7), THE GPT): pol-task --model gpt, training bitwise
# across thread counts and across kill -9 and resume, verification, tampering (exit 1),
# bad input (exit 3), the batch export, and bisection pinning faults to their op.
head -c 6000 "$HERE/../../man/proofwork.7" > train.txt
tail -c 2000 "$HERE/../../man/proofwork.7" > val.txt
gpt_task() {  # gpt_task OUT [extra flags]
  local out=$1; shift
  pol-task --model gpt:2-2-32-16 --text train.txt --val-text val.txt --optimizer adamw --lr 0.001 \
    --weight-decay 0.1 --beta1 0.85 --beta2 0.98 --clip 1.0 --batch 4 --steps 12 --checkpoint-every 4 --seed 3 \
    -q -o "$out" "$@"
}
gpt_task task.pwt
pol-show task.pwt > task.json
jq -e '.model.kind == "gpt" and .model.gpt.layers == 2 and .model.gpt.heads == 2 and .model.gpt.channels == 32
       and .model.gpt.context == 16 and .model.gpt.vocab == 256' task.json >/dev/null
jq -e '.dataset.format == "text" and (.dataset.text.length | tonumber) == 6000 and (.dataset.text.validationLength | tonumber) == 2000
       and .clip == 1' task.json >/dev/null

# Threads 1 and 2: the same bits.
pol-train task.pwt -o p1 --threads 1 -q
pol-train task.pwt -o p2 --threads 2 -q
for f in p1/ckpt-*.pwc; do cmp "$f" "p2/$(basename "$f")"; done
test "$(ls p1/*.pwc | wc -l)" -eq 4
# The loss goes down over the 12 steps.
pol-show p1/manifest.pwm | jq -e '(.losses | length) == 12 and .losses[0] > 5.0 and .losses[0] < 6.0' >/dev/null
# Killed after 6 steps and resumed: the same bits as the uninterrupted run.
expect_exit 137 pol-train task.pwt -o killed -q --kill-after 6
pol-train task.pwt -o killed -q --threads 2
for f in p1/ckpt-*.pwc; do cmp "$f" "killed/$(basename "$f")"; done

# Verification replays GPT steps; a tampered checkpoint is exit 1.
expect_exit 0 pol-verify task.pwt p1 -q --segments all
cp -r p1 t1
pol-forge task.pwt -o forged -q --inject-fault 5:30:7
expect_exit 1 pol-verify task.pwt forged -q --segments all
# A text that is not the committed one, an empty text, a text shorter than a window:
# bad input, exit 3.
printf 'x' >> train.txt
expect_exit 3 pol-verify task.pwt p1 -q
expect_err "hash"
head -c 6000 "$HERE/../../man/proofwork.7" > train.txt
: > empty.txt
expect_exit 3 pol-task --model gpt:2-2-32-16 --text empty.txt --lr 0.001 --batch 4 --steps 2 --checkpoint-every 1 -o x.pwt -f
expect_err "empty"
head -c 16 train.txt > short.txt
expect_exit 3 pol-task --model gpt:2-2-32-16 --text short.txt --lr 0.001 --batch 4 --steps 2 --checkpoint-every 1 -o x.pwt -f
expect_err "shorter than one window"
expect_exit 3 pol-task --model gpt:2-3-32-16 --text train.txt --lr 0.001 --batch 4 --steps 2 --checkpoint-every 1 -o x.pwt -f
expect_err "do not divide"
expect_exit 2 pol-task --model gpt:2-2-32 --text train.txt --lr 0.001 --batch 4 --steps 2 --checkpoint-every 1 -o x.pwt -f
expect_exit 2 pol-task --model gpt:2-2-32-16 --train-images x --text train.txt --lr 0.001 --batch 4 --steps 2 --checkpoint-every 1 -o x.pwt -f
expect_exit 2 pol-task --model gpt:2-2-32-16 --lr 0.001 --batch 4 --steps 2 --checkpoint-every 1 -o x.pwt -f
expect_err "text"

# pol-export --batches: the step, then the batch's 4 window offsets, each in [0, 6000 - 17].
pol-export p1 --batches > batches.txt
grep -v '^#' batches.txt > rows.txt
test "$(wc -l < rows.txt)" -eq 12
awk 'NF != 5 { exit 1 } { for (i = 2; i <= 5; i++) if ($i < 0 || $i > 5983) exit 1 }' rows.txt
# The checkpoint as safetensors, with nanoGPT's names.
pol-export p1 --checkpoint 12 -o w.safetensors -q
/usr/bin/env python3 - <<'PY'
import json, struct
b = open("w.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
assert h["transformer.wte.weight"]["shape"] == [256, 32], h["transformer.wte.weight"]
assert h["transformer.wpe.weight"]["shape"] == [16, 32]
assert h["transformer.h.1.attn.c_attn.weight"]["shape"] == [96, 32]
assert h["transformer.h.0.mlp.c_proj.weight"]["shape"] == [32, 128]
assert h["lm_head.weight"]["shape"] == [256, 32]
w, l = h["transformer.wte.weight"]["data_offsets"], h["lm_head.weight"]["data_offsets"]
assert b[8 + n + w[0]:8 + n + w[1]] == b[8 + n + l[0]:8 + n + l[1]]
PY

# Bisection pins injected faults in GPT steps to their op (95 ops a step: see pol-train(1)).
for fault in 2:1:5 5:20:3 9:60:11 11:94:2; do
  step=${fault%%:*}; rest=${fault#*:}; op=${rest%%:*}
  rm -rf B; pol-forge task.pwt -o B -q --inject-fault "$fault"
  expect_exit 0 pol-bisect task.pwt p1 B --fault-b "$fault" -o d.json --json -f -q
  jq -e --argjson s "$step" --argjson o "$op" '.step == $s and .opIndex == $o and .winner == "a"
     and (.rounds | length) <= .roundBound' d.json >/dev/null
  expect_exit 0 pol-bisect replay d.json -q
done

# pol-generate: deterministic across runs and thread counts; temperature 0 is argmax;
# an MLP task or a missing checkpoint is bad input.
pol-generate task.pwt p1 --prompt 'The ' --bytes 40 --seed 7 --threads 1 -o g1.txt -q
pol-generate task.pwt p1 --prompt 'The ' --bytes 40 --seed 7 --threads 2 -o g2.txt -q
cmp g1.txt g2.txt
test "$(wc -c < g1.txt)" -eq 40
pol-generate task.pwt p1 --bytes 20 --seed 8 -o g3.txt -q
! cmp -s g1.txt g3.txt
pol-generate task.pwt p1 --bytes 20 --temperature 0 --seed 1 -o a1.txt -q
pol-generate task.pwt p1 --bytes 20 --temperature 0 --seed 2 -o a2.txt -q
cmp a1.txt a2.txt
pol-generate task.pwt p1 --bytes 5 --checkpoint 4 --json -q | jq -e '.step == 4' >/dev/null
expect_exit 3 pol-generate task.pwt p1 --checkpoint 5 -q
make_tiny_task mlp.pwt
pol-train mlp.pwt -o m -q
expect_exit 3 pol-generate mlp.pwt m -q
expect_err "not a GPT"

# A GPT's reduce chunk counts samples (c·T rows): one that does not split the batch of 4
# into a power-of-two count of chunks is refused (a rule of the task, usage); 2 is taken
# (tests/cli/mpi_gpt.sh trains with one).
expect_exit 2 pol-task --model gpt:2-2-32-16 --text train.txt --lr 0.001 --batch 4 --steps 2 --checkpoint-every 1 --reduce-chunk 3 -o x.pwt -f
expect_err "power-of-two count of chunks"
expect_exit 0 pol-task --model gpt:2-2-32-16 --text train.txt --lr 0.001 --batch 4 --steps 2 --checkpoint-every 1 --reduce-chunk 2 -o x.pwt -f
