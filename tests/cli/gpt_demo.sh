# examples/gpt-flow.sh (make demo's GPT) end to end on a small made-up "fortunes"
# directory (pieces of the man pages, with .dat and .u8 files that must be skipped) and a
# tiny model: the task, training with a validation figure, a beacon sample verified,
# generation deterministic across thread counts, the nanoGPT-named export.
mkdir fortunes
head -c 30000 "$HERE/../../man/proofwork.7" > fortunes/a
tail -c 20000 "$HERE/../../man/proofwork-files.5" > fortunes/b
head -c 5000 /dev/urandom > fortunes/a.dat
head -c 5000 /dev/urandom > fortunes/b.u8
FORTUNES="$PWD/fortunes" GPT_MODEL=gpt:1-2-16-16 GPT_STEPS=12 GPT_BATCH=4 GPT_EVERY=4 GPT_LR=0.01 GPT_WARMUP=2 DEMO_DIR="$PWD/g" \
  bash "$HERE/../../examples/gpt-flow.sh" > flow.log
grep -q "GPT demo done" flow.log
grep -q "2 fortune files: 45000 bytes to train on, 5000 held out" flow.log
jq -e '.val_bits_per_byte > 0 and .val_bits_per_byte < 8' g/train.json >/dev/null
test "$(stat -c %s g/last.txt)" = 300
# No fortunes: the demo says what to install and fails.
expect_exit 1 env FORTUNES="$PWD/none" DEMO_DIR="$PWD/g2" bash "$HERE/../../examples/gpt-flow.sh"
expect_err "install Debian's fortunes"
