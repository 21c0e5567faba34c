#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Many clients and too few descriptors (TESTING.md 14): several uids hold
# every connection they may, some of them slow, 1 000 more connection
# attempts arrive; new clients are refused, root's ztctl status and a real
# PAM request through the built pam_zt.so are still answered.  Then ztd
# under a hard limit of 64 descriptors: it refuses what it cannot hold,
# neither dies nor spins, and serves root once descriptors are free.
# Then an unprivileged peer repeating a refused request as fast as ztd
# answers, with the syslog receiver stopped: its lines are bounded, and
# the agent's PAM request is still allowed and audited.
# Then processes of one uid connecting in a loop: PAM and root are
# answered within PAM's budget.
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

# ------------------------------------------------ refused requests, over and over
# An unprivileged peer repeats a request it may not send (status: root's)
# on one connection as fast as ztd answers.  Each refusal was a log line,
# without bound (some 14 000 a second): they filled the disk, crowded
# ztd's audit lines out of the receiver's queue and rate limit, and once
# the receiver fell behind (here: stopped) they filled the relay's pipe,
# after which no record could be written and, with audit.require, the
# agent's PAM request was denied: a local lockout.  Peers' lines are
# bounded (100 at once, then 10 a second), the rest counted.
check "ztd starts (for the flood of refused requests)" \
    start_ztd "$work/ztd.conf"
nobody_uid=$(id -u nobody)
seen=$(sink_lines)
out=$(pam_ask)
check "the PAM request is allowed ($(printf '%s' "$out" | tail -n 1))" \
    test $? -eq 0
kill -STOP "$logsink_pid"
out=$(pam_ask)
check "with the syslog receiver stopped it is still allowed: its record waits in the relay's pipe ($(printf '%s' "$out" | tail -n 1))" \
    test $? -eq 0
spam=$(as_user nobody "$TESTTOOL" spam "$sock" 2 50000)
a=$(printf '%s' "$spam" | sed -n 's/^answered \([0-9]*\) closed 0 ms [0-9]*$/\1/p')
ms=$(printf '%s' "$spam" | sed -n 's/^answered [0-9]* closed 0 ms \([0-9]*\)$/\1/p')
check "nobody's status requests on one connection are each refused, the connection kept ($spam)" \
    test "${a:-0}" -gt 0
out=$(pam_ask)
rc=$?
check "after nobody's flood, the receiver still stopped, the PAM request is allowed, not denied for want of an audit record (status $rc: $(printf '%s' "$out" | tail -n 1))" \
    test "$rc" -eq 0
kill -CONT "$logsink_pid"
sleep 0.2	# a token again: the next line says how many were not logged
(as_user nobody "$TESTTOOL" spam "$sock" 2 1) >/dev/null
lines=$(synced tail -n +"$((seen + 1))" "$work/syslog.out" |
    grep -c "uid $nobody_uid gid [0-9]* pid [0-9]*: an unprivileged peer may not send status")
check "the refusals' lines are bounded: $lines for ${a:-0} requests in ${ms:-0} ms (at most 100 at once, 10 a second)" \
    test "$lines" -ge 1 -a "$lines" -le "$((100 + 10 * (${ms:-0} / 1000 + 2)))"
check "and the number of the others is logged" \
    logged_since "$seen" -F "more lines of unprivileged peers not logged before it"
allows=$(synced tail -n +"$((seen + 1))" "$work/syslog.out" |
    grep -c 'decision=allow action=session agent="svc" account="daemon"')
check "the three PAM requests' allows are all in the log ($allows)" \
    test "$allows" -eq 3
stop_ztd
check "ztd stops cleanly (exit 0)" test "$ztd_status" -eq 0

# ------------------------------------------------ a flood of connects
# Any local user's processes connecting in a loop keep ztd's listen
# backlog full.  A connect that finds no room waits in the kernel's line
# (zt_client_connect_within: a blocking connect, woken when ztd makes
# room), and one that finds room waits behind at most one accept burst
# (the backlog is 64 deep): PAM is answered within its 3 s budget.  With
# naps between tries and a backlog of SOMAXCONN (4096), root's and PAM's
# connects lost the race for room, then waited behind 4096 of the flood's
# connections: 0.7-3.7 s with 32 such processes on 2 CPUs, and with the
# 96 here every PAM request timed out (5 of 5).
# ztd.conf's defaults (max_clients 1024, max_clients_per_uid 8): the
# flood's connections beyond 8 are refused.
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; };
attestation: { mode = "software"; };
$agents
EOC
check "ztd starts (for the flood of connects)" start_ztd "$work/ztd.conf"
floods=""
for i in $(seq 96); do
	(as_user nobody "$TESTTOOL" flood "$sock" 30) >"$work/flood-$i.out" &
	track $!
	floods="$floods $!"
