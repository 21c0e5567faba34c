#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The audit trail as an operator runs it: time= and host= in every syslog
# line and file record; the shipped logrotate snippet (conf/logrotate/ztd)
# run by the real logrotate, its postrotate's `ztctl audit reopen` making
# ztd start a new file chained to the old one; `ztctl audit verify` across
# the rotated files (intact, a line removed, wrong order, a file missing,
# a field edited); denies of one grant rate-limited, what was held back
# written as suppressed=N, never lost (by the refill and at the grant's
# end).  The agent's account is the existing system account "daemon".
set -u
. "$(dirname "$0")/lib.sh"

sock=$work/ztd.sock
audit=$work/audit/audit.log
head=$work/state/audit.head
host=$(hostname)
time_re='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z'

start_logsink "$work"
write_config() { # DENY_RATE DENY_BURST [AUDIT-KEYS]
	worker_conf "audit: { file = \"$audit\"; require = true;
	    deny_rate = $1; deny_burst = $2; ${3:-} };" \
	    'session_ttl = 3600;
	    commands = ( { path = "/usr/bin/rsync"; risk = "low"; } );'
}

# A session driven through a fifo: lines in, one answer line out each.
open_session() { # NAME
	mkfifo "$work/$1.in"
	"$TESTTOOL" session "$sock" "$(id -u daemon)" zt-agent \
	    <"$work/$1.in" >"$work/$1.out" &
	eval "${1}_pid=$!"
	track $!
	exec {fd}>"$work/$1.in"
	eval "${1}_fd=$fd"
	wait_for test -s "$work/$1.out"
	eval "${1}_grant=\$(sed -n 's/.* grant=\([0-9a-f]\{32\}\):.*/\1/p' \"\$work/\$1.out\")"
}
answers() { echo $(($(wc -l <"$work/$1.out") - 1)); }  # NAME
# send NAME COUNT LINE: COUNT copies of LINE, then wait for every answer.
send() {
	local name=$1 count=$2 line=$3 fd before i
	eval "fd=\$${name}_fd"
	before=$(answers "$name")
	for i in $(seq "$count"); do echo "$line"; done >&"$fd"
	# Up to a minute: a loaded machine, and no deadline that matters.
	for i in $(seq 1200); do
		[ "$(answers "$name")" -ge $((before + count)) ] && return 0
		sleep 0.05
	done
	return 1
}
close_session() { # NAME
	local fd pid
	eval "fd=\$${1}_fd; pid=\$${1}_pid"
	echo close >&"$fd"
	exec {fd}>&-
	wait "$pid" 2>/dev/null
}
# What ztd wrote of grant G: denies one by one, and the suppressed sum.
denies_of() { # GRANT OBJECT
	grep -c "decision=deny action=exec .*object=\"$2\" .*grant=$1 " "$audit"
}
suppressed_of() { # GRANT
	grep "action=suppressed .*grant=$1 " "$audit" |
	    sed -n 's/.* suppressed=\([0-9]*\) seq=.*/\1/p' |
	    awk '{ n += $1 } END { print n + 0 }'
}

write_config 20 10
check "ztd starts with an audit file" start_ztd

# ------------------------------------------------ time= and host=
open_session s1
check "a session of the agent account gets a grant" test -n "$s1_grant"
line=$(synced grep -E "decision=allow action=session .*grant=- " "$work/syslog.out" | head -n 1)
check "the syslog line starts with time= (RFC 3339, UTC, microseconds) and host= ($line)" \
    has "$line" "ztd\[[0-9]+\]: time=$time_re host=$host decision=allow action=session "
record=$(grep -E "decision=allow action=session " "$audit" | head -n 1)
check "so does the file record ($record)" \
    has "$record" "^time=$time_re host=$host decision=allow action=session "
# The same record: the same time and seq in both.
seq=$(printf '%s' "$record" | sed -n 's/.* seq=\([0-9]*\) prev=.*/\1/p')
stamp=$(printf '%s' "$record" | sed -n 's/^time=\([^ ]*\) .*/\1/p')
check "the syslog line and the record carry the same time= and seq= ($stamp, $seq)" \
    logged "time=$stamp host=$host decision=allow action=session .* seq=$seq chain="
