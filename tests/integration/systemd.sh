#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ztd and systemd (PID 1 here is not systemd, so what can run without it):
# the units verified and scored (exposure <= 3.0) without a setting that
# breaks ztd, ztd run under the unit's capability bounding set,
# NoNewPrivileges and system-call filter; the tmpfiles.d and sysusers.d
# entries applied to a scratch root; socket activation through
# systemd-socket-activate (the socket stays ztd's neither to make nor to
# remove); readiness, reload and stop through a NOTIFY_SOCKET read back;
# ztctl reload (ExecReload=) exiting 1 on a bad file.
set -u
. "$(dirname "$0")/lib.sh"

if ! command -v systemd-analyze >/dev/null ||
    ! command -v systemd-socket-activate >/dev/null ||
    ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP systemd-analyze, systemd-socket-activate or python3 missing"
	exit 0
fi
FILTER=$top_builddir/tests/helpers/zt-filter
units=$work/units
mkdir -p "$units" "$work/run" "$work/state"
chmod 0755 "$work/run"
conf=$work/ztd.conf
sed -e "s|\"/var/lib/zt\"|\"$work/state\"|" "$top_srcdir/conf/ztd.conf" >"$conf"
chmod 0644 "$conf"
sock=$work/run/ztd.sock
start_logsink "$work"

# start_ztd [WRAPPER...]: ztd on $sock (through WRAPPER), its pid in
# ztd_pid; returns once the socket is there.
start_ztd() {
	"$@" "$ZTD" --foreground --config "$conf" --socket "$sock" \
	    --syslog-socket "$work/log.sock" 2>>"$work/ztd.stderr" &
	ztd_pid=$!
	track $ztd_pid
	wait_for test -S "$sock"
}

# ---------------------------------------------------------------- units
# The units as installed, naming this build's programs (verify checks
# that they exist).
sed -e "s|^ExecStart=[^ ]*/ztd |ExecStart=$top_builddir/ztd |" \
    -e "s|^ExecReload=[^ ]*/ztctl |ExecReload=$top_builddir/ztctl |" \
    "$top_builddir/conf/systemd/ztd.service" >"$units/ztd.service"
cp "$top_srcdir/conf/systemd/ztd.socket" "$units/ztd.socket"
unit=$units/ztd.service

check "the generated ztd.service names the configured programs" \
    grep -qE "^ExecStart=/.*/sbin/ztd --foreground$" \
    "$top_builddir/conf/systemd/ztd.service"
out=$(cd "$units" && systemd-analyze verify --man=no ./ztd.service \
    ./ztd.socket 2>&1)
rc=$?
check "systemd-analyze verify accepts ztd.service and ztd.socket" \
    test $rc -eq 0 -a -z "$out"
[ -n "$out" ] && diag "$out"

out=$(systemd-analyze security --offline=yes "$unit" 2>&1)
score=$(printf '%s\n' "$out" |
    sed -n 's/.*Overall exposure level for ztd.service: \([0-9.]*\).*/\1/p')
diag "exposure: ${score:-none}"
check "systemd-analyze security --offline=yes: exposure $score <= 3.0" \
    awk -v s="${score:-99}" 'BEGIN { exit !(s + 0 <= 3.0) }'

# unit_has KEY=VALUE: a line of the [Service] or [Unit] section, exactly.
unit_has() {
	grep -qxF -- "$1" "$unit"
}
check "Type=notify, ready only when ztd says so" unit_has "Type=notify"
check "ordered before logins (systemd-user-sessions) and cron and ssh" \
    unit_has "Before=systemd-user-sessions.service cron.service ssh.service"
check "waits for no network" \
    sh -c "! grep -qE '^(After|Wants|Requires)=.*network' '$unit'"
check "ExecReload= runs ztctl reload (a bad file fails the reload)" \
    grep -qxE "ExecReload=/.*/ztctl reload" "$unit"
check "its socket from ztd.socket" unit_has "Wants=ztd.socket"
check "journald drops none of its lines (LogRateLimitIntervalSec=0)" \
    unit_has "LogRateLimitIntervalSec=0"
check "state, log and run directories are the unit's" \
    sh -c "grep -qx StateDirectory=zt '$unit' && grep -qx LogsDirectory=zt '$unit' && grep -qx RuntimeDirectory=zt '$unit' && grep -qx RuntimeDirectoryPreserve=yes '$unit'"