done
backlog_full() { # the listening socket's queue (Recv-Q) at its bound (Send-Q)
	ss -xlH | awk -v p="$sock" '$5 == p && $3 > 0 && $3 >= $4 { f = 1 } END { exit !f }'
}
check "nobody's 96 processes connecting in a loop fill ztd's backlog" \
    wait_for backlog_full
answered_n=0
for i in 1 2 3 4 5; do
	out=$(pam_ask)
	rc=$?
	[ "$rc" = 0 ] && answered_n=$((answered_n + 1))
	[ "$rc" = 0 ] || diag "$out"
done
check "meanwhile 5 PAM requests are each allowed within their 3 s budget ($answered_n)" \
    test "$answered_n" -eq 5
out=$("$ZTCTL" --socket "$sock" status 2>&1)
check "and root's ztctl status is answered" has "$out" 'generation'
# All at once (one by one, each stop waits for its own end: 10 s).
kill -TERM $floods 2>/dev/null
for pid in $floods; do
	stop_pid "$pid"
done
stop_ztd
check "ztd stops cleanly (exit 0)" test "$ztd_status" -eq 0

# ------------------------------------------------ the supervisors' pool
# Any local uid may run the setgid zt-exec, whose connection is then a
# supervisor's.  One that is no agent's is answered "not an agent" and
# exits -- unless it cannot: its stderr a full pipe, it waits in the
# write that says so, its connection still open.  Such connections must
# not fill the supervisors' pool: a uid's connections that supervise no
# grant count against max_clients_per_uid, whatever their group; an
# agent's launch still gets its slot.
if grep -qw user_notif /proc/sys/kernel/seccomp/actions_avail 2>/dev/null &&
    supervisor_setup "$work"; then
	cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; max_clients = 6; max_clients_per_uid = 2;
  idle_timeout = 3600; supervisor_group = "$SUPERVISOR_GROUP"; };
attestation: { mode = "software"; };
agents = ( { name = "svc"; accounts = ["daemon"];
  pam_services = ["zt-agent", "zt-exec"]; binary = "$work/agent-bin";
  sha256 = ["$digest"]; } );
EOC
	check "ztd starts (max_clients 6, max_clients_per_uid 2)" \
	    start_ztd "$work/ztd.conf"
	# N zt-exec of uid nobody, each with its stderr a pipe filled to
	# the brim; prints their pids, keeps them until its stdin closes.
	cat >"$work/stuck.py" <<'EOF2'
import os, subprocess, sys
n, args = int(sys.argv[1]), sys.argv[2:]
r, w = os.pipe()
os.set_blocking(w, False)
try:
    while True:
        os.write(w, b"x" * 4096)
except BlockingIOError:
    pass
os.set_blocking(w, True)
procs = [subprocess.Popen(args, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=w)
         for _ in range(n)]
print(" ".join(str(p.pid) for p in procs), flush=True)
sys.stdin.read()
for p in procs:
    p.kill()