# time= is under the hash: an edited time breaks the chain.
sed "1s/^time=[^ ]*/time=2000-01-01T00:00:00.000000Z/" "$audit" >"$work/retimed.log"
"$ZTCTL" audit verify "$work/retimed.log" >"$work/out" 2>&1
rc=$?
check "a record with time= edited does not verify (exit 1: $(cat "$work/out"))" \
    sh -c "[ $rc -eq 1 ] && grep -q 'record 1 (line 1): hash does not match' '$work/out'"
close_session s1

# ------------------------------------------------ rotation: logrotate
# The shipped snippet, pointed at this test's file, socket and ztctl.
sed -e "s|/var/log/zt/audit.log|$audit|" \
    -e "s|/run/zt/ztd.sock|$sock|g" -e "s|/usr/bin/ztctl|$ZTCTL|" \
    "$top_srcdir/conf/logrotate/ztd" >"$work/logrotate.conf"
chmod 0644 "$work/logrotate.conf"
check "the test's logrotate config is the shipped snippet's (postrotate: audit reopen)" \
    grep -q "$ZTCTL --socket $sock audit reopen" "$work/logrotate.conf"
before=$(wc -l <"$audit")
last_hash=$(tail -n 1 "$audit" | sed 's/.* hash=//')
last_seq=$(tail -n 1 "$audit" | sed -n 's/.* seq=\([0-9]*\) prev=.*/\1/p')
logrotate -f -s "$work/logrotate.state" "$work/logrotate.conf" >"$work/lr.out" 2>&1
check "logrotate -f rotates with the snippet (exit 0: $(cat "$work/lr.out"))" test $? -eq 0
check "the old file is now audit.log.1, whole ($before lines)" \
    test "$(wc -l <"$audit.1")" -eq "$before"
first=$(head -n 1 "$audit" 2>/dev/null)
check "ztd started a new file: its first record is event=reopen ($first)" \
    has "$first" "^time=$time_re host=$host event=reopen file=\"$audit\" reason=\"ztctl audit reopen by uid 0 pid [0-9]+\" seq=$((last_seq + 1)) prev=$last_hash hash="
check "the new file is 0600" test "$(stat -c %a "$audit")" = 600
check "the reopen went to syslog too, chained" \
    logged "event=reopen file=\"$audit\" .* seq=$((last_seq + 1)) chain=[0-9a-f]{16}"
open_session s2
send s2 3 "decide exec /usr/bin/rsync"
close_session s2
check "decisions go on into the new file" \
    grep -q "decision=allow action=exec .*object=\"/usr/bin/rsync\"" "$audit"
# A second rotation: the first rotated file is compressed (delaycompress).
logrotate -f -s "$work/logrotate.state" "$work/logrotate.conf" >"$work/lr.out" 2>&1
check "a second rotation (exit 0: $(cat "$work/lr.out"))" test $? -eq 0
check "... compresses the oldest (audit.log.2.gz) and keeps audit.log.1" \
    test -s "$audit.2.gz" -a -s "$audit.1"
open_session s3
send s3 2 "decide exec /usr/bin/rsync"
close_session s3
gunzip -c "$audit.2.gz" >"$work/audit.2"

# ------------------------------------------------ verify across files
out=$("$ZTCTL" audit verify "$work/audit.2" "$audit.1" "$audit" --head "$head")
rc=$?
check "verify proves the chain across both rotations and the head (exit 0: $out)" \
    sh -c "[ $rc -eq 0 ] && printf '%s' \"\$1\" | grep -qE '^intact: [0-9]+ records intact in 3 files, head seq [0-9]+$'" _ "$out"
out=$("$ZTCTL" audit verify "$audit.1" "$audit")
check "the newer files alone verify, saying where the chain starts ($out)" \
    has "$out" "^intact: .*the chain starts at an event=reopen record after seq"
