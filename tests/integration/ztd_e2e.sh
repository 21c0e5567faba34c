#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ztd end to end: a real daemon on a private socket, its syslog lines read
# back, reload, bad clients, limits, run-directory safety, clean stop.
set -u
. "$(dirname "$0")/lib.sh"

conf=$work/ztd.conf
sock=$work/run/ztd.sock
cp "$top_srcdir/conf/ztd.conf" "$conf"
chmod 0644 "$conf"
mkdir -m 0755 "$work/run"
start_logsink "$work"

start_ztd() {
	$ZTD_WRAP "$ZTD" --foreground --config "$conf" --socket "$sock" \
	    --syslog-socket "$work/log.sock" 2>>"$work/ztd.stderr" &
	ztd_pid=$!
	track $ztd_pid
	wait_for test -S "$sock"
}

# ---------------------------------------------------------------- start
check "ztd --version prints the version" \
    sh -c "'$ZTD' --version | grep -q '^ztd [0-9]'"
check "ztd --check-config accepts the shipped config" \
    sh -c "'$ZTD' --check-config --config '$conf' | grep -qx ok"
check "ztd starts and listens" start_ztd
check "the socket is connectable by everyone (0666)" \
    sh -c "[ \$(stat -c %a '$sock') = 666 ]"
check "start-up is logged to the syslog socket with pid and facility" \
    wait_for grep -qE "^<29>.* ztd\[$ztd_pid\]: ztd [0-9.]+ serving $sock" \
    "$work/syslog.out"

# ---------------------------------------------------------------- status
out=$("$ZTCTL" --socket "$sock" status)
rc=$?
check "ztctl status answers (exit 0)" test $rc -eq 0
check "status names generation 1 and the config" \
    sh -c "printf '%s' \"\$1\" | grep -q 'generation 1, 0 agents, from $conf'" _ "$out"
json=$("$ZTCTL" --socket "$sock" --json status)
check "ztctl --json status is JSON with the daemon's pid" \
    sh -c "printf '%s' \"\$1\" | grep -q '^{\"version\":\"[0-9.]*\",\"pid\":$ztd_pid,'" _ "$json"
if command -v python3 >/dev/null; then
	check "ztctl --json status parses as JSON" \
	    sh -c "printf '%s' \"\$1\" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d[\"generation\"] != 1)'" _ "$json"
fi

# ---------------------------------------------------------------- reload
printf 'ztd: {\n  max_clients = 8;\n  bogus = 1;\n};\n' >"$conf"
kill -HUP "$ztd_pid"
check "SIGHUP with a broken file logs why and keeps generation 1" \
    wait_for logged -F "reload failed, keeping generation 1: $conf:3: unknown key 'bogus' in ztd"
out=$("$ZTCTL" --socket "$sock" status)
check "still serving the old policy after the failed reload" \
    sh -c "printf '%s' \"\$1\" | grep -q 'generation 1,' && printf '%s' \"\$1\" | grep -q 'last reload:  FAILED'" _ "$out"
out=$("$ZTCTL" --socket "$sock" reload 2>&1)
rc=$?
check "ztctl reload of a broken file exits 1 with file:line" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -q '$conf:3: unknown key'" _ "$out"
chmod 0666 "$conf"
printf 'ztd: { max_clients = 8; };\n' >"$conf"
out=$("$ZTCTL" --socket "$sock" reload 2>&1)
rc=$?
check "a world-writable config is refused on reload" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -q 'writable by group or others'" _ "$out"
chmod 0644 "$conf"
out=$("$ZTCTL" --socket "$sock" reload)
check "ztctl reload of a good file gives generation 2" \
    sh -c "printf '%s' \"\$1\" | grep -qx 'reloaded: policy generation 2'" _ "$out"
check "the reload is logged" logged -F "loaded: generation 2"
# TESTING.md 16: SIGHUP with a huge, deeply nested, include-looping or
# world-writable file: the last good policy (generation 2) stays, the
# error is logged with the file (and the line, where there is one).
# hup_keeps WHAT TEXT: SIGHUP now, then ztd logs "reload failed, keeping
# generation 2: TEXT" and its status still says generation 2.
hup_keeps() {
	local mark out
	mark=$(sink_lines)
	kill -HUP "$ztd_pid"
	check "SIGHUP with $1: logged, generation 2 kept" \
	    wait_for logged_since "$mark" -F "reload failed, keeping generation 2: $2"
	out=$("$ZTCTL" --socket "$sock" status)
	check "... and generation 2 still serves" \
	    sh -c "printf '%s' \"\$1\" | grep -q 'generation 2,' && printf '%s' \"\$1\" | grep -q 'last reload:  FAILED'" _ "$out"
}
good_conf=$(cat "$conf")
head -c 1100000 /dev/zero | tr '\0' '#' >"$conf"
hup_keeps "a file over 1 MiB" "$conf: larger than 1048576 bytes"
{ printf 'a = { %.0s' $(seq 5000); printf '}; %.0s' $(seq 5000); echo; } >"$conf"
hup_keeps "groups nested 5000 deep" "$conf:1: "
printf 'ztd: { max_clients = 8; };\n@include "%s"\n' "$conf" >"$conf"
hup_keeps "a file that includes itself" "$conf:2: @include is not allowed"
printf '%s\n' "$good_conf" >"$conf"
chmod 0666 "$conf"
hup_keeps "a world-writable file" "$conf: writable by group or others (mode 0666)"
chmod 0644 "$conf"

