#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The kernel features ztd and zt-exec check at start: all present on this
# kernel (ztctl status lists them); each missing one, made missing by a
# seccomp filter answering as an older kernel does (ENOSYS for a syscall,
# ENOPROTOOPT for a socket option, EINVAL for an unknown ioctl flag),
# refused at start with the feature and the Linux version that has it, or
# only logged when zt-exec can do without.
set -u
. "$(dirname "$0")/lib.sh"

if [ -n "${ZT_SANITIZED:-}" ]; then
	# The sanitizers' runtime makes calls of its own that the filters
	# below would answer; the plain build runs this test.
	echo "1..0 # SKIP runs in the plain build"
	exit 0
fi
FILTER=$top_builddir/tests/helpers/zt-filter
conf=$work/ztd.conf
sock=$work/run/ztd.sock
mkdir -m 0755 "$work/run" "$work/state"
sed -e "s|\"/var/lib/zt\"|\"$work/state\"|" "$top_srcdir/conf/ztd.conf" >"$conf"
chmod 0644 "$conf"
start_logsink "$work"

# SO_PEERPIDFD is getsockopt(fd, SOL_SOCKET, 77); SO_PASSRIGHTS is
# setsockopt(fd, SOL_SOCKET, 83); SECCOMP_IOCTL_NOTIF_SEND is
# _IOWR('!', 1, struct seccomp_notif_resp) = 0xc0182101.
NO_PEERPIDFD=getsockopt:2=77:ENOPROTOOPT
NO_PASSRIGHTS=setsockopt:2=83:ENOPROTOOPT
NO_CONTINUE=ioctl:1=3222806785:EINVAL
# SECCOMP_IOCTL_NOTIF_ADDFD is _IOW('!', 3, struct seccomp_notif_addfd) =
# 0x40182103; a kernel before 5.14 refuses its SEND flag with EINVAL.
NO_ADDFD_SEND=ioctl:1=1075323139:EINVAL

# ---------------------------------------------------------------- all present
"$ZTD" --foreground --config "$conf" --socket "$sock" \
    --syslog-socket "$work/log.sock" 2>>"$work/ztd.stderr" &
ztd_pid=$!
track $ztd_pid
check "ztd starts on this kernel" wait_for test -S "$sock"
out=$("$ZTCTL" --socket "$sock" status)
check "ztctl status names the kernel and its Landlock ABI" \
    sh -c "printf '%s\n' \"\$1\" | grep -qE '^kernel: +$(uname -r), Landlock ABI [0-9]+$'" _ "$out"
for feature in "SO_PEERPIDFD (Linux 6.5)" "pidfd_open (Linux 5.3)" \
    "pidfd_send_signal (Linux 5.1)" "pidfd_getfd (Linux 5.6)" \
    "seccomp user notification (Linux 5.0)" \
    "SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5)" \
    "SECCOMP_ADDFD_FLAG_SEND (Linux 5.14)" \
    "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6)" \
    "Landlock ABI 6 scoping (Linux 6.12)" "SO_PASSRIGHTS (Linux 6.16)"; do
	check "status: $feature present" \
	    sh -c "printf '%s\n' \"\$1\" | grep -qF '  $feature' && printf '%s\n' \"\$1\" | grep -F '  $feature' | grep -q ' present '" _ "$out"
done
json=$("$ZTCTL" --socket "$sock" --json status)
check "ztctl --json status: kernel.features, each present with its Linux version" \
    python3 -c '
import json, sys
k = json.loads(sys.argv[1])["kernel"]
f = k["features"]
assert k["landlock_abi"] >= 6 and len(f) == 10, k
assert f["SO_PEERPIDFD"] == {"present": True, "linux": "6.5", "use": "needed by ztd"}, f
assert all(v["present"] for v in f.values()), f
' "$json"
out=$("$FILTER" deny "$NO_PASSRIGHTS" -- "$ZTCTL" --socket "$sock" status)
check "status on a kernel without SO_PASSRIGHTS says MISSING" \
    sh -c "printf '%s\n' \"\$1\" | grep -qE '^  SO_PASSRIGHTS \(Linux 6.16\) +MISSING +used by zt-exec when present$'" _ "$out"
kill -TERM $ztd_pid
wait $ztd_pid

