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
ZTD_WRAP=""
wait_steps=100
if [ -n "${ZT_VALGRIND:-}" ]; then
	ZTD_WRAP="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --track-fds=no"
	wait_steps=400
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
	supervisor_cleanup
	# Their processes were all tracked and stopped above.
	for name in $test_accounts; do
		retry userdel -f "$name"
	done
	test_accounts=""
	[ -n "${work:-}" ] && [ -z "${ZT_KEEP:-}" ] && rm -rf "$work"
}

finish() {
	echo "1..$tap_count"
	[ "$tap_failed" -eq 0 ]
}

trap cleanup EXIT
trap 'exit 1' INT TERM

work=$(mktemp -d /tmp/zt-test.XXXXXX)
chmod 0755 "$work"

# wait_for CONDITION-COMMAND...: up to 5 s (20 s under valgrind).
wait_for() {
	local i
	for i in $(seq $wait_steps); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# start_logsink DIR: a syslog socket at DIR/log.sock writing DIR/syslog.out.
# As root, its queue is made 512 datagrams deep (the kernel reads
# net.unix.max_dgram_qlen when the socket is made; the setting is put back
# at once): Debian's default of 10 lets a loaded test machine's sink fall
# behind a burst, and then ztd rightly denies what it cannot audit.
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
	track $!
	wait_for test -S "$1/log.sock"
	[ -n "$qlen" ] && echo "$qlen" >"$knob"
	flock -u 9
	exec 9>&-
	return 0
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
