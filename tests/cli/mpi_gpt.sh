# A GPT across MPI ranks (proofwork(7), EXACT MODE and DISTRIBUTED TRAINING): a GPT task
# with a reduce chunk (c samples = c·T rows) trains data-parallel on 1, 2 and 4 ranks to
# the proof of one process, checkpoint for checkpoint; anyone verifies it on one machine;
# a whole-batch chunk is the root of a GPT without the field; bad layouts are refused
# before anything is written. Needs Open MPI's mpirun (scripts/install-deps.sh, group build).
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

# A chunk of the whole batch is one chain: the root of a GPT task without the field.
gpt_task plain.pwt
gpt_task whole.pwt --reduce-chunk 8
pol-train plain.pwt -o plain -q --threads 1 --json >plain.json
pol-train whole.pwt -o whole -q --threads 2 --json >whole.json
[ "$(jq -r .root plain.json)" = "$(jq -r .root whole.json)" ]
[ "$(jq -r .root plain.json)" != "$(jq -r .root one.json)" ]   # 4 chunks: another order

# Bad layouts, refused before any training: nothing written.
expect_exit 3 run_ranks 2 pol-train plain.pwt -o bad1 -q --threads 1 --data-parallel 2
expect_err "no reduce chunk"
gpt_task two.pwt --reduce-chunk 4   # 2 chunks
expect_exit 3 run_ranks 4 pol-train two.pwt -o bad2 -q --threads 1 --data-parallel 4
expect_err "2 chunk\(s\), which 4 ranks cannot share"
for d in bad1 bad2; do test ! -e "$d"; done
expect_exit 2 gpt_task bad.pwt --reduce-chunk 3 -f
expect_err "power-of-two count of chunks"