# ---------------------------------------------------------------- ztd refuses
# refused_ztd RULE TEXT: ztd under RULE exits 2 at start, saying TEXT and
# where to get a kernel, and makes no socket.
refused_ztd() {
	local out rc
	out=$("$FILTER" deny "$1" -- "$ZTD" --config "$conf" --socket "$sock" \
	    --syslog-socket "$work/log.sock" 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [ ! -e "$sock" ] &&
	    printf '%s' "$out" | grep -qF "lacks what ztd needs to tell who is asking and to end agents' processes: $2; a newer kernel is needed (Debian 12: linux-image-amd64 from bookworm-backports" ||
	    { diag "rc=$rc: $out"; return 1; }
}
check "ztd without SO_PEERPIDFD refuses to start (exit 2) naming it, 6.5" \
    refused_ztd "$NO_PEERPIDFD" "SO_PEERPIDFD (Linux 6.5)"
check "the refusal is logged too" \
    wait_for grep -q "ztd\[[0-9]*\]: this kernel .* lacks .*SO_PEERPIDFD (Linux 6.5)" \
    "$work/syslog.out"
check "ztd without pidfd_open refuses to start naming it, 5.3" \
    refused_ztd pidfd_open:ENOSYS "pidfd_open (Linux 5.3)"
check "two missing are both named" \
    sh -c "out=\$('$FILTER' deny pidfd_send_signal:ENOSYS '$NO_PEERPIDFD' -- '$ZTD' --config '$conf' --socket '$sock' --syslog-socket '$work/log.sock' 2>&1); [ \$? -eq 2 ] && printf '%s' \"\$out\" | grep -qF 'SO_PEERPIDFD (Linux 6.5), pidfd_send_signal (Linux 5.1);'"
check "--check-config needs no kernel feature (a build host's check)" \
    sh -c "'$FILTER' deny '$NO_PEERPIDFD' -- '$ZTD' --check-config --config '$conf' | grep -qx ok"

# ---------------------------------------------------------------- zt-exec refuses
# refused_exec RULE TEXT: zt-exec under RULE exits 125 before anything
# else, saying TEXT.
refused_exec() {
	local out rc
	out=$("$FILTER" deny "$1" -- "$ZTEXEC" --socket "$sock" \
	    --syslog-socket "$work/log.sock" -- /bin/true 2>&1)
	rc=$?
	[ $rc -eq 125 ] &&
	    printf '%s' "$out" | grep -qF "zt-exec: this kernel ($(uname -r)) lacks what zt-exec cannot supervise without: $2; a newer kernel is needed" ||
	    { diag "rc=$rc: $out"; return 1; }
}
check "zt-exec without pidfd_getfd refuses (exit 125) naming it, 5.6" \
    refused_exec pidfd_getfd:ENOSYS "pidfd_getfd (Linux 5.6)"
check "zt-exec without the CONTINUE flag refuses naming it, 5.5" \
    refused_exec "$NO_CONTINUE" "SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5)"
check "zt-exec without ADDFD's SEND flag refuses naming it, 5.14" \
    refused_exec "$NO_ADDFD_SEND" "SECCOMP_ADDFD_FLAG_SEND (Linux 5.14)"
check "zt-exec without seccomp listeners names all three, 5.0, 5.5, 5.14" \
    refused_exec seccomp:EINVAL "seccomp user notification (Linux 5.0), SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5), SECCOMP_ADDFD_FLAG_SEND (Linux 5.14)"
# The probe runs while zt-exec asks ztd: with ztd up (root is no agent's
# in this policy, so ztd refuses the launch: exit 126), a missing feature
# is still the one reason given, exit 125.
"$ZTD" --foreground --config "$conf" --socket "$sock" \
    --syslog-socket "$work/log.sock" 2>>"$work/ztd.stderr" &
ztd_pid=$!
track $ztd_pid
check "ztd up again" wait_for test -S "$sock"
out=$("$ZTEXEC" --socket "$sock" --syslog-socket "$work/log.sock" -- \
    /bin/true 2>&1)
rc=$?
check "with every feature, zt-exec reaches ztd, which refuses (exit 126)" \
    sh -c "[ $rc -eq 126 ] && printf '%s' \"\$1\" | grep -q 'no agent' && ! printf '%s' \"\$1\" | grep -q lacks" _ "$out"
check "ztd reachable: without the CONTINUE flag zt-exec still refuses (exit 125) naming it" \
    refused_exec "$NO_CONTINUE" "SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5)"
check "ztd reachable: without seccomp listeners all three are named" \
    refused_exec seccomp:EINVAL "seccomp user notification (Linux 5.0), SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5), SECCOMP_ADDFD_FLAG_SEND (Linux 5.14)"
kill -TERM $ztd_pid
wait $ztd_pid
# Emptied once all earlier lines are in: none comes after.
sink_sync
: >"$work/syslog.out"
out=$("$FILTER" deny "$NO_PASSRIGHTS" -- "$ZTEXEC" --socket "$sock" \
    --syslog-socket "$work/log.sock" -- /bin/true 2>&1)
rc=$?
check "zt-exec without SO_PASSRIGHTS goes on (here: no ztd, exit 125)" \
    sh -c "[ $rc -eq 125 ] && printf '%s' \"\$1\" | grep -q 'ztd unreachable' && ! printf '%s' \"\$1\" | grep -q lacks" _ "$out"
check "and logs what it lacks, naming 6.16" \
    wait_for grep -q "zt-exec\[[0-9]*\]: this kernel .* lacks SO_PASSRIGHTS (Linux 6.16): see zt-exec(1)" \
    "$work/syslog.out"

finish
