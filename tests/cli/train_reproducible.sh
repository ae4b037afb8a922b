# Same task, --threads 1 and --threads 2, and twice: identical checkpoint hashes and files.
make_tiny_task task.pwt
pol-train task.pwt -o p1 --threads 1 -q
pol-train task.pwt -o p2 --threads 2 -q
pol-train task.pwt -o p3 --threads 2 -q
for p in p2 p3; do
  for f in p1/ckpt-*.pwc; do cmp "$f" "$p/$(basename "$f")"; done
done
pol-show p1/manifest.pwm | grep -E '"(stateHash|root)"' > h1
pol-show p2/manifest.pwm | grep -E '"(stateHash|root)"' > h2
test "$(wc -l < h1)" -eq 6   # 5 checkpoints + root
cmp h1 h2
# A different seed gives different bits (the comparison above could fail).
make_tiny_task task2.pwt --seed 12
pol-train task2.pwt -o q1 -q
! cmp -s p1/ckpt-00000040.pwc q1/ckpt-00000040.pwc
# A complete proof is not trained again.
expect_exit 0 pol-train task.pwt -o p1
expect_err "already complete"
# A directory holding another task's proof is refused.
expect_exit 3 pol-train task2.pwt -o p1
expect_err "another task"
# --json quotes the directory as a JSON string, whatever its name.
pol-train task.pwt -o 'odd "dir"\' -q --json > odd.json
[ "$(jq -r .proof odd.json)" = 'odd "dir"\' ]
