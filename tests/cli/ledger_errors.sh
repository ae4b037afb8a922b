# ledger-settle's failure paths: each refused with its documented exit status and a
# message, nothing appended (man ledger-settle, EXIT STATUS).
size() { stat -c %s "$1/events.log"; }
for who in op alice bob; do expect_exit 0 ledger-settle keygen $who -q; done
test "$(stat -c %a op.key)" = 600
test "$(cat bob.pub)" = "$(cat out)"   # keygen prints the public key
expect_exit 2 ledger-settle keygen op                    # exists: no overwrite without -f
expect_err "exists"
expect_exit 0 ledger-settle keygen op -f -q
expect_exit 0 ledger-settle init L -k op.key -q
expect_exit 2 ledger-settle init L -k op.key             # one genesis per ledger
expect_exit 0 ledger-settle deposit L -k op.key --to alice.pub --amount 1000 -q
test "$(cat out)" = 1                                     # the event's seq
expect_exit 0 ledger-settle validate L -q
grep -q "2 events" out

# usage errors: exit 2
expect_exit 2 ledger-settle
expect_exit 2 ledger-settle deposit L -k op.key --to alice.pub
expect_exit 2 ledger-settle frobnicate L
expect_exit 2 ledger-settle post L -k alice.key --task t.pwt --bounty 10 --fee -1
expect_exit 2 ledger-settle post L -k alice.key --task t.pwt --bounty 0
# A negative, zero, fractional or unparsable amount or event number is a usage error,
# never wrapped around to 2^64 - 5; nothing is appended.
before=$(size L)
for a in -5 0 abc 5.5 "" 1125899906842625 99999999999999999999; do
  expect_exit 2 ledger-settle deposit L -k op.key --to alice.pub --amount "$a"
  expect_err "amount"
done
expect_exit 2 ledger-settle claim L -k alice.key --task-id -1 --stake 5
expect_err "task-id: '-1' is not a whole number"
expect_exit 2 ledger-settle rule L -k op.key --challenge -3
expect_exit 2 ledger-settle post L -k alice.key --task t.pwt --bounty 10 --claim-window -4
test "$(size L)" = "$before"
expect_exit 0 ledger-settle --help
expect_exit 0 ledger-settle --version
grep -q proofwork out
touch exists.json
expect_exit 2 ledger-settle validate L -o exists.json --json
expect_err "exists"

# bad input: exit 3
expect_exit 3 ledger-settle validate nowhere
chmod 644 bob.key
expect_exit 3 ledger-settle deposit L -k bob.key --to alice.pub --amount 1
expect_err "readable by others"
chmod 600 bob.key
expect_exit 3 ledger-settle deposit L -k op.key --to 1234 --amount 1
head -c 300 /dev/urandom > garbage.ev
expect_exit 3 ledger-settle append L garbage.ev

# the rules: exit 1, nothing appended
n=$(size L)
expect_exit 1 ledger-settle deposit L -k alice.key --to alice.pub --amount 5
expect_err "only the operator"
expect_exit 0 pol-task --model mlp:784-8-10 --train-images "$FIXTURES/tiny/train-images-idx3-ubyte.gz" \
  --train-labels "$FIXTURES/tiny/train-labels-idx1-ubyte.gz" --lr 0.05 --batch 8 --steps 4 --checkpoint-every 2 -q -o t.pwt
expect_exit 1 ledger-settle post L -k bob.key --task t.pwt --bounty 10
expect_err "insufficient balance"
test "$(size L)" = "$n"
expect_exit 0 ledger-settle settle L -k op.key --names .    # nothing due: nothing appended
grep -q "nothing to settle" out
grep -q "alice" out
test "$(size L)" = "$n"

# a forged event: an event file whose amount was changed after signing
expect_exit 0 ledger-settle deposit L -k op.key --to bob.pub --amount 5 --json -o ev.json -q
sed 's/"amount": "5"/"amount": "5000"/' ev.json > forged.json
! cmp -s ev.json forged.json
expect_exit 1 ledger-settle append L forged.json
expect_err "bad signature"
test "$(size L)" = "$n"
expect_exit 0 ledger-settle append L ev.json -q
# the same event again: its place in the chain is taken
expect_exit 1 ledger-settle append L ev.json
m=$(size L)
# an event replayed from another ledger with the same operator
expect_exit 0 ledger-settle init L2 -k op.key -q
expect_exit 0 ledger-settle deposit L2 -k op.key --to alice.pub --amount 1 -q
expect_exit 0 ledger-settle deposit L2 -k op.key --to alice.pub --amount 1 -q
expect_exit 0 ledger-settle deposit L2 -k op.key --to alice.pub --amount 7 -o foreign.ev -q
expect_exit 1 ledger-settle append L foreign.ev
expect_err "another ledger"
test "$(size L)" = "$m"
# a broken chain: a record's bytes changed inside the log (its checksum fixed up would
# still fail the signature; here the checksum catches it first: corrupt, exit 3)
cp L/events.log saved.log
printf '\x01' | dd of=L/events.log bs=1 seek=40 conv=notrunc status=none
expect_exit 3 ledger-settle validate L
expect_err "corrupt"
cp saved.log L/events.log
# a torn last record (an append cut short): refused, the records before it intact
head -c $((m - 7)) saved.log > L/events.log
expect_exit 3 ledger-settle validate L
expect_err "torn.*the 2 records before it are intact"
expect_exit 3 ledger-settle deposit L -k op.key --to alice.pub --amount 1
test "$(size L)" = "$((m - 7))"
expect_exit 0 ledger-settle repair L
expect_err "removed a torn last record"
expect_exit 0 ledger-settle validate L -q
grep -q "2 events" out
expect_exit 0 ledger-settle repair L
expect_err "nothing to repair"
