# Exact proof roots are a contract (proofwork(7), EXACT MODE): these tasks' roots were
# recorded by proofwork 0.1.0 and must never move without a new format version
# (proofwork-files(5), VERSIONS). Plain SGD, AdamW with a cosine schedule, a step
# schedule through an AQ-SGD cut at 2 bits, a 4-bit cut after layer 2, and fast mode
# on one thread at two panel lengths.
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
make_tiny_task a.pwt
pinned a.pwt 22a0c99c1447915131787841bd60393ad97238961912b3559c9aeb965f2d02fb
pinned a.pwt 22a0c99c1447915131787841bd60393ad97238961912b3559c9aeb965f2d02fb --threads 1
make_tiny_task b.pwt --optimizer adamw --lr 0.003 --schedule cosine:5:0.0001 --seed 5
pinned b.pwt 5d9c940e8b9356c4c48aa8c524f5b833e99d62f1127f38be1877e14cc28657a2
make_tiny_task c.pwt --model mlp:784-24-16-10 --schedule step:15:0.5 --cut 1:2
pinned c.pwt 2e945c8db794487f440df3bf80505f864cea56a67a9d93cb99399ef876d52a75
make_tiny_task d.pwt --cut 2:4:8 --model mlp:784-24-16-10 --optimizer adamw --lr 0.002
pinned d.pwt 8762c66c74b09ad37caa52f47c5930dd13fb299deb362519e249f778d12476da
make_tiny_task e.pwt --mode fast
pinned e.pwt 008095aecc98cd763844aaf742df635e2c2c69993415c5324f5815956764bcbc --threads 1
pinned e.pwt 953e6c61e3d032dd7eed5867519168c0c98d076b8775766b7680f53ab51a04e3 --threads 1 --fast-panel 64
