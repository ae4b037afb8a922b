# Pipeline-parallel pol-train under mpirun (proofwork(7), PIPELINE STAGES): 2 and 4
# stages, and 2 stages x 2 data-parallel replicas, write the proof of one process,
# checkpoint for checkpoint, with and without an AQ-SGD cut (at a stage boundary, where
# the codec's bytes cross, and inside a stage); a task without a reduce chunk too (its
# stages continue each reduction's chain across the micro-batches), for several
# micro-batch counts; kill -9 of a stage rank, then a resume to the same bits; bad
# layouts refused before anything is written. Needs Open MPI's mpirun
# (scripts/install-deps.sh, group build) and a build with MPI.
command -v mpirun >/dev/null || { echo "FAIL: mpirun not found: install openmpi-bin (make deps)" >&2; exit 1; }
pol-train --help | grep -q -- --pipeline
# As root (CI) mpirun needs --allow-run-as-root; 4 ranks on 2 cores need --oversubscribe.
run_ranks() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }
# Four Linear layers (so 4 stages hold one each), batch 32 in 8 chunks of 4.
deep() { local out=$1; shift; make_tiny_task "$out" --model mlp:784-32-16-16-10 --reduce-chunk 4 "$@"; }
deep task.pwt --steps 20
pol-train task.pwt -o one -q --threads 1
for layout in "2 --pipeline 2" "4 --pipeline 4" "4 --pipeline 2 --data-parallel 2" "2 --pipeline 2 --micro-batches 1"; do
  set -- $layout
  n=$1; shift
  dir=p$(echo "$*" | tr -d ' -')
  run_ranks "$n" pol-train task.pwt -o "$dir" -q --threads 1 "$@" --json >"$dir.json"
  same_proof one "$dir"
  [ "$(wc -l <"$dir.json")" = 1 ]   # one summary: rank 0's
done
run_ranks 2 pol-train task.pwt -o note -q --threads 1 --pipeline 2 --micro-batches 2 2>err || { cat err >&2; exit 1; }
run_ranks 2 pol-train task.pwt -o note2 --threads 1 --pipeline 2 2>err
grep -q "training as 2 pipeline stage(s) x 1 data-parallel replica(s), 8 micro-batch(es) a replica" err
pol-verify task.pwt ppipeline2 -q      # anyone verifies it on one machine

# An AQ-SGD cut (40 steps: the second epoch codes against the buffer). At the boundary
# of 2 stages (cut 1 of mlp:784-32-10) the codec's bytes cross; in 2 x 2 the replicas
# share the scales and the buffer's rows.
for bits in 2 3 4; do
  make_tiny_task cut$bits.pwt --reduce-chunk 4 --cut 1:$bits
  pol-train cut$bits.pwt -o cut$bits-one -q --threads 1
  run_ranks 2 pol-train cut$bits.pwt -o cut$bits-p2 -q --threads 1 --pipeline 2
  same_proof cut$bits-one cut$bits-p2
done
run_ranks 4 pol-train cut2.pwt -o cut2-p2x2 -q --threads 1 --pipeline 2 --data-parallel 2
same_proof cut2-one cut2-p2x2
# Four layers, the cut after the first: inside stage 0 of 2, at a boundary of 4.
deep deepcut.pwt --cut 1:2:4:rot=16
pol-train deepcut.pwt -o deepcut-one -q --threads 1
run_ranks 2 pol-train deepcut.pwt -o deepcut-p2 -q --threads 1 --pipeline 2
same_proof deepcut-one deepcut-p2
run_ranks 4 pol-train deepcut.pwt -o deepcut-p4 -q --threads 1 --pipeline 4
same_proof deepcut-one deepcut-p4

