#!/usr/bin/env bash
# bench/frontier.sh — the density frontier (issue 15, point 3), `make
# bench-frontier`: for every built-in scenario of balloond-sim and every
# policy, the highest overcommit ratio (configured VM memory / host budget,
# QEMU's per-VM overhead inside the budget) with 0 host OOM kills, 0 guest
# OOM kills and guest pressure below PRESSURE_MAX % of guest-seconds
# (default 1), by bisection over [1, 4] to 0.02 (sim/frontier.h).  Prints
# the table, writes bench/frontier.md (with the date, the commit and the
# command) and bench/out/frontier/frontier.png (gnuplot).  No guests, no
# root.  The full diurnal scenario (1000 VMs, 24 h) takes ~15 s a run and
# about 40 runs: SIM_ARGS="--vms 100" scales every scalable scenario down.
#
# The two checks on real TCG guests are bench/density.sh runs of balloond
# with -L (the cgroup limit of a ratio) and -o (their own directory), e.g.
#   flock /tmp/balloond-guests.lock bench/density.sh -p balloond -L 1256 -o bench/out/frontier/real-1.63
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:-build}
SIM=$BUILD/balloond-sim
OUT=bench/out/frontier
PRESSURE_MAX=${PRESSURE_MAX:-1}
[ -x "$SIM" ] || { echo "$SIM missing: run make all" >&2; exit 1; }
mkdir -p "$OUT" || exit 1
# shellcheck disable=SC2086 # SIM_ARGS is a list of options
cmd="$SIM --frontier --pressure-max $PRESSURE_MAX ${SIM_ARGS:-} --plot $OUT"
table=$($cmd) || { echo "bench/frontier.sh: $cmd failed" >&2; exit 1; }
echo "$table"
{
	echo "# Density frontier (bench/frontier.sh)"
	echo
	echo "$(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), \`bench/frontier.sh $BUILD\` (\`${cmd#"$BUILD/"}\`)."
	echo "Every scenario at its full size, QEMU's overhead at the simulator's default unless SIM_ARGS says otherwise."
	echo "Plot: $OUT/frontier.png. Checks on real guests: the section below (edited by hand after the runs)."
	echo
	echo "$table" | tail -n +3
} >bench/frontier.md.new
# Keep the hand-written sections (every "## " heading on: what the table
# says, the checks on real guests), to be brought up to date by hand.
if [ -f bench/frontier.md ]; then
	sed -n '/^## /,$p' bench/frontier.md | { echo; cat; } >>bench/frontier.md.new
fi
mv bench/frontier.md.new bench/frontier.md
