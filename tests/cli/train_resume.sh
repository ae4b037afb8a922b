# Killed with SIGKILL mid-way and run again, pol-train resumes from the last complete
# checkpoint and ends with the same bits as an uninterrupted run.
make_tiny_task task.pwt
pol-train task.pwt -o whole -q
# Deterministic kill: after 15 steps (between checkpoints 10 and 20).
expect_exit 137 pol-train task.pwt -o killed -q --kill-after 15
test -f killed/ckpt-00000010.pwc
test ! -f killed/ckpt-00000020.pwc
expect_exit 1 pol-verify task.pwt killed -q     # unfinished proofs are rejected
pol-train task.pwt -o killed 2>err
grep -q "resuming 'killed' from step 10" err
for f in whole/ckpt-*.pwc; do cmp "$f" "killed/$(basename "$f")"; done
# The manifest's losses (the solver's claim) come out as the uninterrupted run's.
[ "$(pol-show whole/manifest.pwm | jq -c .losses)" = "$(pol-show killed/manifest.pwm | jq -c .losses)" ]
# An external SIGKILL at an arbitrary moment, twice, on a longer run.
make_tiny_task long.pwt --steps 2000 --checkpoint-every 50
pol-train long.pwt -o ref -q --threads 2
for at in 00000100 00000900; do
  pol-train long.pwt -o ext -q --threads 2 & pid=$!
  for _ in $(seq 1 1000); do [ -f ext/ckpt-$at.pwc ] && break; sleep 0.01; done
  kill -9 "$pid"
  set +e; wait "$pid"; rc=$?; set -e
  test "$rc" -eq 137                       # it was killed, not finished
  pol-show ext/manifest.pwm > m.json; grep -q '"complete": false' m.json
done
pol-train long.pwt -o ext -q --threads 2
for f in ref/ckpt-*.pwc; do cmp "$f" "ext/$(basename "$f")"; done
test "$(ls ext/*.pwc | wc -l)" -eq "$(ls ref/*.pwc | wc -l)"
[ "$(pol-show ref/manifest.pwm | jq -c .losses)" = "$(pol-show ext/manifest.pwm | jq -c .losses)" ]
pol-show ext/manifest.pwm | jq -e '(.losses | length) == 2000' >/dev/null
if ls ext | grep -q '\.tmp\.'; then echo "stale temporary files left" >&2; exit 1; fi
pol-verify long.pwt ext -q --segments 5 --beacon abc
