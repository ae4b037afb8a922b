# Fast mode end to end: a profile made from one honest run accepts honest proofs of
# other seeds, thread counts and kernel variants, and rejects each kind of spoof.
make_tiny_task ref.pwt --mode fast --seed 100
pol-train ref.pwt -o ref -q --threads 2 --fast-panel 64
expect_exit 0 pol-profile ref.pwt ref -o prof.pwp
expect_err "segments x 9 sources replayed"
pol-show prof.pwp >prof.json
jq -e '.measurements | length > 0' prof.json >/dev/null
jq -e '.thresholds.names[-1] == "model" and .thresholds.linf[-1] > 0 and .stochasticOps == 0' prof.json >/dev/null
jq -e '.flopsPerStep * 40 <= .budgetFlops' prof.json >/dev/null
# Hashes print in hex (not base64), and the writer stamps its program and the current version.
jq -e '[.taskClass, .taskHash, .proofRoot] | all(test("^[0-9a-f]{64}$"))' prof.json >/dev/null
jq -e '.formatVersion >= 1 and .provenance.program == "pol-profile"' prof.json >/dev/null

# Fast differs from exact at the bit level, and between kernel variants.
make_tiny_task exact.pwt --seed 1
make_tiny_task fast.pwt --mode fast --seed 1
pol-train exact.pwt -o exact -q
pol-train fast.pwt -o f32 -q --fast-panel 32
pol-train fast.pwt -o f128 -q --fast-panel 128
r_exact=$(pol-show exact/manifest.pwm | jq -r .root)
r32=$(pol-show f32/manifest.pwm | jq -r .root)
r128=$(pol-show f128/manifest.pwm | jq -r .root)
[ "$r_exact" != "$r32" ] && [ "$r32" != "$r128" ]

# No false rejections: honest proofs of other seeds, thread counts and variants.
n=0
for seed in 1 2 3; do
  make_tiny_task s$seed.pwt --mode fast --seed $seed
  for cfg in "1 32" "2 128" "2 256"; do
    set -- $cfg
    pol-train s$seed.pwt -o p$seed-$1-$2 -q --threads $1 --fast-panel $2
    expect_exit 0 pol-verify s$seed.pwt p$seed-$1-$2 --profile prof.pwp --fast-panel 128
    expect_err "ACCEPT: 4 of 4 segments replayed, all within the profile's thresholds"
    n=$((n + 1))
  done
done
[ $n = 9 ]
expect_err "P\(detect\) >= 1-\(1-f\)\^q = 0.3439 \(without replacement: 1.0000\); 99% needs q = 4"

# Spoofs. (a) skipped work: segment 1's checkpoint copied forward.
pol-forge fast.pwt -o spoof-a -q --skip-segment 1
expect_exit 1 pol-verify fast.pwt spoof-a --profile prof.pwp
expect_err "REJECT: segment 1: implausible update"
# (b) the classic interpolation between the initial and the final state.
pol-forge fast.pwt -o spoof-b -q --interpolate
expect_exit 1 pol-verify fast.pwt spoof-b --profile prof.pwp
expect_err "REJECT: segment 0 .*too far from the claimed one"
# (c) another batch order, and other data.
pol-forge fast.pwt -o spoof-c1 -q --order-seed 5
expect_exit 1 pol-verify fast.pwt spoof-c1 --profile prof.pwp
expect_err "batch order differs"
pol-forge fast.pwt -o spoof-c2 -q --dishonest-data-dir "$FIXTURES/tiny-other"
expect_exit 1 pol-verify fast.pwt spoof-c2 --profile prof.pwp
expect_err "REJECT: segment 0 .*too far"
# (d) half the steps at twice the learning rate, dressed with noise.
pol-forge fast.pwt -o spoof-d -q --shortcut 2 --dress-noise 0.0001
expect_exit 1 pol-verify fast.pwt spoof-d --profile prof.pwp
expect_err "REJECT: segment 0 .*too far"
# (e) other hyperparameters than the task's.
pol-forge fast.pwt -o spoof-e -q --lr-scale 1.1
expect_exit 1 pol-verify fast.pwt spoof-e --profile prof.pwp
expect_err "REJECT: segment 0 .*too far"

