# aqsgd-pack: AQ-SGD and direct round trips at every width, sender and receiver states
# byte-identical, zstd, stochastic rounding, a stream split over several runs, --inspect.

# acts.f32: 5 passes over 64 samples of 100 channels, each pass drifting a little (as
# activations do between epochs); ids: the sample id of each row.
perl -e '
  srand(7); my @base = map { rand(2) - 1 } 1 .. 6400;
  open(my $f, ">", "acts.f32") or die; binmode $f;
  for my $pass (0 .. 4) { for my $i (0 .. 6399) { $base[$i] += 0.02 * (rand(2) - 1); print $f pack("f<", $base[$i]); } }
  open(my $ids, ">", "ids") or die; print $ids (($_ * 5) % 64, "\n") for 0 .. 319;'
# maxerr A B: the largest |a - b| over two fp32 files of equal size
maxerr() { perl -e 'local $/; open(A, $ARGV[0]); binmode A; open(B, $ARGV[1]); binmode B;
  my @a = unpack("f<*", <A>); my @b = unpack("f<*", <B>); die "sizes" unless @a == @b;
  my $m = 0; for (0 .. $#a) { my $d = abs($a[$_] - $b[$_]); $m = $d if $d > $m } print $m' "$1" "$2"; }

expect_exit 0 aqsgd-pack --wrap 100 --batch-rows 32 --ids ids acts.f32 -o acts.aqa
expect_exit 0 aqsgd-pack --inspect --json acts.aqa
grep -q '"kind": "activations".*"batches": 10, "rows": 320' out

for b in 2 3 4 8; do
  expect_exit 0 aqsgd-pack --bits $b --state tx$b acts.aqa -o p$b.aqp
  expect_exit 0 aqsgd-pack -d --state rx$b --raw p$b.aqp -o r$b.f32
  cmp tx$b/state.aqs rx$b/state.aqs                         # the two sides' states: same bytes
  expect_exit 0 aqsgd-pack --bits $b --direct acts.aqa -o d$b.aqp
  expect_exit 0 aqsgd-pack -d --raw d$b.aqp -o dr$b.f32
  aq=$(maxerr acts.f32 r$b.f32); direct=$(maxerr acts.f32 dr$b.f32)
  echo "bits $b: max error AQ-SGD $aq, direct $direct"
  # AQ-SGD's error follows the drift, direct quantization's the whole range
  awk -v a="$aq" -v d="$direct" 'BEGIN { exit !(a < d / 4) }'
  [ "$(stat -c %s p$b.aqp)" -lt "$(stat -c %s acts.aqa)" ]
done
# more bits, smaller error
awk -v a="$(maxerr acts.f32 r2.f32)" -v b="$(maxerr acts.f32 r8.f32)" 'BEGIN { exit !(b < a / 10) }'
# the first pass travels at full precision: exact on the receiving side
cmp <(head -c 25600 acts.f32) <(head -c 25600 r4.f32)

# the activation stream form round-trips too, with ids
expect_exit 0 aqsgd-pack -d --state rx4b p4.aqp -o back.aqa
expect_exit 0 aqsgd-pack --inspect --json back.aqa
grep -q '"rows": 320' out

# zstd on the codes: same activations, fewer bytes at 8 bits
expect_exit 0 aqsgd-pack --bits 8 --state tz --zstd --level 3 acts.aqa -o z8.aqp
[ "$(stat -c %s z8.aqp)" -lt "$(stat -c %s p8.aqp)" ]
expect_exit 0 aqsgd-pack -d --state rz --raw z8.aqp -o z8.f32
cmp z8.f32 r8.f32

# stochastic rounding: reproducible from its seed, another seed rounds otherwise
expect_exit 0 aqsgd-pack --bits 2 --state s1 --stochastic --seed 5 acts.aqa -o s1.aqp
expect_exit 0 aqsgd-pack --bits 2 --state s2 --stochastic --seed 5 acts.aqa -o s2.aqp
expect_exit 0 aqsgd-pack --bits 2 --state s3 --stochastic --seed 6 acts.aqa -o s3.aqp
for s in 1 2 3; do expect_exit 0 aqsgd-pack -d --state rs$s --raw s$s.aqp -o s$s.f32; done
cmp s1.f32 s2.f32
! cmp -s s1.f32 s3.f32

# rotation and per-tile scales (the header carries them): both sides' states byte-identical,
# AQ-SGD and direct; another seed gives other signs and other values
i=0
for opt in "--rotate 16" "--scale-tile 16" "--rotate 64 --scale-tile 32" "--rotate 128"; do
  i=$((i + 1))
  expect_exit 0 aqsgd-pack --bits 2 --state rt$i $opt --seed 3 acts.aqa -o rt$i.aqp
  expect_exit 0 aqsgd-pack -d --state rr$i --raw rt$i.aqp -o rt$i.f32
  cmp rt$i/state.aqs rr$i/state.aqs
  awk -v a="$(maxerr acts.f32 rt$i.f32)" -v d="$(maxerr acts.f32 dr2.f32)" 'BEGIN { exit !(a < d) }'
  expect_exit 0 aqsgd-pack --direct --bits 2 $opt acts.aqa -o dt$i.aqp
  expect_exit 0 aqsgd-pack -d --raw dt$i.aqp -o dt$i.f32
done
expect_exit 0 aqsgd-pack --inspect --json rt3.aqp
grep -q '"version": 3, "bits": 2, "rotateTile": 64, "scaleTile": 32' out
expect_exit 0 aqsgd-pack --inspect rt3.aqp
grep -q "rotated by tiles of 64, scales per 32 channels of a row" out
expect_exit 0 aqsgd-pack --bits 2 --state rseed --rotate 16 --seed 4 acts.aqa -o rseed.aqp
expect_exit 0 aqsgd-pack -d --state rrseed --raw rseed.aqp -o rseed.f32
! cmp -s rseed.f32 rt1.f32
expect_exit 2 aqsgd-pack --bits 2 --state t --rotate 12 acts.aqa -o y.aqp
expect_err 'power of two'
expect_exit 2 aqsgd-pack --bits 2 --state t --scale-tile 1 acts.aqa -o y.aqp
expect_exit 2 aqsgd-pack --bits 2 --state t --rotate 131072 acts.aqa -o y.aqp
expect_exit 2 aqsgd-pack -d --state t --rotate 16 rt1.aqp -o y.aqa
expect_err 'from the stream'
[ ! -e y.aqp ] && [ ! -e y.aqa ]

# one state, several streams: generations continue, and the receiver must take the
# streams in order
head -c 64000 acts.f32 > first.f32; tail -c 64000 acts.f32 > second.f32
head -n 160 ids > ids1; tail -n 160 ids > ids2
expect_exit 0 aqsgd-pack --wrap 100 --batch-rows 32 --ids ids1 first.f32 -o first.aqa
expect_exit 0 aqsgd-pack --wrap 100 --batch-rows 32 --ids ids2 second.f32 -o second.aqa
expect_exit 0 aqsgd-pack --bits 4 --state split first.aqa -o first.aqp
expect_exit 0 aqsgd-pack --bits 4 --state split second.aqa -o second.aqp
expect_exit 3 aqsgd-pack -d --state splitrx second.aqp -o x.aqa
expect_err 'generation mismatch: the stream starts at generation 5, the state .* is at 0'
[ ! -e x.aqa ]
expect_exit 0 aqsgd-pack -d --state splitrx first.aqp -o x1.aqa
expect_exit 0 aqsgd-pack -d --state splitrx second.aqp -o x2.aqa
cmp split/state.aqs splitrx/state.aqs
expect_exit 3 aqsgd-pack -d --state splitrx second.aqp -o x3.aqa   # replayed: refused
expect_err 'generation mismatch'

# pipes: stdin to stdout
aqsgd-pack -q --bits 3 --state pipetx < acts.aqa | aqsgd-pack -q -d --state piperx --raw > pipe.f32
cmp pipe.f32 r3.f32

# conventions
expect_exit 0 aqsgd-pack --help
expect_exit 0 aqsgd-pack --version
grep -q proofwork out
expect_exit 2 aqsgd-pack --bits 4 --state tx4 acts.aqa -o p4.aqp     # exists: no -f
expect_err 'exists; use -f'
expect_exit 2 aqsgd-pack --state t acts.aqa -o y.aqp                   # no --bits
expect_exit 2 aqsgd-pack --bits 4 --state t --direct acts.aqa -o y.aqp
expect_exit 2 aqsgd-pack --bits 5 --state t acts.aqa -o y.aqp
expect_exit 2 aqsgd-pack -d --bits 4 --state t p4.aqp -o y.aqa
expect_exit 2 aqsgd-pack --raw --bits 4 --state t acts.aqa -o y.aqp
