# Failing disks: a checkpoint write (pol-train), a ledger append (ledger-settle) and an
# AQ-SGD state write (aqsgd-pack) that fail part-way -- the file-size limit (ulimit -f:
# EFBIG), and a full file system (ENOSPC) where a small tmpfs can be mounted -- leave
# the previous state as it was, exit 4 naming the cause, and the next run goes on from
# there (proofwork(7), UNTRUSTED INPUT).

# same_proof A B: the same files, the same checkpoints byte for byte, and manifests that
# list the same checkpoints (a resume rewrites the manifest's provenance).
same_proof() {
  [ "$(ls "$1")" = "$(ls "$2")" ] || { echo "FAIL: $1 and $2 hold other files" >&2; exit 1; }
  for f in "$1"/*.pwc; do cmp "$f" "$2/$(basename "$f")"; done
  [ "$(pol-show "$1/manifest.pwm" | jq -c '.checkpoints, .complete')" = "$(pol-show "$2/manifest.pwm" | jq -c '.checkpoints, .complete')" ]
}
no_temporaries() {  # no_temporaries DIR...: no AtomicFile temporary left behind
  if find "$@" -name '*.tmp.*' | grep -q .; then echo "FAIL: temporaries left: $(find "$@" -name '*.tmp.*')" >&2; exit 1; fi
}

# A small tmpfs, for ENOSPC: root and mount(8) allowed (CI containers may refuse it).
FULL=""
mkdir -p small
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=2m pw-full-test small 2>/dev/null; then
  FULL=$PWD/small
  trap 'umount "$FULL" 2>/dev/null || true; rm -rf "$scratch"' EXIT   # the harness's own trap, after the unmount
else
  echo "note: cannot mount a tmpfs here (not root, or mounts refused): ENOSPC is not simulated; the file-size limit (EFBIG) is" >&2
fi
# fill DIR: leaves DIR's file system with no free block (a file named filler).
fill() { dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true; }

# ---- pol-train: a checkpoint write that fails ---------------------------------------
make_tiny_task task.pwt
pol-train task.pwt -o whole -q
expect_exit 137 pol-train task.pwt -o P -q --kill-after 15   # checkpoints 0 and 10 written
cp -a P before
# Checkpoints are about 100 KB: a 64 KiB file-size limit fails the write of checkpoint 20.
expect_exit 4 bash -c 'ulimit -f 64; exec pol-train task.pwt -o P -q'
expect_err "ckpt-00000020.pwc.tmp.[0-9]+': File too large"
same_proof before P                                # nothing changed, nothing left
no_temporaries P
pol-train task.pwt -o P 2>err
grep -q "resuming 'P' from step 10" err
same_proof whole P
if [ -n "$FULL" ]; then
  rm -rf "${FULL:?}"/*
  expect_exit 137 pol-train task.pwt -o "$FULL/P" -q --kill-after 15
  cp -a "$FULL/P" before-full
  fill "$FULL"
  expect_exit 4 pol-train task.pwt -o "$FULL/P" -q
  expect_err "No space left on device"
  same_proof before-full "$FULL/P"
  no_temporaries "$FULL"
  rm "$FULL/filler"
  pol-train task.pwt -o "$FULL/P" -q
  same_proof whole "$FULL/P"
fi

# ---- ledger-settle: an append that fails --------------------------------------------
ledger-settle keygen op -q > /dev/null
ledger-settle init L -k op.key -q
ledger-settle beacon L -k op.key --count 3 -q > /dev/null
cp L/events.log log.before
# 100 beacons are some 20 KB: past a limit of the log's size plus 1 KiB.
limit=$(( $(stat -c %s L/events.log) / 1024 + 1 ))
expect_exit 4 bash -c "ulimit -f $limit; exec ledger-settle beacon L -k op.key --count 100 -q"
expect_err "events.log': File too large"
cmp log.before L/events.log                        # cut back: no torn record
ledger-settle validate L -q > /dev/null
no_temporaries L
ledger-settle beacon L -k op.key --count 100 -q > /dev/null   # the next run appends
ledger-settle validate L --json -q | jq -e '.events == "104"' > /dev/null
if [ -n "$FULL" ]; then
  rm -rf "${FULL:?}"/*
  cp -a L "$FULL/L"
  cp "$FULL/L/events.log" log.before
  fill "$FULL"
  expect_exit 4 ledger-settle beacon "$FULL/L" -k op.key --count 100 -q
  expect_err "No space left on device"
  cmp log.before "$FULL/L/events.log"
  ledger-settle validate "$FULL/L" -q > /dev/null
  rm "$FULL/filler"
  ledger-settle beacon "$FULL/L" -k op.key --count 100 -q > /dev/null
  ledger-settle validate "$FULL/L" --json -q | jq -e '.events == "204"' > /dev/null
fi

# ---- aqsgd-pack: the state ----------------------------------------------------------
python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<4096f", *[(i % 97) / 7 for i in range(4096)]))' > acts.f32
aqsgd-pack --wrap 64 --batch-rows 16 acts.f32 -o acts.aqa -q
aqsgd-pack --bits 4 --state ref acts.aqa -o ref.aqp -q
# A state of 65536 samples of 64 channels is a (sparse) file of 36 MB: past a 1 MiB limit.
expect_exit 4 bash -c 'ulimit -f 1024; exec aqsgd-pack --bits 4 --state S acts.aqa -o p.aqp -q'
expect_err "state 'S': cannot create S/state.aqs: File too large"
test ! -e S/state.aqs && test ! -e p.aqp
no_temporaries . 
aqsgd-pack --bits 4 --state S acts.aqa -o p.aqp -q    # the next run creates it
aqsgd-pack -d --state rx-ref --raw ref.aqp -o ref.f32 -q
aqsgd-pack -d --state rx-p --raw p.aqp -o p.f32 -q
cmp ref.f32 p.f32                                     # the same codes as a run that never failed
if [ -n "$FULL" ]; then
  # Rows are stored as the slots are first used: a full disk fails the batch that needs
  # new ones, before anything is written, and the state stays at its generation.
  rm -rf "${FULL:?}"/*
  aqsgd-pack --wrap 64 --batch-rows 16 --first-id 100000 acts.f32 -o more.aqa -q
  aqsgd-pack --bits 4 --state "$FULL/S" --capacity 1024 acts.aqa -o p1.aqp -q
  cp "$FULL/S/state.aqs" state.before
  fill "$FULL"
  expect_exit 4 aqsgd-pack --bits 4 --state "$FULL/S" more.aqa -o p2.aqp -q
  expect_err "No space left on device"
  cmp state.before "$FULL/S/state.aqs"
  rm "$FULL/filler"
  aqsgd-pack --bits 4 --state "$FULL/S" more.aqa -o p2.aqp -q
  aqsgd-pack -d --state rx --raw p1.aqp -o r1.f32 -q
  aqsgd-pack -d --state rx --raw p2.aqp -o r2.f32 -q
fi