EOF2
	# Every one of them waits in a write to its stderr (what it had to
	# say of ztd's answer, or of its refusal): as root, which may read a
	# setgid process's /proc/PID/syscall ("1 0x2 ...": write on fd 2).
	all_stuck() {
		local p nr fd rest
		for p in $(cat "$work/stuck.out"); do
			read -r nr fd rest <"/proc/$p/syscall" || return 1
			[ "$nr $fd" = "1 0x2" ] || return 1
		done
		return 0
	}
	mkfifo "$work/stuck.in"
	(as_user nobody /usr/bin/python3 "$work/stuck.py" 6 "$ZTEXEC" \
	    --socket "$sock" --syslog-socket "$work/log.sock" -- \
	    "$work/agent-bin" 0 <"$work/stuck.in" >"$work/stuck.out") &
	stuck_pid=$!
	track $stuck_pid
	exec {stuck_fd}>"$work/stuck.in"
	wait_for test -s "$work/stuck.out"
	check "nobody's 6 zt-exec (no agent's) ran and wait in a write to stderr" \
	    wait_for all_stuck
	clients=$("$ZTCTL" --socket "$sock" --json status |
	    sed -n 's/.*"clients":\([0-9]*\).*/\1/p')
	out=$(as_user daemon "$ZTEXEC" --socket "$sock" \
	    --syslog-socket "$work/log.sock" -- "$work/agent-bin" 0 2>&1)
	rc=$?
	check "meanwhile the agent's own zt-exec launches and exits 0 ($rc: $out)" \
	    test "$rc" -eq 0
	check "nobody holds no more than max_clients_per_uid of them (ztd had $clients clients, ztctl's own included)" \
	    test "${clients:-9}" -le 3
	# A launch refused as busy is asked again (zt-exec: for 10 s), not
	# failed at once: nobody's seventh, refused while the six hold
	# nobody's slots, gets ztd's answer once they are gone.
	as_user nobody "$ZTEXEC" --socket "$sock" \
	    --syslog-socket "$work/log.sock" -- "$work/agent-bin" 0 \
	    >/dev/null 2>"$work/seventh.err" &
	seventh=$!
	track $seventh
	check "nobody's seventh zt-exec is refused as busy" wait_for logged \
	    "connection of uid $nobody_uid pid $seventh refused: "
	exec {stuck_fd}>&-
	stop_pid "$stuck_pid"
	wait "$seventh"
	rc=$?
	check "asked again, it gets ztd's answer once the six are gone: not an agent, 126 ($rc: $(cat "$work/seventh.err"))" \
	    sh -c '[ "$1" -eq 126 ] && grep -q "no agent" "$2"' _ "$rc" \
	    "$work/seventh.err"
	stop_ztd
	check "ztd stops cleanly (exit 0)" test "$ztd_status" -eq 0

	# Granted supervisors leave their uid's pending count, but hold
	# places in the pool: one agent account's launches stop at
	# max_supervisors_per_uid, so that it cannot fill the pool and
	# lock the other agents' launches out.
	sed -i 's/max_clients_per_uid = 2;/max_clients_per_uid = 2; max_supervisors_per_uid = 2;/' \
	    "$work/ztd.conf"
	check "ztd starts (max_supervisors_per_uid 2)" start_ztd "$work/ztd.conf"
	daemon_uid=$(id -u daemon)
	seen=$(sink_lines)
	# hold_two: two launches of daemon's agent that run on (held1,
	# held2); launch_once: one that exits at once (out, rc).
	hold_two() {
		local i
		for i in 1 2; do
			(as_user daemon "$ZTEXEC" --socket "$sock" \
			    --syslog-socket "$work/log.sock" -- \
			    "$work/agent-bin" 600 </dev/null >/dev/null 2>&1) &
			eval "held$i=\$!"
			track $!
		done
	}
	launch_once() {
		out=$(as_user daemon "$ZTEXEC" --socket "$sock" \
		    --syslog-socket "$work/log.sock" -- "$work/agent-bin" 0 2>&1)
		rc=$?
	}
	hold_two
	launched_n() { # N: ztd logged N launches of daemon
		[ "$(synced tail -n +"$((seen + 1))" "$work/syslog.out" |
		    grep -cE 'grant [0-9a-f]+: agent svc account daemon launched')" -eq "$1" ]
	}
	check "two launches of daemon's agent run" wait_for launched_n 2
	launch_once
	check "a third, asked again for 10 s while both run, fails: 125, daemon busy ($rc: $out)" \
	    sh -c '[ "$1" -eq 125 ] && printf "%s" "$2" | grep -q "busy for 10 s"' \
	    _ "$rc" "$out"
	check "ztd logged why: the uid supervises 2 grants already" logged_since "$seen" \
	    "launch of uid $daemon_uid pid [0-9]+ refused: agent svc account daemon supervises 2 grants already \\(max_supervisors_per_uid 2\\)"
	check "and no third grant was made" \
	    launched_n 2
	stop_pid "$held1"
	launch_once
	check "once one of the two ended, a launch runs again (exit $rc: $out)" \
	    test "$rc" -eq 0
	check "ztd logged that launch" wait_for launched_n 3
	stop_pid "$held2"

	# A grant that ends while its zt-exec runs on (revoked without
	# --kill, expired, its agent dropped by a reload: zt-exec keeps the
	# agent, every gated action denied) gives its launch back, but the
	# zt-exec keeps its connection, its place in the pool: it counts as
	# a supervisor's that supervises no grant again.  Counted nowhere,
	# an account could launch, outlive its grants and launch again
	# until the pool is full.
	seen=$(sink_lines)
	hold_two
	check "two launches of daemon's agent run again" wait_for launched_n 2
	out=$("$ZTCTL" --socket "$sock" revoke --account daemon 2>&1)
	check "root revokes both grants, without --kill ($out)" \
	    test "$out" = "revoked 2 grants"
	check "both zt-execs run on, their grants over" \
	    kill -0 "$held1" "$held2"
	launch_once
	check "a third, while those two hold daemon's max_clients_per_uid (2) ungranted, fails: 125, daemon busy ($rc: $out)" \
	    sh -c '[ "$1" -eq 125 ] && printf "%s" "$2" | grep -q "busy for 10 s"' \
	    _ "$rc" "$out"
	check "and no third grant was made" launched_n 2
	stop_pid "$held1"
	launch_once
	check "once one of them ended, a launch runs again (exit $rc: $out)" \
	    test "$rc" -eq 0
	stop_pid "$held2"
	stop_ztd
	check "ztd stops cleanly (exit 0)" test "$ztd_status" -eq 0
else
	skip "the supervisors' pool (needs seccomp user notification and a group)"
fi

finish
