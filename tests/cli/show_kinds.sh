# pol-show on every file kind it can tell apart: the scheduler's partition (.pwg) and
# schedule (.pws), a topology, the ledger's event and settlement files (--type). Each
# goes binary -> JSON -> binary -> JSON unchanged, and the programs that read the
# re-encoded files take them as the originals.
SC="$FIXTURES/sched/dtfm-scenarios.json"

# Partition and schedule, told apart by their extensions.
sched-partition --scenarios "$SC" --scenario case1-datacenter --effort 0.1 -q -o part.pwg
sched-tsp part.pwg --no-refine -q -o sched.pws
pol-show part.pwg >part.json
jq -e '.provenance.program == "sched-partition" and (.stages | length) > 0 and .cost.cost_s > 0' part.json >/dev/null
pol-show sched.pws >sched.json
jq -e '(.replicas | length) > 0 and (.matching_s | length) > 0' sched.json >/dev/null
for k in part:partition sched:schedule; do
  f=${k%%:*} t=${k##*:}
  pol-show $f.json -t $t --binary -o $f.bin
  pol-show $f.bin -t $t | cmp - $f.json
done
sched-tsp part.pwg --no-refine >from-original.txt
sched-tsp part.bin --no-refine >from-reencoded.txt
cmp from-original.txt from-reencoded.txt

# A topology (sched-partition's input) in binary form and back.
echo '{"name": "t", "groups": [{"name": "A", "devices": 4, "intra": {"latency_ms": 1, "bandwidth_gbps": 10}}], "stages": 2}' >topo.json
pol-show topo.json -t topology --binary -o topo.bin
pol-show topo.bin -t topology | jq -e '.groups[0].intra.bandwidth_gbps == 10 and .stages == 2' >/dev/null
expect_exit 2 pol-show topo.json
expect_err "cannot tell the type of 'topo.json' from its name; pass --type"

# Ledger files: an event file and a settlement, hashes in hex. A signed event survives the
# round trip: the ledger takes the re-encoded one (the signature is over the canonical form).
ledger-settle keygen op -q >/dev/null
ledger-settle init L -k op.key -q >/dev/null
ledger-settle deposit L -k op.key --to op.pub --amount 100 -q -o dep.ev
pol-show -t event dep.ev >dep.json
jq -e '(.event.actor | test("^[0-9a-f]{64}$")) and (.signature | test("^[0-9a-f]{128}$")) and .event.deposit.amount == "100"' dep.json >/dev/null
pol-show -t event dep.json --binary -o dep2.ev
pol-show -t event dep2.ev | cmp - dep.json
expect_exit 0 ledger-settle append L dep2.ev -q
ledger-settle validate L -q -o settle.bin >/dev/null
pol-show -t settlement settle.bin >settle.json
jq -e '(.head | test("^[0-9a-f]{64}$")) and .events == "2" and .supply == "100"' settle.json >/dev/null
pol-show -t settlement settle.json --binary | pol-show - -t settlement | cmp - settle.json

# The .pwp extension is a profile's, .pwg a partition's: a partition named .pwp is read as
# a profile and refused as bad input. An AQ-SGD stream is not one message (aqsgd-pack
# --inspect prints it).
cp part.pwg mislabelled.pwp
expect_exit 3 pol-show mislabelled.pwp
expect_err "input 'mislabelled.pwp': not a valid Profile"
expect_exit 3 pol-show -t settlement part.pwg
expect_exit 2 pol-show -t aqsgd part.pwg
expect_err "aqsgd not in"
