#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Many clients and too few descriptors (TESTING.md 14): several uids hold
# every connection they may, some of them slow, 1 000 more connection
# attempts arrive; new clients are refused, root's ztctl status and a real
# PAM request through the built pam_zt.so are still answered.  Then ztd
# under a hard limit of 64 descriptors: it refuses what it cannot hold,
# neither dies nor spins, and serves root once descriptors are free.
set -u
. "$(dirname "$0")/lib.sh"

sock=$work/ztd.sock
start_logsink "$work"
module=${ZT_PAM_MODULE:-$top_builddir/pam_module/.libs/pam_zt.so}
[ -n "${ZT_PAM_MODULE:-}" ] || [ -f "$module" ] ||
    module=$top_builddir/.libs/pam_zt.so
wrapper=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so \
    2>/dev/null | head -n 1)

users=""
for u in nobody daemon bin sys; do
	id "$u" >/dev/null 2>&1 && users="$users $u"
done
if [ "$(id -u)" != 0 ] || [ "$(echo $users | wc -w)" -lt 3 ]; then
	echo "1..0 # SKIP needs root and at least three of nobody, daemon, bin, sys"
	exit 0
fi
if [ -n "${ZT_SANITIZED:-}" ]; then
	echo "1..0 # SKIP sanitizer build (pamtester cannot load the module)"
	exit 0
fi
if ! command -v pamtester >/dev/null || [ -z "$wrapper" ] ||
    ! command -v prlimit >/dev/null || [ ! -f "$module" ]; then
	echo "1..0 # SKIP needs pamtester, pam_wrapper, prlimit and $module"
	exit 0
