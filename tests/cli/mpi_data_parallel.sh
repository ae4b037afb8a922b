# Data-parallel pol-train under mpirun (proofwork(7), DISTRIBUTED TRAINING): 1, 2 and 4
# ranks write the proof of one process, checkpoint for checkpoint, with and without an
# AQ-SGD cut; bad layouts are refused before anything is written. Needs Open MPI's mpirun (scripts/install-deps.sh,
# group build) and a build with MPI.
command -v mpirun >/dev/null || { echo "FAIL: mpirun not found: install openmpi-bin (make deps)" >&2; exit 1; }
pol-train --help | grep -q -- --data-parallel
# As root (CI) mpirun needs --allow-run-as-root; 4 ranks on 2 cores need --oversubscribe.
run_ranks() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }
make_tiny_task task.pwt --reduce-chunk 4 --steps 20   # batch 32: 8 chunks of 4
pol-show task.pwt | jq -e '.reduceChunk == 4' >/dev/null
pol-train task.pwt -o one -q --threads 1 --json >one.json
for n in 1 2 4; do
  run_ranks "$n" pol-train task.pwt -o dp$n -q --threads 1 --data-parallel "$n" --json >dp$n.json 2>err$n
  [ "$(jq -r .root dp$n.json)" = "$(jq -r .root one.json)" ]
  for f in one/ckpt-*.pwc; do cmp "$f" "dp$n/$(basename "$f")"; done
  [ "$(pol-show one/manifest.pwm | jq -c .losses)" = "$(pol-show dp$n/manifest.pwm | jq -c .losses)" ]
  [ "$(wc -l <dp$n.json)" = 1 ]    # one summary: rank 0's
done
pol-verify task.pwt dp4 -q            # anyone verifies it on one machine
# With an AQ-SGD cut (2 and 4 bits; 40 steps: the second epoch codes against the
# buffer): the scales are the whole batch's and the buffer one process's, on any ranks.
for bits in 2 4; do
  make_tiny_task cut$bits.pwt --reduce-chunk 4 --cut 1:$bits
  pol-train cut$bits.pwt -o cut$bits-one -q --threads 1 --json >cut$bits-one.json
  for n in 2 4; do
    run_ranks "$n" pol-train cut$bits.pwt -o cut$bits-dp$n -q --threads 1 --data-parallel "$n" --json >cut$bits-dp$n.json
    [ "$(jq -r .root cut$bits-dp$n.json)" = "$(jq -r .root cut$bits-one.json)" ]
  done
done
# Run again on the complete proof: nothing to do, on every rank.
run_ranks 2 pol-train task.pwt -o dp2 --threads 1 --data-parallel 2 2>err
grep -q "already complete" err
# A chunk of the whole batch is one chain: the root of a task without the field.
make_tiny_task plain.pwt --steps 20
make_tiny_task whole.pwt --steps 20 --reduce-chunk 32
pol-train plain.pwt -o plain -q --threads 1 --json >plain.json
pol-train whole.pwt -o whole -q --threads 1 --json >whole.json
[ "$(jq -r .root plain.json)" = "$(jq -r .root whole.json)" ]
[ "$(jq -r .root plain.json)" != "$(jq -r .root one.json)" ]   # 8 chunks: another order

# Bad layouts, refused before any training: nothing written.
expect_exit 3 run_ranks 2 pol-train plain.pwt -o bad1 -q --threads 1 --data-parallel 2
expect_err "no reduce chunk"
make_tiny_task two.pwt --steps 20 --reduce-chunk 16   # 2 chunks
expect_exit 3 run_ranks 4 pol-train two.pwt -o bad2 -q --threads 1 --data-parallel 4
expect_err "2 chunk\(s\), which 4 ranks cannot share"
expect_exit 2 run_ranks 2 pol-train task.pwt -o bad3 -q --threads 1 --data-parallel 4
expect_err "the job has 2 rank\(s\): start it with mpirun -np 4"
expect_exit 2 run_ranks 3 pol-train task.pwt -o bad4 -q --threads 1 --data-parallel 3
expect_err "power of two"
expect_exit 2 run_ranks 2 pol-train task.pwt -o bad5 -q --threads 1
expect_err "started as one of 2 ranks"
expect_exit 2 pol-train task.pwt -o bad6 -q --data-parallel 2     # not under mpirun
expect_err "the job has 1 rank"
for d in bad1 bad2 bad3 bad4 bad5 bad6; do test ! -e "$d"; done
# pol-task refuses a chunk that does not fit the batch.
expect_exit 2 make_tiny_task bad.pwt --reduce-chunk 12
expect_err "power-of-two count of chunks"
expect_exit 2 make_tiny_task bad.pwt --reduce-chunk 4 --mode fast
expect_err "exact mode"