check "clients' real uids: no PrivateUsers=, no PrivateDevices= (the TPM)" \
    sh -c "! grep -qE '^(PrivateUsers|PrivateDevices|DynamicUser|User)=' '$unit'"
check "the TPM is reachable (DeviceAllow=/dev/tpmrm0 rw)" \
    unit_has "DeviceAllow=/dev/tpmrm0 rw"
check "ptrace, kill, reading agents' binaries and the fleet client's drop to zt-fleet are kept" \
    unit_has "CapabilityBoundingSet=CAP_KILL CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_SETUID CAP_SETGID"
check "ztd.socket: SOCK_SEQPACKET at /run/zt/ztd.sock, mode 0666, kept" \
    sh -c "grep -qx ListenSequentialPacket=/run/zt/ztd.sock '$units/ztd.socket' && grep -qx SocketMode=0666 '$units/ztd.socket' && grep -qx RemoveOnStop=no '$units/ztd.socket'"

# ---------------------------------------------------------------- tmpfiles, sysusers
root=$work/root
mkdir -p "$root/etc"
check "systemd-tmpfiles applies ztgate.conf to a scratch root" \
    systemd-tmpfiles --create --root="$root" \
    "$top_srcdir/conf/tmpfiles.d/ztgate.conf"
check "it makes /run/zt 0755, /var/lib/zt 0700, /var/log/zt 0750 (root)" \
    sh -c "[ \"\$(stat -c '%a %U' '$root/run/zt' '$root/var/lib/zt' '$root/var/log/zt' | tr '\n' ' ')\" = '755 root 700 root 750 root ' ]"
check "systemd-sysusers makes the zt-agents and zt-exec groups" \
    sh -c "systemd-sysusers --root='$root' '$top_srcdir/conf/sysusers.d/ztgate.conf' >/dev/null 2>&1 && grep -q '^zt-agents:x:[0-9]*:$' '$root/etc/group' && grep -q '^zt-exec:x:[0-9]*:$' '$root/etc/group'"
check "and the system user zt-fleet (the fleet client's), no login shell" \
    sh -c "grep -qE '^zt-fleet:x:[1-9][0-9]*:[1-9][0-9]*:[^:]*:/:/usr/sbin/nologin$' '$root/etc/passwd'"

# ---------------------------------------------------------------- ztd sandboxed as the unit does
# The system calls SystemCallFilter= leaves, as systemd applies its lines
# in order: the first (an allow list) adds, each later one adds, or with
# "~" takes away; each group expanded as systemd-analyze lists it.
expand() {
	case $1 in
	@*) ;;
	*) echo "$1"; return ;;
	esac
	systemd-analyze syscall-filter "$1" | sed -n 's/^    \([@a-z0-9_-]*\)$/\1/p' |
	while read -r name; do
		expand "$name"
	done
}
: >"$work/allowed.list"
sed -n 's/^SystemCallFilter=//p' "$unit" | while read -r line; do
	case $line in
	"~"*) how=-23; line=${line#"~"} ;;
	*) how=add ;;
	esac
	for group in $line; do expand "$group"; done | sort -u >"$work/these.list"
	if [ "$how" = add ]; then
		sort -u "$work/allowed.list" "$work/these.list" >"$work/next.list"
	else
		comm -23 "$work/allowed.list" "$work/these.list" >"$work/next.list"
	fi
	mv "$work/next.list" "$work/allowed.list"
done
check "the filter's lists are read from systemd-analyze" \
    sh -c "grep -qx pidfd_open '$work/allowed.list' && ! grep -qx mount '$work/allowed.list' && ! grep -qx setuid '$work/allowed.list'"
if [ -n "${ZT_SANITIZED:-}" ]; then
	# The sanitizers' runtime makes calls of its own the filter refuses.
	skip "ztd under the unit's sandbox: in the plain build"