out=$("$ZTCTL" audit verify "$audit.1" "$work/audit.2" "$audit")
rc=$?
check "files in the wrong order: exit 1, naming file, record, line ($out)" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -qE '^NOT INTACT: $work/audit.2: record [0-9]+ \(line 1\): seq 1 where [0-9]+ was expected: records are out of order'" _ "$out"
# A middle line of the middle file removed: a gap in seq=.
n=$(wc -l <"$audit.1")
mid=$((n / 2 + 1))
sed "${mid}d" "$audit.1" >"$work/cut.1"
out=$("$ZTCTL" audit verify "$work/audit.2" "$work/cut.1" "$audit")
rc=$?
check "a removed middle line: exit 1, the gap named at line $mid of its file ($out)" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -qE '^NOT INTACT: $work/cut.1: record [0-9]+ \(line $mid\): seq [0-9]+ where [0-9]+ was expected: records before it were removed'" _ "$out"
# A field edited: the agent's name in one record.
sed "2s/agent=\"worker\"/agent=\"other\"/" "$audit.1" >"$work/edited.1"
check "precondition: the edit changed a record" \
    sh -c "! cmp -s '$audit.1' '$work/edited.1'"
out=$("$ZTCTL" audit verify "$work/audit.2" "$work/edited.1" "$audit")
rc=$?
check "a tampered field: exit 1, hash does not match at line 2 ($out)" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -qE '^NOT INTACT: $work/edited.1: record [0-9]+ \(line 2\): hash does not match'" _ "$out"
"$ZTCTL" audit verify "$work/audit.2" "$work/no-such.log" "$audit" >"$work/out" 2>"$work/err"
rc=$?
check "a missing file: exit 2, nothing checked, no verdict ($(cat "$work/err"))" \
    sh -c "[ $rc -eq 2 ] && grep -q 'no-such.log: No such file' '$work/err' && ! grep -q INTACT '$work/out'"
# The oldest file left out: the middle one starts mid-chain without an
# event=reopen record of its own?  It has one (it was a new file once).
out=$("$ZTCTL" audit verify "$work/audit.2" "$audit" --head "$head")
rc=$?
check "a whole middle file left out: exit 1 ($out)" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -q 'where [0-9]* was expected: records before it were removed'" _ "$out"

# ------------------------------------------------ reopen: refusals
if [ "$(id -u)" = 0 ]; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$ZTCTL" --socket "$sock" audit reopen >"$work/out" 2>&1
	rc=$?
	check "an unprivileged peer may not reopen (exit 2, root only: $(cat "$work/out"))" \
	    sh -c "[ $rc -eq 2 ] && grep -q 'root only' '$work/out'"
else
	skip "unprivileged reopen refused (needs root)"
fi
seq_now=$("$ZTCTL" --socket "$sock" --json status | sed -n 's/.*"audit_seq":\([0-9]*\).*/\1/p')
mv "$audit" "$work/moved.log"
cp "$work/audit.2" "$audit"	# a file of the chain's start, not its end
"$ZTCTL" --socket "$sock" audit reopen >"$work/out" 2>&1
rc=$?
check "reopen onto a file that is not the chain's end is refused (exit 2: $(cat "$work/out"))" \
    sh -c "[ $rc -eq 2 ] && grep -q 'does not end with this chain' '$work/out'"
open_session s4
close_session s4
check "... and records go on into the old (moved) file" \
    grep -q "decision=allow action=session .* seq=$((seq_now + 1)) prev=" "$work/moved.log"
rm -f "$audit"
out=$("$ZTCTL" --socket "$sock" audit reopen 2>&1)
check "with the path free, reopen works ($out)" \
    has "$out" "^audit file $audit reopened: its first record is seq [0-9]+$"
out=$("$ZTCTL" audit verify "$audit.1" "$work/moved.log" "$audit" --head "$head")
check "and the chain verifies across the move ($out)" has "$out" '^intact: '

