# pol-verify under mpirun (proofwork(7), DISTRIBUTED TRAINING): the replayed segments
# spread over the ranks as shards, merged on rank 0, and the decision is one process's:
# an honest proof accepted, a forged one rejected at the same segment.
command -v mpirun >/dev/null || { echo "FAIL: mpirun not found: install openmpi-bin (make deps)" >&2; exit 1; }
run_ranks() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }
make_tiny_task task.pwt            # 40 steps, a checkpoint every 10: 4 segments
pol-train task.pwt -o proof -q --threads 1
pol-verify task.pwt proof -o one.pwv --threads 1 2>err
grep -q "ACCEPT" err
for n in 2 4; do
  run_ranks "$n" pol-verify task.pwt proof -o v$n.pwv --threads 1 2>err
  grep -qF "ACCEPT: 4 of 4 segments replayed by $n shards, all equal ($n ranks)" err
  [ "$(grep -c ACCEPT err)" = 1 ]      # rank 0 reports
  pol-show v$n.pwv | jq -e ".accepted and .merged == $n and ([.segments[].index] == [0,1,2,3])" >/dev/null
done
# Drawn segments: rank 0's beacon for all, printed once.
run_ranks 2 pol-verify task.pwt proof --segments 2 -o drawn.pwv --threads 1 2>err
[ "$(grep -c "^pol-verify: beacon" err)" = 1 ]
pol-show drawn.pwv | jq -e '.accepted and (.segments | length) == 2' >/dev/null
# A forgery: rejected by 1 and 2 ranks alike, at the same segment.
pol-forge task.pwt -o forged -q --skip-step 25 --threads 1
expect_exit 1 pol-verify task.pwt forged -o f1.pwv --threads 1
expect_exit 1 run_ranks 2 pol-verify task.pwt forged -o f2.pwv --threads 1
expect_err "REJECT"
[ "$(pol-show f1.pwv | jq -c .first_bad_segment)" = "$(pol-show f2.pwv | jq -c .first_bad_segment)" ]
# Bad input on every rank (no such proof): exit 3, no verdict; --shard is the ranks' job.
expect_exit 3 run_ranks 2 pol-verify task.pwt nothing -o n.pwv --threads 1
test ! -e n.pwv
expect_exit 2 run_ranks 2 pol-verify task.pwt proof --shard 0/2 --threads 1
expect_err "the ranks are the shards"
