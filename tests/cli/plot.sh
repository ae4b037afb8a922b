# pol-plot on every kind it draws: a proof (with and without its task), an exact and a
# fast-mode verdict, two verdicts side by side, a profile and a dispute, each rendered to
# PNG by rsvg-convert and checked to be a non-empty image of the size asked for or the
# documented default; bad and foreign input exit 3, misuse 2, a missing renderer 4.
command -v rsvg-convert >/dev/null || { echo "FAIL: rsvg-convert missing (librsvg2-bin: make deps)" >&2; exit 1; }

# png_size FILE: "WIDTH HEIGHT" from the IHDR chunk.
png_size() {
  [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = 89504e470d0a1a0a ] || { echo "FAIL: $1 is not a PNG" >&2; exit 1; }
  od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8 }'
}
# expect_png FILE WIDTH HEIGHT: a PNG of that size, more than a blank page's bytes.
expect_png() {
  local got; got=$(png_size "$1")
  [ "$got" = "$2 $3" ] || { echo "FAIL: $1 is $got, expected $2 $3" >&2; exit 1; }
  [ "$(stat -c %s "$1")" -gt 8000 ] || { echo "FAIL: $1 is nearly empty" >&2; exit 1; }
}
# svg_height FILE: the height the SVG declares (the PNG must match it).
svg_size() { sed -n 's/^<svg [^>]* width="\([0-9]*\)" height="\([0-9]*\)".*/\1 \2/p' "$1"; }

make_tiny_task task.pwt
pol-train task.pwt -o proof -q
pol-show proof/manifest.pwm | jq -e '(.losses | length) == 40' >/dev/null   # the loss of every step

# Proof: three panels with the task, one without; the caption tells claims from commitments.
pol-plot task.pwt proof -o proof.svg -q
grep -q "the solver's claim" proof.svg
grep -q "Committed: the checkpoints' state hashes" proof.svg
[ "$(grep -c '<polyline' proof.svg)" -ge 3 ]
read -r w h <<<"$(svg_size proof.svg)"
[ "$w" = 960 ]
pol-plot task.pwt proof -o proof.png -q
expect_png proof.png "$w" "$h"
pol-plot proof -o loss.png --width 640 --height 480 -q
expect_png loss.png 640 480
# An old manifest without losses still plots, and says so.
pol-show proof/manifest.pwm | jq 'del(.losses)' > old.json
rm -rf old; cp -r proof old; pol-show old.json -t manifest --binary -o old/manifest.pwm -f
pol-plot old -o old.svg -q
grep -q "records no losses" old.svg

# Verdicts: exact mode; a forged fast-mode proof with its failed segment marked, and two
# verdicts of it (two profiles) side by side.
pol-verify task.pwt proof -o v.pwv -q --beacon b
pol-plot v.pwv -o v.png -q
expect_png v.png 960 "$(svg_size <(pol-plot v.pwv -o - -q) | cut -d' ' -f2)"
make_tiny_task fast.pwt --mode fast
pol-train fast.pwt -o fp -q
pol-profile fast.pwt fp -o p1.pwp -q --replay-threads 1 --panels 32 64
pol-profile fast.pwt fp -o p2.pwp -q --replay-threads 1 --panels 128 --factor 4
pol-forge fast.pwt -o forged -q --perturb-segment 2
expect_exit 1 pol-verify fast.pwt forged --profile p1.pwp --keep-going -o f1.pwv -q
expect_exit 1 pol-verify fast.pwt forged --profile p2.pwp --keep-going -o f2.pwv -q
pol-plot f1.pwv -o f1.svg -q
grep -q 'rejection line' f1.svg
grep -q 'failed segment' f1.svg
grep -q 'distance / threshold' f1.svg
pol-plot f1.pwv f2.pwv -o both.png -q
expect_png both.png 960 "$(pol-plot f1.pwv f2.pwv -o - -q | svg_size /dev/stdin | cut -d' ' -f2)"
pol-plot f1.pwv f2.pwv -o both.png -f --width 1200 --height 700 -q
expect_png both.png 1200 700
# Verdicts of different proofs do not go side by side.
pol-verify fast.pwt fp --profile p1.pwp -o h.pwv -q
expect_exit 3 pol-plot f1.pwv h.pwv -o x.svg
expect_err "another proof"

# Profile and dispute.
pol-plot p1.pwp -o prof.png -q
expect_png prof.png 960 "$(pol-plot p1.pwp -o - -q | svg_size /dev/stdin | cut -d' ' -f2)"
pol-forge task.pwt -o B -q --inject-fault 23:5:1
pol-bisect task.pwt proof B --fault-b 23:5:1 -o d.pwd -q
pol-plot d.pwd -o d.svg -q
grep -q 'A is right' d.svg
grep -q 'Bisection over ops' d.svg
pol-plot d.pwd -o d.png --width 800 --height 900 -q
expect_png d.png 800 900

# Bad and foreign input: exit 3.
head -c 100 v.pwv > cut.pwv
expect_exit 3 pol-plot cut.pwv -o x.svg
expect_err "verdict 'cut.pwv'"
cp task.pwt task-as.pwv
expect_exit 3 pol-plot task-as.pwv -o x.svg
cp v.pwv v-as.pwp
expect_exit 3 pol-plot v-as.pwp -o x.svg
head -c 4096 /dev/urandom > noise.pwd
expect_exit 3 pol-plot noise.pwd -o x.svg
expect_exit 3 pol-plot proof/ckpt-00000000.pwc -o x.svg
expect_err "not a kind pol-plot draws"
echo hello > notes.txt
expect_exit 3 pol-plot notes.txt -o x.svg
expect_exit 3 pol-plot missing.pwv -o x.svg
expect_exit 3 pol-plot fast.pwt proof -o x.svg                 # the task of another proof
expect_err "another task"
rm -rf t; cp -r proof t; head -c 300 proof/manifest.pwm > t/manifest.pwm
expect_exit 3 pol-plot t -o x.svg
rm -rf t; cp -r proof t; printf 'x' >> t/ckpt-00000020.pwc
expect_exit 3 pol-plot task.pwt t -o x.svg                     # a checkpoint unlike its manifest entry
[ ! -e x.svg ]

# Misuse: exit 2, nothing written.
expect_exit 2 pol-plot v.pwv -o x.pdf
expect_exit 2 pol-plot v.pwv p1.pwp -o x.svg
expect_exit 2 pol-plot task.pwt -o x.svg
expect_exit 2 pol-plot v.pwv -o v.png                          # exists: -f to overwrite
expect_exit 2 pol-plot task.pwt proof -o proof/plot.svg        # inside the proof
expect_exit 2 pol-plot task.pwt proof -o x.svg --height 200
expect_err "too small"
[ ! -e x.svg ]

# No renderer: exit 4, with the package to install, and no partial PNG.
PLOT=$(command -v pol-plot)
expect_exit 4 env PATH=/nonexistent "$PLOT" v.pwv -o none.png
expect_err "librsvg2-bin"
[ ! -e none.png ]
pol-plot v.pwv -o - -q | grep -q '</svg>'                      # SVG needs no renderer