# ---------------------------------------------------------------- bad clients
hdr_ok=5a544731000100020000000700000000
check "garbage gets a bad-magic error reply" \
    sh -c "'$TESTTOOL' send '$sock' deadbeef00000000 | grep -qx 'error -10001 bad message magic'"
check "an unknown version gets its own error" \
    sh -c "'$TESTTOOL' send '$sock' 5a544731000900020000000700000000 | grep -q 'unknown protocol version'"
check "an unknown type gets its own error" \
    sh -c "'$TESTTOOL' send '$sock' 5a544731000100630000000700000000 | grep -q 'unknown message type'"
check "trailing bytes get their own error" \
    sh -c "'$TESTTOOL' send '$sock' ${hdr_ok}00 | grep -q 'trailing bytes'"
check "an oversized datagram is refused" \
    sh -c "'$TESTTOOL' send '$sock' ${hdr_ok}00 5000 | grep -q 'oversized message'"
check "a reply type sent as a request is refused" \
    sh -c "'$TESTTOOL' send '$sock' 5a54473100010005000000070000000c000500080000000000000001 | grep -q 'unexpected message'"
check "a reply type without its fields is a missing-field error" \
    sh -c "'$TESTTOOL' send '$sock' 5a544731000100050000000700000000 | grep -q 'missing required field'"
check "the bad request is logged" logged -F "bad request: bad message magic"
check "a valid raw STATUS still gets a status reply" \
    sh -c "'$TESTTOOL' send '$sock' $hdr_ok | grep -qx 'reply status-reply'"
check "ztd still serves ztctl after the garbage" quiet "$ZTCTL" --socket "$sock" status

# ---------------------------------------------------------------- limits
# Root is outside every limit; any other uid holds at most
# max_clients_per_uid connections, and all of them at most max_clients
# (TESTING.md 26).
hold_as() { # USER N NAME: USER holds N connections; sets hold_pid
	: >"$work/$3.out"
	(as_user "$1" "$TESTTOOL" hold "$sock" "$2") >"$work/$3.out" &
	hold_pid=$!
	track $hold_pid
	wait_for grep -q '^held' "$work/$3.out"
}
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 &&
    id daemon >/dev/null 2>&1 && id bin >/dev/null 2>&1; then
	printf 'ztd: { max_clients = 8; max_clients_per_uid = 4; };\n' >"$conf"
	"$ZTCTL" --socket "$sock" reload >/dev/null
	hold_as nobody 4 hold1
	hold1=$hold_pid
	check "nobody holds its 4 connections ($(cat "$work/hold1.out"))" \
	    grep -qx 'held 4' "$work/hold1.out"
	out=$(as_user nobody "$ZTCTL" --socket "$sock" status 2>&1)
	check "its 5th is refused: max_clients_per_uid ($out)" \
	    has "$out" 'daemon busy'
	check "the refusal is logged as such" \
	    wait_for logged -F "too many connections for this uid"
	out=$("$ZTCTL" --socket "$sock" status 2>&1)
	check "root's status is answered while nobody holds all it may" \
	    has "$out" 'generation'
	hold_as daemon 4 hold2
	hold2=$hold_pid
	out=$(as_user bin "$ZTCTL" --socket "$sock" status 2>&1)
	check "with max_clients (8) others connected, a third uid is refused ($out)" \
	    has "$out" 'daemon busy'
	"$TESTTOOL" hold "$sock" 20 >"$work/hold-root.out" &
	hold3=$!
	track $hold3
	wait_for grep -q '^held' "$work/hold-root.out"
	check "root holds 20 connections beyond every limit ($(cat "$work/hold-root.out"))" \
	    grep -qx 'held 20' "$work/hold-root.out"
	out=$("$ZTCTL" --socket "$sock" status 2>&1)
	check "and root's status is still answered" has "$out" 'generation'
	stop_pid $hold1
	stop_pid $hold2
	stop_pid $hold3
	check "after the holders close, another uid connects again" \
	    wait_for sh -c "setpriv --reuid=bin --regid=\$(id -g bin) \
	    --clear-groups -- '$ZTCTL' --socket '$sock' status 2>&1 |
	    grep -q 'permission denied'"