# ------------------------------------------------ denies: rate-limited
# deny_rate 20/s, burst 10: 500 denies at once write about 10 at once and
# hold the rest; the refill writes suppressed=N records while the grant
# lives; its end writes what is left.  Every answer is a deny.
open_session r1
send r1 500 "decide exec /usr/bin/curl"
check "every one of the 500 requests was answered with a deny" \
    test "$(tail -n 500 "$work/r1.out" | grep -c '^deny')" -eq 500
wait_for grep -q "action=suppressed .*grant=$r1_grant " "$audit"
check "while the grant lives, the refill writes a suppressed=N record" \
    grep -qE "decision=deny action=suppressed agent=\"worker\" account=\"daemon\" uid=$(id -u daemon) pid=[0-9]+ object=- reason=\"[0-9]+ denies of this grant since $time_re held back by the audit rate limit \(ztd.audit.deny_rate = 20 per second, deny_burst = 10\); pid= is the last one's\" grant=$r1_grant cache=- attest=software age=- suppressed=[0-9]+ seq=" "$audit"
close_session r1
wait_for grep -q "grant $r1_grant .* ended" "$work/syslog.out"
one=$(denies_of "$r1_grant" /usr/bin/curl)
held=$(suppressed_of "$r1_grant")
check "fewer records than denies ($one written one by one)" test "$one" -lt 500 -a "$one" -ge 10
check "records + suppressed = the 500 denies caused ($one + $held)" \
    test $((one + held)) -eq 500
out=$("$ZTCTL" audit verify "$audit" --head "$head")
check "the suppressed records are in the chain ($out)" has "$out" '^intact: '

# The grant's end flushes the count: a rate so slow that no token comes
# back during the test (one per 1000 s), burst 5.
write_config 0.001 5
"$ZTCTL" --socket "$sock" reload >/dev/null
check "reload: deny_rate 0.001 (a decimal rate)" test $? -eq 0
open_session r2
send r2 300 "decide exec /usr/bin/curl"
check "300 denies answered" \
    test "$(tail -n 300 "$work/r2.out" | grep -c '^deny')" -eq 300
check "nothing of them is written beyond the burst while the grant lives ($(denies_of "$r2_grant" /usr/bin/curl))" \
    sh -c "[ $(denies_of "$r2_grant" /usr/bin/curl) -eq 5 ] && ! grep -q 'action=suppressed .*grant=$r2_grant ' '$audit'"
close_session r2
wait_for grep -q "action=suppressed .*grant=$r2_grant " "$audit"
check "the grant's end writes one suppressed=295 record, saying so" \
    grep -qE "action=suppressed .*\(the grant ended\); pid= is the last one's\" grant=$r2_grant .* suppressed=295 seq=" "$audit"
check "records + suppressed = the 300 denies caused" \
    test $(($(denies_of "$r2_grant" /usr/bin/curl) + $(suppressed_of "$r2_grant"))) -eq 300
check "syslog got the same suppressed=295 line" \
    logged "action=suppressed .*grant=$r2_grant .* suppressed=295 seq=[0-9]+ chain="

# Denies no grant holds, caused by a peer other than root: any local uid
# sending what only a supervisor may send (each refusal is audited), an
# agent's account asking about a process that is not its binary.  One
# bucket per uid (the same rate and burst), what it holds back written
# as suppressed=N, by the refill and when ztd stops: a local user cannot
# fill the audit file, or drown other lines in syslog, at will.
nobody_uid=$(id -u nobody)
peer_denies() { grep -c "decision=deny action=request .*uid=$nobody_uid .*object=\"report\" " "$audit"; }
if [ "$(id -u)" = 0 ]; then
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$TESTTOOL" forge "$sock" report 0123456789abcdef0123456789abcdef /usr/bin/rsync 300)
	check "300 REPORTs of uid nobody (no supervisor) are all refused ($out)" \
	    has "$out" '^300 sent, 300 refused'
	check "the first ones are audited as refused requests ($(peer_denies))" \
	    test "$(peer_denies)" -ge 1
	check "but no more than the burst of 5 while ztd runs ($(peer_denies))" \
	    test "$(peer_denies)" -le 5
	peer_held=yes
