#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Who is asking comes from the kernel alone (TESTING.md 12): forged
# SCM_CREDENTIALS, a connection handed to another uid, a connecting
# process that exited so that its pid could be reused.  Every message
# comes with the kernel's credentials of its sender (SO_PASSCRED on ztd's
# side): one from another process than the connector is refused and the
# connection closed.
set -u
. "$(dirname "$0")/lib.sh"

sock=$work/ztd.sock
start_logsink "$work"
# ztd ($ztd_pid on $sock) stopped while a root connector sends STATUS and
# is reaped; then let go: $out the tool's lines, $reaped 0 when it was.
# With "live", a live root connector's STATUS is queued too: ztd reads
# both in one pass (one poll(2) of both connectors' pidfds).
late_status() {
	local late_pid
	kill -STOP "$ztd_pid"
	"$TESTTOOL" late "$sock" ${1:-} >"$work/late.out" 2>&1 &
	late_pid=$!
	wait_for grep -q '^reaped$' "$work/late.out"
	reaped=$?
	kill -CONT "$ztd_pid"
	wait "$late_pid"
	out=$(cat "$work/late.out")
}
# ztd stopped while root's connector connects, hands its connection to a
# process of nobody and exits, and a child of that process takes its pid
# and sends STATUS; ztd accepts the connection only then.  $out the
# tool's lines.
cycle_before_accept() {
	local cycle_pid
	kill -STOP "$ztd_pid"
	"$TESTTOOL" cycle "$sock" "$nobody" >"$work/cycle.out" 2>&1 &
	cycle_pid=$!
	wait_for grep -q '^sending$' "$work/cycle.out"
	kill -CONT "$ztd_pid"
	wait "$cycle_pid"
	out=$(cat "$work/cycle.out")
}

if [ "$(id -u)" != 0 ] || ! id nobody >/dev/null 2>&1 ||
    ! id daemon >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root and the nobody and daemon accounts"
	exit 0
fi
nobody=$(id -u nobody)
agent_uid=$(id -u daemon)

# The agent's binary is a private copy of zt-testtool, pinned by digest:
# a process of the agent's account running it is the agent (orphan below).
cp "$TESTTOOL" "$work/agent-tool"
chmod 0755 "$work/agent-tool"
digest=$(sha256sum "$work/agent-tool" | cut -d' ' -f1)
mkdir -m 0700 "$work/state"
# idle_timeout: a connection handed on waits, unused, while a process
# cycles through every pid number (a minute and more under ASan on a busy
# machine): ztd's idle close would answer for it, not the identity check.
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; idle_timeout = 3600; };
attestation: { mode = "software"; };
agents = (
  {
    name = "self";
    accounts = ["daemon"];
    pam_services = ["zt-agent"];
    binary = "$work/agent-tool";
    sha256 = ["$digest"];
    commands = ( { path = "/usr/bin/rsync"; risk = "low"; } );
  }
);
EOC
chmod 0644 "$work/ztd.conf"
"$ZTD" --foreground --config "$work/ztd.conf" --socket "$sock" \
    --syslog-socket "$work/log.sock" 2>"$work/ztd.stderr" &
ztd_pid=$!
track $ztd_pid
check "ztd starts" wait_for test -S "$sock"
out=$("$ZTCTL" --socket "$sock" status 2>&1)
check "root's STATUS is answered (the request the forgers want)" \
    has "$out" 'generation 1'

# ------------------------------------------------ a. forged SCM_CREDENTIALS
# A process of uid nobody that kept CAP_SETUID, CAP_SETGID and
# CAP_SYS_ADMIN may make the kernel carry any credentials: it claims
# uid 0 and pid 1.  ztd never reads them (it does not even set
# SO_PASSCRED): the connection is nobody's, as SO_PEERCRED says.
out=$("$TESTTOOL" credforge "$sock" "$nobody" 2>&1)
forger=$(printf '%s\n' "$out" | sed -n 's/^pid \([0-9]*\) uid .*/\1/p')
check "the forger connected as uid $nobody ($forger)" \
    has "$out" "^pid [0-9]* uid $nobody\$"
check "capable forger claiming uid 0 pid 1: the kernel carries it, ztd refuses it" \
    has "$out" '^capable forged uid=0 pid=1: error -10017 permission denied$'
