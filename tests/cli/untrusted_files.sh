# Files that are not what their names promise (proofwork(7), UNTRUSTED INPUT): a named
# pipe or a device in place of a manifest, a checkpoint or a dispute is refused (exit 3)
# at once, never read or waited on; a checkpoint of another size than the manifest's
# fileBytes is refused before it is read; a complete proof whose last checkpoint is
# damaged is not "already complete"; a malformed task is bad input to every program;
# stale temporaries of killed writers go, a live writer's stay.
make_tiny_task t.pwt
pol-train t.pwt -o P -q
last=ckpt-00000040.pwc
# damaged PROOF HOW: a copy of P whose last checkpoint (or manifest) is replaced.
damaged() {
  rm -rf "$1"; cp -r P "$1"; rm -f "$1/$2"
  case $3 in
    fifo) mkfifo "$1/$2" ;;
    zero) ln -s /dev/zero "$1/$2" ;;
    short) head -c 100 "P/$2" > "$1/$2" ;;
    long) cat "P/$2" "P/$2" > "$1/$2" ;;
    gone) ;;
  esac
}
# Each must answer within the timeout: a blocking open or a read of /dev/zero would not.
within() { timeout 20 "$@"; }
# The same, with memory bounded to about 4 GB. ASan reserves terabytes of address space
# for its shadow, where ulimit -v cannot apply, so a sanitizer build (make test-asan) is
# held to ASan's own bound on resident memory instead.
if [[ "$(ldd "$(command -v pol-train)")" == *libasan* ]]; then   # (not grep -q: pipefail and SIGPIPE)
  bounded() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=4000" timeout 20 "$@"; }
else
  bounded() { timeout 20 bash -c 'ulimit -v 4000000; exec "$@"' bounded "$@"; }
fi

for how in fifo zero; do
  damaged D $last $how
  expect_exit 3 within pol-verify t.pwt D -q
  expect_err "not a regular file"
  expect_exit 3 within pol-export D --checkpoint 40 -o x.safetensors
  expect_err "not a regular file"
  test ! -e x.safetensors
  expect_exit 3 within pol-show D/$last
  expect_err "not a regular file"
  expect_exit 3 within pol-train t.pwt -o D -q        # complete, but not whole
  expect_err "not a regular file.*the proof is damaged"
  damaged M manifest.pwm $how
  expect_exit 3 within pol-verify t.pwt M -q
  expect_err "manifest.*not a regular file"
  expect_exit 3 within pol-show M/manifest.pwm
  expect_exit 3 within pol-train t.pwt -o M -q
done
expect_err "character device"

# Sizes against the manifest's fileBytes, before reading.
for how in short long; do
  damaged D $last $how
  expect_exit 3 within pol-verify t.pwt D -q
  expect_err "bytes, the manifest says [0-9]+ \(truncated or damaged\)"
  expect_exit 3 within pol-export D --checkpoint 40 -o x.safetensors
  expect_err "the manifest says"
  expect_exit 3 within pol-train t.pwt -o D -q
  expect_err "the manifest says.*the proof is damaged"
done

# A complete proof whose last checkpoint is gone is not "already complete".
damaged D $last gone
expect_exit 3 pol-train t.pwt -o D -q
expect_err "$last.*No such file.*the proof is damaged"
# The same on resume: an unfinished proof whose last checkpoint is a pipe.
expect_exit 137 pol-train t.pwt -o K -q --kill-after 25
rm K/ckpt-00000020.pwc; mkfifo K/ckpt-00000020.pwc
expect_exit 3 within pol-train t.pwt -o K -q
expect_err "named pipe.*cannot resume"
# The intact proof is still complete, with its root.
expect_exit 0 pol-train t.pwt -o P
expect_err "already complete"

# A dispute and a ledger log that are not regular files.
mkfifo pipe.pwd
expect_exit 3 within pol-bisect replay pipe.pwd
expect_err "not a regular file"
ledger-settle keygen op -q; ledger-settle keygen alice -q
ledger-settle init L -k op.key -q
expect_exit 3 within ledger-settle append L pipe.pwd
expect_err "not a regular file"
ln -s /dev/urandom rand.ev
expect_exit 3 within ledger-settle append L rand.ev
expect_err "character device"
mkdir N; mkfifo N/events.log
expect_exit 3 within ledger-settle validate N
expect_err "log 'N/events.log': a named pipe"
expect_exit 3 within ledger-settle deposit N -k op.key --to alice.pub --amount 5

