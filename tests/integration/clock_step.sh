#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# TESTING.md item 17, on a running ztd: its wall clock stepped forward two
# hours and then back changes no lifetime.  The machine's clock cannot be
# stepped under other tests, so ztd runs with libfaketime (Debian's
# libfaketime, LD_PRELOAD): CLOCK_REALTIME and time() follow an offset in
# a file this test rewrites, CLOCK_MONOTONIC and CLOCK_BOOTTIME stay real
# (FAKETIME_DONT_FAKE_MONOTONIC).  zt-exec is setgid, so the loader
# ignores LD_PRELOAD for it: its side is clock_sources.sh's.  The step is
# proven first: the CRL's thisUpdate, ztd's time(), moves with it.
set -u
. "$(dirname "$0")/lib.sh"

faketime=""
for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
	[ -e "$f" ] && faketime=$f && break
done
if [ -z "$faketime" ]; then
	echo "1..0 # SKIP libfaketime is not installed (scripts/install-deps)"
	exit 0
fi

sock=$work/ztd.sock
start_logsink "$work"
logged() { grep -qE -- "$1" "$work/syslog.out"; }
has() { printf '%s' "$1" | grep -q -- "$2"; }  # TEXT REGEX
step() { echo "$1" >"$work/offset"; }           # "+2h", "-2h", "+0"

agent_uid=$(id -u daemon)
cp /bin/sleep "$work/agent-bin"
chmod 0755 "$work/agent-bin"
digest=$(sha256sum "$work/agent-bin" | cut -d' ' -f1)
mkdir -m 0700 "$work/state"
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; agent_group = ""; };
attestation: { mode = "software"; };
agents = (
  {
    name = "worker";
    accounts = ["daemon"];
    pam_services = ["zt-agent"];
    binary = "$work/agent-bin";
    sha256 = ["$digest"];
    session_ttl = 12;
    decision_ttl = 10;
    network = ( { to = "127.0.0.1/32"; ports = "5432"; proto = "tcp"; } );
  }
);
EOC
chmod 0644 "$work/ztd.conf"
step "+0"
# An ASan build's runtime would refuse a library loaded before it.
env LD_PRELOAD="$faketime" FAKETIME_TIMESTAMP_FILE="$work/offset" \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
    "$ZTD" --foreground --config "$work/ztd.conf" --socket "$sock" \
    --syslog-socket "$work/log.sock" 2>"$work/ztd.stderr" &
ztd_pid=$!
track $ztd_pid
check "ztd starts under libfaketime" wait_for test -S "$sock"

# ztd's wall clock, as it writes it in a CRL it signs now.
ztd_time() {
	"$ZTCTL" --socket "$sock" ca crl 2>/dev/null |
	    openssl crl -noout -lastupdate 2>/dev/null | cut -d= -f2 |
	    xargs -r -I{} date -d {} +%s
}
t=$(ztd_time)
check "ztd's wall clock is the machine's before the step ($t)" \
    sh -c "[ -n '$t' ] && [ \$(( $t - \$(date +%s) )) -le 5 ] && [ \$(( \$(date +%s) - $t )) -le 5 ]"

# A session (grant of 12 s), then one decision, cached for 10 s.
mkfifo "$work/s1.in"
"$TESTTOOL" session "$sock" "$agent_uid" zt-agent <"$work/s1.in" \
    >"$work/s1.out" &
track $!
exec {s1_fd}>"$work/s1.in"
opened=$SECONDS
wait_for test -s "$work/s1.out"
grant=$(head -n 1 "$work/s1.out" | sed -n 's/.* grant=\([0-9a-f]\{32\}\):.*/\1/p')
check "a session gets a grant of 12 s ($grant)" test -n "$grant"
ask() { # COMMAND...: the answer line
	local lines
	lines=$(wc -l <"$work/s1.out")
	echo "$*" >&"$s1_fd"
	wait_for test "$(wc -l <"$work/s1.out")" -gt "$lines"
	tail -n 1 "$work/s1.out"
}
out=$(ask decide connect tcp:127.0.0.1:5432)
check "a connect is allowed and cacheable ($out)" has "$out" '^allow risk=low ttl='

step "+2h"
t=$(ztd_time)
check "ztd's wall clock jumped two hours ahead ($t)" \
    sh -c "[ -n '$t' ] && [ \$(( $t - \$(date +%s) )) -ge 7100 ]"
out=$(ask decide connect tcp:127.0.0.1:5432)
check "two hours later by the wall clock, the grant still decides ($out)" \
    has "$out" '^allow risk=low'
check "... from the cache (its 10 s are not over)" \
    wait_for logged "decision=allow action=connect .*grant=$grant cache=hit"
check "ztctl grants still lists the grant" \
    sh -c "'$ZTCTL' --socket '$sock' grants | grep -q '^$grant '"

step "-2h"
t=$(ztd_time)
check "then two hours behind ($t)" \
    sh -c "[ -n '$t' ] && [ \$(( \$(date +%s) - $t )) -ge 7100 ]"
out=$(ask decide connect tcp:127.0.0.1:5432)
check "two hours back, the grant still decides ($out)" has "$out" '^allow'

# The grant ends when its 12 s on CLOCK_BOOTTIME are over: not at the
# forward step, not two hours after the backward one.
gone() { ! "$ZTCTL" --socket "$sock" grants | grep -q "^$grant "; }
for _ in $(seq 600); do gone && break; sleep 0.1; done
lived=$((SECONDS - opened))
check "the grant ended on its own (after ${lived} s)" gone
check "and not before its 12 s (${lived} s)" test "$lived" -ge 11
check "its end is logged as expiry" \
    wait_for logged "grant $grant \(agent worker, account daemon\) ended: expired"
out=$(ask decide connect tcp:127.0.0.1:5432)
check "after it, the grant's decisions are denied ($out)" has "$out" '^deny'
step "+0"

finish