check "ztd's log names the connector's uid and pid, the claim only as the refused sender" \
    wait_for logged -F "uid $nobody gid $(id -g nobody) pid $forger: a message from pid 1 (real uid 0) on its connection refused, the connection closed"
check "and no refusal names the claimed uid 0 or pid 1" \
    synced sh -c "! grep -E 'uid 0 gid [0-9]+ pid [0-9]+: an|pid 1: an' '$work/syslog.out'"
check "without capabilities the kernel refuses to send a claimed uid 0 (EPERM)" \
    has "$out" '^forged uid=0: sendmsg EPERM$'
check "and a claimed pid 1 (EPERM)" \
    has "$out" '^forged pid=1: sendmsg EPERM$'
check "its own real credentials pass the kernel and ztd, and STATUS is still refused" \
    has "$out" '^own: error -10017 permission denied$'
check "... as an unprivileged peer's" \
    wait_for logged -F "uid $nobody gid $(id -g nobody) pid $forger: an unprivileged peer may not send status"
check "as without any credentials" \
    has "$out" '^none: error -10017 permission denied$'
kill -0 "$ztd_pid" 2>/dev/null
check "ztd is still alive" test $? -eq 0

# ------------------------------------------------ b. a connection handed on
# SO_PEERCRED is the connector's, fixed at connect(), and a connection is
# its connector's alone: a descriptor nobody connected is refused in
# root's hands ...
out=$("$TESTTOOL" handoff "$sock" "$nobody" 0 2>&1)
check "nobody's connection handed to root: STATUS refused ($(printf '%s' "$out" | tail -n 1))" \
    has "$out" '^status: error -10017 permission denied$'
connector=$(printf '%s\n' "$out" | sed -n 's/^connector \([0-9]*\)$/\1/p')
check "and the refusal names the connector's uid $nobody and root as the sender" \
    wait_for logged "uid $nobody gid $(id -g nobody) pid $connector: a message from pid [0-9]+ \(real uid 0\) on its connection refused"
# ... and root's connection handed to nobody does not carry root's rights
# (until 2026-12 it did: SO_PEERCRED's semantics, socket(7); pam_zt.so now
# keeps root's connection across a PAM handle's calls, and a descriptor
# that reaches another process must not carry them).
out=$("$TESTTOOL" handoff "$sock" 0 "$nobody" 2>&1)
check "root's connection handed to nobody: refused ($(printf '%s' "$out" | tail -n 1))" \
    has "$out" '^status: error -10017 permission denied$'
connector=$(printf '%s\n' "$out" | sed -n 's/^connector \([0-9]*\)$/\1/p')
check "and the refusal names root's connector and nobody as the sender" \
    wait_for logged "uid 0 gid 0 pid $connector: a message from pid [0-9]+ \(real uid $nobody\) on its connection refused"

# ... nor does a root process keep root's connection once it has given
# up root in place (no fork, no exec: the real uid of its messages
# changed from the connection's first).
out=$("$TESTTOOL" dropuid "$sock" "$nobody" 2>&1)
dropper=$(printf '%s\n' "$out" | sed -n 's/^pid \([0-9]*\)$/\1/p')
check "root's connection answers root first ($(printf '%s' "$out" | grep '^before'))" \
    has "$out" '^before: reply status-reply$'
check "after the process became nobody in place: refused ($(printf '%s' "$out" | grep '^after'))" \
    has "$out" '^after: error -10017 permission denied$'
check "and logged, naming the new real uid" \
    wait_for logged -F "uid 0 gid 0 pid $dropper: a message from pid $dropper (real uid $nobody) on its connection refused"

# ------------------------------------------------ c. the connector exited
# A process of the agent's account running the agent's binary asks about
# itself (DECIDE without a grant: identity through the connection's
# pidfd), hands the connection to its parent and exits; the parent reaps
# it and makes a new process of the same account and binary take its pid.
# Asked again on the old connection by that new process (the connector's
# pid number, not the connector: its pidfd, SCM_PIDFD, is not the
# connection's), the message is refused and the connection closed; the
# parent then has nothing left to ask on.
out=$("$work/agent-tool" orphan "$sock" "$agent_uid" exec /usr/bin/rsync 2>&1)
check "the agent process asking about itself is allowed (identity proven)" \
    has "$out" '^first: allow risk=low'
