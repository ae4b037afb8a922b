# The Slurm examples submitted to a real single-node Slurm (tests/cli/harness/slurm.sh:
# munged, slurmctld and slurmd started here and stopped afterwards):
# examples/slurm-train.sbatch trains a task as 4 data-parallel MPI ranks (srun
# --mpi=pmix) to the root of one process; examples/slurm-verify.sbatch verifies that
# proof as a two-task array whose task 0 submits the dependent merge, which accepts.
# Where Slurm cannot start (not root, not installed), the test says so and falls back to
# the srun and sbatch shims below, which check the verify script's logic only.
source "$HERE/harness/slurm.sh"
EX=$HERE/../../examples
make_tiny_task task.pwt --reduce-chunk 4       # 40 steps: 4 segments
pol-train task.pwt -o proof -q --threads 1 --json >one.json
if slurm_start 2>slurm-start.err; then
  export BIN
  job=$(sbatch --parsable --ntasks=4 --output=train-%j.out "$EX/slurm-train.sbatch" task.pwt dp4)
  slurm_wait "$job" || { cat train-"$job".out >&2; exit 1; }
  [ "$(tail -1 train-"$job".out | jq -r .root)" = "$(jq -r .root one.json)" ]
  for f in proof/ckpt-*.pwc; do cmp "$f" "dp4/$(basename "$f")"; done
  array=$(sbatch --parsable --array=0-1 --cpus-per-task=1 --mem=100M "$EX/slurm-verify.sbatch" task.pwt dp4)
  slurm_wait "$array" || { cat pol-verify-"$array"_*.out >&2; exit 1; }
  grep -q "shard 0: its segments are accepted" pol-verify-"$array"_0.out
  grep -q "shard 1: its segments are accepted" pol-verify-"$array"_1.out
  merge=$(squeue -h -n pol-verify-merge -o %i; scontrol -o show job 2>/dev/null | grep 'JobName=pol-verify-merge' |
          grep -o '^JobId=[0-9]*' | cut -d= -f2)
  merge=$(echo "$merge" | sort -u | head -1)
  [ -n "$merge" ]                                   # array task 0 submitted it
  slurm_wait "$merge" || { cat pol-verify-merge-"$merge".out >&2; exit 1; }
  jq -e '.accepted and .merged == 2 and ([.segments[].index] == [0,1,2,3])' verdict.pwv >/dev/null
  grep -q "ACCEPT: 4 of 4 segments replayed by 2 shards" pol-verify-merge-"$merge".out
  slurm_stop
else
  echo "slurm_example: Slurm could not start here ($(tr '\n' ' ' <slurm-start.err)); FALLING BACK to the srun/sbatch shims" >&2
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
      bash "$EX/slurm-verify.sbatch" task.pwt proof >log-$i 2>&1
    grep -q "shard $i: its segments are accepted" log-$i
  done
  grep -qx -- "--dependency=afterany:77" sbatch.calls
  [ "$(grep -c dependency sbatch.calls)" = 1 ]   # one merge job, from array task 0
  bash merge.sh >merge.out 2>merge.err
  jq -e '.accepted and .merged == 2 and ([.segments[].index] == [0,1,2,3])' verdict.pwv >/dev/null
  grep -q "ACCEPT: 4 of 4 segments replayed by 2 shards" merge.err
fi
# Without the array variables the verify script refuses to run; without sbatch's, the
# train script.
expect_exit 1 env -u SLURM_ARRAY_TASK_ID bash "$EX/slurm-verify.sbatch" task.pwt proof
expect_err "submit as an array job"
expect_exit 1 env -u SLURM_NTASKS bash "$EX/slurm-train.sbatch" task.pwt proof
expect_err "submit with sbatch"
