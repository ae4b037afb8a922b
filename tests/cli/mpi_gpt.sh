# A GPT across MPI ranks (proofwork(7), EXACT MODE, DISTRIBUTED TRAINING and PIPELINE
# STAGES): a GPT task with a reduce chunk (c samples = c·T rows) trains data-parallel on
# 1, 2 and 4 ranks to the proof of one process, checkpoint for checkpoint; anyone
# verifies it on one machine; a whole-batch chunk is the root of a GPT without the field.
# Pipeline stages split it at block boundaries (the tied wte on the first and the last
# stage), with a chunk and without one (continued chains), 2 and 4 stages and 2 x 2, to
# the same proof; kill -9 of a stage rank, then a resume to the same bits; bad layouts are
# refused before anything is written; an AQ-SGD cut at a block boundary on every layout.
# Needs Open MPI's mpirun (scripts/install-deps.sh, group build).
command -v mpirun >/dev/null || { echo "FAIL: mpirun not found: install openmpi-bin (make deps)" >&2; exit 1; }
run_ranks() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }
head -c 6000 "$HERE/../../man/proofwork.7" > train.txt
gpt_task() {  # gpt_task OUT [extra flags]: batch 8, AdamW with clipping
  local out=$1; shift
  pol-task --model gpt:2-2-32-16 --text train.txt --optimizer adamw --lr 0.001 --weight-decay 0.1 --clip 1.0 \
    --batch 8 --steps 6 --checkpoint-every 3 --seed 3 -q -o "$out" "$@"
}
gpt_task task.pwt --reduce-chunk 2   # 4 chunks of 2 samples (32 rows each)
pol-show task.pwt | jq -e '.reduceChunk == 2 and .model.kind == "gpt"' >/dev/null
pol-train task.pwt -o one -q --threads 1 --json >one.json
for n in 1 2 4; do
  run_ranks "$n" pol-train task.pwt -o dp$n -q --threads 1 --data-parallel "$n" --json >dp$n.json
  [ "$(jq -r .root dp$n.json)" = "$(jq -r .root one.json)" ]
  for f in one/ckpt-*.pwc; do cmp "$f" "dp$n/$(basename "$f")"; done
  [ "$(pol-show one/manifest.pwm | jq -c .losses)" = "$(pol-show dp$n/manifest.pwm | jq -c .losses)" ]
done
test "$(ls one/*.pwc | wc -l)" -eq 3   # steps 0, 3 and 6
pol-show one/manifest.pwm | jq -e '.losses[0] > 5.0 and .losses[0] < 6.0' >/dev/null   # about ln 256
expect_exit 0 pol-verify task.pwt dp4 -q --segments all
run_ranks 2 pol-verify task.pwt dp2 -q --segments all
# A fault in the chunked embedding backward (op 64: the tape has no separate op for the
# LM head's wte gradient) is pinned to it; the dispute names its four inputs and replays.
pol-forge task.pwt -o forged -q --inject-fault 5:64:2
expect_exit 1 pol-verify task.pwt forged -q --segments all
expect_exit 0 pol-bisect task.pwt one forged --fault-b 5:64:2 -o d.json --json -q
jq -e '.step == 5 and .opIndex == 64 and .winner == "a" and .opKind == "embedding_backward"
       and .inputNames == ["idx", "dx0", "dlogits", "ln_f"]' d.json >/dev/null
expect_exit 0 pol-bisect replay d.json -q

# A chunk of the whole batch is one chain: the root of a GPT task without the field.
gpt_task plain.pwt
gpt_task whole.pwt --reduce-chunk 8
pol-train plain.pwt -o plain -q --threads 1 --json >plain.json
pol-train whole.pwt -o whole -q --threads 2 --json >whole.json
[ "$(jq -r .root plain.json)" = "$(jq -r .root whole.json)" ]
[ "$(jq -r .root plain.json)" != "$(jq -r .root one.json)" ]   # 4 chunks: another order

# Pipeline stages, with the chunk: 2 stages (one block each), with 4 micro-batches of
# one chunk each, and 2 stages x 2 replicas.
layouts task.pwt one p "2 --pipeline 2" "2 --pipeline 2 --micro-batches 4" "4 --pipeline 2 --data-parallel 2"
pol-verify task.pwt ppipeline2dataparallel2 -q --segments all
# Without a chunk: each stage continues its chains across the micro-batches; the
# embedding's backward runs once over the batch on the last stage. 8 micro-batches of
# one sample, 2 of four, and rank 0 placed on the last stage by a schedule.
layouts plain.pwt plain c "2 --pipeline 2" "2 --pipeline 2 --micro-batches 2"
echo '{"groups": [{"name": "A", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 2}' >two.json
sched-partition two.json -q --json -o part2.json
jq '.stages[0].devices = [1] | .stages[1].devices = [0]' part2.json >placed2.json
run_ranks 2 pol-train plain.pwt -o csched -q --threads 1 --schedule placed2.json
same_proof plain csched
# Four blocks on 4 stages, SGD without clipping, with and without a chunk.
deep() { local out=$1; shift; pol-task --model gpt:4-2-32-16 --text train.txt --optimizer sgd --momentum 0.9 \
  --lr 0.01 --batch 8 --steps 4 --checkpoint-every 2 --seed 4 -q -o "$out" "$@"; }
