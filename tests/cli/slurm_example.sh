# examples/slurm-verify.sbatch as a two-task array, with srun and sbatch stood in by
# shims: the shards replay disjoint halves and the merge job's verdict accepts.
make_tiny_task task.pwt
pol-train task.pwt -o proof -q
mkdir shim
cat >shim/srun <<'SH'
#!/bin/bash
while [ "${1#-}" != "$1" ]; do shift; done
exec "$@"
SH
cat >shim/sbatch <<'SH'
#!/bin/bash
printf '%s\n' "$@" >>sbatch.calls
for a in "$@"; do case $a in --wrap=*) printf '%s\n' "${a#--wrap=}" >merge.sh ;; esac; done
SH
chmod +x shim/srun shim/sbatch
export PATH="$(pwd)/shim:$PATH"
for i in 0 1; do
  SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_JOB_ID=77 SLURM_CPUS_PER_TASK=1 \
    bash "$HERE/../../examples/slurm-verify.sbatch" task.pwt proof >log-$i 2>&1
  grep -q "shard $i: its segments are accepted" log-$i
done
grep -qx -- "--dependency=afterany:77" sbatch.calls
[ "$(grep -c dependency sbatch.calls)" = 1 ]   # one merge job, from array task 0
bash merge.sh >merge.out 2>merge.err
jq -e '.accepted and .merged == 2 and ([.segments[].index] == [0,1,2,3])' verdict.pwv >/dev/null
grep -q "ACCEPT: 4 of 4 segments replayed by 2 shards" merge.err
# Without the array variables the script refuses to run.
expect_exit 1 bash "$HERE/../../examples/slurm-verify.sbatch" task.pwt proof
expect_err "submit as an array job"
