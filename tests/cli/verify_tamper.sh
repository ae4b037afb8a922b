# Every kind of tampering is caught: exit 1 naming the first bad segment.
make_tiny_task task.pwt
pol-train task.pwt -o honest -q
expect_exit 0 pol-verify task.pwt honest
expect_err "ACCEPT"
expect_exit 0 pol-verify task.pwt honest --segments 2 --beacon 0123 --top-q 1 --json
grep -q '"accepted": true' out

# One flipped bit in a checkpoint (same size: tampering, not damage).
for ck in 00000000 00000020 00000040; do
  rm -rf t; cp -r honest t
  f=t/ckpt-$ck.pwc
  off=$(( $(stat -c %s $f) / 2 ))
  byte=$(od -An -tu1 -j $off -N1 $f | tr -d ' ')
  printf "$(printf '\\%03o' $(( byte ^ 4 )))" | dd of=$f bs=1 seek=$off conv=notrunc status=none
  expect_exit 1 pol-verify task.pwt t
  want=$(( 10#$ck == 0 ? 0 : 10#$ck / 10 - 1 ))
  expect_err "REJECT: segment $want: checkpoint 'ckpt-$ck.pwc' does not match its hash"
done

# A skipped step: the update of step 23 is discarded (segment 2 runs steps 20-30).
pol-forge task.pwt -o skipped -q --skip-step 23
expect_exit 1 pol-verify task.pwt skipped
expect_err "REJECT: segment 2 \(steps 20-30\)"
# ... and sampling that misses segment 2 cannot see it, but --keep-going over all does.
expect_exit 1 pol-verify task.pwt skipped --keep-going --json
grep -c '"ok": false' out | grep -qx 1

# A different initialisation.
pol-forge task.pwt -o init -q --init-seed 99
expect_exit 1 pol-verify task.pwt init
expect_err "segment 0: the initial weights are not the ones derived from the task's seed"

# A changed batch order (trained on it and recorded).
pol-forge task.pwt -o order -q --order-seed 5
expect_exit 1 pol-verify task.pwt order
expect_err "segment 0: the recorded batch order differs from the seed-derived one at step 0"

# A different dataset: trained on other samples while claiming this task.
pol-forge task.pwt -o data -q --dishonest-data-dir "$FIXTURES/tiny-other"
expect_exit 1 pol-verify task.pwt data
expect_err "REJECT: segment 0 \(steps 0-10\): replayed state"

# One perturbed value in one op of step 31 (segment 3).
pol-forge task.pwt -o fault -q --inject-fault 31:5:17
expect_exit 1 pol-verify task.pwt fault
expect_err "REJECT: segment 3 \(steps 30-40\)"

# A proof of another task.
make_tiny_task other.pwt --lr 0.02
expect_exit 1 pol-verify other.pwt honest
expect_err "the proof is for another task"

# A manifest edited consistently (root recomputed by nobody): checkpoint list reordered.
pol-show honest/manifest.pwm > m.json
/usr/bin/env python3 - <<'PY'
import json
m = json.load(open("m.json"))
m["checkpoints"][1], m["checkpoints"][2] = m["checkpoints"][2], m["checkpoints"][1]
json.dump(m, open("m2.json", "w"))
PY
rm -rf r; cp -r honest r; cp m2.json r/manifest.pwm
expect_exit 1 pol-verify task.pwt r
expect_err "segment 0: checkpoint 1 is at step 20, the task says 10"

# A proof of another, longer task: "another task" (exit 1), not a size complaint.
make_tiny_task long.pwt --steps 80
pol-train long.pwt -o longproof -q
expect_exit 1 pol-verify task.pwt longproof
expect_err "the proof is for another task"
expect_exit 3 pol-train task.pwt -o longproof
expect_err "holds a proof of another task"

# Verdict files: JSON or binary, never over an input or inside the proof.
pol-verify task.pwt honest -q -o v.pwv
pol-show v.pwv | grep -q '"accepted": true'
expect_exit 2 pol-verify task.pwt honest -o v.pwv
expect_err "exists; use -f"
expect_exit 2 pol-verify task.pwt honest -o task.pwt -f
expect_err "is an input"
expect_exit 2 pol-verify task.pwt honest -o honest/v.pwv
expect_err "inside the proof directory"
