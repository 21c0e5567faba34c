# SPDX-License-Identifier: Apache-2.0
# Shared shell for integration tests: TAP output, temp dirs, process cleanup.

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
ZTD=${ZT_TEST_ZTD:-$top_builddir/ztd}
ZTCTL=$top_builddir/ztctl
TESTTOOL=$top_builddir/tests/helpers/zt-testtool
ZTEXEC=${ZT_TEST_ZTEXEC:-$top_builddir/seccomp/zt-exec}
PROBE=$top_builddir/tests/helpers/zt-probe

# ZT_VALGRIND=1: run ztd under valgrind; a leak or memory error fails.
# wait_for polls for up to 30 s (120 s under valgrind): it returns as soon as
# the condition holds, so the bound only matters to a loaded machine, which
# once missed the former 5 s (swtpm restarted, trust returning).
ZTD_WRAP=""
wait_steps=600
if [ -n "${ZT_VALGRIND:-}" ]; then
	ZTD_WRAP="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --track-fds=no"
	wait_steps=2400
fi

tap_count=0
tap_failed=0
started_pids=""

ok() {
	tap_count=$((tap_count + 1))
	echo "ok $tap_count - $*"
}

not_ok() {
	tap_count=$((tap_count + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_count - $*"
}

skip() {
	tap_count=$((tap_count + 1))
	echo "ok $tap_count - $* # SKIP"
}

# check "description" command...: one TAP line from the command's status.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# require "description" command...: check's TAP line, and a failure ends
# the test there (what follows stands on it: an account, a mount).
require() {
	local what=$1
	shift
	if "$@"; then
		ok "$what"
		return 0
	fi
	not_ok "$what"
	finish
	exit 1
}

# quiet command...: run it with its output thrown away.
quiet() {
	"$@" >/dev/null 2>&1
}

diag() {
	printf '# %s\n' "$@" | sed '2,$s/^/# /'
}

# Remember a pid so the trap stops it, whatever happens.
track() {
	started_pids="$started_pids $1"
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

cleanup() {
	local pid name
	for pid in $started_pids; do
		stop_pid "$pid"
	done
	# Once the processes that may hold them are stopped.
	for name in $private_mounts; do
		umount "$name"
	done
	private_mounts=""
	supervisor_cleanup
	# Their processes were all tracked and stopped above.
	for name in $test_accounts; do
		retry userdel -f "$name"
	done
	test_accounts=""
	[ -n "${work:-}" ] && [ -z "${ZT_KEEP:-}" ] && rm -rf "$work"
}

finish() {
	if [ -s "$work/sink-sync.failed" ]; then
		not_ok "every sink_sync saw its marker"
		diag "$(cat "$work/sink-sync.failed")"
	fi
	echo "1..$tap_count"
	[ "$tap_failed" -eq 0 ]
}

trap cleanup EXIT
trap 'exit 1' INT TERM

work=$(mktemp -d /tmp/zt-test.XXXXXX)
chmod 0755 "$work"

# has TEXT ERE: TEXT (one or more lines) matches the extended regex ERE.
has() {
	printf '%s' "$1" | grep -qE -- "$2"
}

# wait_for CONDITION-COMMAND...: up to 30 s (120 s under valgrind).
# has_lines FILE N: FILE has at least N lines.  For wait_for, which runs its
# command anew each time: a "$(wc -l <FILE)" among wait_for's arguments is
# counted once, before the first try, and then never changes.
has_lines() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

# A poll needs no sink_sync (logged below) but for its last try: a line
# found is proof, and a line still in flight is found by a later try.
wait_for() {
	local i sink_polling=1
	for i in $(seq $wait_steps); do
		"$@" && return 0
		sleep 0.05
	done
	sink_polling=""
	"$@"
}

# start_logsink DIR: a syslog socket at DIR/log.sock writing DIR/syslog.out
# (sets logsink_pid).  As root, its queue is made 512 datagrams deep (the
# kernel reads net.unix.max_dgram_qlen when the socket is made; the setting
# is put back at once): Debian's default of 10 lets a loaded test
# machine's sink fall behind a burst, and then ztd rightly denies what it
# cannot audit.
start_logsink() {
	local qlen="" knob=/proc/sys/net/unix/max_dgram_qlen
	: >"$1/syslog.out"
	# Tests run in parallel: the save, set and restore of the setting
	# happen under one lock, or one test would "restore" another's 512.
	exec 9>/tmp/ztgate-test-qlen.lock
	flock 9
	if [ "$(id -u)" = 0 ] && [ -w "$knob" ]; then
		qlen=$(cat "$knob")
		echo 512 >"$knob"
	fi
	"$TESTTOOL" logsink "$1/log.sock" "$1/syslog.out" &
	logsink_pid=$!
	track $!
	wait_for test -S "$1/log.sock"
	[ -n "$qlen" ] && echo "$qlen" >"$knob"
	flock -u 9
	exec 9>&-
	return 0
}

# sink_sync [DIR...]: every datagram sent to DIR/log.sock (start_logsink;
# default $work) before this call is in DIR/syslog.out when it returns 0.
# ztd and zt-exec send an audit or log line before they answer, and the
# sink writes it a moment later: a check of the file straight after an
# action may miss a line still in flight, so a check that a line is NOT
# there, or a count, proves nothing without this.  A marker datagram
# (logger, unique to this call) goes to the socket; a unix datagram socket
# queues in order and the sink writes in order, so once the marker is in
# the file every line sent before it is too.  The markers stay in the file
# (lines of their own: "<13>... zt-sync-PID-..."), which no check counts.
# A marker not seen within wait_for's bound fails the call, and finish then
# fails the test (a $(...) or sh -c caller could not say so itself).
sink_sync() {
	local dir mark i
	[ $# -gt 0 ] || set -- "$work"
	for dir in "$@"; do
		sink_seq=$((${sink_seq:-0} + 1))
		mark="zt-sync-$$-$BASHPID-$sink_seq-$(date +%s%N)"
		logger -d -u "$dir/log.sock" -- "$mark"
		# The sink writes it within a few ms, mostly: 10 ms polls
		# first, then wait_for's bound.
		for i in 1 2 3 4 5 6 7 8 9 10; do
			grep -qF -- " $mark" "$dir/syslog.out" && continue 2
			sleep 0.01
		done
		if ! wait_for grep -qF -- " $mark" "$dir/syslog.out"; then
			echo "sink_sync: $mark never reached $dir/syslog.out" \
			    >>"$work/sink-sync.failed"
			return 1
		fi
	done
}

# synced [-d DIR]... COMMAND...: COMMAND after sink_sync of each DIR's sink
# (default $work's), failing if that does: for a check that a line is
# absent, or a count of lines.
synced() {
	local dirs=()
	while [ "$1" = -d ]; do
		dirs+=("$2")
		shift 2
	done
	sink_sync "${dirs[@]}" && "$@"
}

# logged [-F] PATTERN [DIR]: DIR/syslog.out (default $work) has a line
# matching the ERE PATTERN (-F: holding the fixed string), after
# sink_sync when it is not there at once (a line found needs no sync; nor
# does a try of wait_for's but its last).
# logged_since MARK [-F] PATTERN [DIR]: the same, after the first MARK
# lines (sink_lines).
# not_logged [-F] PATTERN [DIR]: after sink_sync, no line matches (always
# this, never "! logged": under wait_for, logged may skip the sync).
logged() {
	logged_since 0 "$@"
}
logged_since() {
	local mark=$1 how=-E
	shift
	[ "$1" = -F ] && { how=-F; shift; }
	sink_has "$mark" "$how" "$1" "${2:-$work}" && return 0
	[ -z "${sink_polling:-}" ] || return 1
	sink_sync "${2:-$work}" && sink_has "$mark" "$how" "$1" "${2:-$work}"
}
not_logged() {
	not_logged_since 0 "$@"
}
# not_logged_since MARK [-F] PATTERN [DIR]: no line after line MARK
# matches, once the sink has everything sent so far.
not_logged_since() {
	local mark=$1 how=-E
	shift
	[ "$1" = -F ] && { how=-F; shift; }
	sink_sync "${2:-$work}" && ! sink_has "$mark" "$how" "$1" "${2:-$work}"
}
# sink_has MARK -E|-F PATTERN DIR: a line after line MARK of DIR/syslog.out
# matches, now.
sink_has() {
	tail -n +"$(($1 + 1))" "$4/syslog.out" | grep -q "$2" -- "$3"
}

# sink_lines [DIR]: after sink_sync, the number of lines in DIR/syslog.out
# (default $work): a mark after which a check looks for new lines only.
sink_lines() {
	sink_sync "${1:-$work}" && wc -l <"${1:-$work}/syslog.out"
}

# start_ztd: ztd in the foreground with $work/ztd.conf on $sock, logging
# to $work/log.sock (start_logsink) and $work/ztd.stderr; sets ztd_pid.
# (Tests with needs of their own define their own.)
start_ztd() {
	: >"$work/ztd.stderr"
	$ZTD_WRAP "$ZTD" --foreground --config "$work/ztd.conf" \
	    --socket "$sock" --syslog-socket "$work/log.sock" \
	    2>>"$work/ztd.stderr" &
	ztd_pid=$!
	track $ztd_pid
	wait_for test -S "$sock"
}

# worker_conf ZTD-KEYS [AGENT-KEYS]: $work/ztd.conf (0644) with the agent
# "worker" on the existing system account "daemon" (PAM service
# zt-agent), its binary a pinned private copy of sleep, software
# attestation; ZTD-KEYS go into the ztd section (state_dir is
# $work/state, made here), AGENT-KEYS into the agent.
worker_conf() {
	if [ ! -f "$work/agent-bin" ]; then
		cp /bin/sleep "$work/agent-bin" && chmod 0755 "$work/agent-bin"
	fi
	mkdir -p -m 0700 "$work/state"
	cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; agent_group = ""; $1 };
attestation: { mode = "software"; };
agents = (
  {
    name = "worker";
    accounts = ["daemon"];
    pam_services = ["zt-agent"];
    binary = "$work/agent-bin";
    sha256 = ["$(sha256sum "$work/agent-bin" | cut -d' ' -f1)"];
    ${2:-}
  }
);
EOC
	chmod 0644 "$work/ztd.conf"
}

# add_test_account NAME: a system account of this run's own (by pid), one
# left by an interrupted run removed first; cleanup removes it.
test_accounts=""
add_test_account() {
	if id "$1" >/dev/null 2>&1; then
		retry userdel -f "$1"
	fi
	retry useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin "$1" || return 1
	test_accounts="$test_accounts $1"
}

# private_tmpfs DIR: a tmpfs of this run's own mounted at DIR (made here,
# mode 0755, root's), where no writeback cleans a page (a cleaned page
# faults again on its next write, and the kernel updates the file's times
# then); cleanup unmounts it.
private_mounts=""
private_tmpfs() {
	mkdir -m 0755 "$1" &&
	    mount -t tmpfs -o mode=0755,size=16m "zt-test-$$" "$1" || return 1
	private_mounts="$private_mounts $1"
}

# same_size FILE...: each FILE grown (zeros at its end) to the size of the
# largest, 1 MiB at least: a page a shared mapping has never mapped takes
# its first write through a fault that updates the file's times, where a
# read fault maps up to 16 pages around it whose first write does not.
same_size() {
	local f size=1048576
	for f in "$@"; do
		[ "$(stat -c %s "$f")" -gt "$size" ] && size=$(stat -c %s "$f")
	done
	truncate -s "$size" "$@"
}

# retry COMMAND...: the shadow tools refuse while another holds
# /etc/group's lock (tests run in parallel): tries for about 9 s.
retry() {
	local i
	for i in $(seq 30); do
		"$@" 2>/dev/null && return 0
		sleep 0.3
	done
	"$@"
}

# supervisor_setup DIR: zt-exec as make install leaves it, setgid to a
# group of this run's own (ztd's supervisor_group: put
# "supervisor_group = \"$SUPERVISOR_GROUP\";" into ztd.conf), copied into
# DIR; sets ZTEXEC and SUPERVISOR_GROUP.  The group goes with cleanup.
SUPERVISOR_GROUP=ztsup$$
supervisor_group_added=""
supervisor_setup() {
	getent group "$SUPERVISOR_GROUP" >/dev/null &&
	    retry groupdel "$SUPERVISOR_GROUP"
	retry groupadd --system "$SUPERVISOR_GROUP" || return 1
	supervisor_group_added=1
	install -o root -g "$SUPERVISOR_GROUP" -m 2755 "$ZTEXEC" \
	    "$1/zt-exec" || return 1
	ZTEXEC=$1/zt-exec
}
supervisor_cleanup() {
	[ -n "$supervisor_group_added" ] && retry groupdel "$SUPERVISOR_GROUP"
	supervisor_group_added=""
	return 0
}

# skip_unless_live_seccomp WHY-ROOT: a test that runs agents under zt-exec
# needs the plain build (ASan's shadow memory and leak checker do not mix
# with a filter and ptrace; TESTING.md allows it), root (system accounts)
# and seccomp user notification; otherwise it says so and skips.
skip_unless_live_seccomp() {
	local why=""
	if [ -n "${ZT_SANITIZED:-}" ]; then
		why="the live seccomp tests run in the plain build"
	elif [ "$(id -u)" != 0 ]; then
		why="$1"
	elif ! grep -qw user_notif /proc/sys/kernel/seccomp/actions_avail \
	    2>/dev/null; then
		why="the kernel has no seccomp user notification"
	fi
	[ -z "$why" ] && return 0
	echo "1..0 # SKIP $why"
	exit 0
}

# free_ports [N]: the first of N (default 1) ports in a row that no socket
# uses now, below the ephemeral range (32768-) so that no client
# connection, of this test or another running beside it, holds one.
free_ports() {
	local p n=${1:-1}
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		if ! ss -Hatun "( sport >= :$p and sport <= :$((p + n - 1)) )" |
		    grep -q .; then
			echo "$p"
			return
		fi
	done
}

# agent_run ACCOUNT AGENT ARGS...: AGENT under zt-exec ($ZTEXEC, ztd at
# $work/ztd.sock, syslog at $work/log.sock) as ACCOUNT, from $work, at most
# 60 s; sets out (its stdout) and rc, its stderr in $work/zx.err.
agent_run() {
	local who=$1 what=$2
	shift 2
	out=$(cd "$work" && timeout 60 setpriv --reuid="$who" --regid="$who" \
	    --clear-groups -- "$ZTEXEC" --socket "$work/ztd.sock" \
	    --syslog-socket "$work/log.sock" -- "$what" "$@" \
	    </dev/null 2>"$work/zx.err")
	rc=$?
}

# as_user USER COMMAND...: COMMAND as USER (its uid, primary group, no
# supplementary groups); only in a subshell, since it execs.
as_user() {
	local u=$1
	shift
	exec setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups -- "$@"
}

# filters_sent AGENT ACCOUNT: ztd ($work/syslog.out, start_logsink) launched
# AGENT as ACCOUNT and sent every launch its compiled filter.
filters_sent() {
	logged "grant [0-9a-f]+: agent $1 account $2 launched" &&
	    not_logged -F "no compiled filter to send"
}

# skip_unless_checkout WHAT: a test that builds the tree again (WHAT says
# what) runs once, in the plain build of a git checkout: the sanitizer
# steps and make distcheck (a tarball's tree, built and tested already)
# skip it.
skip_unless_checkout() {
	local why=""
	if [ -n "${ZT_SANITIZED:-}" ]; then
		why="$1: in the plain build only"
	elif [ ! -e "$top_srcdir/.git" ]; then
		why="$1: from a git checkout only"
	fi
	[ -z "$why" ] && return 0
	echo "1..0 # SKIP $why"
	exit 0
}
