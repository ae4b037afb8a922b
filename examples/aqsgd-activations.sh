#!/usr/bin/env bash
# AQ-SGD on the activations of a real training run: train an MLP on Fashion-MNIST with
# pol-train, take the first hidden layer's activations of every training step (the
# tensor a pipeline cut after layer 1 would send), and compress them with aqsgd-pack at
# 2, 3, 4 and 8 bits, with and without zstd, on a sender and a receiver state; check
# that both sides end with byte-identical states and print the compression ratios.
# Last, the same task trained through the cut itself (pol-task --cut 1:2:8: 2-bit AQ-SGD
# forward, 8-bit direct backward), a proof verifiable like any other.
#
#   examples/aqsgd-activations.sh          # programs from $BIN, else from PATH
#
# The activations: for each step, relu(x·W1ᵀ + b1) of that step's batch (pol-export
# --batches), with the weights of the latest checkpoint at or before the step
# (pol-export --checkpoint): the run's real activations up to the weight changes
# within one checkpoint interval. Computing them takes NumPy (Debian's python3-numpy).
#
# Environment (all optional): BIN, FASHION_MNIST, AQ_HIDDEN (256), AQ_EPOCHS (3),
# AQ_EVERY (checkpoint interval, 100 steps), AQ_DIR (default: a temporary directory,
# removed unless AQ_KEEP=1), PYTHON (an interpreter with numpy, default /usr/bin/python3).
EXAMPLE=aqsgd-activations.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # set -euo pipefail; fail, section, say, run, ...

HIDDEN=${AQ_HIDDEN:-256}
EPOCHS=${AQ_EPOCHS:-3}
EVERY=${AQ_EVERY:-100}
BATCH=64
STEPS=$(( EPOCHS * 60000 / BATCH ))
PYTHON=${PYTHON:-/usr/bin/python3}
need_programs pol-task pol-train pol-verify pol-export aqsgd-pack
"$PYTHON" -c 'import numpy' 2>/dev/null || fail "$PYTHON has no numpy (python3-numpy)"
need_fashion_mnist train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
DEMO_DIR=${AQ_DIR:-} DEMO_KEEP=${AQ_KEEP:-0}
enter_work_dir aqsgd
DIR=$WORK

section "train mlp:784-$HIDDEN-10 for $EPOCHS epochs ($STEPS steps), a checkpoint every $EVERY"
pol-task --model "mlp:784-$HIDDEN-10" \
  --train-images "$DATA/train-images-idx3-ubyte.gz" --train-labels "$DATA/train-labels-idx1-ubyte.gz" \
  --test-images "$DATA/t10k-images-idx3-ubyte.gz" --test-labels "$DATA/t10k-labels-idx1-ubyte.gz" \
  --optimizer sgd --lr 0.05 --momentum 0.9 --batch $BATCH --steps "$STEPS" --checkpoint-every "$EVERY" \
  --seed 7 -q -f -o task.pwt
pol-train task.pwt -o proof -q

section "export the batch order and every checkpoint; compute the layer-1 activations of each step"
pol-export proof --batches -o batches.txt -f
for ((s = 0; s < STEPS; s += EVERY)); do pol-export proof --checkpoint "$s" -o "ck-$s.safetensors" -f -q; done
"$PYTHON" - "$DATA/train-images-idx3-ubyte.gz" "$EVERY" <<'PY'
import gzip, json, struct, sys
import numpy as np
images, every = sys.argv[1], int(sys.argv[2])
with gzip.open(images) as f:
    raw = f.read()
n, rows, cols = struct.unpack(">III", raw[4:16])
x = np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32) / np.float32(255)

def load(path):  # a safetensors file: 8-byte header length, JSON header, tensors
    b = open(path, "rb").read()
    hl = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + hl])
    def t(name):
        o = head[name]["data_offsets"]
        return np.frombuffer(b[8 + hl + o[0]:8 + hl + o[1]], np.float32).reshape(head[name]["shape"])
    return t("0.weight"), t("0.bias")

acts, ids = open("h1.f32", "wb"), open("ids.txt", "w")
for line in open("batches.txt"):
    if line.startswith("#"):
        continue
    step, *idx = map(int, line.split())
    if step % every == 0:
        w, b = load(f"ck-{step}.safetensors")
    h = np.maximum(x[idx] @ w.T + b, 0).astype("<f4")
    acts.write(h.tobytes())
    ids.write("".join(f"{i}\n" for i in idx))
PY
cols=$HIDDEN
aqsgd-pack -q --wrap "$cols" --batch-rows $BATCH --ids ids.txt h1.f32 -o h1.aqa -f
aqsgd-pack --inspect h1.aqa

section "pack and unpack at 2, 3, 4, 8 bits"
printf '%-6s %-6s %12s %10s %14s\n' bits zstd "packed MB" ratio "max |error|" >&2
for b in 2 3 4 8; do
  for z in no yes; do
    zflag=(); [ $z = yes ] && zflag=(--zstd)
    rm -rf tx rx
    aqsgd-pack -q --bits $b --state tx "${zflag[@]}" h1.aqa -o p.aqp -f
    aqsgd-pack -q -d --state rx --raw p.aqp -o back.f32 -f
    cmp -s tx/state.aqs rx/state.aqs || fail "the states differ at $b bits"
    ratio=$(aqsgd-pack --inspect --json p.aqp | sed 's/.*"ratio": \([0-9.e+-]*\).*/\1/')
    err=$("$PYTHON" -c 'import numpy as np, sys; a = np.fromfile(sys.argv[1], "<f4"); b = np.fromfile(sys.argv[2], "<f4"); print(f"{np.abs(a - b).max():.4g}")' h1.f32 back.f32)
    printf '%-6s %-6s %12.2f %9.2fx %14s\n' $b $z "$(awk -v s="$(stat -c %s p.aqp)" 'BEGIN { print s / 1e6 }')" "$ratio" "$err" >&2
  done
done
section "the same task trained through a pipeline cut after layer 1 (2-bit AQ-SGD forward, 8-bit backward)"
pol-task --from task.pwt --cut 1:2:8 -q -f -o cut.pwt
pol-train cut.pwt -o cutproof -q
pol-verify cut.pwt cutproof -q
section "done: sender and receiver states byte-identical at every width; the cut's proof verifies ($DIR)"
