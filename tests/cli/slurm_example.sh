# The Slurm examples submitted to a real single-node Slurm (tests/cli/harness/slurm.sh:
# munged, slurmctld and slurmd started here and stopped afterwards):
# examples/slurm-train.sbatch trains a task as 4 data-parallel MPI ranks (srun
# --mpi=pmix) to the root of one process, and as pipeline stages: 2 stages of a task
# without a reduce chunk, 2 stages x 2 replicas of one with; examples/slurm-verify.sbatch verifies that
# proof as a two-task array whose task 0 submits the dependent merge, which accepts.
# Where Slurm cannot start (not root, not installed), the test says so and falls back to
# the srun and sbatch shims below, which check the verify script's logic only.
source "$HERE/harness/slurm.sh"
EX=$HERE/../../examples
make_tiny_task task.pwt --reduce-chunk 4       # 40 steps: 4 segments
pol-train task.pwt -o proof -q --threads 1 --json >one.json
make_tiny_task plain.pwt --steps 20           # no reduce chunk: 2 stages of one replica
pol-train plain.pwt -o plain-one -q --threads 1 --json >plain-one.json
# check_train OUT DIR REF_JSON REF_DIR: the job's summary has one process's root, its
# checkpoints are one process's
check_train() {
  [ "$(tail -1 "$1" | jq -r .root)" = "$(jq -r .root "$3")" ] || { cat "$1" >&2; exit 1; }
  for f in "$4"/ckpt-*.pwc; do cmp "$f" "$2/$(basename "$f")"; done
}
if slurm_start 2>slurm-start.err; then
  export BIN
  job=$(sbatch --parsable --ntasks=4 --output=train-%j.out "$EX/slurm-train.sbatch" task.pwt dp4)
  slurm_wait "$job" || { cat train-"$job".out >&2; exit 1; }
  check_train train-"$job".out dp4 one.json proof
  # Pipeline jobs: 2 stages (the third argument) of the task without a reduce chunk, and
  # 2 stages x 2 replicas of the one with.
  pp=$(sbatch --parsable --ntasks=2 --output=train-%j.out "$EX/slurm-train.sbatch" plain.pwt pp2 2)
  pp4=$(sbatch --parsable --ntasks=4 --output=train-%j.out "$EX/slurm-train.sbatch" task.pwt pp2x2 2)
  slurm_wait "$pp" || { cat train-"$pp".out >&2; exit 1; }
  grep -q "pol-train as 2 pipeline stages x 1 replica(s) of job $pp" train-"$pp".out
  check_train train-"$pp".out pp2 plain-one.json plain-one
  slurm_wait "$pp4" || { cat train-"$pp4".out >&2; exit 1; }
  grep -q "pol-train as 2 pipeline stages x 2 replica(s) of job $pp4" train-"$pp4".out
  check_train train-"$pp4".out pp2x2 one.json proof
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
  # The train script's layouts, its srun standing in as mpirun with SLURM_NTASKS ranks.
  mkdir mpishim
  cat >mpishim/srun <<'SH'
#!/bin/bash
while [ "${1#-}" != "$1" ]; do shift; done
exec mpirun --allow-run-as-root --oversubscribe -np "$SLURM_NTASKS" "$@"
SH
  chmod +x mpishim/srun
  PATH="$(pwd)/mpishim:$PATH" SLURM_NTASKS=2 bash "$EX/slurm-train.sbatch" plain.pwt pp2 2 >pp2.out
  check_train pp2.out pp2 plain-one.json plain-one
  PATH="$(pwd)/mpishim:$PATH" SLURM_NTASKS=4 bash "$EX/slurm-train.sbatch" task.pwt pp2x2 2 >pp2x2.out
  check_train pp2x2.out pp2x2 one.json proof
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
expect_exit 2 env SLURM_NTASKS=3 bash "$EX/slurm-train.sbatch" task.pwt bad 2
expect_err "3 tasks do not make 2 stages of equal replicas"
expect_exit 2 env SLURM_NTASKS=2 bash "$EX/slurm-train.sbatch" task.pwt bad two
expect_err "STAGES 'two' is not a positive count"
test ! -e bad
