# kill -9 of one rank of a data-parallel pol-train (proofwork(7), DISTRIBUTED TRAINING):
# the job ends with a clear error and a non-zero status, and running it again resumes
# from the last complete checkpoint to the bits of an uninterrupted run. Both the rank
# that writes (0) and one that does not (1).
command -v mpirun >/dev/null || { echo "FAIL: mpirun not found: install openmpi-bin (make deps)" >&2; exit 1; }
run_ranks() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }
make_tiny_task task.pwt --reduce-chunk 8          # 40 steps, a checkpoint every 10
pol-train task.pwt -o ref -q --threads 1
for rank in 1 0; do killed_then_resumed task.pwt ref "$rank" 15 10 20 --data-parallel 2; done
# A resume may take another rank count: 2 ranks killed, 4 finish.
rc=0
run_ranks 2 pol-train task.pwt -o mixed -q --threads 1 --data-parallel 2 --kill-after 25 --kill-rank 1 2>err || rc=$?
[ "$rc" -ne 0 ]
test -f mixed/ckpt-00000020.pwc
run_ranks 4 pol-train task.pwt -o mixed -q --threads 1 --data-parallel 4
same_proof ref mixed
