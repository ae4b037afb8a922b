# Training through an AQ-SGD pipeline cut (pol-task --cut; proofwork(7), AQ-SGD): the same bits
# on 1 and 2 threads, resumed = uninterrupted, verified by replay; an altered buffer,
# other bits and bad --cut values refused; bisection, export, fast mode and --device cuda.
# 1000 samples, batch 32: 31 steps an epoch, so from step 31 on samples come back and
# their activations cross the cut as 2-bit changes against m(sample).
make_tiny_task task.pwt --cut 1:2:8 --steps 70
pol-show task.pwt | jq -e '.cut == {"layer": 1, "forwardBits": 2, "backwardBits": 8, "rotateTile": 0, "scaleTile": 0}' >/dev/null
pol-train task.pwt -o p1 --threads 1 -q
pol-train task.pwt -o p2 --threads 2 -q
for f in p1/ckpt-*.pwc; do cmp "$f" "p2/$(basename "$f")"; done
root=$(pol-show p1/manifest.pwm | jq -r .root)
# Every checkpoint holds the buffer (1000 x 32 f32) and the seen flags, after the optimizer state.
pol-show p1/ckpt-00000070.pwc | jq -e '[.tensors[] | .name] | .[-2:] == ["cut.1.buffer", "cut.1.seen"]' >/dev/null
pol-show p1/ckpt-00000070.pwc | jq -e '.tensors[-2].shape == ["1000", "32"] or .tensors[-2].shape == [1000, 32]' >/dev/null

# The bits matter, and a task without a cut trains as before the option existed.
make_tiny_task t4.pwt --cut 1:4:8 --steps 70
make_tiny_task plain.pwt --steps 70
pol-task --from task.pwt --cut none -q -o none.pwt
pol-show none.pwt | jq -e 'has("cut") | not' >/dev/null
pol-train t4.pwt -o q4 -q
pol-train plain.pwt -o plain -q
pol-train none.pwt -o none -q
test "$(pol-show q4/manifest.pwm | jq -r .root)" != "$root"
test "$(pol-show plain/manifest.pwm | jq -r .root)" != "$root"
test "$(pol-show plain/manifest.pwm | jq -r .root)" = "$(pol-show none/manifest.pwm | jq -r .root)"

# Rotation and per-tile scales (rot=T, tile=S): task fields, the same bits on 1 and 2
# threads, other bits than the plain cut's, verified by replay; a task without them
# has no such fields (it hashes as before they existed).
make_tiny_task rot.pwt --cut 1:2:8:rot=16:tile=8 --steps 70
pol-show rot.pwt | jq -e '.cut == {"layer": 1, "forwardBits": 2, "backwardBits": 8, "rotateTile": 16, "scaleTile": 8}' >/dev/null
pol-task --from rot.pwt --cut 1:2 -q -o norot.pwt
pol-show norot.pwt | jq -e '.cut == {"layer": 1, "forwardBits": 2, "backwardBits": 8, "rotateTile": 0, "scaleTile": 0}' >/dev/null
pol-train rot.pwt -o r1 --threads 1 -q
pol-train rot.pwt -o r2 --threads 2 -q
for f in r1/ckpt-*.pwc; do cmp "$f" "r2/$(basename "$f")"; done
test "$(pol-show r1/manifest.pwm | jq -r .root)" != "$root"
make_tiny_task rot32.pwt --cut 1:2:8:rot=32 --steps 70
pol-train rot32.pwt -o r32 -q
test "$(pol-show r32/manifest.pwm | jq -r .root)" != "$(pol-show r1/manifest.pwm | jq -r .root)"
expect_exit 0 pol-verify rot.pwt r1
expect_err "ACCEPT: 7 of 7 segments replayed, all equal"
expect_exit 1 pol-verify rot32.pwt r1
expect_err "the proof is for another task"

# Killed and resumed: the same files as the uninterrupted run.
expect_exit 137 pol-train task.pwt -o killed -q --kill-after 45
pol-train task.pwt -o killed 2>err
grep -q "resuming 'killed' from step 40" err
for f in p1/ckpt-*.pwc; do cmp "$f" "killed/$(basename "$f")"; done