reused=$(printf '%s\n' "$out" | sed -n 's/^reused \([0-9]*\) yes$/\1/p')
check "its pid was taken by another process of the same account and binary ($(printf '%s' "$out" | grep '^reused'))" \
    test -n "$reused"
check "asked again on the orphaned connection by the pid's new process: refused ($(printf '%s' "$out" | grep '^second'))" \
    has "$out" '^second: error -10017 permission denied$'
check "... and logged so, the sender having the connector's pid number" \
    wait_for logged -F "uid $agent_uid gid $(id -g daemon) pid $reused: a message from pid $reused (real uid $agent_uid) on its connection refused"
check "no decision was made on it (no second audit record)" \
    synced sh -c "[ \$(grep -c 'action=exec agent=\"self\" account=\"daemon\"' '$work/syslog.out') -eq 1 ]"
check "the parent finds the connection closed ($(printf '%s' "$out" | grep '^parent'))" \
    has "$out" '^parent: call connection closed by peer$'

# ------------------------------------------------ d. the connector's pid
# Root connects and hands its connection on before sending anything (the
# connection has no "first message" whose real uid binds it); the
# connector exits; the holder becomes nobody and, unprivileged, forks
# until a child of its own gets the connector's pid (pid_max is small, no
# privilege needed).  That child asking on the connection passes "the
# connector's pid", and its real uid is the first ztd sees: it must still
# not get root's answer.
out=$("$TESTTOOL" cycle "$sock" "$nobody" 2>&1)
check "a process of nobody took root's connector's pid ($(printf '%s' "$out" | grep '^reused'))" \
    has "$out" '^reused [0-9]* yes$'
check "root's connection in that process's hands: STATUS refused ($(printf '%s' "$out" | grep '^status'))" \
    has "$out" '^status: error -10017 permission denied$'
connector=$(printf '%s\n' "$out" | sed -n 's/^connector \([0-9]*\)$/\1/p')
check "... and logged: the sender is another process than the exited connector" \
    wait_for logged -F "uid 0 gid 0 pid $connector: a message from pid $connector (real uid $nobody) on its connection refused, the connection closed: a connection is its connector's (its connector exited; the sender is another process)"
cycle_before_accept
check "the same before ztd accepted the connection: its pid taken ($(printf '%s' "$out" | grep '^reused'))" \
    has "$out" '^reused [0-9]* yes$'
check "... STATUS refused ($(printf '%s' "$out" | grep '^status'))" \
    has "$out" '^status: error -10017 permission denied$'

# ... while a connector's own message, read only after it exited and was
# reaped (ztd stopped meanwhile), is still its own: answered (a
# supervisor's last reports must be audited).
late_status
check "a root connector sent STATUS and was reaped before ztd read it ($(printf '%s' "$out" | grep '^connector'))" \
    test $reaped -eq 0
check "its message is answered all the same ($(printf '%s' "$out" | grep '^late'))" \
    has "$out" '^late: reply status-reply$'
# The same beside a live connector's message, both read in one pass.
late_status live
check "a reaped and a live connector's STATUS read in one pass ($(printf '%s' "$out" | grep '^connector'))" \
    test $reaped -eq 0
check "the reaped one's is answered ($(printf '%s' "$out" | grep '^late'))" \
    has "$out" '^late: reply status-reply$'
check "and the live one's ($(printf '%s' "$out" | grep '^live'))" \
    has "$out" '^live: reply status-reply$'

check "ztd said how it ties messages to connectors: pidfs, this kernel's way" \
    wait_for logged -F "connection identity: pidfs, the connector's pidfd (SO_PEERPIDFD); once it exited, each message's sender by its pidfd (SCM_PIDFD) and pidfs inode"

kill -TERM "$ztd_pid"
wait "$ztd_pid"
rc=$?
check "ztd stops cleanly (exit 0)" test $rc -eq 0
[ $rc -eq 0 ] || diag "$(cat "$work/ztd.stderr")"