# Shards: two halves merged equal one run; Slurm's variables choose the shard.
expect_exit 0 pol-verify s1.pwt p1-1-32 --profile prof.pwp --shard 0/2 -o v0.pwv
expect_err "2 of 4 segments replayed \(shard 0/2\)"
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 expect_exit 0 pol-verify s1.pwt p1-1-32 --profile prof.pwp -o v1.pwv
expect_err "shard 1/2 \(from SLURM"
expect_exit 0 pol-verify --merge v0.pwv v1.pwv -o merged.pwv --json
jq -e '.accepted and .merged == 2 and ([.segments[].index] == [0,1,2,3])' merged.pwv >/dev/null
expect_exit 3 pol-verify --merge v0.pwv v0.pwv
expect_err "given twice"
expect_exit 3 pol-verify --merge v0.pwv
expect_err "the verdicts say 2 shards, 1 were given"
pol-forge fast.pwt -o spoof-e2 -q --lr-scale 1.1
expect_exit 1 pol-verify fast.pwt spoof-e2 --profile prof.pwp --shard 0/2 -o w0.pwv
expect_exit 1 pol-verify fast.pwt spoof-e2 --profile prof.pwp --shard 1/2 -o w1.pwv
expect_exit 1 pol-verify --merge w1.pwv w0.pwv
expect_err "REJECT: segment 0"
expect_exit 3 pol-verify --merge v0.pwv w1.pwv
expect_err "another verification"
# Versions (io/version.hpp's one rule): a newer profile or verdict is refused, saying so.
jq '.formatVersion += 1' prof.json >newer.json
expect_exit 3 pol-verify s1.pwt p1-1-32 --profile newer.json
expect_err "profile format version ([0-9]+) is newer than this build reads \(([0-9]+ to )?[0-9]+\); upgrade proofwork"
pol-show v0.pwv | jq '.formatVersion += 1' >v0-newer.json
expect_exit 3 pol-verify --merge v0-newer.json v1.pwv -o merged-newer.pwv
expect_err "verdict 'v0-newer.json': verdict format version [0-9]+ is newer than this build reads"
pol-show v0.pwv | jq '.formatVersion = 0' >v0-zero.json
expect_exit 3 pol-verify --merge v0-zero.json v1.pwv
expect_err "not a proofwork verdict file"
[ ! -e merged-newer.pwv ]

# Usage and bad input.
expect_exit 2 pol-verify fast.pwt f32
expect_err "verified against a profile"
expect_exit 2 pol-verify exact.pwt exact --profile prof.pwp
expect_exit 2 pol-verify fast.pwt f32 --profile prof.pwp --shard 2/2
expect_exit 3 pol-profile exact.pwt exact -o x.pwp
expect_err "exact mode"
pol-task --from fast.pwt --lr 0.07 -q -o other.pwt
pol-train other.pwt -o other -q
expect_exit 3 pol-verify other.pwt other --profile prof.pwp
expect_err "the profile was made for another task"
jq '.thresholds.linf[0] = -1' prof.json >bad.json
expect_exit 3 pol-verify fast.pwt f32 --profile bad.json
expect_err "negative or non-finite"
head -c 100 prof.pwp >trunc.pwp
expect_exit 3 pol-verify fast.pwt f32 --profile trunc.pwp
expect_exit 2 pol-profile ref.pwt ref -o y.pwp --factor 0.5
expect_err "factor must be at least 1"
expect_exit 2 pol-forge fast.pwt -o never -q --perturb-segment 4
expect_err "the task has segments 0-3"
[ ! -e never/manifest.pwm ]
expect_exit 2 pol-verify s1.pwt p1-1-32 --profile prof.pwp --shard 0/2 --segments 2
expect_err "pass the same --beacon to every shard"
# A Slurm array that starts at 1 and steps by 2: ids 1, 3 are shards 0, 1.
SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_STEP=2 SLURM_ARRAY_TASK_COUNT=2 \
  expect_exit 0 pol-verify s1.pwt p1-1-32 --profile prof.pwp
expect_err "shard 1/2 \(from SLURM_ARRAY_TASK_ID 3"
