# pol-forge writes the dishonest proofs, pol-train only honest ones: the forgeries are
# gone from pol-train (and its --help), pol-forge refuses no forgery and forgeries
# outside the task, a forged run resumes to the bits of one forged run, and a manifest
# of a newer version is refused by its readers (exit 3, "newer").
make_tiny_task task.pwt

# pol-train's help and options are the honest solver's.
pol-train --help >help
for opt in --inject-fault --skip-step --init-seed --order-seed --dishonest-data-dir --skip-segment \
           --perturb-segment --interpolate --lr-scale --shortcut --dress-noise --kill-after; do
  if grep -q -- "$opt" help; then echo "pol-train --help shows $opt" >&2; exit 1; fi
done
expect_exit 2 pol-train task.pwt -o x --skip-step 3
[ ! -e x ]
pol-forge --help >help
for opt in --inject-fault --skip-step --init-seed --order-seed --dishonest-data-dir --skip-segment \
           --perturb-segment --interpolate --lr-scale --shortcut --dress-noise --reuse-samples --extrapolate-segment; do
  grep -q -- "$opt" help || { echo "pol-forge --help lacks $opt" >&2; exit 1; }
done

# Usage errors, before anything is written.
expect_exit 2 pol-forge task.pwt -o x
expect_err "no forgery given"
expect_exit 2 pol-forge task.pwt -o x --dress-noise 0.1
expect_err "no forgery given"
expect_exit 2 pol-forge task.pwt -o x --skip-step 40
expect_err "the task has steps 0-39"
expect_exit 2 pol-forge task.pwt -o x --skip-segment 4
expect_err "the task has segments 0-3"
expect_exit 2 pol-forge task.pwt -o x --inject-fault 3:16:0
expect_err "the tape has 16 ops"
expect_exit 2 pol-forge task.pwt -o x --extrapolate-segment 0
expect_err "segment 0 has no segment before it"
expect_exit 2 pol-forge task.pwt -o x --extrapolate-segment 4
expect_err "the task has segments 0-3"
expect_exit 2 pol-forge task.pwt -o x --reuse-samples 100
expect_err "must be 0 to half the batch"
expect_exit 2 pol-forge task.pwt -o x --shortcut 0
expect_exit 2 pol-forge task.pwt -o x --lr-scale -1
expect_exit 2 pol-forge task.pwt -o x --device cuda --skip-step 3   # whether or not there is a GPU
expect_err "of the forgeries only"
[ ! -e x ]
expect_exit 3 pol-forge task.pwt -o x --dishonest-data-dir nowhere
[ ! -e x ]

# A forged run killed and resumed with the same forgeries ends as one forged run; the
# manifest names pol-forge, and pol-verify rejects the proof at the forged segment.
pol-forge task.pwt -o whole -q --skip-step 23 --inject-fault 31:5:17
expect_exit 137 pol-forge task.pwt -o killed -q --skip-step 23 --inject-fault 31:5:17 --kill-after 25
test -f killed/ckpt-00000020.pwc
test ! -f killed/ckpt-00000030.pwc
expect_exit 0 pol-forge task.pwt -o killed --skip-step 23 --inject-fault 31:5:17
expect_err "resuming 'killed' from step 20"
for f in whole/ckpt-*.pwc; do cmp "$f" "killed/$(basename "$f")"; done
pol-show whole/manifest.pwm | grep -q '"program": "pol-forge"'
expect_exit 1 pol-verify task.pwt whole
expect_err "segment 2"
pol-train task.pwt -o honest -q
cmp honest/ckpt-00000020.pwc whole/ckpt-00000020.pwc    # segments before the forgery are honest
if cmp -s honest/ckpt-00000030.pwc whole/ckpt-00000030.pwc; then echo "step 23 was not skipped" >&2; exit 1; fi
expect_exit 0 pol-forge task.pwt -o whole --skip-step 23 --inject-fault 31:5:17
expect_err "already complete"

# A manifest of a newer version: pol-train will not resume it, pol-verify will not read it.
pol-show honest/manifest.pwm | sed 's/"formatVersion": 1,/"formatVersion": 99,/' >newer.json
grep -q '"formatVersion": 99' newer.json
cp newer.json honest/manifest.pwm
expect_exit 3 pol-train task.pwt -o honest
expect_err "manifest format version 99 is newer than this build reads \(1\); upgrade proofwork"
expect_exit 3 pol-verify task.pwt honest
expect_err "is newer than this build reads"

# The compute-saving spoofs: reused samples (1 a step) and an extrapolated segment. In
# exact mode pol-verify rejects each at the first segment it touches; the segments
# before an extrapolated one are honest, the batch order recorded is the task's.
pol-forge task.pwt -o reuse -q --reuse-samples 1
[ "$(pol-show reuse/manifest.pwm | jq -c .batchOrder)" = "$(pol-show honest/manifest.pwm | jq -c .batchOrder)" ]
expect_exit 1 pol-verify task.pwt reuse --segments all
expect_err "segment 0"
pol-forge task.pwt -o extra -q --extrapolate-segment 2
cmp honest/ckpt-00000020.pwc extra/ckpt-00000020.pwc
if cmp -s honest/ckpt-00000030.pwc extra/ckpt-00000030.pwc; then echo "segment 2 was trained" >&2; exit 1; fi
expect_exit 1 pol-verify task.pwt extra --segments all
expect_err "segment 2"