# pol-task --from, like every reader, gives 3 on a malformed task: the NUL that ends a
# Text field, changed (bit 7).
python3 - <<'PY'
b = bytearray(open('t.pwt', 'rb').read())
name = b'train-images-idx3-ubyte.gz'
i = b.index(name) + len(name)
assert b[i] == 0
b[i] |= 0x80
open('bad.pwt', 'wb').write(b)
PY
expect_exit 3 pol-task --from bad.pwt -o x.pwt
expect_err "malformed"
test ! -e x.pwt
expect_exit 3 pol-task --from bad.pwt --steps 10 -o x.pwt
expect_exit 3 pol-train bad.pwt -o Q -q
expect_exit 3 pol-verify bad.pwt P -q
expect_exit 3 pol-show bad.pwt
mkfifo t.fifo
expect_exit 3 within pol-task --from t.fifo -o x.pwt
expect_err "named pipe"

# Stale temporaries: a dead writer's go on resume, a live writer's stay.
sh -c 'exit 0' & dead=$!; wait $dead
sleep 60 & live=$!
expect_exit 137 pol-train t.pwt -o S -q --kill-after 15
echo junk > S/ckpt-00000020.pwc.tmp.$dead
echo junk > S/manifest.pwm.tmp.$dead
echo junk > S/ckpt-00000020.pwc.tmp.$live
echo keep > S/notes.tmp.txt                          # not a temporary's name
pol-train t.pwt -o S -q
test ! -e S/ckpt-00000020.pwc.tmp.$dead
test ! -e S/manifest.pwm.tmp.$dead
test -e S/ckpt-00000020.pwc.tmp.$live
test -e S/notes.tmp.txt
cmp S/$last P/$last
# A complete proof is cleaned the same way when it is opened again.
echo junk > S/ckpt-00000040.pwc.tmp.$dead
pol-train t.pwt -o S -q
test ! -e S/ckpt-00000040.pwc.tmp.$dead
test -e S/ckpt-00000020.pwc.tmp.$live
# The ledger: an append removes what a killed appender or challenger left.
echo junk > L/events.log.tmp.$dead
echo junk > L/disputes/0123.pwd.tmp.$dead
echo junk > L/disputes/4567.pwd.tmp.$live
ledger-settle deposit L -k op.key --to alice.pub --amount 5 -q
test ! -e L/events.log.tmp.$dead
test ! -e L/disputes/0123.pwd.tmp.$dead
test -e L/disputes/4567.pwd.tmp.$live
ledger-settle validate L -q
# aqsgd-pack: a state that is a named pipe is refused; a creation a killed run left is
# removed when the state is created, a live writer's kept.
perl -e 'open(my $f, ">", "acts.f32") or die; binmode $f; srand(3);
  for my $i (0 .. 3199) { print $f pack("f<", rand(2) - 1) }'
aqsgd-pack --wrap 32 --batch-rows 50 acts.f32 -o acts.aqa
mkdir A; mkfifo A/state.aqs
expect_exit 3 within aqsgd-pack --bits 4 --state A acts.aqa -o p.aqp
expect_err "named pipe"
mkdir A2
echo junk > A2/state.aqs.tmp.$dead
echo junk > A2/state.aqs.tmp.$live
expect_exit 0 aqsgd-pack --bits 4 --state A2 acts.aqa -o p.aqp
test ! -e A2/state.aqs.tmp.$dead
test -e A2/state.aqs.tmp.$live
kill $live; wait $live || true

# A task beyond what a run may imply: refused at once (exit 3) with the figure, by
# every program, before anything is allocated (proofwork-files(5), LIMITS).
pol-show t.pwt > t.json
jq '.steps = 4294967295 | .budgetFlops = 0' t.json > big.json
for cmd in "pol-train big.json -o B -q" "pol-verify big.json P -q" "pol-profile big.json P -o prof.pwp"; do
  expect_exit 3 bounded $cmd
  expect_err "137438953440 entries, over the limit of 2\^28 \(268435456\)"
done
test ! -e B/manifest.pwm
# pol-task --from takes a task's fields for the flags to correct: a rule they leave
# broken is a usage error (as for any rule: tests/cli/task_writer.sh), with the figure.
expect_exit 2 bounded pol-task --from big.json -o big.pwt
expect_err "137438953440 entries, over the limit of 2\^28"
test ! -e big.pwt
expect_exit 0 pol-task --from big.json --steps 100 -o ok.pwt -q    # corrected by a flag
jq '.steps = 400000 | .checkpointEvery = 1 | .batch = 1 | .budgetFlops = 0' t.json > many.json
expect_exit 3 within pol-train many.json -o C -q
expect_err "400001 checkpoints, over the limit of 2\^16 \(65536\)"
expect_exit 2 pol-task --from t.pwt --steps 1000000 --batch 512 -o x.pwt   # the flags did it
expect_err "over the limit of 2\^28"