else
	for i in 1 2 3 4 5 6 7 8 9; do
		skip "client pools need root and the nobody, daemon, bin accounts"
	done
fi

printf 'ztd: { max_clients = 8; idle_timeout = 1; };\n' >"$conf"
"$ZTCTL" --socket "$sock" reload >/dev/null
out=$("$TESTTOOL" idle "$sock")
ms=$(printf '%s' "$out" | sed -n 's/^closed after \([0-9]*\) ms$/\1/p')
check "a silent client is closed at its idle deadline (1 s): $out" \
    test -n "$ms" -a "${ms:-0}" -ge 900 -a "${ms:-0}" -le 2500
check "the idle close is logged" logged -F "idle too long, closed"
printf 'ztd: { max_clients = 8; };\n' >"$conf"
"$ZTCTL" --socket "$sock" reload >/dev/null

# ---------------------------------------------------------------- who may ask
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$ZTCTL" --socket "$sock" status 2>&1)
	rc=$?
	check "an unprivileged peer may not ask for status (exit 2)" \
	    sh -c "[ $rc -eq 2 ] && printf '%s' \"\$1\" | grep -q 'permission denied'" _ "$out"
	check "the refusal is said once, as root only ($out)" \
	    sh -c "printf '%s' \"\$1\" | grep -qx 'ztctl: ztd refused status: permission denied (root only)'" _ "$out"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$ZTCTL" --socket "$sock" reload 2>&1)
	rc=$?
	check "an unprivileged peer may not reload (exit 2)" \
	    sh -c "[ $rc -eq 2 ] && printf '%s' \"\$1\" | grep -q 'permission denied'" _ "$out"
	check "the refusal is logged with the peer's kernel uid" \
	    wait_for logged -F "uid $(id -u nobody) pid"
else
	skip "unprivileged peer refused (needs root to switch uid)"
	skip "refusal said once (needs root)"
	skip "unprivileged reload refused (needs root)"
	skip "refusal logged (needs root)"
fi

# ---------------------------------------------------------------- run dir
out=$("$ZTD" --foreground --config "$conf" --socket "$sock" \
    --syslog-socket "$work/log.sock" 2>&1)
rc=$?
check "a second ztd on the same socket exits 2" \
    sh -c "[ $rc -eq 2 ] && printf '%s' \"\$1\" | grep -q 'another ztd holds'" _ "$out"
check "and the first one still serves" quiet "$ZTCTL" --socket "$sock" status

try_start() { # DIR: start on DIR/ztd.sock, print stderr, return exit code
	timeout 10 "$ZTD" --foreground --config "$conf" --socket "$1/ztd.sock" \
	    --syslog-socket "$work/log.sock" 2>&1 &
	local pid=$!
	track $pid
	sleep 0.5
	if kill -0 $pid 2>/dev/null; then
		stop_pid $pid
		return 0
	fi
	wait $pid
}
refused() { # DIR TEXT: ztd on DIR/ztd.sock exits 2, saying TEXT
	local out rc
	out=$(try_start "$1")
	rc=$?
	[ $rc -eq 2 ] && printf '%s' "$out" | grep -qF -- "$2" && return 0
	diag "exit $rc: $out"
	return 1
}
mkdir -m 0755 "$work/real"
ln -s "$work/real" "$work/link"
check "a symlinked run directory is refused (exit 2)" \
    refused "$work/link" 'symbolic link'
mkdir -m 0777 "$work/open"
chmod 0777 "$work/open"
check "a world-writable run directory is refused (exit 2)" \
    refused "$work/open" 'writable by group or others'
mkdir -m 0755 "$work/file"
: >"$work/file/ztd.sock"
out=$(try_start "$work/file")
rc=$?
check "a non-socket at the socket path is left alone (exit 2)" \
    sh -c "[ $rc -eq 2 ] && [ -f '$work/file/ztd.sock' ]"
mkdir -m 0755 "$work/stale"
if [ "$(id -u)" = 0 ]; then
	mkdir -m 0755 "$work/foreign"
	"$TESTTOOL" stale "$work/foreign/ztd.sock"
	chown nobody "$work/foreign/ztd.sock"
	out=$(try_start "$work/foreign")
	rc=$?
	check "a stale socket owned by another uid is not removed (exit 2)" \
	    sh -c "[ $rc -eq 2 ] && [ -S '$work/foreign/ztd.sock' ] && printf '%s' \"\$1\" | grep -q 'not owned by root'" _ "$out"
else
	skip "foreign stale socket (needs root)"
fi
"$TESTTOOL" stale "$work/stale/ztd.sock"
out=$(try_start "$work/stale")
rc=$?
check "a stale socket of ours with nobody listening is replaced" \
    test $rc -eq 0
