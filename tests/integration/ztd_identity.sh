#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Who is asking comes from the kernel alone (TESTING.md 12): forged
# SCM_CREDENTIALS, a connection handed to another uid, a connecting
# process that exited so that its pid could be reused.
set -u
. "$(dirname "$0")/lib.sh"

sock=$work/ztd.sock
start_logsink "$work"
has() { printf '%s' "$1" | grep -q -- "$2"; }  # TEXT REGEX

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
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; };
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
check "capable forger claiming uid 0 pid 1: the kernel carries it, ztd refuses STATUS" \
    has "$out" '^capable forged uid=0 pid=1: error -10017 permission denied$'
check "ztd's log names the kernel's uid and pid, not the claimed ones" \
    wait_for logged -F "uid $nobody gid $(id -g nobody) pid $forger: an unprivileged peer may not send status"
check "and no refusal names the claimed uid 0 or pid 1" \
    synced sh -c "! grep -E 'uid 0 gid [0-9]+ pid [0-9]+: an|pid 1: an' '$work/syslog.out'"
check "without capabilities the kernel refuses to send a claimed uid 0 (EPERM)" \
    has "$out" '^forged uid=0: sendmsg EPERM$'
check "and a claimed pid 1 (EPERM)" \
    has "$out" '^forged pid=1: sendmsg EPERM$'
check "its own real credentials pass the kernel, and STATUS is still refused" \
    has "$out" '^own: error -10017 permission denied$'
check "as without any credentials" \
    has "$out" '^none: error -10017 permission denied$'
kill -0 "$ztd_pid" 2>/dev/null
check "ztd is still alive" test $? -eq 0

# ------------------------------------------------ b. a connection handed on
# SO_PEERCRED is the connector's, fixed at connect(): a descriptor nobody
# connected stays nobody's in root's hands ...
out=$("$TESTTOOL" handoff "$sock" "$nobody" 0 2>&1)
check "nobody's connection handed to root: STATUS refused ($(printf '%s' "$out" | tail -n 1))" \
    has "$out" '^status: error -10017 permission denied$'
connector=$(printf '%s\n' "$out" | sed -n 's/^connector \([0-9]*\)$/\1/p')
check "and the refusal names the connector's uid $nobody" \
    wait_for logged -F "uid $nobody gid $(id -g nobody) pid $connector: an unprivileged peer may not send status"
# ... and root's connection handed to nobody stays root's: a root process
# that gives its connection away delegates what it may ask (SO_PEERCRED's
# documented semantics, socket(7); README, "Who may ask what").  ztd's
# own clients never hand theirs on.
out=$("$TESTTOOL" handoff "$sock" 0 "$nobody" 2>&1)
check "root's connection handed to nobody: answered as root ($(printf '%s' "$out" | tail -n 1))" \
    has "$out" '^status: reply status-reply$'

# ------------------------------------------------ c. the connector exited
# A process of the agent's account running the agent's binary asks about
# itself (DECIDE without a grant: identity through the connection's
# pidfd), hands the connection to its parent and exits; the parent reaps
# it and makes a new process of the same account and binary take its pid.
# Asked again on the old connection, ztd must not answer about the new
# process: the pidfd it took at accept names the one that exited.
out=$("$work/agent-tool" orphan "$sock" "$agent_uid" exec /usr/bin/rsync 2>&1)
check "the agent process asking about itself is allowed (identity proven)" \
    has "$out" '^first: allow risk=low'
check "its pid was taken by another process of the same account and binary ($(printf '%s' "$out" | grep '^reused'))" \
    has "$out" '^reused [0-9]* yes$'
check "asked again on the orphaned connection: denied, the process exited" \
    has "$out" '^second: deny: identity: process [0-9]* exited$'
check "the deny is audited" \
    wait_for grep -q 'decision=deny action=exec agent="self" account="daemon".*reason="identity: process [0-9]* exited"' "$work/syslog.out"

kill -TERM "$ztd_pid"
wait "$ztd_pid"
rc=$?
check "ztd stops cleanly (exit 0)" test $rc -eq 0
[ $rc -eq 0 ] || diag "$(cat "$work/ztd.stderr")"

finish