deep deep.pwt
deep deepc.pwt --reduce-chunk 1
for t in deep deepc; do
  pol-train $t.pwt -o $t-one -q --threads 1
  run_ranks 4 pol-train $t.pwt -o $t-p4 -q --threads 1 --pipeline 4
  same_proof $t-one $t-p4
done
# kill -9 of the last stage's rank (which rank 0 gathers from) after step 4: the job ends
# non-zero; run again, it resumes from step 3 to the same bits.
killed_then_resumed task.pwt one 1 4 3 6 --pipeline 2

# An AQ-SGD cut at the block boundary (proofwork(7), AQ-SGD): a 200-byte text makes 184
# windows, 23 steps of 8 an epoch, so the second epoch codes against the buffer. The
# codec's bytes cross between 2 stages; data-parallel ranks share the scales and the
# buffer's rows; 2 x 2 both. Evaluation and export take the cut's state along.
head -c 200 train.txt > short.txt
cut_task() { local out=$1; shift; pol-task --model gpt:2-2-32-16 --text short.txt --val-text train.txt \
  --optimizer adamw --lr 0.003 --clip 1.0 --batch 8 --steps 40 --checkpoint-every 20 --seed 5 -q -o "$out" "$@"; }
cut_task cut.pwt --cut 1:2
cut_task cutc.pwt --cut 1:3:8:rot=16 --reduce-chunk 2
cut_task nocut.pwt
pol-show cut.pwt | jq -e '.cut.layer == 1 and .cut.forwardBits == 2' >/dev/null
for t in cut cutc nocut; do pol-train $t.pwt -o $t-one -q --threads 1; done
[ "$(pol-show cut-one/manifest.pwm | jq -r .root)" != "$(pol-show nocut-one/manifest.pwm | jq -r .root)" ]
run_ranks 2 pol-train cut.pwt -o cut-p2 -q --threads 1 --pipeline 2
same_proof cut-one cut-p2
layouts cutc.pwt cutc-one cutc "2 --pipeline 2" "2 --data-parallel 2" "4 --pipeline 2 --data-parallel 2"
pol-verify cut.pwt cut-p2 -q --segments all
pol-export cut-p2 --checkpoint 40 -o cut.safetensors -q
expect_exit 3 cut_task bad.pwt --cut 2:2 -f
expect_err "cut after block 2, but the model's 2 block\(s\) can be cut after blocks 1-1"
# The buffer holds a row for every window start, allocated whole: a text too long for it is
# refused by pol-task (proofwork-files(5), LIMITS), not left to run out of memory.
head -c 600000 /dev/zero | tr '\0' a > long.txt
expect_exit 3 pol-task --model gpt:2-2-32-16 --text long.txt --optimizer adamw --lr 0.003 --batch 8 \
  --steps 4 --checkpoint-every 2 --cut 1:2 -q -o long.pwt
expect_err "the cut's buffer would hold [0-9]+ values \([0-9]+ samples x 512\), above 2\^28: a GPT cut needs a shorter text"
[ ! -e long.pwt ]

# Bad layouts, refused before any training: nothing written.
expect_exit 2 run_ranks 2 pol-train task.pwt -o bad3 -q --threads 1 --pipeline 2 --micro-batches 8
expect_err "4 chunk\(s\) of 2 samples do not split into 8 micro-batches"
expect_exit 2 run_ranks 4 pol-train deep.pwt -o bad4 -q --threads 1 --pipeline 3
expect_err "4 transformer block\(s\) do not split into 3 stages"
expect_exit 3 run_ranks 4 pol-train plain.pwt -o bad5 -q --threads 1 --pipeline 2 --data-parallel 2
expect_err "no reduce chunk"
for d in bad3 bad4 bad5; do test ! -e "$d"; done
expect_exit 3 run_ranks 2 pol-train plain.pwt -o bad1 -q --threads 1 --data-parallel 2
expect_err "no reduce chunk"
gpt_task two.pwt --reduce-chunk 4   # 2 chunks
expect_exit 3 run_ranks 4 pol-train two.pwt -o bad2 -q --threads 1 --data-parallel 4
expect_err "2 chunk\(s\), which 4 ranks cannot share"
for d in bad1 bad2; do test ! -e "$d"; done
expect_exit 2 gpt_task bad.pwt --reduce-chunk 3 -f
expect_err "power-of-two count of chunks"
