# pol-export: safetensors with PyTorch names and layouts; the batch order as text.
make_tiny_task task.pwt
pol-train task.pwt -o p -q
pol-export p --checkpoint 20 -o w.safetensors -q
pol-export p --checkpoint -1 -o last.safetensors -q
pol-export p --batches -o with-header.txt
grep -q '^# pol-export [0-9.]*: pol-export p --batches' with-header.txt   # provenance
grep -v '^#' with-header.txt > batches.txt
test "$(wc -l < batches.txt)" -eq 40
test "$(head -1 batches.txt | wc -w)" -eq 33     # step + 32 indices
# Parse the safetensors header without Python's safetensors package.
/usr/bin/env python3 - <<'PY'
import json, struct
b = open("w.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
assert (8 + n) % 8 == 0, "header not padded to 8 bytes"
assert h["__metadata__"]["step"] == "20", h["__metadata__"]
assert "pol-export p --checkpoint 20" in h["__metadata__"]["command_line"], h["__metadata__"]
assert h["__metadata__"]["producer"].startswith("pol-export "), h["__metadata__"]   # program and version
assert h["0.weight"]["shape"] == [32, 784] and h["0.bias"]["shape"] == [32], h
assert h["2.weight"]["shape"] == [10, 32] and h["2.bias"]["shape"] == [10], h
assert not any("momentum" in k for k in h), "optimizer state exported without --optimizer-state"
end = max(v["data_offsets"][1] for k, v in h.items() if k != "__metadata__")
assert len(b) == 8 + n + end, (len(b), 8 + n + end)
PY
# Each line of the batch order is the seed-derived one: 32 distinct indices < 1000.
/usr/bin/env python3 -c '
import sys
for line in open("batches.txt"):
    f = [int(x) for x in line.split()]
    assert len(set(f[1:])) == 32 and max(f[1:]) < 1000, line
'
# What torch.nn.Sequential(Linear(784, 32), ReLU(), Linear(32, 10)).load_state_dict(...,
# strict=True) requires, checked without PyTorch (not a build dependency): exactly its
# keys, their shapes, F32, each tensor's bytes in the file without gap or overlap, and
# finite values.
/usr/bin/env python3 - <<'PY'
import json, math, struct
b = open("last.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); base = 8 + n
want = {"0.weight": [32, 784], "0.bias": [32], "2.weight": [10, 32], "2.bias": [10]}
t = {k: v for k, v in h.items() if k != "__metadata__"}
assert {k: v["shape"] for k, v in t.items()} == want, sorted(t)
spans = sorted(v["data_offsets"] for v in t.values())
assert spans[0][0] == 0 and all(a[1] == c[0] for a, c in zip(spans, spans[1:])) and base + spans[-1][1] == len(b), spans
for k, v in t.items():
    assert v["dtype"] == "F32", (k, v["dtype"])
    lo, hi = v["data_offsets"]
    assert hi - lo == 4 * math.prod(v["shape"]), k
    assert all(math.isfinite(x) for x in struct.unpack("<%df" % ((hi - lo) // 4), b[base + lo:base + hi])), k
PY
# With the optimizer state.
pol-export p --checkpoint 40 --optimizer-state -o s.safetensors -q
/usr/bin/env python3 -c '
import json, struct
b = open("s.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
assert "0.weight.momentum_buffer" in h, list(h)
'

# Outputs: an existing file needs -f; nothing is written inside the proof directory.
expect_exit 2 pol-export p --checkpoint 20 -o w.safetensors
expect_err "exists; use -f"
pol-export p --checkpoint 20 -o w.safetensors -f -q
expect_exit 2 pol-export p --checkpoint 20 -o p/x.safetensors -f
expect_err "inside the proof directory"
# The batch order of an unfinished proof is the whole task's, all 40 steps.
expect_exit 137 pol-train task.pwt -o half -q --kill-after 15
pol-export half --batches | grep -v '^#' > half.txt
cmp half.txt batches.txt
