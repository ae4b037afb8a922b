# Truncated, garbage, oversized or path-escaping input: exit 3 with a message saying
# what is wrong; usage errors exit 2; never a crash or a hang.
make_tiny_task task.pwt
pol-train task.pwt -o honest -q

# Task files.
head -c 100 task.pwt > trunc.pwt
expect_exit 3 pol-verify trunc.pwt honest
expect_err "^pol-verify: task 'trunc.pwt': "
head -c 4096 /dev/urandom > garbage.pwt
expect_exit 3 pol-verify garbage.pwt honest
expect_err "task 'garbage.pwt'"
: > empty.pwt
expect_exit 3 pol-train empty.pwt -o x
expect_err "empty.pwt"
expect_exit 3 pol-verify missing.pwt honest
expect_err "missing.pwt': No such file"
echo '{"formatVersion": 1, "model": {"kind": "mlp", "widths": [100, 10]}}' > bad.json
expect_exit 3 pol-train bad.json -o x
expect_err "bad.json"
printf '{%.0s' $(seq 1 5000) > deep.json
expect_exit 3 pol-verify deep.json honest
pol-show task.pwt | sed 's/"widths": \[784, 32, 10\]/"widths": [700, 32, 10]/' > widths.json
expect_exit 3 pol-train widths.json -o x
expect_err "input width 700 does not match 28x28"

# The dataset a task names must be the one on disk.
pol-show task.pwt | sed 's/"count": 1000/"count": 999/' > count.json
expect_exit 3 pol-train count.json -o x
expect_err "shape differs"
mkdir -p fakedata && cp "$FIXTURES"/tiny-other/* fakedata/
expect_exit 3 pol-verify task.pwt honest --data-dir fakedata
expect_err "train images .* differs from the task's"

# Manifests.
rm -rf t; cp -r honest t; head -c 300 honest/manifest.pwm > t/manifest.pwm
expect_exit 3 pol-verify task.pwt t
expect_err "manifest 't/manifest.pwm'"
rm -rf t; cp -r honest t; head -c 8192 /dev/urandom > t/manifest.pwm
expect_exit 3 pol-verify task.pwt t
rm -rf t; cp -r honest t; rm t/manifest.pwm
expect_exit 3 pol-verify task.pwt t
expect_err "No such file"
expect_exit 3 pol-verify task.pwt nowhere
expect_err "not a directory"

# Path escapes inside a manifest.
for bad in "../ckpt-00000000.pwc" "/etc/passwd" "sub/ckpt.pwc" ".hidden"; do
  pol-show honest/manifest.pwm | BAD="$bad" /usr/bin/env python3 -c '
import json, os, sys
m = json.load(sys.stdin); m["checkpoints"][0]["file"] = os.environ["BAD"]; json.dump(m, sys.stdout)' > esc.json
  rm -rf t; cp -r honest t; cp esc.json t/manifest.pwm
  expect_exit 3 pol-verify task.pwt t
  expect_err "is not a plain name inside the proof directory"
done

# Checkpoints: truncated (size differs from the manifest) is damage, exit 3.
rm -rf t; cp -r honest t; head -c 1000 honest/ckpt-00000010.pwc > t/ckpt-00000010.pwc
expect_exit 3 pol-verify task.pwt t
expect_err "ckpt-00000010.pwc': 1000 bytes, the manifest says"
# A consistent-looking manifest over a garbage checkpoint: exit 3, not a crash.
rm -rf t; cp -r honest t; head -c "$(stat -c %s honest/ckpt-00000010.pwc)" /dev/urandom > t/ckpt-00000010.pwc
sum=$(/usr/bin/env python3 -c 'import hashlib,sys; print(hashlib.blake2b(open(sys.argv[1],"rb").read(), digest_size=32).hexdigest())' t/ckpt-00000010.pwc)
pol-show honest/manifest.pwm | SUM=$sum /usr/bin/env python3 -c '
import json, os, sys
m = json.load(sys.stdin); m["checkpoints"][1]["fileHash"] = os.environ["SUM"]; json.dump(m, sys.stdout)' > t/manifest.pwm
expect_exit 3 pol-verify task.pwt t
expect_err "ckpt-00000010.pwc'.*malformed|not a Cap'n Proto"
# A manifest whose batch order claims more entries than the task allows.
pol-show honest/manifest.pwm | /usr/bin/env python3 -c '
import json, sys
m = json.load(sys.stdin); m["batchOrder"]["shape"] = ["4000000000", "32"]; json.dump(m, sys.stdout)' > big.json
rm -rf t; cp -r honest t; cp big.json t/manifest.pwm
expect_exit 3 pol-verify task.pwt t
expect_err "batch_order.*(too large|more than)"

# Usage errors (exit 2) and environment errors (exit 4).
expect_exit 2 pol-verify task.pwt honest --segments lots
expect_err "--segments 'lots'"
expect_exit 2 pol-verify task.pwt
expect_exit 2 pol-train task.pwt -o y --no-such-flag
expect_exit 2 pol-forge task.pwt -o y --inject-fault 1:2
expect_exit 4 pol-train task.pwt -o y --device cuda
expect_err "CUDA"
expect_exit 2 pol-task --model mlp:784-x-10 --train-images a --train-labels b --lr 1 --batch 1 --steps 1 --checkpoint-every 1
expect_exit 2 pol-export honest
expect_exit 2 pol-export honest --checkpoint 7
expect_err "no checkpoint at step 7"

# --help and --version.
for p in pol-task pol-train pol-verify pol-export pol-show; do
  expect_exit 0 $p --help
  grep -q "Usage" out
  expect_exit 0 $p --version
  grep -q "proofwork" out
done
# Binary output is never written to a terminal (script(1), of bsdutils, gives us one).
script -qec "pol-export honest --checkpoint 40" /dev/null > tty.out 2>&1 || true
grep -q "refusing to write binary output to a terminal" tty.out

# A file of another type where a task or a manifest belongs: exit 3, not an internal error.
pol-verify task.pwt honest -q -o verdict.pwv
for wrong in verdict.pwv honest/manifest.pwm honest/ckpt-00000010.pwc; do
  expect_exit 3 pol-verify "$wrong" honest
  expect_exit 3 pol-train "$wrong" -o z
  expect_exit 3 pol-show -t task "$wrong"
done
rm -rf t; cp -r honest t; cp verdict.pwv t/manifest.pwm
expect_exit 3 pol-verify task.pwt t
rm -rf t; cp -r honest t; cp task.pwt t/manifest.pwm
expect_exit 3 pol-export t --batches