else
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' |
	    sed 's/cap_/+/g; s/ /,/g')
	check "ztd starts under the unit's bounding set, NoNewPrivileges and filter" \
	    start_ztd setpriv --bounding-set "-all,$caps" --no-new-privs \
	    "$FILTER" allow "$work/allowed.list" --
	check "and answers status" quiet "$ZTCTL" --socket "$sock" status
	check "and reloads" \
	    sh -c "'$ZTCTL' --socket '$sock' reload | grep -qx 'reloaded: policy generation 2'"
	kill -TERM $ztd_pid
	wait $ztd_pid
	rc=$?
	check "and stops cleanly (exit 0, socket removed)" \
	    test $rc -eq 0 -a ! -e "$sock"
	check "its stop reached the log" logged -F "stopping"
	check "no call was refused by the filter (nothing logged EPERM)" \
	    synced sh -c "! grep -q 'Operation not permitted' '$work/syslog.out' '$work/ztd.stderr'"

	# With a fleet section ztd forks its fleet client, which drops to
	# zt-fleet (or nobody) and execs ztd again: under the unit's
	# sandbox too.  etcd on a loopback port where nothing listens: the
	# client keeps trying, as it would while etcd is down.
	openssl genpkey -algorithm ed25519 -out "$work/admin.key" 2>/dev/null
	openssl pkey -in "$work/admin.key" -pubout -out "$work/admin.pub"
	fleet_conf=$work/ztd-fleet.conf
	{ cat "$conf"; cat <<EOC
fleet: {
  etcd = ["http://127.0.0.1:$(free_ports)"];
  host = "sandboxed";
  admin_key = "$work/admin.pub";
  heartbeat = 1;
};
EOC
	} >"$fleet_conf"
	chmod 0644 "$fleet_conf"
	saved_conf=$conf
	conf=$fleet_conf
	check "ztd with a fleet section starts under the unit's sandbox" \
	    start_ztd setpriv --bounding-set "-all,$caps" --no-new-privs \
	    "$FILTER" allow "$work/allowed.list" --
	conf=$saved_conf
	# A child of ztd that execed as "ztd-fleet --fleet-client" under a
	# uid other than root: only after setgroups, setresgid and setresuid.
	fleet_client_runs() {
		local child
		for child in $(pgrep -P "$ztd_pid"); do
			tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null |
			    grep -q '^ztd-fleet --fleet-client' &&
			    [ "$(stat -c %u "/proc/$child")" != 0 ] &&
			    client=$child && return 0
		done
		return 1
	}
	client=""
	check "its fleet client runs, dropped to an unprivileged user" \
	    wait_for fleet_client_runs
	# It holds etcd's credentials and says whether the host is in sync:
	# another process of its uid (nobody, without a zt-fleet user) must
	# not read or write its memory.  Not dumpable: no ptrace access.
	if [ -n "$client" ]; then
		cu=$(stat -c %u "/proc/$client")
		cg=$(stat -c %g "/proc/$client")
		check "another process of its uid $cu cannot open its memory" \
		    sh -c "! setpriv --reuid=$cu --regid=$cg --clear-groups sh -c 'exec 3</proc/$client/mem' 2>/dev/null"
	fi
	line=$(synced grep -E 'fleet: the client (exited|was killed|broke)' "$work/syslog.out" | head -n 1)
	check "and was never refused nor restarted (${line:-none})" test -z "$line"
	kill -TERM $ztd_pid
	wait $ztd_pid
	rc=$?
	check "and stops cleanly with its client (exit $rc)" test $rc -eq 0

fi

# ---------------------------------------------------------------- socket activation
# Emptied once all earlier lines are in: none comes after.
sink_sync
: >"$work/syslog.out"
systemd-socket-activate --seqpacket -l "$sock" \
    "$ZTD" --foreground --config "$conf" --socket "$sock" \
    --syslog-socket "$work/log.sock" 2>>"$work/ztd.stderr" &
act_pid=$!
track $act_pid
check "systemd-socket-activate listens on the socket" wait_for test -S "$sock"
# The socket's file exists from its bind; a connect before its listen is
# refused (and starts nothing): asked again until one gets through.
answered() { out=$("$ZTCTL" --socket "$sock" status 2>&1); }
wait_for answered
check "a client's request starts ztd on the passed socket and is answered" \
    sh -c "printf '%s' \"\$1\" | grep -q '^ztd .*(pid $act_pid)'" _ "$out"
check "ztd says it serves systemd's socket" \
    wait_for grep -q "serving $sock (socket from systemd)" "$work/syslog.out"
check "no lock file: the socket is systemd's" test ! -e "$sock.lock"
# systemd-socket-activate listens with its own backlog (SOMAXCONN): ztd
# makes it its own, one accept burst deep (ztd.conf(5), max_clients).
backlog_of() { # SOCKET: the listening socket's bound (ss's Send-Q)
	ss -xlH | awk -v p="$1" '$5 == p { print $4 }'
}
check "ztd sets its backlog (64) on systemd's socket ($(backlog_of "$sock"))" \
    test "$(backlog_of "$sock")" = 64