# Verified by replay; a proof with other cut bits is another task's.
expect_exit 0 pol-verify task.pwt p1
expect_err "ACCEPT: 7 of 7 segments replayed, all equal"
expect_exit 1 pol-verify task.pwt q4
expect_err "the proof is for another task"
# One byte of the buffer's data changed in checkpoint 50 (read as JSON, written back
# byte for byte otherwise): rejected at the segment that produces it. (A forgery with
# every hash recomputed is rejected by replay: tests/unit/test_cut.cpp.)
rm -rf t; cp -r p1 t
pol-show t/ckpt-00000050.pwc > c.json
/usr/bin/python3 - <<'PY'
import json
c = json.load(open("c.json"))
t = next(t for t in c["tensors"] if t["name"] == "cut.1.buffer")
t["chunks"][0][len(t["chunks"][0]) // 2] ^= 1
json.dump(c, open("c2.json", "w"))
PY
pol-show c.json -t checkpoint --binary -o c.bin
cmp c.bin t/ckpt-00000050.pwc          # the round trip alone changes nothing
pol-show c2.json -t checkpoint --binary -o t/ckpt-00000050.pwc -f
expect_exit 1 pol-verify task.pwt t
expect_err "REJECT: segment 4: checkpoint 'ckpt-00000050.pwc' does not match its hash"

# Bad --cut: syntax is a usage error, a layer or bits the task cannot take bad input.
for bad in 1 1:2:8:8 a:2 1:-2 "" 1:2:rot= 1:2:rot=x 1:rot=8 1:2:rot=8:rot=8 1:2:tile=8:rot=8:8 1:2:spin=8; do
  expect_exit 2 pol-task --from task.pwt --cut "$bad" -o x.pwt
  expect_err "--cut"
done
for bad in 0:2 2:2 1:5 1:2:16; do
  expect_exit 3 pol-task --from task.pwt --cut "$bad" -o x.pwt
  expect_err "task: cut (after layer|bits)"
done
for bad in 1:2:8:rot=3 1:2:8:tile=1 1:2:rot=131072 1:2:tile=0:rot=24; do
  expect_exit 3 pol-task --from task.pwt --cut "$bad" -o x.pwt
  expect_err "task: cut tile"
done
test ! -e x.pwt

# Bisection: a fault in cut_forward (op 3: load, linear, relu, cut) of step 35 is pinned
# there, and the referee recomputes it from its inputs (â's rows, the buffer, the flags).
pol-forge task.pwt -o bad -q --inject-fault 35:3:17
expect_exit 0 pol-bisect task.pwt p1 bad --fault-b 35:3:17 -o d.json --json -q
jq -e '.step == 35 and .opIndex == 3 and .winner == "a"' d.json >/dev/null
expect_exit 0 pol-bisect replay d.json -q

# Export: the weights alone by default (a plain MLP), the buffer with --optimizer-state.
expect_exit 0 pol-export p1 --checkpoint -1 -o w.safetensors
expect_err "pipeline cut"
! grep -aq "cut.1.buffer" w.safetensors
pol-export p1 --checkpoint -1 -o s.safetensors --optimizer-state -q
grep -aq "cut.1.buffer" s.safetensors

# Fast mode: the quantizer is the same, only the GEMMs change; profile and verify.
make_tiny_task fast.pwt --cut 1:2:8 --steps 70 --mode fast
pol-train fast.pwt -o fref -q --fast-panel 64
pol-profile fast.pwt fref -o prof.pwp -q
pol-show prof.pwp | jq -e '.thresholds.names | index("cut.1.buffer") != null' >/dev/null
pol-train fast.pwt -o f32 -q --fast-panel 32 --threads 2
expect_exit 0 pol-verify fast.pwt f32 --profile prof.pwp

# --device cuda: no cut kernels on the GPU; refused (exit 3), or no GPU at all (exit 4).
set +e
pol-train task.pwt -o gpu -q --device cuda 2>err
rc=$?
set -e
case $rc in
  3) grep -q "does not run a pipeline cut" err ;;
  4) grep -Eq "no CUDA device|built without CUDA" err ;;
  *) cat err >&2; false ;;
esac
test ! -e gpu