# A task without a reduce chunk: one chain per gradient element and for the loss, over
# the batch in order; micro-batch m continues the chains m-1 left. Batch 24 (micro-batch
# counts that are not powers of two), 50 steps (the cut's second epoch codes against the
# buffer). The default for 2 stages: 8 micro-batches; 24 of one sample each.
plain() { local out=$1; shift; make_tiny_task "$out" --model mlp:784-32-16-16-10 --batch 24 --steps 50 "$@"; }
plain chain.pwt
pol-train chain.pwt -o chain-one -q --threads 1
layouts chain.pwt chain-one chain "2 --pipeline 2" "2 --pipeline 2 --micro-batches 1" "2 --pipeline 2 --micro-batches 3" \
  "4 --pipeline 4 --micro-batches 24" "4 --pipeline 4 --micro-batches 6" "2 --pipeline 2 --data-parallel 1"
# ... on 2 threads a rank too (the GEMM's chains do not depend on the threads)
run_ranks 2 pol-train chain.pwt -o chain-t2 --threads 2 --pipeline 2 2>err
grep -q "training as 2 pipeline stage(s) x 1 data-parallel replica(s), 8 micro-batch(es) a replica" err
same_proof chain-one chain-t2
pol-verify chain.pwt chain-t2 -q
# AdamW; and a cut at the boundary of 2 stages (after hidden layer 2), inside stage 0
# (after hidden layer 1), at a boundary of 4.
plain chainadam.pwt --optimizer adamw --lr 0.001
pol-train chainadam.pwt -o chainadam-one -q --threads 1
run_ranks 2 pol-train chainadam.pwt -o chainadam-p2 -q --threads 1 --pipeline 2 --micro-batches 3
same_proof chainadam-one chainadam-p2
for cut in 2:3 1:2:4:rot=16; do
  name=cut$(echo "$cut" | tr -d ':=')
  plain "$name.pwt" --cut "$cut"
  pol-train "$name.pwt" -o "$name-one" -q --threads 1
  layouts "$name.pwt" "$name-one" "$name-" "2 --pipeline 2 --micro-batches 3" "2 --pipeline 2" \
    "4 --pipeline 4 --micro-batches 12"
done
# killed as 2 stages at step 15, resumed as 4 stages to the same bits
rc=0
run_ranks 2 pol-train chain.pwt -o chain-killed -q --threads 1 --pipeline 2 --kill-after 15 --kill-rank 1 2>err || rc=$?
[ "$rc" -ne 0 ]
test -f chain-killed/ckpt-00000010.pwc
test ! -f chain-killed/ckpt-00000020.pwc
run_ranks 4 pol-train chain.pwt -o chain-killed --threads 1 --pipeline 4 2>err
grep -q "resuming 'chain-killed' from step 10" err
same_proof chain-one chain-killed

# kill -9 of a stage rank (rank 1: stage 1, which rank 0 gathers from): the job ends with
# an error and a non-zero status; run again, it resumes from step 10 to the same bits.
deep long.pwt                                        # 40 steps, a checkpoint every 10
pol-train long.pwt -o long-one -q --threads 1
killed_then_resumed long.pwt long-one 1 15 10 20 --pipeline 2
# A resume may take another layout: killed as 2 stages, finished as 2 x 2.
rc=0
run_ranks 2 pol-train long.pwt -o mixed -q --threads 1 --pipeline 2 --kill-after 25 --kill-rank 0 2>err || rc=$?
[ "$rc" -ne 0 ]
test -f mixed/ckpt-00000020.pwc
run_ranks 4 pol-train long.pwt -o mixed -q --threads 1 --pipeline 2 --data-parallel 2
same_proof long-one mixed