else
	skip "a local user's refused requests rate-limited (needs root: setpriv)"
fi

kill -TERM "$ztd_pid"
wait "$ztd_pid"
check "ztd stopped cleanly" test $? -eq 0
if [ -n "${peer_held:-}" ]; then
	held=$(grep "action=suppressed .*uid=$nobody_uid " "$audit" |
	    sed -n 's/.* suppressed=\([0-9]*\) seq=.*/\1/p' |
	    awk '{ n += $1 } END { print n + 0 }')
	check "ztd's stop wrote what uid nobody's bucket held: records + suppressed = 300 ($(peer_denies) + $held)" \
	    test $(($(peer_denies) + held)) -eq 300
	line=$(grep "action=suppressed .*uid=$nobody_uid " "$audit" | tail -n 1)
	check "as a record naming the uid and why ($line)" \
	    has "$line" "decision=deny action=suppressed agent=\"-\" account=\"-\" uid=$nobody_uid pid=[0-9]+ object=- reason=\"[0-9]+ denies caused by uid $nobody_uid under no grant since $time_re held back by the audit rate limit \\(ztd.audit.deny_rate = 0.001 per second, deny_burst = 5\\) \\(ztd stopped\\); pid= is the last one's\" grant=- "
fi
# Rotated while ztd was stopped: it starts the new file itself.
mv "$audit" "$audit.3"
start_ztd
first=$(head -n 1 "$audit" 2>/dev/null)
check "started on a missing file after a rotation: event=reopen first ($first)" \
    has "$first" 'event=reopen .*reason="ztd started on an empty file: the chain goes on from the head"'
check "ztd warned why" logged -F "is empty but the head"
out=$("$ZTCTL" audit verify "$audit.1" "$work/moved.log" "$audit.3" "$audit" --head "$head")
check "the chain verifies across the stop ($out)" has "$out" '^intact: '

# ------------------------------------------------ time= and host=, everywhere
# Every record of every file this run made (rotated, compressed, moved:
# allows, denies, suppressed=N, event=reopen) and every audit line in
# syslog (those with seq= and chain=) starts with time= and host=.
zcat -f "$(dirname "$audit")"/* "$work/moved.log" >"$work/all.records"
# Synced: every line of the run, none still in flight.
synced grep -E ' seq=[0-9]+ chain=' "$work/syslog.out" >"$work/all.lines"
check "precondition: the records hold allows, denies, suppressed=N and reopens ($(wc -l <"$work/all.records") records)" \
    sh -c "grep -q 'decision=allow' '$work/all.records' && grep -q 'decision=deny' '$work/all.records' && grep -q ' suppressed=[0-9]' '$work/all.records' && grep -q 'event=reopen' '$work/all.records'"
check "every file record starts with time= and host=" \
    sh -c "! grep -vE '^time=$time_re host=$host ' '$work/all.records'"
check "precondition: syslog has the audit lines ($(wc -l <"$work/all.lines") lines)" \
    test "$(wc -l <"$work/all.lines")" -gt 30
check "every audit line in syslog starts with time= and host=" \
    sh -c "! grep -vE 'ztd\[[0-9]+\]: time=$time_re host=$host ' '$work/all.lines'"

# ------------------------------------------------ the log relay
# ztd hands each syslog line to its relay (a child process, zt-log-relay)
# through a pipe before the answer it belongs to leaves, and the relay
# sends them in batches.  Stopped, the relay sends nothing, yet the
# answers come (the lines wait in the pipe); once ztd is gone, even
# killed, the relay sends what the pipe held, and exits: nothing is lost.
# The relay's pid, once it has taken its name (999999, no process, when
# there is none: never 0, the process group, to kill).
relay_of() {
	wait_for sh -c "pgrep -P $ztd_pid -x zt-log-relay >/dev/null" &&
	    pgrep -P "$ztd_pid" -x zt-log-relay || echo 999999
}
relay=$(relay_of)
check "ztd runs its log relay, a child named zt-log-relay ($relay)" \
    test "$relay" != 999999
check "the relay holds only the pipe and the syslog socket besides 0-2" \
    test "$(ls /proc/$relay/fd 2>/dev/null | awk '$1 > 2' | wc -l)" -eq 2
open_session rl1
kill -STOP "$relay"
send rl1 20 "decide exec /usr/bin/rsync"
check "20 decisions answered with the relay stopped" \
    test "$(answers rl1)" -ge 20
last=$(tail -n 1 "$audit" | sed -n 's/.* seq=\([0-9]*\) .*/\1/p')
check "the file has the last of them (seq ${last:-none})" \
    grep -q "grant=$rl1_grant .* seq=${last:-none} " "$audit"
