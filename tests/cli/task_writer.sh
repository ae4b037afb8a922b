# pol-task writes through the library's task writer (proofwork-files(5), TASK): what it
# writes every reader accepts; the task's format version and the one rule on the FLOP
# budget (0: derive, else the value the model and steps imply); --from keeps a task's
# fields and corrects them; flags that make an invalid task are a usage error.
make_tiny_task t.pwt
pol-show t.pwt > t.json
jq -e '.formatVersion == 1' t.json >/dev/null
jq -e '.provenance.program == "pol-task" and (.provenance.commandLine | test("^pol-task --model mlp:784-32-10"))' t.json >/dev/null
# 6 · batch 32 · (784·32 + 32·10) · 40 steps
jq -e '.budgetFlops == 6 * 32 * (784 * 32 + 32 * 10) * 40' t.json >/dev/null

# The binary and JSON forms of one description hold the same fields.
make_tiny_task same.json --json
test "$(jq -c 'del(.provenance)' same.json)" = "$(jq -c 'del(.provenance)' t.json)"

# A newer version is refused by every reader, saying so; pol-task --from does not
# rewrite it as the current one.
jq '.formatVersion = 2' t.json > newer.json
expect_exit 3 pol-train newer.json -o p -q
expect_err "'newer.json': task format version 2 is newer than this build reads \(1\); upgrade proofwork"
expect_exit 3 pol-task --from newer.json -o x.pwt
expect_err "task format version 2 is newer than this build reads"
test ! -e x.pwt
jq '.formatVersion = 0' t.json > zero.json
expect_exit 3 pol-train zero.json -o p -q
expect_err "not a proofwork task file"

# budgetFlops 0 means "derive": the task trains, and pol-task writes the derived value.
jq '.budgetFlops = 0 | .steps = 4 | .checkpointEvery = 2' t.json > derive.json
expect_exit 0 pol-train derive.json -o pd -q
pol-task --from derive.json -q -o derived.pwt
pol-show derived.pwt | jq -e '.budgetFlops == 6 * 32 * (784 * 32 + 32 * 10) * 4' >/dev/null
# Any other value must be that one: a stale budget after editing the steps is refused,
# and passing the task through pol-task --from fills it in again.
jq '.steps = 8' t.json > stale.json
expect_exit 3 pol-train stale.json -o ps -q
expect_err "budgetFlops .* is not the .* that the model and step count imply"
pol-task --from stale.json -q -o fixed.pwt
pol-show fixed.pwt | jq -e '.budgetFlops == 6 * 32 * (784 * 32 + 32 * 10) * 8 and .steps == 8' >/dev/null
expect_exit 0 pol-train fixed.pwt -o pf -q

# --from keeps every field no flag changes, and the flags given win.
pol-task --from t.pwt --seed 12 --schedule step:10:0.5 -q -o seed.pwt
test "$(pol-show seed.pwt | jq -c 'del(.provenance, .seed, .schedule)')" = "$(jq -c 'del(.provenance, .seed, .schedule)' t.json)"
pol-show seed.pwt | jq -e '.seed == "12"' >/dev/null
pol-show seed.pwt | jq -e '.schedule == {"kind": "step", "stepSize": 10, "gamma": 0.5, "warmupSteps": 0, "minLr": 0}' >/dev/null
# A --from task whose fields break a rule can be corrected by the flags ...
jq '.batch = 5000' t.json > big.json
expect_exit 3 pol-train big.json -o pb -q
expect_exit 2 pol-task --from big.json -o y.pwt
expect_err "batch larger than the dataset"
pol-task --from big.json --batch 16 -q -o small.pwt
pol-show small.pwt | jq -e '.batch == 16 and .budgetFlops == 6 * 16 * (784 * 32 + 32 * 10) * 40' >/dev/null
# ... but not what no task can hold.
jq '.model.kind = "cnn"' t.json > cnn.json
expect_exit 3 pol-task --from cnn.json --model mlp:784-32-10 -o y.pwt
expect_err "model kind 'cnn'"

# Flags that make an invalid task: usage (2); nothing is written.
expect_exit 2 pol-task --from t.pwt --model mlp:100-10 -o y.pwt
expect_err "input width 100 does not match 28x28 images"
expect_exit 3 pol-task --from t.pwt --model mlp:784-32-9 -o y.pwt   # the dataset's labels: bad input
expect_err "label 9 but only 9 classes"
expect_exit 2 pol-task --from t.pwt --schedule step:1.5 -o y.pwt
expect_err "bad step size '1.5'"
expect_exit 2 pol-task --from t.pwt --schedule step:0 -o y.pwt
expect_err "stepSize >= 1"
expect_exit 2 pol-task --from t.pwt --test-images "$FIXTURES/tiny/t10k-images-idx3-ubyte.gz" --test-labels "" -o y.pwt
test ! -e y.pwt
