#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# TESTING.md item 17, on a running ztd: its wall clock stepped forward a
# day and then back changes no lifetime.  The machine's clock cannot be
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
step() { # "+1d", "-1d", "+0": a whole file renamed in (never read empty)
	echo "$1" >"$work/offset.new" && mv -f "$work/offset.new" "$work/offset"
}

# Two agents on existing system accounts (nothing is added to the
# system): "worker" with a grant of an hour for the decisions across the
# steps, "brief" with one of 8 s for the expiry.
agent_uid=$(id -u daemon)
brief_uid=$(id -u bin)
cp /bin/sleep "$work/agent-bin"
cp /bin/true "$work/brief-bin"
chmod 0755 "$work/agent-bin" "$work/brief-bin"
digest=$(sha256sum "$work/agent-bin" | cut -d' ' -f1)
brief_digest=$(sha256sum "$work/brief-bin" | cut -d' ' -f1)
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
    session_ttl = 3600;
    decision_ttl = 600;
    network = ( { to = "127.0.0.1/32"; ports = "5432"; proto = "tcp"; } );
  },
  {
    name = "brief";
    accounts = ["bin"];
    pam_services = ["zt-agent"];
    binary = "$work/brief-bin";
    sha256 = ["$brief_digest"];
    session_ttl = 8;
    decision_ttl = 5;
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

# Sessions driven through fifos: one command in, one answer line out.
open_session() { # NAME UID
	mkfifo "$work/$1.in"
	"$TESTTOOL" session "$sock" "$2" zt-agent <"$work/$1.in" \
	    >"$work/$1.out" &
	track $!
	exec {fd}>"$work/$1.in"
	eval "${1}_fd=$fd"
	wait_for test -s "$work/$1.out"
}
grant_of() { head -n 1 "$work/$1.out" | sed -n 's/.* grant=\([0-9a-f]\{32\}\):.*/\1/p'; }
open_session s1 "$agent_uid"
grant=$(grant_of s1)
check "worker's session gets a grant of an hour ($grant)" test -n "$grant"
opened=$SECONDS
open_session s2 "$brief_uid"
brief=$(grant_of s2)
check "brief's session gets a grant of 8 s ($brief)" test -n "$brief"
ask() { # COMMAND...: the answer line
	local lines
	lines=$(wc -l <"$work/s1.out")
	echo "$*" >&"$s1_fd"
	wait_for has_lines "$work/s1.out" $((lines + 1))
	tail -n 1 "$work/s1.out"
}
out=$(ask decide connect tcp:127.0.0.1:5432)
check "a connect is allowed and cacheable ($out)" has "$out" '^allow risk=low ttl='

ahead() { t=$(ztd_time); [ -n "$t" ] && [ $((t - $(date +%s))) -ge 86300 ]; }
behind() { t=$(ztd_time); [ -n "$t" ] && [ $(($(date +%s) - t)) -ge 86300 ]; }
step "+1d"
check "ztd's wall clock jumped a day ahead" wait_for ahead
out=$(ask decide connect tcp:127.0.0.1:5432)
check "a day later by the wall clock, the grant still decides ($out)" \
    has "$out" '^allow risk=low'
check "... from the cache (its 600 s are not over)" \
    wait_for logged "decision=allow action=connect .*grant=$grant cache=hit"
check "ztctl grants still lists the grant" \
    sh -c "'$ZTCTL' --socket '$sock' grants | grep -q '^$grant '"

step "-1d"
check "then a day behind" wait_for behind
out=$(ask decide connect tcp:127.0.0.1:5432)
check "a day back, the grant still decides ($out)" has "$out" '^allow'

# brief's grant ends when its 8 s on CLOCK_BOOTTIME are over: not at the
# forward step (a grant timed by the wall clock would have ended there,
# unless this machine took 8 s to get to it: then this proves less but
# still holds), not a day after the backward one.
gone() { ! "$ZTCTL" --socket "$sock" grants | grep -q "^$1 "; }
for _ in $(seq 600); do gone "$brief" && break; sleep 0.1; done
lived=$((SECONDS - opened))
check "brief's grant ended on its own (after ${lived} s)" gone "$brief"
check "and not before its 8 s (${lived} s)" test "$lived" -ge 7
check "its end is logged as expiry" \
    wait_for logged "grant $brief \(agent brief, account bin\) ended: expired"
check "worker's grant of an hour lives on" \
    sh -c "'$ZTCTL' --socket '$sock' grants | grep -q '^$grant '"
step "+0"

finish