check "and removed again at the stop" test ! -e "$work/stale/ztd.sock"
check "with its lock file" test ! -e "$work/stale/ztd.sock.lock"
# TESTING.md 13: clean up only what is provably ours.  A symlink planted
# at the socket path, to a stale socket of ours (which ztd would replace
# in place, as above): refused, neither the link nor the socket removed.
mkdir -m 0755 "$work/planted" "$work/elsewhere"
"$TESTTOOL" stale "$work/elsewhere/ztd.sock"
ln -s "$work/elsewhere/ztd.sock" "$work/planted/ztd.sock"
out=$(try_start "$work/planted")
rc=$?
check "a symlink at the socket path is refused (exit 2), saying why" \
    sh -c "[ $rc -eq 2 ] && printf '%s' \"\$1\" | grep -qF '$work/planted/ztd.sock: exists and is not a socket'" _ "$out"
check "and neither the link nor the socket it names is removed" \
    sh -c "[ -L '$work/planted/ztd.sock' ] && [ -S '$work/elsewhere/ztd.sock' ]"
# A socket of ours that another process (no ztd: no lock) listens on.
mkdir -m 0755 "$work/live"
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1]); s.listen(8); print("up", flush=True); time.sleep(120)' \
    "$work/live/ztd.sock" >"$work/live.out" &
live_pid=$!
track $live_pid
check "a listener of another process is up at the socket path" \
    wait_for grep -qx up "$work/live.out"
check "ztd refuses to take it over (exit 2), saying why" \
    refused "$work/live" "$work/live/ztd.sock: another process listens on it"
check "and the listener's socket is left in place, still listening" \
    sh -c "[ -S '$work/live/ztd.sock' ] && kill -0 $live_pid"
stop_pid $live_pid
check "a missing socket directory is refused (exit 2)" \
    refused "$work/missing/sub" "$work/missing/sub: no such directory: create it first (ztd creates only /run/zt)"
check "and not created" test ! -e "$work/missing"
mkdir -m 0755 "$work/held"
: >"$work/held/ztd.sock.lock"
chmod 0600 "$work/held/ztd.sock.lock"
exec 8<"$work/held/ztd.sock.lock"
flock -n 8
check "a lock held by another is refused (exit 2)" \
    refused "$work/held" 'another ztd holds'
check "and its lock file left in place" test -f "$work/held/ztd.sock.lock"
exec 8<&-

# ---------------------------------------------------------------- config errors at start
printf 'agents = (\n  { name = "a"; accounts = ["svc-a"]; binary = "/bin/true";\n    sha256 = ["zz"]; }\n);\n' >"$work/bad.conf"
chmod 0644 "$work/bad.conf"
out=$("$ZTD" --foreground --config "$work/bad.conf" --socket "$work/x.sock" \
    --syslog-socket "$work/log.sock" 2>&1)
rc=$?
check "a broken config at start exits 1 with file:line" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -q '$work/bad.conf:3: sha256\[0\] must be 64 hex digits'" _ "$out"
out=$("$ZTD" --check-config --config "$work/bad.conf" 2>&1)
rc=$?
check "--check-config says the same and exits 1" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -qx '$work/bad.conf:3: sha256\[0\] must be 64 hex digits'" _ "$out"
"$ZTD" --bogus >/dev/null 2>&1
check "an unknown option exits 2" test $? -eq 2

# ---------------------------------------------------------------- detach
"$ZTD" --config "$conf" --socket "$work/d.sock" --syslog-socket "$work/log.sock"
rc=$?
check "ztd without --foreground returns 0 once it serves" \
    sh -c "[ $rc -eq 0 ] && '$ZTCTL' --socket '$work/d.sock' status >/dev/null"
dpid=$("$ZTCTL" --socket "$work/d.sock" --json status | sed 's/.*"pid":\([0-9]*\).*/\1/')
track "$dpid"
stop_pid "$dpid"
check "the detached ztd removes its socket on SIGTERM" test ! -e "$work/d.sock"
check "and its lock file" test ! -e "$work/d.sock.lock"

# ---------------------------------------------------------------- stop
kill -TERM "$ztd_pid"
wait "$ztd_pid"
rc=$?
check "SIGTERM stops ztd with exit 0 (and, under valgrind, no leak)" \
    test $rc -eq 0
[ $rc -eq 0 ] || diag "$(cat "$work/ztd.stderr")"
check "SIGTERM removes the socket" test ! -e "$sock"
check "SIGTERM removes the lock file" test ! -e "$sock.lock"
check "and nothing else is left in the run directory" \
    sh -c "[ -z \"\$(ls -A '$work/run')\" ]"
check "the stop is logged" logged -F "stopping"

finish
