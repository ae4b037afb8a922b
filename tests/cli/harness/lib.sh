# Helpers for CLI tests (sourced by run-one.sh).

# expect_exit CODE CMD...: run CMD, require exit status CODE; keep stderr in ./err.
expect_exit() {
  local want=$1; shift
  set +e
  "$@" 2>err >out
  local got=$?
  set -e
  if [ "$got" != "$want" ]; then
    echo "FAIL: '$*' exited $got, expected $want" >&2
    echo "--- stderr:" >&2; cat err >&2
    exit 1
  fi
}

# expect_err PATTERN: the last expect_exit's stderr matches PATTERN (grep -E).
expect_err() {
  if ! grep -Eq -- "$1" err; then
    echo "FAIL: stderr does not match '$1'" >&2
    echo "--- stderr:" >&2; cat err >&2
    exit 1
  fi
}

# A small task over the committed tiny dataset (1000 Fashion-MNIST samples).
make_tiny_task() {  # make_tiny_task OUT [extra pol-task flags...]
  local out=$1; shift
  pol-task --model mlp:784-32-10 \
    --train-images "$FIXTURES/tiny/train-images-idx3-ubyte.gz" --train-labels "$FIXTURES/tiny/train-labels-idx1-ubyte.gz" \
    --test-images "$FIXTURES/tiny/t10k-images-idx3-ubyte.gz" --test-labels "$FIXTURES/tiny/t10k-labels-idx1-ubyte.gz" \
    --lr 0.05 --momentum 0.9 --weight-decay 0.0001 --batch 32 --steps 40 --checkpoint-every 10 --seed 11 -q -o "$out" "$@"
}

# shared_data NAME: the absolute path of NAME in the data folder beside the repository
# (../shared/data, or $PW_SHARED_DATA): data too large to commit, such as the TSPLIB
# instances, which CI provides. A test that needs it fails when it is missing; it never
# skips. Use as T=$(shared_data tsplib): under set -e a failure ends the test.
shared_data() {
  local base=${PW_SHARED_DATA:-$HERE/../../../shared/data}
  if [ ! -e "$base/$1" ]; then
    echo "FAIL: missing $base/$1: this test needs the data folder beside the repository" \
      "(../shared/data; CI has it; PW_SHARED_DATA names another)" >&2
    return 1
  fi
  (cd "$base/$1" 2>/dev/null && pwd) || echo "$(cd "$(dirname "$base/$1")" && pwd)/$(basename "$1")"
}

# same_proof REF DIR: two proofs of one task have the same root, every checkpoint and the
# losses (the MPI tests: a layout against one process).
same_proof() {
  [ "$(pol-show "$1/manifest.pwm" | jq -r .root)" = "$(pol-show "$2/manifest.pwm" | jq -r .root)" ]
  for f in "$1"/ckpt-*.pwc; do cmp "$f" "$2/$(basename "$f")"; done
  [ "$(pol-show "$1/manifest.pwm" | jq -c .losses)" = "$(pol-show "$2/manifest.pwm" | jq -c .losses)" ]
}

# layouts TASK REF PREFIX "RANKS FLAGS..."...: pol-train TASK under run_ranks (the MPI
# test's own) in each layout, into PREFIX followed by the layout's flags without spaces
# and dashes; each proof is REF's (same_proof).
layouts() {
  local task=$1 ref=$2 prefix=$3 layout n dir
  shift 3
  for layout in "$@"; do
    set -- $layout
    n=$1; shift
    dir=$prefix$(echo "$*" | tr -d ' -')
    run_ranks "$n" pol-train "$task" -o "$dir" -q --threads 1 "$@"
    same_proof "$ref" "$dir"
  done
}

# killed_then_resumed TASK REF RANK AFTER FROM NEXT FLAGS...: 2 ranks of pol-train TASK
# (run_ranks, the MPI test's own) with the layout FLAGS into killed-rRANK, rank RANK killed
# with signal 9 after step AFTER: the job must end non-zero with checkpoint FROM written,
# NEXT not, and the manifest incomplete; run again, it must resume from FROM to REF's proof
# (same_proof).
killed_then_resumed() {
  local task=$1 ref=$2 rank=$3 after=$4 from=$5 next=$6 rc=0
  shift 6
  local dir=killed-r$rank
  rm -rf "$dir"
  run_ranks 2 pol-train "$task" -o "$dir" -q --threads 1 "$@" --kill-after "$after" --kill-rank "$rank" 2>err || rc=$?
  [ "$rc" -ne 0 ]
  grep -Eq "rank $rank .*(signal 9|Killed)" err || { cat err >&2; exit 1; }
  test -f "$dir/ckpt-$(printf %08d "$from").pwc"
  test ! -f "$dir/ckpt-$(printf %08d "$next").pwc"
  pol-show "$dir/manifest.pwm" | jq -e '.complete == false' >/dev/null
  run_ranks 2 pol-train "$task" -o "$dir" --threads 1 "$@" 2>err
  grep -q "resuming '$dir' from step $from" err
  same_proof "$ref" "$dir"
}

# pinned TASK WANT [pol-train flags...]: trains TASK and fails unless its proof root is
# WANT (the pinned roots: proofwork(7), EXACT MODE).
pinned() {  # pinned TASK WANT [pol-train flags...]
  local task=$1 want=$2; shift 2
  rm -rf proof
  pol-train "$task" -o proof -q --json "$@" > train.json
  local got
  got=$(jq -r .root train.json)
  if [ "$got" != "$want" ]; then
    echo "FAIL: $task $*: root $got, pinned $want" >&2
    exit 1
  fi
}
