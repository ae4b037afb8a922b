# aqsgd-pack on bad streams: truncated, wrong kind, garbage, non-finite values, another
# state's layout, a full state under 'refuse', a state in use. Exit 3 (4 for the lock),
# a message naming the problem, no output file, the state left as it was.

perl -e 'open(my $f, ">", "acts.f32") or die; binmode $f; srand(3);
  for my $i (0 .. 9599) { print $f pack("f<", rand(2) - 1) }'
expect_exit 0 aqsgd-pack --wrap 32 --batch-rows 50 --first-id 1000 acts.f32 -o acts.aqa   # 300 rows, 6 batches
expect_exit 0 aqsgd-pack --bits 4 --state tx acts.aqa -o p.aqp
size=$(stat -c %s p.aqp)

# truncated inside a record
head -c $((size / 2)) p.aqp > cut.aqp
expect_exit 3 aqsgd-pack -d --state rx cut.aqp -o out.aqa
expect_err 'cut.aqp: record [0-9]+ is truncated or malformed'
[ ! -e out.aqa ] && ! ls out.aqa.tmp.* 2>/dev/null
# truncated at a record boundary: the trailer (56 bytes) is missing
head -c $((size - 56)) p.aqp > notrailer.aqp
expect_exit 3 aqsgd-pack -d --state rx2 notrailer.aqp -o out.aqa
expect_err 'truncated: the stream ends after 6 batches without its trailer'
[ ! -e out.aqa ]

# the wrong kind of stream, or no stream at all
expect_exit 3 aqsgd-pack -d --state rx3 acts.aqa -o out.aqa
expect_err 'activation stream; pack it without -d'
expect_exit 3 aqsgd-pack --bits 4 --state tx3 p.aqp -o out.aqp
expect_err 'packed stream'
head -c 4000 /dev/urandom > junk
expect_exit 3 aqsgd-pack -d --state rx4 junk -o out.aqa
expect_exit 3 aqsgd-pack --bits 2 --state tx4 junk -o out.aqp
: > empty
expect_exit 3 aqsgd-pack -d --state rx5 empty -o out.aqa
expect_err 'empty input'
expect_exit 3 aqsgd-pack --bits 2 --state tx5 missing-file -o out.aqp
expect_err "input 'missing-file'"
# raw input that ends in the middle of a row
head -c 1001 acts.f32 > ragged.f32
expect_exit 3 aqsgd-pack --wrap 32 ragged.f32 -o r.aqa
expect_err 'middle of a row'
printf '1\n2\nx\n' > badids
expect_exit 3 aqsgd-pack --wrap 32 --ids badids acts.f32 -o r.aqa
expect_err 'line 3'

# a NaN in the input: refused (the unit tests check that pack leaves the state untouched)
perl -e 'open(my $f, ">", "nan.f32"); binmode $f; print $f pack("f<", 0.5) for 1 .. 40; print $f pack("L<", 0x7fc00000); print $f pack("f<", 0.5) for 1 .. 23;'
expect_exit 3 aqsgd-pack --wrap 32 nan.f32 -o nan.aqa
expect_err 'row 1 channel 8 is not finite'

# the receiver's state was made for another layout (capacity)
expect_exit 0 aqsgd-pack --bits 4 --state small --capacity 500 acts.aqa -o small.aqp
expect_exit 0 aqsgd-pack -d --state rx6 p.aqp -o ok.aqa
expect_exit 3 aqsgd-pack -d --state rx6 small.aqp -o out.aqa
expect_err 'another layout'

# a full state under 'refuse' (300 samples, room for 200)
expect_exit 3 aqsgd-pack --bits 4 --state full --capacity 200 --when-full refuse acts.aqa -o out.aqp
expect_err "is full \(200 samples\) and its policy is 'refuse'"
[ ! -e out.aqp ]
# ... and under 'evict' the same stream passes, and round-trips
expect_exit 0 aqsgd-pack --bits 4 --state ev --capacity 200 acts.aqa -o ev.aqp
expect_exit 0 aqsgd-pack -d --state evrx ev.aqp -o ev.aqa
cmp ev/state.aqs evrx/state.aqs

# a damaged state file
cp -r tx txbad; printf 'XXXX' | dd of=txbad/state.aqs bs=1 seek=0 conv=notrunc 2>/dev/null
expect_exit 3 aqsgd-pack --bits 4 --state txbad acts.aqa -o out.aqp
expect_err 'bad magic'

# a state in use by another process
flock tx/state.aqs sleep 3 &
sleep 0.5
expect_exit 4 aqsgd-pack --bits 4 --state tx acts.aqa -o out.aqp
expect_err 'in use by another process'
wait
# A packed batch whose rounds pointer has the wrong element size (found by the fuzz
# target aqsgd_stream; kept as its seed): bad input, not an internal error.
expect_exit 3 aqsgd-pack -d --state rxbad "$HERE/../fuzz/corpus/aqsgd_stream/regression-rounds-pointer.aqp" -o bad.aqa
expect_err "malformed"
test ! -e bad.aqa
# A stream whose header asks the receiver for a state of 4278190084 samples (found by the
# fuzz target aqsgd_stream, which then allocated 4 GiB; kept as its seed): refused before
# any state is made.
expect_exit 3 aqsgd-pack -d --state rxbig "$HERE/../fuzz/corpus/aqsgd_stream/regression-state-capacity.aqp" -o big.aqa
expect_err "samples, over the limit of 2"
test ! -e rxbig/state.aqs
test ! -e big.aqa
# A stream that ends inside a record the reader had begun (found by the fuzz target
# aqsgd_stream, which aborted: the record reader's destructor threw inside a noexcept
# reset; kept as its seed): bad input from --inspect and from -d.
expect_exit 3 aqsgd-pack --inspect "$HERE/../fuzz/corpus/aqsgd_stream/regression-truncated-record.aqp"
expect_err "truncated or malformed"
expect_exit 3 aqsgd-pack -d --state rxcut "$HERE/../fuzz/corpus/aqsgd_stream/regression-truncated-record.aqp" -o cut.aqa
test ! -e cut.aqa
# A 740-byte stream whose record declares 805 MB (found by the fuzz target aqsgd_stream:
# Cap'n Proto allocated the declared size before reading; kept as its seed): refused
# before the allocation.
expect_exit 3 aqsgd-pack --inspect "$HERE/../fuzz/corpus/aqsgd_stream/regression-declared-size.aqp"
expect_err "declares 805306616 bytes, the stream holds 740 more"
# A stream whose header makes the receiver create a large state (found by the fuzz target
# aqsgd_stream, which then read every empty slot of the new file, 1 GB; kept as its
# seed): a new state's slots are not scanned, so this costs little before it is refused.
expect_exit 3 aqsgd-pack -d --state rxlarge "$HERE/../fuzz/corpus/aqsgd_stream/regression-large-new-state.aqp" -o large.aqa
test ! -e large.aqa
