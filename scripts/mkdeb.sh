#!/usr/bin/env bash
# Builds balloond_*.deb with dpkg-buildpackage -us -uc -b from a copy of
# the source tree (the files git does not ignore, as in the work tree), so the
# package build's `make clean` never touches the tree's own build/ (the guest
# image cache). Then runs lintian on the result: errors fail the build,
# warnings are printed.
#
# Usage: scripts/mkdeb.sh [-v VERSION] [-i] [-L] OUTDIR
#   -v VERSION  add a debian/changelog entry for VERSION in the copy (the
#               upgrade test builds a second, higher version this way)
#   -i          incremental: keep OUTDIR's earlier copy and its compiled
#               objects (dpkg-buildpackage -nc); make rebuilds what changed
#   -L          no lintian (the install test, which lints nothing)
# The .deb, .buildinfo and .changes land in OUTDIR; the last line printed is
# the .deb's path.
set -euo pipefail
cd "$(dirname "$0")/.."

version= incremental=0 lint=1
while getopts v:iL opt; do
    case $opt in
    v) version=$OPTARG ;;
    i) incremental=1 ;;
    L) lint=0 ;;
    *) echo "usage: $0 [-v VERSION] [-i] [-L] OUTDIR" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $0 [-v VERSION] [-i] [-L] OUTDIR" >&2; exit 2; }
out=$(mkdir -p "$1" && cd "$1" && pwd)
src=$out/balloond

for tool in dpkg-buildpackage dh $([ "$lint" -eq 1 ] && echo lintian); do
    command -v "$tool" >/dev/null || { echo "mkdeb: $tool not found (scripts/deps.sh installs it)" >&2; exit 1; }
done

[ "$incremental" -eq 1 ] || rm -rf "$src"
mkdir -p "$src"
# -m keeps the sources' times, so an incremental build recompiles only what
# changed since the last copy; -u replaces what an earlier -v changed.
if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | cpio -0 -pdmu --quiet "$src"
else
    tar -c --exclude=./build . | tar -x -C "$src"
fi

if [ -n "$version" ]; then
    {
        printf 'balloond (%s) unstable; urgency=medium\n\n' "$version"
        printf '  * Build %s (scripts/mkdeb.sh -v).\n\n' "$version"
        printf ' -- %s  %s\n\n' "$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$src/debian/changelog" | head -1)" "$(date -R)"
        cat "$src/debian/changelog"
    } >"$src/debian/changelog.new"
    mv "$src/debian/changelog.new" "$src/debian/changelog"
fi

flags=(-us -uc -b)
[ "$incremental" -eq 1 ] && flags+=(-nc)
(cd "$src" && dpkg-buildpackage "${flags[@]}") >"$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    echo "mkdeb: dpkg-buildpackage failed; the whole log: $out/build.log" >&2
    exit 1
}
ver=$(cd "$src" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
deb=$out/balloond_${ver}_${arch}.deb
changes=$out/balloond_${ver}_${arch}.changes
[ -f "$deb" ] || { echo "mkdeb: $deb was not made" >&2; exit 1; }

# lintian exits non-zero on errors (its default --fail-on error).
[ "$lint" -eq 1 ] || { echo "$deb"; exit 0; }
echo "lintian $(basename "$changes"):"
lintian --info --display-info "$changes" || { echo "mkdeb: lintian reports errors" >&2; exit 1; }
echo "$deb"
