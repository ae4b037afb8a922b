# Every page in man/ renders with man(1) without a warning, in a UTF-8 and in the C
# locale; its .TH and NAME line name it (what whatis(1) and apropos(1) will show); a
# program's page has the sections every program's page has; proofwork(7) and
# proofwork-files(5) have the sections that code comments cite; every program in
# tools/ has a page; every reference to a proofwork page, and every citation of a
# section of those two in the tree, resolves; the VERSIONS table of proofwork-files(5)
# is lib/io/version.cpp's; every page's section is one `make install` installs.
# Needs man-db (scripts/install-deps.sh, build group); fails when it is missing.
ROOT=$(cd "$HERE/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in man lexgrog; do
  command -v $tool >/dev/null || fail "'$tool' is not installed: install man-db (scripts/install-deps.sh build)"
done
version=$(sed -n 's/^project(proofwork VERSION \([0-9.]*\) .*/\1/p' "$ROOT/CMakeLists.txt")
[ -n "$version" ] || fail "no project(proofwork VERSION ...) in CMakeLists.txt"
installed=$(sed -n 's/^foreach(section \([0-9 ]*\))$/\1/p' "$ROOT/CMakeLists.txt")
[ -n "$installed" ] || fail "CMakeLists.txt: no 'foreach(section ...)' installing the man pages"

# The sections of a page, one a line, in order.
sections() { sed -n 's/^\.SH  *//p' "$1" | sed 's/^"\(.*\)"$/\1/'; }
# Requires page $1 to have the sections $2... in this order (others may come between).
has_sections() {
  local page=$1; shift
  local want=("$@") i=0 s
  while IFS= read -r s; do
    [ $i -lt ${#want[@]} ] && [ "$s" = "${want[$i]}" ] && i=$((i + 1))
  done < <(sections "$page")
  [ $i = ${#want[@]} ] ||
    fail "$(basename "$page"): no section '${want[$i]}' where expected; it has: $(sections "$page" | tr '\n' '|')"
}

pages=0
for page in "$ROOT"/man/*.[1-9]; do
  [ -e "$page" ] || fail "no man pages in $ROOT/man"
  pages=$((pages + 1))
  file=$(basename "$page")
  name=${file%.*} section=${file##*.}
  case " $installed " in *" $section "*) ;; *) fail "$file: section $section is not installed (CMakeLists.txt installs $installed)" ;; esac

  for loc in C.UTF-8 C; do
    set +e
    LC_ALL=$loc MANWIDTH=80 man --warnings -l "$page" >rendered 2>warnings
    rc=$?
    set -e
    [ $rc = 0 ] || fail "$file: man -l exited $rc (LC_ALL=$loc): $(cat warnings)"
    [ ! -s warnings ] || fail "$file: man -l warns (LC_ALL=$loc):
$(cat warnings)"
    grep -q '^NAME$' rendered || fail "$file: no NAME section in the rendered page"
  done

  th=$(sed -n 's/^\.TH //p' "$page")
  [ "$(printf '%s\n' "$th" | wc -l)" = 1 ] || fail "$file: needs exactly one .TH line"
  mapfile -t arg < <(printf '%s\n' "$th" | xargs -n1 printf '%s\n')
  set -- "${arg[@]}"
  [ "${1:-}" = "$(echo "$name" | tr a-z A-Z)" ] || fail "$file: .TH title '${1:-}', expected '$(echo "$name" | tr a-z A-Z)'"
  [ "${2:-}" = "$section" ] || fail "$file: .TH section '${2:-}', expected '$section'"
  [ "${4:-}" = "proofwork $version" ] || fail "$file: .TH source '${4:-}', expected 'proofwork $version'"

  whatis=$(lexgrog "$page") || fail "$file: lexgrog cannot parse its NAME section: $whatis"
  case "$whatis" in
    "$page: \"$name - "?*'"') ;;
    *) fail "$file: NAME line reads $whatis; expected \"$name - what it does\"" ;;
  esac
  [ "$(sections "$page" | head -1)" = NAME ] || fail "$file: the first section is not NAME"
  ! grep -n 'DESIGN' "$page" || fail "$file: cites DESIGN; cite proofwork(7) or proofwork-files(5)"

  # References to proofwork's own pages must resolve: a program in tools/ or proofwork*.
  refs=$(sed -n 's/\\-/-/g; s/^\.BR* \([a-z][a-z0-9-]*\) (\([1-9]\)).*/\1.\2/p; s/^\.BR* \([a-z][a-z0-9-]*\) "(\([1-9]\))".*/\1.\2/p' "$page" | sort -u)
  for ref in $refs; do
    base=${ref%.*}
    if [ -e "$ROOT/tools/$base.cpp" ] || [ "${base#proofwork}" != "$base" ]; then
      [ -e "$ROOT/man/$ref" ] || fail "$file: refers to $base(${ref##*.}), but man/$ref does not exist"
    fi
  done
done
[ $pages -ge 13 ] || fail "only $pages man pages found in $ROOT/man"

for src in "$ROOT"/tools/*.cpp; do
  tool=$(basename "$src" .cpp)
  [ -e "$ROOT/man/$tool.1" ] || fail "program $tool has no page man/$tool.1"
  has_sections "$ROOT/man/$tool.1" NAME SYNOPSIS DESCRIPTION OPTIONS FILES "EXIT STATUS" EXAMPLES "SEE ALSO"
done

# Code comments cite these sections by name: they must exist, exactly and in order.
has_sections "$ROOT/man/proofwork.7" NAME DESCRIPTION "THE PROGRAMS" "THE FLOW" "EXACT MODE" "FAST MODE" \
  "THE TAPE" "RANDOM STREAMS" "PROOFS OF LEARNING" VERIFICATION DISPUTES "THE MARKET" SCHEDULING AQ-SGD \
  LAYOUT DEPENDENCIES "COMMAND-LINE CONVENTIONS" "EXIT STATUS" "UNTRUSTED INPUT" "TESTS AND BENCHMARKS" \
  EXAMPLES "SEE ALSO"
has_sections "$ROOT/man/proofwork-files.5" NAME DESCRIPTION ENCODING VERSIONS LIMITS COMMITMENTS TASK \
  "PROOF DIRECTORY" PROFILE VERDICT DISPUTE LEDGER TOPOLOGY PARTITION SCHEDULE "ACTIVATION STREAMS" EXPORT \
  "SEE ALSO"

# Every citation of a section of these two pages in the tree names a section they have.
cited=$(grep -rhoE --include='*.cpp' --include='*.hpp' --include='*.cu' --include='*.cuh' --include='*.capnp' \
          --include='*.sh' --include='*.py' --include='CMakeLists.txt' \
          'proofwork(-files)?\(([57])\), [A-Z][A-Z -]*[A-Z]' "$ROOT/lib" "$ROOT/tools" "$ROOT/cuda" "$ROOT/tests" \
          "$ROOT/scripts" "$ROOT/examples" "$ROOT/CMakeLists.txt" | sort -u)
while IFS= read -r c; do
  [ -n "$c" ] || continue
  page=${c%%,*} section=${c#*, }
  file=$(echo "$page" | sed 's/(\([57]\))$/.\1/')
  sections "$ROOT/man/$file" | grep -qxF -- "$section" ||
    fail "the tree cites '$c', but man/$file has no section '$section'"
done <<< "$cited"

# The VERSIONS table of proofwork-files(5) is lib/io/version.cpp's.
# Every row of version.cpp is checked (a row the pattern missed would go unchecked, so
# the counts must agree), and the table has no row of its own.
rows=$(grep -oE '\{"[A-Za-z -]+", [0-9]+, [0-9]+(, [0-9]+)?\}' "$ROOT/lib/io/version.cpp")
[ -n "$rows" ] || fail "lib/io/version.cpp: no version rows found"
[ "$(printf '%s\n' "$rows" | wc -l)" = "$(grep -oE '\{"[^"]*", *[0-9]+, *[0-9]+(, *[0-9]+)?\}' "$ROOT/lib/io/version.cpp" | wc -l)" ] ||
  fail "lib/io/version.cpp: a version row this test cannot read"
table=$(sed -n '/^\.SH VERSIONS$/,/^\.SH /p' "$ROOT/man/proofwork-files.5" | sed -n '/^\.TS$/,/^\.TE$/p')
[ -n "$table" ] || fail "proofwork-files(5), VERSIONS: no table"
kinds=$(printf '%s\n' "$table" | awk -F'\t' 'NF >= 4 && $1 != "" && $1 != "kind" {print $1}')
[ "$(printf '%s\n' "$kinds" | wc -l)" = "$(printf '%s\n' "$rows" | wc -l)" ] ||
  fail "proofwork-files(5), VERSIONS: rows $(echo $kinds | tr '\n' ' '); lib/io/version.cpp has $(printf '%s\n' "$rows" | wc -l)"
while IFS= read -r row; do
  kind=$(echo "$row" | sed 's/^{"\([A-Za-z -]*\)".*/\1/')
  oldest=$(echo "$row" | sed -E 's/^\{"[^"]*", ([0-9]+), ([0-9]+).*/\1/')
  current=$(echo "$row" | sed -E 's/^\{"[^"]*", ([0-9]+), ([0-9]+).*/\2/')
  reads=$oldest
  [ "$oldest" = "$current" ] || reads="$oldest to $current"
  line=$(printf '%s\n' "$table" | awk -F'\t' -v k="$kind" '$1 == k')
  [ -n "$line" ] || fail "proofwork-files(5), VERSIONS: no row for '$kind' (lib/io/version.cpp has one)"
  got=$(printf '%s\n' "$line" | awk -F'\t' '{print $3 "/" $4}')
  [ "$got" = "$reads/$current" ] ||
    fail "proofwork-files(5), VERSIONS: '$kind' reads/writes $got, lib/io/version.cpp says $reads/$current"
done <<< "$rows"