kill -TERM $act_pid
wait $act_pid
rc=$?
check "ztd stops cleanly (exit 0)" test $rc -eq 0
check "and leaves the socket it was given in place" test -S "$sock"
rm -f "$sock"

systemd-socket-activate --seqpacket -l "$work/run/other.sock" \
    "$ZTD" --foreground --config "$conf" --socket "$sock" \
    --syslog-socket "$work/log.sock" 2>>"$work/ztd.stderr" &
act_pid=$!
track $act_pid
wait_for test -S "$work/run/other.sock"
# As above, a connect may come before the listen: tried again until one
# got through and the ztd it started has exited (never waited on for
# good: a launcher still there after wait_for's bound is stopped).
other_refused() {
	"$ZTCTL" --socket "$work/run/other.sock" status >/dev/null 2>&1
	! kill -0 "$act_pid" 2>/dev/null
}
wait_for other_refused || kill -TERM "$act_pid"
wait $act_pid
rc=$?
check "a socket for another path is refused (exit 2, says why)" \
    synced sh -c "[ $rc -eq 2 ] && grep -q 'not a listening SOCK_SEQPACKET socket bound to $sock' '$work/syslog.out'"

# ---------------------------------------------------------------- readiness
cat >"$work/notify.py" <<'EOF'
import os, socket, subprocess, sys
path, log, ztctl, sock = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(60)
with open(log, "w", buffering=1) as out:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            out.write("TIMEOUT\n")
            break
        lines = msg.split("\n")
        out.write("MSG " + " | ".join(lines) + "\n")
        if "READY=1" in lines:
            # What a login would do the moment systemd says "started".
            rc = subprocess.run([ztctl, "--socket", sock, "status"],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).returncode
            out.write("STATUS-AT-READY %d\n" % rc)
        if "STOPPING=1" in lines:
            break
EOF
python3 "$work/notify.py" "$work/notify.sock" "$work/notify.log" "$ZTCTL" \
    "$sock" &
track $!
wait_for test -S "$work/notify.sock"
sink_sync
: >"$work/syslog.out"
start_ztd env NOTIFY_SOCKET="$work/notify.sock"
check "READY=1 arrives" wait_for grep -q "^MSG READY=1" "$work/notify.log"
check "only once the socket answers (ztctl status at READY=1 exits 0)" \
    wait_for grep -qx "STATUS-AT-READY 0" "$work/notify.log"
check "the first message is READY=1, with a status" \
    sh -c "head -n 1 '$work/notify.log' | grep -q '^MSG READY=1 | STATUS=serving $sock'"

ready_count() { grep -c "^MSG READY=1" "$work/notify.log"; }
out=$("$ZTCTL" --socket "$sock" reload 2>&1)
rc=$?
check "ztctl reload of a good file exits 0" test $rc -eq 0
check "a reload is RELOADING=1 (with MONOTONIC_USEC) then READY=1" \
    wait_for sh -c "grep -A1 '^MSG RELOADING=1 | MONOTONIC_USEC=[0-9]*' '$work/notify.log' | grep -q '^MSG READY=1 | STATUS=serving: generation 2'"

printf 'ztd: {\n  bogus = 1;\n};\n' >"$work/bad.conf"
cp "$conf" "$work/good.conf"
cp "$work/bad.conf" "$conf"
out=$("$ZTCTL" --socket "$sock" reload 2>&1)
rc=$?
check "ztctl reload of a broken file exits 1 with file:line" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -q '$conf:2: unknown key'" _ "$out"
check "a failed reload is READY=1 again on the old policy, saying why" \
    wait_for grep -q "^MSG READY=1 | STATUS=reload failed, serving generation 2: $conf:2" \
    "$work/notify.log"
rm -f "$conf"
out=$("$ZTCTL" --socket "$sock" reload 2>&1)
rc=$?
check "ztctl reload with the file gone exits 1 (not 2), saying so" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -q 'cannot open'" _ "$out"
cp "$work/good.conf" "$conf"
kill -TERM $ztd_pid
wait $ztd_pid
check "SIGTERM sends STOPPING=1" \
    wait_for grep -q "^MSG STOPPING=1" "$work/notify.log"
check "READY=1 came once per start and reload (4)" test "$(ready_count)" -eq 4

# ---------------------------------------------------------------- started by hand
check "started by hand (no LISTEN_FDS), ztd makes its own socket" start_ztd
kill -TERM $ztd_pid
wait $ztd_pid
check "and removes it when it stops" test ! -e "$sock"

finish
