# The adaptive adversary (pol-forge --steer) against fast-mode verification
# (proofwork(7), FAST MODE): it reads the profile, trains every segment honestly and
# adds the largest edit the rule accepts. Under the old sampleShare rule that edit is
# about 1/batch of the segment's update and is accepted (the failing property, kept);
# the flipSpan rule (format 3's default) rejects it, and the largest edit it accepts is
# under 1e-4 of the update on every segment, flagged or not (the observed rule, format
# 2's, only where nothing was flagged). A steer past the rule's own bound is rejected.
make_tiny_task ref.pwt --mode fast --seed 100
pol-train ref.pwt -o ref -q --threads 2 --fast-panel 64
expect_exit 0 pol-profile ref.pwt ref -o prof.pwp
expect_err "rule flipSpan: flip margin"
expect_exit 0 pol-profile ref.pwt ref -o obs.pwp --rule observed
expect_err "rule observed: flip margin"
expect_exit 2 pol-profile ref.pwt ref -o x.pwp --rule sideways
expect_exit 0 pol-profile ref.pwt ref -o share.pwp --sample-share 1
expect_err "rule sampleShare 1"
pol-show prof.pwp >prof.json
jq -e '.thresholdRule == "flipSpan" and .flipMargin > 0 and .flipMargin < 1e-3 and .flipMeasured >= 0' prof.json >/dev/null
jq -e '.formatVersion == 3 and .alignmentMax == 0.5' prof.json >/dev/null
pol-show obs.pwp | jq -e '.thresholdRule == "observed" and .formatVersion == 3' >/dev/null
pol-show share.pwp | jq -e '.thresholdRule == "sampleShare" and .sampleShare == 1' >/dev/null

make_tiny_task t.pwt --mode fast --seed 3
# Honest: accepted under both rules; the verdict carries the directional test.
pol-train t.pwt -o honest -q --fast-panel 128
expect_exit 0 pol-verify t.pwt honest --profile prof.pwp --fast-panel 128 -o v.pwv --json
expect_err "directional test: \|sum of residuals\|_2 [0-9.e+-]+ of at most [0-9.e+-]+, mean alignment"
jq -e '.accepted and .formatVersion == 3 and .residualBound > 0 and .residualSum <= .residualBound' v.pwv >/dev/null
jq -e '[.segments[] | (.flipSpan // 0) <= (.flipSpanBound // 0)] | all' v.pwv >/dev/null
jq -e '[.segments[].thresholds.l2[-1]] | all(. > 0)' v.pwv >/dev/null

# (1) Steering against today's rule: accepted by it, rejected by the observed rule.
pol-forge t.pwt -o steer-share -q --steer shrink:0.9 --profile share.pwp --steer-log share.log --fast-panel 128
[ "$(wc -l <share.log)" = 4 ]
jq -s -e 'all(.fraction > 0.005)' share.log >/dev/null   # about 1/batch of each segment's update
expect_exit 0 pol-verify t.pwt steer-share --profile share.pwp --fast-panel 128
expect_err "warning: profile 'share.pwp' has the sampleShare rule"
expect_exit 1 pol-verify t.pwt steer-share --profile prof.pwp --fast-panel 128
expect_err "REJECT: segment 0 .*too far from the claimed one"

# (2) The adaptive adversary against the flipSpan rule: what it can hide is accepted;
# it is within the thresholds it computed, and at most 1e-4 of the segment's update
# (l2) on every segment, flagged or not. Against the observed rule it hides more where
# a flip was flagged.
for dir in shrink noise backdoor; do
  pol-forge t.pwt -o steer-$dir -q --steer $dir:0.5 --profile prof.pwp --steer-log $dir.log --fast-panel 128
  jq -s -e 'length == 4 and all(.edit_l2 > 0 and .edit_l2 <= .threshold_l2)' $dir.log >/dev/null
  jq -s -e 'all(.fraction <= 1e-4)' $dir.log >/dev/null
  expect_exit 0 pol-verify t.pwt steer-$dir --profile prof.pwp --fast-panel 128
done
pol-forge t.pwt -o steer-obs -q --steer shrink:0.5 --profile obs.pwp --steer-log obs.log --fast-panel 128
jq -s -e '[.[] | select(.flagged == 0)] | all(.fraction <= 1e-4)' obs.log >/dev/null
expect_exit 0 pol-verify t.pwt steer-obs --profile obs.pwp --fast-panel 128

# (3) The bound is tight: 4 times the largest accepted edit is rejected (per segment,
# or by the directional test), and so is the old rule's edit in any direction.
pol-forge t.pwt -o steer-over -q --steer shrink:4 --profile prof.pwp --fast-panel 128
expect_exit 1 pol-verify t.pwt steer-over --profile prof.pwp --fast-panel 128 --keep-going
expect_err "REJECT: segment [0-3] .*(too far from the claimed one|add up in one direction)"
pol-forge t.pwt -o steer-grow -q --steer grow:0.5 --profile share.pwp --fast-panel 128
expect_exit 1 pol-verify t.pwt steer-grow --profile prof.pwp --fast-panel 128

# (4) A format 2 profile (rule observed) is still read; a format 1 profile (no rule
# recorded) reads as the sampleShare rule, with the warning.
jq '.formatVersion = 2 | .thresholdRule = "observed"' prof.json >v2.json
expect_exit 0 pol-verify t.pwt honest --profile v2.json --fast-panel 128
jq 'del(.thresholdRule, .flipMargin, .flipMeasured, .alignmentMax) | .formatVersion = 1 | .sampleShare = 1' \
  prof.json >v1.json
expect_exit 0 pol-verify t.pwt steer-share --profile v1.json --fast-panel 128
expect_err "warning: .*sampleShare rule"
jq '.flipMargin = 2' prof.json >badmargin.json
expect_exit 3 pol-verify t.pwt honest --profile badmargin.json
expect_err "flipMargin must be in"

# Usage errors, before anything is written.
expect_exit 2 pol-forge t.pwt -o never --steer shrink:0.5
expect_err "--steer needs the verifier's --profile"
expect_exit 2 pol-forge t.pwt -o never --steer sideways:0.5 --profile prof.pwp
expect_err "the direction is shrink, grow, noise or backdoor"
expect_exit 2 pol-forge t.pwt -o never --steer shrink:0 --profile prof.pwp
expect_err "FRACTION must be a number"
expect_exit 2 pol-forge t.pwt -o never --steer shrink --profile prof.pwp
expect_exit 2 pol-forge t.pwt -o never --profile prof.pwp
expect_err "go with --steer"
make_tiny_task exact.pwt
expect_exit 2 pol-forge exact.pwt -o never --steer shrink:0.5 --profile prof.pwp
expect_err "exact mode"
pol-task --from t.pwt --lr 0.07 -q -o other.pwt
expect_exit 3 pol-forge other.pwt -o never --steer shrink:0.5 --profile prof.pwp
expect_err "the profile was made for another task"
expect_exit 3 pol-forge t.pwt -o never --steer shrink:0.5 --profile nowhere.pwp
expect_exit 2 pol-profile ref.pwt ref -o x.pwp --alignment-max 0
[ ! -e never ] && [ ! -e x.pwp ]