fi
case "$module" in /*) ;; *) module=$PWD/$module ;; esac

as_user() { # USER COMMAND...: only in a subshell (it execs)
	local u=$1
	shift
	exec setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups -- "$@"
}
start_ztd() { # CONFIG [PREFIX...]
	local conf=$1
	shift
	"$@" "$ZTD" --foreground --config "$conf" --socket "$sock" \
	    --syslog-socket "$work/log.sock" 2>>"$work/ztd.stderr" &
	ztd_pid=$!
	track $ztd_pid
	wait_for test -S "$sock"
}
stop_ztd() { # sets ztd_status
	kill -TERM "$ztd_pid" 2>/dev/null
	wait "$ztd_pid" 2>/dev/null
	ztd_status=$?
}
cpu_ticks() { # PID: its utime + stime, in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# A real PAM stack in a private directory (pam_wrapper), the built module
# at this ztd with a 3 s budget: success or a deny within it is an answer;
# PAM_AUTHINFO_UNAVAIL ("cannot retrieve authentication info") is not.
mkdir -m 0755 "$work/pam.d"
cat >"$work/pam.d/zt-agent" <<EOP
account [success=ok ignore=ignore default=die] $module socket=$sock timeout=3000
account required pam_permit.so
EOP
pam_ask() { # prints pamtester's output; its status
	LD_PRELOAD=$wrapper PAM_WRAPPER=1 \
	    PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
	    pamtester zt-agent daemon acct_mgmt 2>&1
}
answered() { # PAMTESTER-STATUS OUTPUT
	[ "$1" = 0 ] || ! has "$2" 'retrieve authentication info'
}

cp /bin/sleep "$work/agent-bin"
chmod 0755 "$work/agent-bin"
digest=$(sha256sum "$work/agent-bin" | cut -d' ' -f1)
mkdir -m 0700 "$work/state"
agents="agents = ( { name = \"svc\"; accounts = [\"daemon\"];
  pam_services = [\"zt-agent\"]; binary = \"$work/agent-bin\";
  sha256 = [\"$digest\"]; } );"
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; max_clients = 64; max_clients_per_uid = 8;
  idle_timeout = 3600; };
attestation: { mode = "software"; };
$agents
EOC
chmod 0644 "$work/ztd.conf"

# ------------------------------------------------ many clients
check "ztd starts (max_clients 64, max_clients_per_uid 8)" \
    start_ztd "$work/ztd.conf"
out=$(pam_ask)
check "unloaded: the PAM request is answered with an allow ($out)" \
    test $? -eq 0
holders=""
for u in $users; do
	# 6 silent (a slow client that never finishes a request) and 2
	# sending one byte (on SOCK_SEQPACKET a whole, bad message: ztd
	# answers with an error and drops them).
	(as_user "$u" "$TESTTOOL" hold "$sock" 6) >"$work/hold-$u.out" &
	track $!
	holders="$holders $!"
	(as_user "$u" "$TESTTOOL" hold "$sock" 2 byte) >"$work/byte-$u.out" &
	track $!
	holders="$holders $!"
done
for u in $users; do
	wait_for grep -q '^held' "$work/hold-$u.out"
	wait_for grep -q '^held' "$work/byte-$u.out"
	check "$u holds 6 silent connections ($(cat "$work/hold-$u.out"))" \
	    grep -qx 'held 6' "$work/hold-$u.out"
done
check "the one-byte clients get a bad-request answer and are dropped" \
    wait_for logged -F "bad request:"
# 1 000 attempts in all, spread over the uids, all at once; root and PAM
# ask meanwhile.
n=$((1000 / $(echo $users | wc -w)))
bursts=""
# Each burst keeps what ztd accepted open to the end (hold), so that what
# one uid was given at once is what it holds.
for u in $users; do
	(as_user "$u" "$TESTTOOL" burst "$sock" "$n" hold) \
	    >"$work/burst-$u.out" &
	track $!
	bursts="$bursts $!"
done
status_out=$("$ZTCTL" --socket "$sock" status 2>&1)
status_rc=$?
pam_out=$(pam_ask)
pam_rc=$?
for u in $users; do
	wait_for grep -q '^accepted' "$work/burst-$u.out" ||
	    wait_for grep -q '^accepted' "$work/burst-$u.out"
done
for pid in $bursts; do
	stop_pid "$pid"
done
check "during the burst root's ztctl status is answered" \
    sh -c "[ $status_rc -eq 0 ] && printf '%s' \"\$1\" | grep -q generation" _ "$status_out"
check "during the burst the PAM request is answered within its 3 s budget (status $pam_rc)" \
    answered "$pam_rc" "$pam_out"
[ "$pam_rc" = 0 ] || diag "$pam_out"
for u in $users; do
	out=$(cat "$work/burst-$u.out")
	a=$(printf '%s' "$out" | sed -n 's/^accepted \([0-9]*\) refused \([0-9]*\) failed 0 silent 0$/\1/p')
	r=$(printf '%s' "$out" | sed -n 's/^accepted \([0-9]*\) refused \([0-9]*\) failed 0 silent 0$/\2/p')
	check "$u's $n attempts: each answered ($out)" \
	    test -n "$a" -a "$((${a:-0} + ${r:-0}))" -eq "$n"
	check "$u took at most its 2 free slots ($a)" \
	    test -n "$a" -a "${a:-9}" -le 2
done
check "the refusals are logged, rate-limited, with their count" \
    synced sh -c "grep -c 'refused: too many connections for this uid' '$work/syslog.out' | awk '{ exit !(\$1 >= 1 && \$1 < 100) }' && grep -q 'more refused since the last such line' '$work/syslog.out'"
out=$("$ZTCTL" --socket "$sock" status 2>&1)
check "after the burst, with the holders still there, root is answered" \
    has "$out" 'generation'
out=$(pam_ask)
rc=$?
check "and the PAM request too ($(printf '%s' "$out" | tail -n 1))" \
    answered "$rc" "$out"
for pid in $holders; do
	stop_pid "$pid"
done
stop_ztd
check "ztd stops cleanly after the load (exit 0)" test "$ztd_status" -eq 0

# ------------------------------------------------ 64 descriptors
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; max_clients = 1000;
  max_clients_per_uid = 1000; };
attestation: { mode = "software"; };
$agents
EOC
check "ztd starts under prlimit --nofile=64:64" \
    start_ztd "$work/ztd.conf" prlimit --nofile=64:64 --
check "it says the limit is below what its pools need" \
    wait_for logged -F "the descriptor limit (64) is below"
out=$("$ZTCTL" --socket "$sock" status 2>&1)
check "root's status is answered before the burst" has "$out" 'generation'
before=$(cpu_ticks "$ztd_pid")
(as_user nobody "$TESTTOOL" burst "$sock" 300 hold) >"$work/fd-burst.out" &
fd_burst=$!
track $fd_burst
wait_for grep -q '^accepted' "$work/fd-burst.out" ||
    wait_for grep -q '^accepted' "$work/fd-burst.out"
out=$(cat "$work/fd-burst.out")
a=$(printf '%s' "$out" | sed -n 's/^accepted \([0-9]*\) refused \([0-9]*\) failed 0 silent 0$/\1/p')
r=$(printf '%s' "$out" | sed -n 's/^accepted \([0-9]*\) refused \([0-9]*\) failed 0 silent 0$/\2/p')
check "300 attempts: some accepted, the rest answered 'busy', none left hanging ($out)" \
    test "${a:-0}" -gt 0 -a "${r:-0}" -gt 0 -a "$((${a:-0} + ${r:-0}))" -eq 300
check "the refusal says why: out of descriptors" \
    wait_for logged -F "refused: out of descriptors"
sleep 5		# the burst holds every descriptor ztd could give it
kill -0 "$ztd_pid" 2>/dev/null
check "ztd is alive with every descriptor taken" test $? -eq 0
after=$(cpu_ticks "$ztd_pid")
tck=$(getconf CLK_TCK)
check "ztd did not spin: $((after - before)) ticks of CPU over the burst and 5 s held (< 2.5 s)" \
    test "$((after - before))" -lt "$((tck * 5 / 2))"
lines=$(synced grep -c "refused: out of descriptors" "$work/syslog.out")
check "the out-of-descriptors lines are bounded ($lines for ${r:-0} refusals)" \
    test "$lines" -ge 1 -a "$lines" -le 20
stop_pid $fd_burst
check "once the descriptors are free root's status is answered" \
    wait_for sh -c "'$ZTCTL' --socket '$sock' status 2>/dev/null | grep -q generation"
out=$(pam_ask)
rc=$?
check "and the PAM request ($(printf '%s' "$out" | tail -n 1))" answered "$rc" "$out"
stop_ztd
check "ztd stops cleanly (exit 0)" test "$ztd_status" -eq 0
[ "$ztd_status" = 0 ] || diag "$(cat "$work/ztd.stderr")"

finish
