# bench_aqsgd_gpt in small (proofwork(7), AQ-SGD): a GPT cut between two blocks trains
# with its residual stream through lib/aqsgd -- AQ-SGD at 2 bits rotated with a scale
# per row, and direct 3 bits -- the sender's view and the receiver's result equal bit for
# bit at every step (the bench exits 1 otherwise); its rows name each setting with the
# validation bits per byte and its ratio to fp32's, and the bytes on the wire per step;
# bad arguments exit 2, a missing or too short text 3.
B="$BIN/tests/bench_aqsgd_gpt"
[ -x "$B" ] || { echo "FAIL: $B is not built" >&2; exit 1; }
cp "$HERE/../../man/proofwork.7" text.txt
small=(--layers 2 --heads 2 --channels 16 --context 16 --batch 4 --windows 16 --epochs 3 --val-bytes 4096 --jobs 2)
expect_exit 0 "$B" text.txt . "${small[@]}" --seeds 1 --settings fp32,aq2r16s16,direct3
[ "$(grep -c '^| gpt:2-2-16-16 cut after block 1, 3 epochs over 16 fixed windows' out)" = 3 ]
grep 'forward AQ-SGD 2 bits, rotated by tiles of 16, scales per 16 channels of a row, backward direct 8 bits' out |
  grep -Eq 'validation [0-9.]+ bits/byte.*fp32: [0-9.]+ bits/byte \| [0-9.]+× bits/byte \| ≤ 1.02× \(stretch\)'
grep 'forward fp32, backward fp32' out | grep -q '| — | — | — |$'
# Epochs 2-3 code every row (the warm-up epoch filled the states): 4·16 rows of 16
# channels a step, each 16·2/8 = 4 bytes of codes and one 4-byte scale: 512 B/step.
grep 'Bytes on the wire per step forward' out | grep -q 'epochs 2-3;.*| 512 B/step: 8.00× /'
[ "$(grep -c 'Bytes on the wire' out)" = 1 ]  # AQ-SGD only
ls aqsgd-gpt-* 2>/dev/null && { echo "FAIL: the states' directories were left behind" >&2; exit 1; }

# Stochastic rounding: the same checks hold (its Philox words are the codec's, on both sides).
expect_exit 0 "$B" text.txt . "${small[@]}" --seeds 1 --rounding stochastic --settings aq2r16s16
grep -q 'stochastic rounding, seed 42: forward AQ-SGD 2 bits, rotated by tiles of 16' out

expect_exit 2 "$B" text.txt . --rounding sideways
expect_exit 2 "$B" text.txt . --layers 2 --cut 2
expect_exit 2 "$B" text.txt . --settings aq5
expect_exit 2 "$B" text.txt . --windows
expect_exit 2 "$B" text.txt . --no-such-option 1
expect_exit 2 "$B" text.txt
expect_exit 3 "$B" missing.txt . "${small[@]}"
expect_err 'cannot read it'
head -c 100 text.txt > short.txt
expect_exit 3 "$B" short.txt . "${small[@]}"
