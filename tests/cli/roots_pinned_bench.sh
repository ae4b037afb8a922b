# The benchmark task's exact root (tests/bench/run.sh: MLP 784-1024-1024-10 on the whole
# of Fashion-MNIST, SGD lr 0.05 momentum 0.9, batch 128, 200 steps, seed 1), recorded
# by proofwork 0.1.0 and quoted in README.md: a contract like tests/cli/roots_pinned.sh's
# (proofwork(7), EXACT MODE). Needs Debian's dataset-fashion-mnist, which
# scripts/install-deps.sh installs with the build group; without it the test fails.
D=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
[ -r "$D/train-images-idx3-ubyte.gz" ] || { echo "FAIL: no Fashion-MNIST in $D (apt-get install dataset-fashion-mnist, or make deps)" >&2; exit 1; }
pol-task --model mlp:784-1024-1024-10 --train-images "$D/train-images-idx3-ubyte.gz" \
  --train-labels "$D/train-labels-idx1-ubyte.gz" --optimizer sgd --lr 0.05 --momentum 0.9 \
  --batch 128 --steps 200 --checkpoint-every 100 --seed 1 -o task.pwt -q
pol-train task.pwt -o proof -q --json > train.json
got=$(jq -r .root train.json)
want=a98f70b0d0ad4accb1cf4c49230b1ea7509e84b67ffa2a91c8d6aeacb5540110
[ "$got" = "$want" ] || { echo "FAIL: bench task root $got, pinned $want" >&2; exit 1; }