check "syslog has not: they wait in the pipe" \
    not_logged " seq=${last:-none} chain="
kill -KILL "$ztd_pid"
wait "$ztd_pid" 2>/dev/null
kill -CONT "$relay"
check "the relay exits once ztd is gone (killed)" \
    wait_for sh -c "! kill -0 $relay 2>/dev/null"
check "having sent what the pipe held: seq ${last:-none} is in syslog" \
    logged " seq=${last:-none} chain="
grep "grant=$rl1_grant " "$audit" | sed -n 's/.* seq=\([0-9]*\) .*/\1/p' \
    >"$work/rl1.file"
synced grep "grant=$rl1_grant " "$work/syslog.out" |
    sed -n 's/.* seq=\([0-9]*\) chain=.*/\1/p' >"$work/rl1.syslog"
check "every one of the grant's $(wc -l <"$work/rl1.file") records is in syslog, once, in order" \
    sh -c "[ \$(wc -l <'$work/rl1.file') -ge 20 ] && cmp -s '$work/rl1.file' '$work/rl1.syslog'"
# Killed, the relay is replaced by the syslog socket: nothing waits.
start_ztd
relay=$(relay_of)
check "a new ztd, a new relay ($relay)" test "$relay" != 999999
kill -KILL "$relay"
open_session rl2
send rl2 1 "decide exec /usr/bin/rsync"
check "with its relay killed, ztd's lines reach syslog directly" \
    logged "decision=allow action=exec .*grant=$rl2_grant "
check "and ztd said so" logged -F "the log relay is gone"
check "and reaped it: no zombie relay is left" \
    sh -c "! ps -o stat= -p $relay | grep -q Z"
close_session rl2
kill -TERM "$ztd_pid"
wait "$ztd_pid" 2>/dev/null
# audit.relay = false: no relay.
write_config 20 10 "relay = false;"
start_ztd
check "with audit.relay = false ztd runs no relay" \
    sh -c "! pgrep -P $ztd_pid -x zt-log-relay"
open_session rl3
send rl3 1 "decide exec /usr/bin/rsync"
check "and its lines reach syslog" \
    logged "decision=allow action=exec .*grant=$rl3_grant "
close_session rl3
kill -TERM "$ztd_pid"
wait "$ztd_pid" 2>/dev/null
# The receiver gone for good: once ztd ends, the relay tries for 3 s at
# most, says what it lost, and exits (it does not outlive ztd for ever).
write_config 20 10
start_ztd
relay=$(relay_of)
check "one more relay ($relay)" test "$relay" != 999999
sink=$(pgrep -f "logsink $work/log.sock" | head -n 1)
check "the syslog sink to stop (${sink:-none})" test -n "$sink"
kill -KILL "${sink:-999999}"
open_session rl4
send rl4 1 "decide exec /usr/bin/rsync"
check "with the receiver gone, the answer still came (the line is in the pipe)" \
    test "$(answers rl4)" -ge 1
close_session rl4
kill -TERM "$ztd_pid"
wait "$ztd_pid" 2>/dev/null
check "the relay exits once ztd is gone, the receiver gone too" \
    wait_for sh -c "! kill -0 $relay 2>/dev/null"
check "saying on stderr how many lines it lost" \
    grep -qE "log relay: [1-9][0-9]* lines lost: the syslog socket $work/log.sock would not take them" "$work/ztd.stderr"
finish
