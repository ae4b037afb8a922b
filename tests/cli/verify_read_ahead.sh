# pol-verify --read-ahead: the next segment's first checkpoint read on a thread of its
# own while a segment replays gives the verdicts of reading it in turn, failures included
# (proofwork(7), VERIFICATION).
make_tiny_task task.pwt
pol-train task.pwt -o honest -q

# set_checkpoint DIR INDEX FILE: checkpoint INDEX of proof DIR becomes FILE's bytes, and
# the manifest's file hash and size follow (its state hash stays): a prover's manifest
# that commits to a file other than the state it claims.
set_checkpoint() {
  local dir=$1 index=$2 file=$3 name sum
  name=$(pol-show "$dir/manifest.pwm" | jq -r ".checkpoints[$index].file")
  cp "$file" "$dir/$name.new" && mv "$dir/$name.new" "$dir/$name"
  sum=$(/usr/bin/env python3 -c 'import hashlib,sys; print(hashlib.blake2b(open(sys.argv[1],"rb").read(), digest_size=32).hexdigest())' "$dir/$name")
  pol-show "$dir/manifest.pwm" | jq --argjson i "$index" --arg sum "$sum" --arg n "$(stat -c %s "$dir/$name")" \
    '.checkpoints[$i].fileHash = $sum | .checkpoints[$i].fileBytes = $n' >m.json
  cp m.json "$dir/manifest.pwm"
}

# same_verdicts ARGS...: pol-verify ARGS with --read-ahead on and off: the same exit status,
# the same REJECT/ACCEPT line, the same segments and replayed hashes. Leaves the last
# run's stderr in ./err.
same_verdicts() {
  local mode got want="" line wline=""
  for mode in on off; do
    set +e
    pol-verify "$@" --read-ahead $mode --json >out 2>err
    got=$?
    set -e
    line=$(tail -1 err | sed 's/ (replay [0-9.]* s for .*//')
    [ ! -s out ] || jq -c '[.accepted, .reason, [.segments[] | [.index, .ok, .replayed, .reason]]]' out >"verdict-$mode"
    if [ -z "$want" ]; then
      want=$got wline=$line
    elif [ "$got" != "$want" ] || [ "$line" != "$wline" ]; then
      echo "FAIL: pol-verify $* --read-ahead on: exit $want, '$wline'; off: exit $got, '$line'" >&2
      exit 1
    fi
  done
  if [ -s verdict-on ] || [ -s verdict-off ]; then
    cmp verdict-on verdict-off >&2 || { echo "FAIL: pol-verify $*: the verdicts differ with --read-ahead on and off" >&2; exit 1; }
  fi
  rm -f verdict-on verdict-off
  echo "$want"
}

# Honest: accepted either way, over every segment and over a beacon's sample.
[ "$(same_verdicts task.pwt honest)" = 0 ]
expect_err "ACCEPT: 4 of 4 segments replayed"
# A sample with a gap: the second segment starts from its own checkpoint, not from where
# the first replay ended (the read-ahead's copy is what it replays from).
for beacon in 1 2 3 4 5 6 7 8 9 10 11 12; do
  pol-verify task.pwt honest --segments 2 --beacon $beacon --json -q >o.json
  [ "$(jq '.segments[1].index - .segments[0].index' o.json)" = 1 ] || break
done
[ "$(jq '.segments[1].index - .segments[0].index' o.json)" -gt 1 ]
[ "$(same_verdicts task.pwt honest --segments 2 --beacon $beacon --threads 1)" = 0 ]
[ "$(same_verdicts task.pwt honest --threads "$(nproc)")" = 0 ]

# The manifest commits to another proof's checkpoint 3 (step 30) under the honest state
# hash: segment 2 replays to the committed state, then segment 3's start fails to load.
pol-forge task.pwt -o skipped -q --skip-step 23
rm -rf t; cp -r honest t
set_checkpoint t 3 skipped/ckpt-00000030.pwc
[ "$(same_verdicts task.pwt t)" = 1 ]
expect_err "REJECT: segment 3 \(steps 30-40\): checkpoint '.*ckpt-00000030.pwc': state hash [0-9a-f]+ differs from the manifest's"

# Checkpoint 3 holds step 20: damage (exit 3) found when segment 3's start is read.
rm -rf t; cp -r honest t
set_checkpoint t 3 honest/ckpt-00000020.pwc
[ "$(same_verdicts task.pwt t)" = 3 ]
expect_err "ckpt-00000030.pwc': holds step 20, the manifest says 30"
# ... but a sample of two segments without segment 3 never reads it (the sample depends
# on the root, which the state hashes fix: the honest proof's draw is t's).
for beacon in 1 2 3 4 5 6 7 8 9; do
  pol-verify task.pwt honest --segments 2 --beacon $beacon --json -q >o.json
  [ "$(jq -c '[.segments[].index] | index(3)' o.json)" != null ] || break
done
[ "$(jq -c '[.segments[].index] | index(3)' o.json)" = null ]
[ "$(same_verdicts task.pwt t --segments 2 --beacon $beacon)" = 0 ]

# A forged segment 2 (skipped step 23) rejects the proof before segment 3's damaged start
# matters: exit 1 at segment 2, whether or not that start was read ahead; with
# --keep-going the damage then ends the run (exit 3) either way.
rm -rf f; cp -r skipped f
set_checkpoint f 3 skipped/ckpt-00000020.pwc
[ "$(same_verdicts task.pwt f)" = 1 ]
expect_err "REJECT: segment 2 \(steps 20-30\)"
[ "$(same_verdicts task.pwt f --keep-going)" = 3 ]
expect_err "holds step 20, the manifest says 30"

# Usage.
expect_exit 2 pol-verify task.pwt honest --read-ahead sometimes
expect_err "read-ahead"
