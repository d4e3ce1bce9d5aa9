#!/usr/bin/env bash
# `make install` into a temporary DESTDIR with PREFIX=/usr: every file in
# place with sane modes, an existing balloond.conf never overwritten, the man
# pages render without warnings, the installed unit passes systemd-analyze
# verify, the bash completion loads and completes (VM names from a running
# balloond through the installed balloonctl); `make uninstall` removes it all.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/daemon.sh

test_begin install 0
D="$RUN/destdir"
FAKE=
test_cleanup_extra() {
    [ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null && wait "$FAKE" 2>/dev/null
    return 0
}

out=$(make -s install DESTDIR="$D" PREFIX=/usr BUILD="$BUILD" 2>&1) || fail "make install failed: $out"
pass "make install DESTDIR=$D PREFIX=/usr"

# path mode: every file, its mode, root-owned.
expect=(
    "usr/sbin/balloond 755"
    "usr/bin/balloonctl 755"
    "usr/share/man/man8/balloond.8 644"
    "usr/share/man/man8/balloonctl.8 644"
    "usr/share/man/man5/balloond.conf.5 644"
    "usr/lib/systemd/system/balloond.service 644"
    "usr/share/bash-completion/completions/balloonctl 644"
    "etc/balloond/balloond.conf.example 644"
)
for e in "${expect[@]}"; do
    read -r f mode <<<"$e"
    [ -f "$D/$f" ] || fail "/$f not installed"
    got=$(stat -c %a "$D/$f")
    [ "$got" = "$mode" ] || fail "/$f has mode $got, expected $mode"
    [ "$(stat -c %u "$D/$f")" = "$(id -u)" ] || fail "/$f is not owned by the installing user"
done
n=$(find "$D" -type f | wc -l)
[ "$n" -eq "${#expect[@]}" ] || fail "$n files installed, expected ${#expect[@]}: $(find "$D" -type f)"
[ -e "$D/etc/balloond/balloond.conf" ] && fail "install created /etc/balloond/balloond.conf"
pass "${#expect[@]} files, modes 755 (programs) and 644 (the rest), no balloond.conf created"

"$D/usr/sbin/balloond" --version | grep -q '^balloond ' || fail "installed balloond does not run"
"$D/usr/bin/balloonctl" --help >/dev/null || fail "installed balloonctl does not run"
out=$("$D/usr/sbin/balloond" -t -c "$D/etc/balloond/balloond.conf.example" 2>&1) ||
    fail "the installed example config does not pass balloond -t: $out"
grep -q '^ExecStart=/usr/sbin/balloond -c /etc/balloond/balloond.conf$' \
    "$D/usr/lib/systemd/system/balloond.service" || fail "ExecStart not rewritten to PREFIX/sbin"
out=$(make -s install DESTDIR="$D" PREFIX=/opt/bd BUILD="$BUILD" 2>&1) || fail "make install PREFIX=/opt/bd failed: $out"
grep -q '^ExecStart=/opt/bd/sbin/balloond ' "$D/opt/bd/lib/systemd/system/balloond.service" ||
    fail "ExecStart not rewritten for PREFIX=/opt/bd"
make -s uninstall DESTDIR="$D" PREFIX=/opt/bd BUILD="$BUILD" >/dev/null 2>&1 || fail "uninstall /opt/bd failed"
[ -z "$(find "$D/opt" -type f)" ] || fail "uninstall left files under /opt/bd"
pass "the programs run, the example config passes balloond -t; ExecStart follows PREFIX (/usr, /opt/bd)"

mkdir -p "$D/etc/balloond"  # the /opt/bd uninstall took /etc/balloond (shared) with it
echo "# mine" >"$D/etc/balloond/balloond.conf"
make -s install DESTDIR="$D" PREFIX=/usr BUILD="$BUILD" >/dev/null 2>&1 || fail "second make install failed"
[ "$(cat "$D/etc/balloond/balloond.conf")" = "# mine" ] || fail "make install overwrote balloond.conf"
pass "an existing /etc/balloond/balloond.conf is left alone"

# Man pages: rendered by man(1) (groff) with every warning on, and linted by
# mandoc when it is installed.
command -v man >/dev/null || fail "man is not installed (Debian: man-db, groff-base)"
for p in man8/balloond.8 man8/balloonctl.8 man5/balloond.conf.5; do
    f="$D/usr/share/man/$p"
    text=$(MANWIDTH=80 man --warnings=w -l "$f" 2>"$RUN/man.err") ||
        fail "man -l $p failed: $(cat "$RUN/man.err")"
    [ -s "$RUN/man.err" ] && fail "man -l $p warns: $(head -5 "$RUN/man.err")"
    for s in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
        grep -q "^$s" <<<"$text" || fail "$p has no $s section"
    done
    if command -v mandoc >/dev/null; then
        lint=$(mandoc -T lint -W warning "$f" 2>&1) || fail "mandoc -T lint $p: $lint"
        [ -z "$lint" ] || fail "mandoc -T lint $p: $lint"
    fi
    echo "    $p: $(wc -l <<<"$text") lines, no warnings"
done
found=$(MANPATH="$D/usr/share/man" man -w balloond.conf 2>/dev/null)
[ "$found" = "$D/usr/share/man/man5/balloond.conf.5" ] || fail "man -w balloond.conf found \"$found\""
text=$(MANPATH="$D/usr/share/man" MANWIDTH=80 man balloonctl 2>/dev/null)
for w in status top "vm show" "vm set" "vm target" "vm auto" "vm pause" "vm resume" reload events --json --socket; do
    grep -q -- "$w" <<<"$text" || fail "balloonctl(8) does not mention \"$w\""
done
text=$(MANPATH="$D/usr/share/man" MANWIDTH=80 man 5 balloond.conf 2>/dev/null)
for k in $(sed -n 's/^ \*   \([a-z_]*\) *=.*/\1/p' src/daemon/conf.h | sort -u); do
    grep -qw -- "$k" <<<"$text" || fail "balloond.conf(5) does not document the key \"$k\" (src/daemon/conf.h)"
done
pass "3 man pages render without warnings$(command -v mandoc >/dev/null && echo " and lint clean"); every config key and balloonctl command documented"

# The unit: systemd-analyze verify on the installed file, with ExecStart
# pointing into DESTDIR (verify needs the binary) and MANPATH there, so that
# its Documentation= man: links are checked against the installed pages.
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (Debian: systemd)"
mkdir -p "$RUN/unit"
sed "s|^ExecStart=/usr/sbin/balloond |ExecStart=$D/usr/sbin/balloond |" \
    "$D/usr/lib/systemd/system/balloond.service" >"$RUN/unit/balloond.service"
out=$(MANPATH="$D/usr/share/man" systemd-analyze verify "$RUN/unit/balloond.service" 2>&1) ||
    fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
for k in Type=notify NotifyAccess=main WatchdogSec= MemoryMax= OOMScoreAdjust= CapabilityBoundingSet= \
    ProtectSystem=strict RuntimeDirectory=balloond RuntimeDirectoryPreserve=yes StateDirectory=balloond; do
    grep -q "^$k" "$RUN/unit/balloond.service" || fail "the unit has no $k"
done
score=$(systemd-analyze security --offline=true "$RUN/unit/balloond.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for balloond.service: \([0-9.]*\).*/\1/p')
if [ -n "$score" ]; then
    awk -v s="$score" 'BEGIN { exit !(s <= 5.0) }' || fail "systemd-analyze security: exposure $score, above 5.0"
    pass "systemd-analyze verify passes on the installed unit; security exposure $score (of 10, lower is safer)"
else
    pass "systemd-analyze verify passes on the installed unit (security --offline not supported here)"
fi

# Completion: loads, and completes commands, sub-commands, keys and VM names.
comp="$D/usr/share/bash-completion/completions/balloonctl"
out=$(bash -c 'source "$1" && complete -p balloonctl' _ "$comp" 2>&1) || fail "completion does not load: $out"
[ "$out" = "complete -F _balloonctl balloonctl" ] || fail "complete -p balloonctl: $out"
# complete LINE: what <TAB> at the end of LINE offers, space-separated.
complete_line() {
    PATH="$D/usr/bin:$PATH" bash -c '
        source "$1"
        COMP_LINE=$2; COMP_POINT=${#COMP_LINE}
        read -r -a COMP_WORDS <<<"$COMP_LINE"; COMP_CWORD=${#COMP_WORDS[@]}
        _balloonctl
        echo "${COMPREPLY[*]}"' _ "$comp" "$1"
}
check_completion() {
    local got
    got=$(complete_line "$1")
    [ "$got" = "$2" ] || fail "completing \"$1\": \"$got\", expected \"$2\""
}
check_completion "balloonctl " "status top vm reload events"
check_completion "balloonctl vm " "show set target auto pause resume"
check_completion "balloonctl vm set web1 " "min= max= buffer= shares="
check_completion "balloonctl vm set web1 min=1G s" "shares="
check_completion "balloonctl --j" "--json"
check_completion "balloonctl events -" "-f --follow"
check_completion "balloonctl status --sort " "rss target pressure name actual"
check_completion "balloonctl --sort p" "pressure"
check_completion "balloonctl status --s" "--sort"
check_completion "balloonctl status --top 5 -" "-j --json --sort --top"
if [ -x "$BUILD/tests/fakeqmp" ]; then
    daemon_config "$RUN" ""
    "$BUILD/tests/fakeqmp" silent "$RUN/qmp/web1" &
    FAKE=$!
    daemon_start "$RUN" --no-host-tuning || fail "balloond did not start"
    wait_until 10 "web1 listed" vm_listed "$RUN" web1 || fail "web1 never listed"
    check_completion "balloonctl -s $RUN/ctl.sock vm show " "web1"
    check_completion "balloonctl --socket $RUN/ctl.sock vm pause w" "web1"
    check_completion "balloonctl -s $RUN/ctl.sock status --sort rss w" "web1"
    pass "completion loads; commands, vm sub-commands, keys, options, and VM names from a running balloond"
else
    pass "completion loads; commands, vm sub-commands, keys, options ($BUILD/tests/fakeqmp not built: VM names not checked)"
fi

make -s uninstall DESTDIR="$D" PREFIX=/usr BUILD="$BUILD" >/dev/null 2>&1 || fail "make uninstall failed"
left=$(find "$D" -type f)
[ "$left" = "$D/etc/balloond/balloond.conf" ] || fail "after uninstall, left: $left"
pass "make uninstall removes every installed file and keeps the operator's balloond.conf"