# Bad layouts, refused before any training: nothing written.
make_tiny_task two.pwt --reduce-chunk 4 --steps 20           # 2 Linear layers, 8 chunks
make_tiny_task plain.pwt --steps 20                          # no reduce chunk
expect_exit 2 run_ranks 4 pol-train two.pwt -o bad1 -q --threads 1 --pipeline 4
expect_err "2 Linear layer\(s\) do not split into 4 stages"
expect_exit 2 run_ranks 3 pol-train task.pwt -o bad2 -q --threads 1 --pipeline 3
expect_err "4 Linear layer\(s\) do not split into 3 stages"
expect_exit 2 run_ranks 2 pol-train task.pwt -o bad3 -q --threads 1 --pipeline 2 --micro-batches 16
expect_err "8 chunk\(s\) of 4 samples do not split into 16 micro-batches"
expect_exit 2 run_ranks 2 pol-train task.pwt -o bad4 -q --threads 1 --pipeline 2 --micro-batches 3
expect_err "do not split into 3 micro-batches"
expect_exit 3 run_ranks 4 pol-train plain.pwt -o bad5 -q --threads 1 --pipeline 2 --data-parallel 2
expect_err "no reduce chunk"
expect_exit 2 run_ranks 2 pol-train chain.pwt -o bad9 -q --threads 1 --pipeline 2 --micro-batches 5
expect_err "the batch of 24 samples does not split into 5 micro-batches"
expect_exit 2 run_ranks 2 pol-train chain.pwt -o bad10 -q --threads 1 --pipeline 2 --micro-batches 48
expect_err "does not split into 48 micro-batches"
make_tiny_task fast.pwt --mode fast --steps 20
expect_exit 3 run_ranks 2 pol-train fast.pwt -o bad11 -q --threads 1 --pipeline 2
expect_err "fast mode"
expect_exit 2 run_ranks 2 pol-train task.pwt -o bad6 -q --threads 1 --pipeline 2 --data-parallel 2
expect_err "the job has 2 rank\(s\): start it with mpirun -np 4"
expect_exit 2 pol-train task.pwt -o bad7 -q --micro-batches 2
expect_err "--micro-batches needs --pipeline"
expect_exit 2 pol-train task.pwt -o bad8 -q --pipeline 2      # not under mpirun
expect_err "the job has 1 rank"
for d in bad1 bad2 bad3 bad4 bad5 bad6 bad7 bad8 bad9 bad10 bad11; do test ! -e "$d"; done

# --schedule: a sched-partition partition places the ranks (device i is rank i, stage
# k's j-th device serves replica j). Rank 0, which writes the proof, may then hold any
# stage: here stage 1's second replica.
echo '{"groups": [{"name": "A", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 2}' >four.json
sched-partition four.json -q --json -o part.json
jq '.stages[0].devices = [3, 1] | .stages[1].devices = [2, 0]' part.json >placed.json
run_ranks 4 pol-train task.pwt -o sched -q --threads 1 --schedule placed.json 2>err || { cat err >&2; exit 1; }
same_proof one sched
run_ranks 4 pol-train cut2.pwt -o cut2-sched -q --threads 1 --schedule placed.json --pipeline 2 --data-parallel 2
same_proof cut2-one cut2-sched
# Without a reduce chunk: 2 stages on 2 devices, rank 0 placed on the last stage.
echo '{"groups": [{"name": "A", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 2}' >two.json
sched-partition two.json -q --json -o part2.json
jq '.stages[0].devices = [1] | .stages[1].devices = [0]' part2.json >placed2.json
run_ranks 2 pol-train chain.pwt -o chain-sched -q --threads 1 --schedule placed2.json --micro-batches 3
same_proof chain-one chain-sched
# A partition for another layout: exit 3 before any training.
expect_exit 3 run_ranks 2 pol-train task.pwt -o sbad1 -q --threads 1 --schedule placed.json
expect_err "a partition of 4 devices, for a job of 2 rank"
expect_exit 3 run_ranks 4 pol-train task.pwt -o sbad2 -q --threads 1 --schedule placed.json --pipeline 4
expect_err "a partition into 2 stages, not --pipeline 4"
echo '{"groups": [{"name": "A", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 5}}], "stages": 4}' >four4.json
sched-partition four4.json -q -o part4.pwg
expect_exit 3 run_ranks 4 pol-train two.pwt -o sbad3 -q --threads 1 --schedule part4.pwg
expect_err "its 4 stages do not split the task's 2 Linear layer"
expect_exit 3 pol-train task.pwt -o sbad4 -q --schedule missing.pwg
for d in sbad1 sbad2 sbad3 sbad4; do test ! -e "$d"; done