# ------------------------------------------------ e. older kernels' way
# ZTD_TEST_IDENTITY makes ztd use what an older kernel leaves it, on this
# one: "pidfd" (Linux 6.5-6.8: SO_PEERPIDFD, no pidfs: a connector that
# exited proves nothing, its connection's messages are refused; before
# 6.5 ztd does not start).  A live connector is still answered; the
# pid-cycling attack of d is refused.  A way the kernel lacks, or an
# unknown one, stops ztd at start.
ZTD_TEST_IDENTITY=pidfs-and-more "$ZTD" --foreground --config \
    "$work/ztd.conf" --socket "$work/bad.sock" \
    --syslog-socket "$work/log.sock" 2>"$work/bad.stderr"
rc=$?
check "an unknown ZTD_TEST_IDENTITY: ztd does not start (exit $rc)" \
    test $rc -eq 2
check "... saying why" \
    grep -q "ZTD_TEST_IDENTITY=pidfs-and-more: not a way this kernel has (pidfs at most)" "$work/bad.stderr" "$work/syslog.out"
mode=pidfd
sock=$work/ztd-$mode.sock
ZTD_TEST_IDENTITY=$mode "$ZTD" --foreground --config "$work/ztd.conf" \
    --socket "$sock" --syslog-socket "$work/log.sock" \
    2>"$work/ztd-$mode.stderr" &
ztd_pid=$!
track $ztd_pid
check "$mode: ztd starts" wait_for test -S "$sock"
check "$mode: and says so, naming the kernel's own" \
    wait_for logged "connection identity: $mode, .*; chosen by ZTD_TEST_IDENTITY, the kernel has pidfs\$"
out=$("$TESTTOOL" dropuid "$sock" "$nobody" 2>&1)
check "$mode: a live connector's messages are answered ($(printf '%s' "$out" | grep '^before'))" \
    has "$out" '^before: reply status-reply$'
check "$mode: its uid given up in place: refused as before ($(printf '%s' "$out" | grep '^after'))" \
    has "$out" '^after: error -10017 permission denied$'
out=$("$TESTTOOL" cycle "$sock" "$nobody" 2>&1)
connector=$(printf '%s\n' "$out" | sed -n 's/^connector \([0-9]*\)$/\1/p')
check "$mode: a process of nobody took root's connector's pid ($(printf '%s' "$out" | grep '^reused'))" \
    has "$out" '^reused [0-9]* yes$'
check "$mode: STATUS on root's connection refused ($(printf '%s' "$out" | grep '^status'))" \
    has "$out" '^status: error -10017 permission denied$'
check "$mode: logged: its connector exited" \
    wait_for logged -F "uid 0 gid 0 pid $connector: a message from pid $connector (real uid $nobody) on its connection refused, the connection closed: a connection is its connector's (its connector exited)"
# The pid taken before ztd accepted.
cycle_before_accept
check "$mode: root's connector's pid taken before ztd accepted ($(printf '%s' "$out" | grep '^reused'))" \
    has "$out" '^reused [0-9]* yes$'
check "$mode: ... STATUS refused ($(printf '%s' "$out" | grep '^status'))" \
    has "$out" '^status: error -10017 permission denied$'
# What such kernels cost: a connector's own message read after it
# was reaped cannot be told from another's, and is refused.
late_status
check "$mode: a connector reaped before ztd read its STATUS ($(printf '%s' "$out" | grep '^connector'))" \
    test $reaped -eq 0
check "$mode: its message is refused ($(printf '%s' "$out" | grep '^late'))" \
    has "$out" '^late: error -10017 permission denied$'
# Read in one pass with a live connector's message: the one poll of both
# pidfds finds the reaped connector gone, the live one running.
late_status live
check "$mode: a reaped and a live connector's STATUS in one pass ($(printf '%s' "$out" | grep '^connector'))" \
    test $reaped -eq 0
check "$mode: the reaped one's refused ($(printf '%s' "$out" | grep '^late'))" \
    has "$out" '^late: error -10017 permission denied$'
check "$mode: the live one's answered ($(printf '%s' "$out" | grep '^live'))" \
    has "$out" '^live: reply status-reply$'
kill -TERM "$ztd_pid"
wait "$ztd_pid"
rc=$?
check "$mode: ztd stops cleanly (exit 0)" test $rc -eq 0
[ $rc -eq 0 ] || diag "$(cat "$work/ztd-$mode.stderr")"

finish
