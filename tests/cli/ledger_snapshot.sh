# ledger-settle: an append validates only the records after LEDGER/snapshot, the state
# after a validated prefix; a snapshot that is stale (another history), corrupt, or not
# the log's state is ignored and rebuilt, never trusted (proofwork-files(5), LEDGER).
for who in op alice bob; do ledger-settle keygen $who -q; done
pol-task --model mlp:784-8-10 --train-images "$FIXTURES/tiny/train-images-idx3-ubyte.gz" \
  --train-labels "$FIXTURES/tiny/train-labels-idx1-ubyte.gz" --lr 0.05 --batch 8 --steps 4 --checkpoint-every 2 -q -o t.pwt
ledger-settle init L -k op.key -q
ledger-settle deposit L -k op.key --to alice.pub --amount 1000 -q
test -f L/snapshot
expect_exit 0 ledger-settle validate L
expect_err "snapshot: matches the log's state after 2 records"
# Appends go on from the snapshot; each leaves one that the whole validation agrees with.
ledger-settle deposit L -k op.key --to bob.pub --amount 50 -q
ledger-settle post L -k alice.key --task t.pwt --bounty 100 -q
expect_exit 0 ledger-settle validate L
expect_err "snapshot: matches the log's state after 4 records"
grep -q "4 events" out

# Stale: the snapshot of another history of the same ledger (one more deposit to alice).
cp -r L L2
ledger-settle deposit L -k op.key --to bob.pub --amount 5 -q
ledger-settle deposit L2 -k op.key --to alice.pub --amount 500 -q
cp L2/snapshot L/snapshot
# alice has 1000 - 105 here; the stale snapshot says 500 more: refused by the log's rules.
size=$(stat -c %s L/events.log)
expect_exit 1 ledger-settle post L -k alice.key --task t.pwt --bounty 1000
expect_err "insufficient balance"
test "$(stat -c %s L/events.log)" = "$size"
expect_exit 0 ledger-settle validate L
expect_err "snapshot: ignored: its head is not the log's record at byte"

# A log shorter than the snapshot's prefix (the log restored from a copy): ignored.
cp L/events.log short.log
ledger-settle deposit L -k op.key --to bob.pub --amount 1 -q
cp short.log L/events.log
expect_exit 0 ledger-settle validate L
expect_err "snapshot: ignored: it covers [0-9]+ bytes, the log has"
expect_exit 0 ledger-settle deposit L -k op.key --to bob.pub --amount 1 -q

# Forged: alice's balance raised in the snapshot. With the checksum left alone, it is
# ignored at once; with the checksum and the supply made to fit, the whole validation
# finds that it is not the log's state and replaces it.
forge() {  # forge FILE AMOUNT FIX_CHECKSUM
  /usr/bin/env python3 - "$@" "$(cat alice.pub)" <<'PY'
import hashlib, struct, sys
path, amount, fix, alice = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", bytes.fromhex(sys.argv[4])
b = bytearray(open(path, "rb").read())
S = 72                                   # the header; then next_seq, supply, jackpot, chain, head, operator
supply = struct.unpack_from("<Q", b, S + 8)[0]
at = S + 24 + 96
n = struct.unpack_from("<Q", b, at)[0]; at += 8
for i in range(n):
    if bytes(b[at:at + 32]) == alice:
        free = struct.unpack_from("<Q", b, at + 32)[0]
        struct.pack_into("<Q", b, at + 32, free + amount)
        if fix: struct.pack_into("<Q", b, S + 8, supply + amount)
        break
    at += 48
else:
    sys.exit("alice not in the snapshot")
if fix: b[-32:] = hashlib.blake2b(bytes(b[:-32]), digest_size=32).digest()
open(path, "wb").write(b)
PY
}
forge L/snapshot 100000 0
expect_exit 1 ledger-settle post L -k alice.key --task t.pwt --bounty 5000
expect_err "insufficient balance"
expect_exit 0 ledger-settle validate L
expect_err "snapshot: ignored: its checksum does not match"
forge L/snapshot 100000 1
expect_exit 0 ledger-settle validate L
expect_err "snapshot: forged: its state is not the log's after its [0-9]+ records \(ignored\)"
expect_exit 1 ledger-settle post L -k alice.key --task t.pwt --bounty 5000
expect_err "insufficient balance"
# Garbage or an empty file in its place: ignored, and the append goes on from the log.
head -c 200 /dev/urandom > L/snapshot
expect_exit 0 ledger-settle deposit L -k op.key --to bob.pub --amount 1 -q
: > L/snapshot
expect_exit 0 ledger-settle deposit L -k op.key --to bob.pub --amount 1 -q
expect_exit 0 ledger-settle validate L
expect_err "snapshot: matches the log's state"
