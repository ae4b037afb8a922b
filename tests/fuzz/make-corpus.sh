#!/bin/bash
# Regenerates the committed seed corpora (tests/fuzz/corpus/TARGET/) and the fixture
# task (tests/fuzz/data/task.pwt) from the programs: a tiny task trained for 20 steps
# (checkpoints 0, 10, 20), its verdict and profile, a dispute, a short ledger, AQ-SGD
# streams and a state, a topology, a partition and a schedule, a TSPLIB instance and IDX
# files; each Cap'n Proto file in binary and JSON. The seeds are a few KB each.
#   tests/fuzz/make-corpus.sh BUILD_DIR      (BUILD_DIR: a normal build, e.g. build)
set -euo pipefail
BIN=$(cd "${1:?usage: make-corpus.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
FIX=$HERE/../fixtures
export PATH=$BIN:$PATH OMP_NUM_THREADS=1
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
C=$HERE/corpus
rm -rf "$C" "$HERE/data"
mkdir -p "$HERE/data"
for t in $(grep -E '^[a-z_]+$' "$HERE/targets"); do mkdir -p "$C/$t"; done
seed() { cp "$2" "$C/$1/$3"; }  # seed TARGET FILE NAME

# The task (a 784-2-10 MLP: small checkpoints) and the proof.
pol-task --model mlp:784-2-10 \
  --train-images "$FIX/tiny/train-images-idx3-ubyte.gz" --train-labels "$FIX/tiny/train-labels-idx1-ubyte.gz" \
  --test-images "$FIX/tiny/t10k-images-idx3-ubyte.gz" --test-labels "$FIX/tiny/t10k-labels-idx1-ubyte.gz" \
  --lr 0.05 --momentum 0.9 --batch 4 --steps 20 --checkpoint-every 10 --seed 11 -q -o task.pwt
pol-task --from task.pwt --json -q -o task.json
cp task.pwt "$HERE/data/task.pwt"
pol-train task.pwt -o P -q
pol-verify task.pwt P -o verdict.pwv -q
pol-task --from task.pwt --mode fast -q -o fast.pwt
pol-train fast.pwt -o F -q
pol-profile fast.pwt F -o profile.pwp -q
pol-forge task.pwt -o B -q --inject-fault 9:3:1
pol-bisect task.pwt P B --fault-b 9:3:1 -o dispute.pwd -q
pol-bisect play task.pwt P --side a -o t1.pwd -q
pol-bisect play task.pwt B --side b --fault 9:3:1 --transcript t1.pwd -o t2.pwd -q
pol-forge fast.pwt -o FB -q --inject-fault 9:3:1
pol-bisect fast.pwt F FB --fault-b 9:3:1 --profile profile.pwp -o dispute-fast.pwd -q  # format 3: the profile inside
seed task task.pwt task.pwt; seed task task.json task.json
seed manifest P/manifest.pwm manifest.pwm
seed checkpoint P/ckpt-00000010.pwc ckpt-00000010.pwc
seed verdict verdict.pwv verdict.pwv
seed profile profile.pwp profile.pwp
seed dispute dispute.pwd dispute.pwd; seed dispute dispute-fast.pwd dispute-fast.pwd
seed transcript t1.pwd t1.pwd; seed transcript t2.pwd t2.pwd

# The ledger: keys, genesis, deposits, a posted task; event files binary and JSON.
ledger-settle keygen op -q; ledger-settle keygen alice -q
ledger-settle init L -k op.key -q
ledger-settle deposit L -k op.key --to alice.pub --amount 1000 -q
ledger-settle beacon L -k op.key -q
ledger-settle post L -k alice.key --task task.pwt --bounty 100 -q
ledger-settle deposit L -k op.key --to alice.pub --amount 5 -o deposit.pwe -q
ledger-settle deposit L -k op.key --to alice.pub --amount 5 --json -o deposit.json -q
ledger-settle settle L -k op.key -o settlement.pws -q
seed ledger_log L/events.log events.log
seed ledger_event deposit.pwe deposit.pwe; seed ledger_event deposit.json deposit.json
cp "$FIX/ledger-v0/deposit.json" "$C/ledger_event/deposit-v0.json"
cp "$FIX/ledger-v0/L/events.log" "$C/ledger_log/events-v0.log"

# AQ-SGD: 8 rows of 4 channels in batches of 4; packed with a state of capacity 4.
/usr/bin/python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<32f", *[i/7 for i in range(32)]))' > acts.f32
aqsgd-pack --wrap 4 --batch-rows 4 acts.f32 -o acts.aqa -q
aqsgd-pack --bits 4 --state tx --capacity 4 acts.aqa -o packed.aqp -q
aqsgd-pack --bits 2 --direct acts.aqa -o direct.aqp -q
aqsgd-pack --bits 8 --state tz --capacity 4 --zstd acts.aqa -o zstd.aqp -q
for f in acts.aqa packed.aqp direct.aqp zstd.aqp; do seed aqsgd_stream $f $f; done
seed aqsgd_state tx/state.aqs state.aqs

# Scheduling: a topology (JSON and binary), a partition and a schedule.
cat > topo.json <<'JSON'
{ "name": "two-sites",
  "groups": [{"name": "east", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": 10}, "speed": 2},
             {"name": "west", "devices": 2, "intra": {"latency_ms": 1, "bandwidth_gbps": 10}, "speed": 1}],
  "inter": [{"a": "east", "b": "west", "latency_ms": 40, "bandwidth_gbps": 0.5}],
  "stages": 2, "activation_gb": 0.1, "gradient_gb": 0.5, "compute_s": 1 }
JSON
pol-show --type topology --binary topo.json -o topo.pwo 2>/dev/null || pol-show --type topology topo.json -o topo.pwo
sched-partition topo.json -q -o part.pwg
sched-partition topo.json -q --json -o part.json
sched-tsp part.pwg --no-refine -q -o sched.pws
seed topology topo.json topo.json; seed topology topo.pwo topo.pwo
seed partition part.pwg part.pwg; seed partition part.json part.json

# TSPLIB: a coordinate instance and an explicit matrix.
printf 'NAME : five\nTYPE : TSP\nDIMENSION : 5\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 3 0\n3 3 4\n4 0 4\n5 1 2\nEOF\n' > five.tsp
printf 'NAME : four\nTYPE : TSP\nDIMENSION : 4\nEDGE_WEIGHT_TYPE : EXPLICIT\nEDGE_WEIGHT_FORMAT : UPPER_ROW\nEDGE_WEIGHT_SECTION\n1 2 3\n4 5\n6\nEOF\n' > four.tsp
seed tsplib five.tsp five.tsp; seed tsplib four.tsp four.tsp

# IDX: labels (1 dimension) and images (3 dimensions), plain and gzip-compressed.
/usr/bin/python3 - <<'PY'
import gzip, struct
open("labels.idx", "wb").write(struct.pack(">BBBBI", 0, 0, 8, 1, 6) + bytes([3, 1, 4, 1, 5, 9]))
open("images.idx", "wb").write(struct.pack(">BBBBIII", 0, 0, 8, 3, 2, 3, 3) + bytes(range(18)))
open("images.idx.gz", "wb").write(gzip.compress(open("images.idx", "rb").read(), mtime=0))
PY
for f in labels.idx images.idx images.idx.gz; do seed idx $f $f; done

# pol-show: every kind above, binary and JSON.
for f in task.pwt P/manifest.pwm verdict.pwv profile.pwp dispute.pwd deposit.pwe topo.pwo part.pwg sched.pws settlement.pws; do
  seed show "$f" "$(basename "$f")"
  pol-show "$f" -o "$C/show/$(basename "$f").json" 2>/dev/null || true
done
du -sh "$C"/* | sort -h | tail -5
