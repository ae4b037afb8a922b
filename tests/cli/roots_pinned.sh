# Exact proof roots are a contract (proofwork(7), EXACT MODE): these tasks' roots were
# recorded by proofwork 0.1.0 and must never move without a new format version
# (proofwork-files(5), VERSIONS). Plain SGD, AdamW with a cosine schedule, a step
# schedule through an AQ-SGD cut at 2 bits, a 4-bit cut after layer 2, and fast mode
# on one thread at two panel lengths; two GPTs (below).
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

# GPTs (proofwork(7), THE GPT), pinned before their kernels were vectorised: a text made
# here (never a man page, which changes), AdamW with weight decay and clipping at two
# thread counts, and SGD with momentum at 4 heads.
awk 'BEGIN { for (i = 1; i <= 900; i++) printf "line %d: the quick brown fox %d jumps over %d lazy dogs.\n", i, i * 7 % 13, i % 5 }' >g-train.txt
awk 'BEGIN { for (i = 1; i <= 60; i++) printf "held out %d of %d.\n", i, i * 3 }' >g-val.txt
pol-task --model gpt:2-2-32-16 --text g-train.txt --val-text g-val.txt --optimizer adamw --lr 0.001 --weight-decay 0.1 \
  --clip 1.0 --batch 4 --steps 12 --checkpoint-every 4 --seed 3 -q -o g.pwt
pinned g.pwt 82fa09451b1ad6a2d20dae13b0e4c69719b6cc8da1e001c5922e35908b40c1fe
pinned g.pwt 82fa09451b1ad6a2d20dae13b0e4c69719b6cc8da1e001c5922e35908b40c1fe --threads 1
pol-task --model gpt:1-4-64-32 --text g-train.txt --optimizer sgd --lr 0.05 --momentum 0.9 --batch 2 --steps 6 \
  --checkpoint-every 3 --seed 9 -q -o h.pwt
pinned h.pwt 94ec687ddf671b09e9af27e4f6fba31f76ac4ef4a714c7276f93a5710b63e219
