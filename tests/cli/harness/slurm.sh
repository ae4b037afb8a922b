# A single-node Slurm for the tests (sourced): slurm_start generates a slurm.conf for
# this host in a fresh directory, starts munged (its own key and socket), slurmctld and
# slurmd on free ports, waits for the node to be idle and exports SLURM_CONF, so sbatch,
# srun, squeue and scontrol talk to it; slurm_stop stops the three by their pids (an EXIT
# trap calls it, on failure too). Needs root (CI runs as root) and slurm-wlm and munge
# (scripts/install-deps.sh, group build). slurm_start returns non-zero, saying why,
# when Slurm cannot start here.

SLURM_DIR= SLURM_PIDS=

slurm_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

slurm_stop() {
  local pid
  for pid in $SLURM_PIDS; do kill "$pid" 2>/dev/null || true; done
  for pid in $SLURM_PIDS; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  SLURM_PIDS=
}

# slurm_wait_pidfile FILE: the pid a daemon wrote, once it wrote one (10 s at most).
slurm_wait_pidfile() {
  for _ in $(seq 1 100); do
    if [ -s "$1" ]; then cat "$1"; return 0; fi
    sleep 0.1
  done
  return 1
}

slurm_start() {
  local missing=
  for p in munged slurmctld slurmd sbatch srun scontrol sinfo; do command -v "$p" >/dev/null || missing="$missing $p"; done
  if [ -n "$missing" ]; then echo "slurm: not installed:$missing (slurm-wlm, munge)" >&2; return 1; fi
  if [ "$(id -u)" != 0 ]; then echo "slurm: the single-node Slurm needs root" >&2; return 1; fi
  SLURM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pw-slurm.XXXXXX")
  chmod 755 "$SLURM_DIR"
  trap 'slurm_stop; rm -rf "$SLURM_DIR"' EXIT
  local d=$SLURM_DIR host cpus ctld_port slurmd_port
  host=$(hostname -s)
  cpus=$(nproc)
  [ "$cpus" -ge 4 ] || cpus=4   # four ranks on a smaller machine (config_overrides)
  ctld_port=$(slurm_free_port)
  slurmd_port=$(slurm_free_port)
  mkdir -p "$d/state" "$d/spool" "$d/munge"
  chmod 700 "$d/munge"
  dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 2>/dev/null
  chmod 400 "$d/munge/munge.key"
  munged --force --key-file="$d/munge/munge.key" --socket="$d/munge/munge.sock" \
    --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" --seed-file="$d/munge/munged.seed" || {
    echo "slurm: munged did not start" >&2; return 1; }
  SLURM_PIDS=$(slurm_wait_pidfile "$d/munge/munged.pid") || { echo "slurm: munged wrote no pid" >&2; return 1; }
  touch "$d/plugstack.conf"
  cat >"$d/slurm.conf" <<CONF
ClusterName=pwtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$d/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
PlugStackConfig=$d/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=pw Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$d/slurm.conf
  slurmctld -f "$SLURM_CONF" -i || { echo "slurm: slurmctld did not start" >&2; cat "$d/slurmctld.log" >&2; return 1; }
  SLURM_PIDS="$SLURM_PIDS $(slurm_wait_pidfile "$d/slurmctld.pid")" || { echo "slurm: slurmctld wrote no pid" >&2; return 1; }
  slurmd -f "$SLURM_CONF" || { echo "slurm: slurmd did not start" >&2; cat "$d/slurmd.log" >&2; return 1; }
  SLURM_PIDS="$SLURM_PIDS $(slurm_wait_pidfile "$d/slurmd.pid")" || { echo "slurm: slurmd wrote no pid" >&2; return 1; }
  local state=
  for _ in $(seq 1 300); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1)
    case $state in idle*) return 0 ;; esac
    sleep 0.1
  done
  echo "slurm: the node did not come up (state '$state')" >&2
  tail -5 "$d/slurmctld.log" "$d/slurmd.log" >&2
  return 1
}

# slurm_wait JOBID...: until none of the jobs is pending or running (120 s at most),
# then 0 only if each ended COMPLETED.
slurm_wait() {
  local job state left
  for _ in $(seq 1 1200); do
    left=0
    for job in "$@"; do
      [ -n "$(squeue -h -j "$job" -o %i 2>/dev/null)" ] && left=1
    done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for job in "$@"; do
    state=$(scontrol -o show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sort -u | tr '\n' ' ')
    case $state in
      "JobState=COMPLETED ") ;;
      *) echo "slurm: job $job: ${state:-gone}" >&2; return 1 ;;
    esac
  done
}
