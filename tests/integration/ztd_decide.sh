#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ztd decides: the policy table through the real socket (ztctl check), then
# grants, decisions on a grant's behalf, the cache, revocation, supervisor
# exit, identity of the agent's binary, who may ask, and the audit trail.
set -u
. "$(dirname "$0")/lib.sh"

sock=$work/ztd.sock
start_logsink "$work"
# PID BINARY: wait until PID has exec'd BINARY (setpriv execs it).
runs() { wait_for sh -c "[ \"\$(readlink /proc/$1/exe)\" = '$2' ]"; }

start_ztd() { # CONFIG
	: >"$work/ztd.stderr"
	$ZTD_WRAP "$ZTD" --foreground --config "$1" --socket "$sock" \
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

# ------------------------------------------------ A. the policy table
mkdir -m 0700 "$work/state-a"
sed -e "s|@STATE@|$work/state-a|" "$top_srcdir/tests/data/policy.conf" \
    >"$work/policy.conf"
chmod 0644 "$work/policy.conf"
check "ztd starts with the policy table's configuration" \
    start_ztd "$work/policy.conf"
cases=0
while read -r action object expect risk; do
	case "$action" in '' | '#'*) continue ;; esac
	cases=$((cases + 1))
	out=$("$ZTCTL" --socket "$sock" check --agent backup --action "$action" \
	    --object "$object" 2>&1)
	rc=$?
	case "$expect" in
	allow) want=0 ;;
	deny | error) want=1 ;;
	*) want=x ;;
	esac
	if [ "$rc" = "$want" ] &&
	    { [ "$expect" != allow ] || printf '%s' "$out" | grep -q "^allow ($risk risk)"; }; then
		ok "check $action $object: $expect${risk:+ $risk}"
	else
		not_ok "check $action $object: $expect${risk:+ $risk} (exit $rc: $out)"
	fi
done <"$top_srcdir/tests/data/policy-cases.txt"
check "the policy table has at least 60 cases ($cases)" test "$cases" -ge 60
out=$("$ZTCTL" --socket "$sock" check --agent nosuch --action exec --object /bin/true 2>&1)
check "an unknown agent is an error, naming it, not a deny (exit 2)" \
    sh -c "[ $? -eq 2 ] && printf '%s' \"\$1\" | grep -q 'unknown name: no agent named nosuch' && ! printf '%s' \"\$1\" | grep -q '^deny'" _ "$out"
out=$("$ZTCTL" --socket "$sock" revoke nonhex 2>&1)
check "revoke of a malformed grant id is a usage error (exit 2: $out)" \
    sh -c "[ $? -eq 2 ] && printf '%s' \"\$1\" | grep -q \"'nonhex' is no grant id\"" _ "$out"
out=$("$ZTCTL" --socket "$sock" revoke 0123456789abcdef0123456789abcdef 2>&1)
check "revoke of a well-formed id matching nothing exits 1 ($out)" \
    sh -c "[ $? -eq 1 ] && printf '%s' \"\$1\" | grep -q 'revoked 0 grants'" _ "$out"
"$ZTCTL" --socket "$sock" check --agent backup --action fly --object x >/dev/null 2>&1
check "an unknown action is an error (exit 2)" test $? -eq 2
json=$("$ZTCTL" --socket "$sock" --json check --agent backup --action exec --object /bin/sh)
check "--json check gives decision and reason" \
    sh -c "printf '%s' \"\$1\" | grep -q '^{\"decision\":\"deny\",\"reason\":\"'" _ "$json"
if [ "$(id -u)" = 0 ]; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$ZTCTL" --socket "$sock" check --agent backup --action exec \
	    --object /usr/bin/rsync >"$work/out" 2>&1
	rc=$?
	check "an unprivileged peer may not use check (exit 2, permission denied)" \
	    sh -c "[ $rc -eq 2 ] && grep -q 'permission denied' '$work/out'"
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$ZTCTL" --socket "$sock" revoke --agent backup >"$work/out" 2>&1
	rc=$?
	check "an unprivileged peer may not revoke (exit 2)" \
	    sh -c "[ $rc -eq 2 ] && grep -q 'permission denied' '$work/out'"
else
	skip "unprivileged check refused (needs root)"
	skip "unprivileged revoke refused (needs root)"
fi
stop_ztd
check "ztd stopped cleanly after the table" test "$ztd_status" -eq 0

# ------------------------------------------------ B. grants and decisions
# The agent runs as the existing system account "daemon": nothing is added
# to the system.  Its binary is a private copy, pinned by digest.
agent_uid=$(id -u daemon)
cp /bin/sleep "$work/agent-bin"
chmod 0755 "$work/agent-bin"
digest=$(sha256sum "$work/agent-bin" | cut -d' ' -f1)
mkdir -m 0700 "$work/state"
cat >"$work/ztd.conf" <<EOC
ztd: {
  state_dir = "$work/state";
  audit: { file = "$work/audit/audit.log"; require = true; };
  cache: { max_entries = 64; };
};
attestation: { mode = "software"; };
agents = (
  {
    name = "worker";
    accounts = ["daemon"];
    pam_services = ["zt-agent", "cron"];
    binary = "$work/agent-bin";
    sha256 = ["$digest"];
    session_ttl = 3600;	# the revoke tests use the first grant late
    decision_ttl = 30;
    commands = (
      { path = "/usr/bin/rsync"; risk = "low"; },
      { path = "/usr/bin/psql"; risk = "high"; },
      { path = "/bin/sh"; risk = "deny"; }
    );
    network = ( { to = "127.0.0.1/32"; ports = "5432"; proto = "tcp"; } );
  }
);
EOC
chmod 0644 "$work/ztd.conf"
check "ztd starts with an agent whose binary is pinned" start_ztd "$work/ztd.conf"

# A session driven through a fifo: one command in, one answer line out.
open_session() { # NAME UID SERVICE
	mkfifo "$work/$1.in"
	"$TESTTOOL" session "$sock" "$2" "$3" <"$work/$1.in" >"$work/$1.out" &
	eval "${1}_pid=$!"
	track $!
	exec {fd}>"$work/$1.in"
	eval "${1}_fd=$fd"
	wait_for test -s "$work/$1.out"
}
ask() { # NAME COMMAND...: print the answer line
	local name=$1 fd lines
	shift
	eval "fd=\$${name}_fd"
	lines=$(wc -l <"$work/$name.out")
	echo "$*" >&"$fd"
	wait_for has_lines "$work/$name.out" $((lines + 1))
	tail -n 1 "$work/$name.out"
}

open_session s1 "$agent_uid" zt-agent
first=$(head -n 1 "$work/s1.out")
grant=$(printf '%s' "$first" | sed -n 's/.* grant=\([0-9a-f]\{32\}\):.*/\1/p')
check "a session of the agent account gets a grant ($first)" test -n "$grant"
check "ztctl grants lists it" \
    sh -c "'$ZTCTL' --socket '$sock' grants | grep -q '^$grant worker .*daemon'"
check "ztctl --json grants lists it" \
    sh -c "'$ZTCTL' --socket '$sock' --json grants | grep -q '\"grant\":\"$grant\",\"agent\":\"worker\"'"
check "the session decision is audited with its fields" \
    wait_for grep -qE "decision=allow action=session agent=\"worker\" account=\"daemon\" uid=$agent_uid pid=[0-9]+ object=\"zt-agent\" reason=\"[^\"]*\" grant=- cache=miss attest=software age=[0-9]+ seq=[0-9]+ chain=[0-9a-f]{16}" "$work/syslog.out"
# software mode, files = []: trusted, and every place says nothing was measured
nothing='nothing measured (software mode, attestation.files is empty)'
nothing_re='; host nothing measured \(software mode, attestation\.files is empty\)'
check "the allow's audit reason says the host was trusted with $nothing" \
    grep -qF "; host $nothing\" grant=- cache=miss attest=software" "$work/syslog.out"
out=$("$ZTCTL" --socket "$sock" attest)
check "ztctl attest: trusted, saying nothing was measured ($out)" \
    sh -c "[ $? -eq 0 ] && printf '%s' \"\$1\" | grep -qxF 'trusted: host trusted (software): $nothing'" _ "$out"
out=$("$ZTCTL" --socket "$sock" status)
check "ztctl status says so too" grep -qF "attestation:  software, trusted ($nothing)" <<<"$out"
out=$("$ZTCTL" --socket "$sock" --json status)
check "and --json status still says trusted" has "$out" '"trusted":true,"state":"trusted \(nothing measured'
check "the log says so" logged -F "attestation (software): host trusted: $nothing"

out=$(ask s1 decide exec /usr/bin/rsync)
check "a low-risk command is allowed with a ttl ($out)" \
    has "$out" '^allow risk=low ttl=30000 '
out=$(ask s1 decide exec /usr/bin/rsync)
check "asked again, it is allowed" has "$out" '^allow risk=low'
check "the second is a cache hit in the audit line" \
    wait_for grep -qE "decision=allow action=exec agent=\"worker\" account=\"daemon\" uid=$agent_uid pid=[0-9]+ object=\"/usr/bin/rsync\" reason=\"cached allow$nothing_re\" grant=$grant cache=hit" "$work/syslog.out"
out=$(ask s1 decide exec /usr/bin/psql)
check "a high-risk command without the acting process's pidfd is denied ($out)" \
    has "$out" '^deny: .*did not re-prove its identity'
# The agent itself: its pinned binary, running as the agent account.
setpriv --reuid=daemon --regid=daemon --clear-groups "$work/agent-bin" 300 &
agent_pid=$!
track $agent_pid
runs $agent_pid "$work/agent-bin"
out=$(ask s1 decide-pid $agent_pid exec /usr/bin/psql)
check "with the agent's pidfd a high-risk command is allowed, ttl 0 ($out)" \
    has "$out" '^allow risk=high ttl=0 '
ask s1 decide-pid $agent_pid exec /usr/bin/psql >/dev/null
# Both asks audited (as allows, misses) before "none was cached" means
# anything.
psql_misses() {
	grep -c "decision=allow action=exec .*object=\"/usr/bin/psql\" .* cache=miss" \
	    "$work/syslog.out"
}
psql_twice() { [ "$(psql_misses)" -ge 2 ]; }
wait_for psql_twice
check "a high-risk allow is never cached ($(psql_misses) allows, each a miss)" \
    synced sh -c "[ $(psql_misses) -ge 2 ] &&
    ! grep -q 'object=\"/usr/bin/psql\" reason=\"cached allow\"' '$work/syslog.out'"
check "the audit line names the agent process's pid" \
    grep -q "action=exec agent=\"worker\" account=\"daemon\" uid=$agent_uid pid=$agent_pid object=\"/usr/bin/psql\"" "$work/syslog.out"
setpriv --reuid=daemon --regid=daemon --clear-groups /bin/sleep 300 &
impostor=$!
track $impostor
runs $impostor "$(readlink -f /bin/sleep)"
out=$(ask s1 decide-pid $impostor exec /usr/bin/rsync)
check "a process of another binary (same content, other file) is refused ($out)" \
    has "$out" '^deny: identity'
"$work/agent-bin" 300 &
as_root=$!
track $as_root
runs $as_root "$work/agent-bin"
out=$(ask s1 decide-pid $as_root exec /usr/bin/rsync)
check "the agent binary running as another uid is refused ($out)" \
    has "$out" '^deny: identity: .*uid 0'
stop_pid $impostor
stop_pid $as_root
out=$(ask s1 decide exec /bin/sh)
check "a denied command is denied, naming its rule ($out)" \
    has "$out" '^deny: .*/bin/sh'
out=$(ask s1 decide exec /usr/bin/curl)
check "an unlisted command is denied ($out)" has "$out" '^deny'
out=$(ask s1 decide connect tcp:127.0.0.1:5432)
check "an allowed connect ($out)" has "$out" '^allow risk=low'
# Reports that cannot lie: a hit of a supervisor's cache is written only
# with the token ztd sent with the allow it served (grant, action, object
# and end under ztd's key); anything else is a forgery attempt, audited as
# such and never as an allow.
out=$(ask s1 report connect tcp:127.0.0.1:5432 last)
check "a hit reported with its allow's token is written ($out)" \
    has "$out" '^report written=1$'
check "and audited as an allow from zt-exec's cache (cache=local)" \
    wait_for grep -qE "decision=allow action=connect agent=\"worker\" account=\"daemon\" uid=$agent_uid pid=[0-9]+ object=\"tcp:127.0.0.1:5432\" reason=\"allowed from zt-exec's cache [0-9]+ ms before this report$nothing_re\" grant=$grant cache=local" "$work/syslog.out"
# zt-exec waits for no answer to its reports, and an answer it never
# reads would keep its cache from knowing it is caught up with ztd: with
# ZT_REPORT_NO_REPLY ztd writes the record and sends nothing back.
before_quiet=$(grep -c 'object="tcp:127.0.0.1:5432" .*cache=local' "$work/syslog.out")
out=$(ask s1 report-quiet connect tcp:127.0.0.1:5432 last)
check "a report asking for no answer gets none: the next answer is the STATUS after it ($out)" \
    has "$out" '^first answer: status-reply$'
check "and its hit is audited all the same (cache=local)" \
    wait_for sh -c "[ \$(grep -c 'object=\"tcp:127.0.0.1:5432\" .*cache=local' '$work/syslog.out') -gt $before_quiet ]"
forged() { # ACTION OBJECT TOKEN WHY [fresh]: refused and audited as forged
	out=$(ask s1 report "$1" "$2" "$3")
	check "a report of $1 $2 with token $3 is refused ($out)" \
	    has "$out" '^report written=0$'
	check "... audited as a forgery attempt ($4)" \
	    wait_for grep -qF "decision=deny action=$1 agent=\"worker\" account=\"daemon\" uid=$agent_uid pid=$s1_pid object=\"$2\" reason=\"forged report: $4" "$work/syslog.out"
	[ "${5-}" = fresh ] || return 0
	# The line just checked is the positive precondition of this one.
	check "... and never written as an allow from the cache" \
	    synced sh -c "! grep -F 'object=\"$2\"' '$work/syslog.out' | grep -q 'decision=allow.*cache=local'"
}
forged connect tcp:10.66.66.66:4444 last "token does not match" fresh
forged exec /usr/bin/dash none "the record carries no token" fresh
forged connect udp:8.8.8.8:53 garbage "token does not match" fresh
forged connect tcp:127.0.0.1:5432 late "token does not match"
check "ztd names the forgeries in its log" \
    wait_for grep -q "grant $grant: 1 forged cache-hit records from pid $s1_pid refused" "$work/syslog.out"
out=$(ask s1 decide connect tcp:127.0.0.1:5433)
check "a connect to another port is denied" has "$out" '^deny'
out=$(ask s1 decide exec 'relative/path')
check "a malformed object is a deny, not an error" has "$out" '^deny'
status=$("$ZTCTL" --socket "$sock" --json status)
check "status counts the cache hit and live grant" \
    sh -c "printf '%s' \"\$1\" | grep -q '\"hits\":[1-9]' && printf '%s' \"\$1\" | grep -q '\"grants\":1,'" _ "$status"
check "ztctl check within the grant allows rsync" \
    quiet "$ZTCTL" --socket "$sock" check --agent worker --action exec \
    --object /usr/bin/rsync --grant "$grant"

out=$("$TESTTOOL" decide "$sock" "$grant" exec /usr/bin/rsync)
check "another process may not decide on the grant's behalf ($out)" \
    has "$out" '^deny: no live grant'
out=$("$TESTTOOL" decide "$sock" - exec /usr/bin/rsync)
check "a non-agent asking about itself is refused ($out)" \
    has "$out" 'not an agent account'

# reload: the cache is dropped, supervisors are told
"$ZTCTL" --socket "$sock" reload >/dev/null
out=$(ask s1 events)
check "the supervisor was told to drop its cache ($out)" \
    has "$out" '^event 2 -: policy reloaded'
ask s1 decide exec /usr/bin/rsync >/dev/null
# Synced: the line of a decision before the reload would do too.
check "after a reload the next decision is a miss" \
    synced sh -c "grep 'object=\"/usr/bin/rsync\"' '$work/syslog.out' | tail -n 1 | grep -q 'cache=miss'"

# revoke: the supervisor is told at once, the next request is denied.
# The grant is live until then (session_ttl is an hour): said first, so
# that a failure below is about revoke.
check "before revoke the grant is live" \
    sh -c "[ -n '$grant' ] && '$ZTCTL' --socket '$sock' grants | grep -q '^$grant '"
# A connect allowed (cacheable, with its token) just before the revoke:
# a supervisor may serve a hit of it from its cache before it reads the
# grant-ended event (or, for an allow decided ahead, that hit is the only
# record the use will ever have), and its report reaches ztd after the
# revoke.
out=$(ask s1 decide connect tcp:127.0.0.1:5432)
check "before revoke a connect is allowed with a TTL ($out)" \
    has "$out" '^allow risk=low ttl=[1-9]'
"$ZTCTL" --socket "$sock" revoke "$grant" >"$work/out"
check "ztctl revoke GRANT revokes one" grep -qx "revoked 1 grant" "$work/out"
out=$(ask s1 events)
check "the supervisor got the grant-ended event ($out)" \
    sh -c "grep -q '^event 1 $grant: revoked by uid' '$work/s1.out'"
# (its report comes after the event here: ztd has ended the grant either
# way, and the test tool's calls skip events that come ahead of a reply)
before_late=$(grep -c 'object="tcp:127.0.0.1:5432" .*cache=local' "$work/syslog.out")
out=$(ask s1 report connect tcp:127.0.0.1:5432 last)
check "a hit served before the revoke, reported after it, is still audited ($out)" \
    wait_for sh -c "[ \$(grep -c 'object=\"tcp:127.0.0.1:5432\" .*cache=local' '$work/syslog.out') -gt $before_late ]"
check "... its audit line says it came after the grant ended, naming the grant" \
    sh -c "grep 'object=\"tcp:127.0.0.1:5432\" .*cache=local' '$work/syslog.out' | tail -n 1 | grep -q 'reported after the grant ended[^\"]*\" grant=$grant '"
out=$(ask s1 report connect tcp:10.66.66.66:4444 garbage)
check "a forged report for the ended grant is still refused ($out)" \
    has "$out" '^report written=0'
out=$(ask s1 decide exec /usr/bin/rsync)
check "after revoke the next request is a deny ($out)" \
    has "$out" '^deny: no live grant'
check "and it was audited as a miss and a deny" \
    wait_for sh -c "grep 'object=\"/usr/bin/rsync\"' '$work/syslog.out' | tail -n 1 | grep -q '^.*decision=deny .*cache=miss'"
"$ZTCTL" --socket "$sock" check --agent worker --action exec \
    --object /usr/bin/rsync --grant "$grant" >"$work/out"
check "ztctl check with the revoked grant is a deny (exit 1)" \
    sh -c "[ $? -eq 1 ] && grep -q 'not a live grant' '$work/out'"
"$ZTCTL" --socket "$sock" revoke "$grant" >"$work/out"
check "revoking it again matches nothing (exit 1)" \
    sh -c "[ $? -eq 1 ] && grep -qx 'revoked 0 grants' '$work/out'"

# close_session ends the grant
open_session s2 "$agent_uid" cron
grant2=$(head -n 1 "$work/s2.out" | sed -n 's/.* grant=\([0-9a-f]\{32\}\):.*/\1/p')
check "a second session gets a grant, listed ($grant2)" \
    sh -c "[ -n '$grant2' ] && '$ZTCTL' --socket '$sock' grants | grep -q '^$grant2 '"
out=$(ask s2 close-events)
"$ZTCTL" --socket "$sock" grants >"$work/grants.out"
rc=$?
check "closing the session ends the grant ($out)" \
    sh -c "printf '%s' '$out' | grep -q '^events ahead [0-9]*, allow' &&
    [ $rc -eq 0 ] && [ -n '$grant2' ] && ! grep -q '$grant2' '$work/grants.out'"
# The revoke above pushed its event to s1: here the reply says it.
check "the connection that closed it gets no grant-ended event ahead of the reply ($out)" \
    has "$out" '^events ahead 0, '

# the supervisor's exit ends the grant
open_session s3 "$agent_uid" zt-agent
grant3=$(head -n 1 "$work/s3.out" | sed -n 's/.* grant=\([0-9a-f]\{32\}\):.*/\1/p')
kill -KILL "$s3_pid"
check "the supervisor's exit ends its grant" \
    wait_for logged -F "grant $grant3 (agent worker, account daemon) ended: supervisor exited"

# revoke --kill kills the supervisor
open_session s4 "$agent_uid" zt-agent
check "a session to revoke with --kill: granted, its supervisor running" \
    sh -c "head -n 1 '$work/s4.out' | grep -q '^allow .*grant=' &&
    kill -0 $s4_pid"
"$ZTCTL" --socket "$sock" revoke --agent worker --kill >"$work/out"
check "revoke --agent --kill revokes and kills" \
    grep -q "revoked 1 grant (processes killed)" "$work/out"
check "the supervisor process is gone" wait_for sh -c "! kill -0 $s4_pid 2>/dev/null"

# refusals at session open
out=$("$TESTTOOL" session "$sock" 0 zt-agent </dev/null)
check "a non-agent account is told so (PAM ignores it) ($out)" \
    has "$out" 'not an agent account'
out=$("$TESTTOOL" session "$sock" "$agent_uid" sshd </dev/null)
check "a PAM service the agent may not use is denied ($out)" \
    has "$out" '^deny: .*sshd'
stop_pid $agent_pid
printf 'x' >>"$work/agent-bin"
out=$("$TESTTOOL" session "$sock" "$agent_uid" zt-agent </dev/null)
check "a changed agent binary gets no session ($out)" \
    has "$out" '^deny: identity'
cp /bin/sleep "$work/agent-bin"
out=$("$TESTTOOL" session "$sock" "$agent_uid" zt-agent </dev/null)
check "restored, it gets one again" has "$out" '^allow'
if [ "$(id -u)" = 0 ]; then
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$TESTTOOL" session "$sock" "$agent_uid" zt-agent </dev/null)
	check "an unprivileged process may not open sessions ($out)" \
	    has "$out" 'permission denied'
else
	skip "unprivileged session open (needs root)"
fi

# the audit trail
check "every decision line is one line with seq and chain" \
    synced sh -c "[ \$(grep -c 'decision=' '$work/syslog.out') -ge 20 ] &&
    ! grep 'decision=' '$work/syslog.out' | grep -vqE ' seq=[0-9]+ chain=[0-9a-f]{16}$'"
out=$("$ZTCTL" audit verify "$work/audit/audit.log" --head "$work/state/audit.head")
check "ztctl audit verify: the chain is intact ($out)" test $? -eq 0
# Group commit: four sessions asking at once (answers of one pass wait
# for one write, fdatasync and head): every answer an allow, one record
# per decision in the file and in syslog, the chain intact.
before=$(grep -c 'action=exec .*object="/usr/bin/rsync"' "$work/audit/audit.log")
burst=""
for i in 1 2 3 4; do
	seq 50 | sed 's|.*|decide exec /usr/bin/rsync|' |
	    "$TESTTOOL" session "$sock" "$agent_uid" zt-agent >"$work/burst$i.out" &
	burst="$burst $!"
	track $!
done
wait $burst
allows=$(cat "$work"/burst?.out | grep -c '^allow')
check "4 sessions x 50 decides at once: all answered allow ($allows of 204)" \
    [ "$allows" -eq 204 ]
check "each of them is in the audit file, once" \
    sh -c "[ \$(grep -c 'action=exec .*object=\"/usr/bin/rsync\"' '$work/audit/audit.log') -eq $((before + 200)) ]"
check "and in syslog" \
    wait_for sh -c "[ \$(grep -c 'action=exec .*object=\"/usr/bin/rsync\"' '$work/syslog.out') -ge $((before + 200)) ]"
out=$("$ZTCTL" audit verify "$work/audit/audit.log" --head "$work/state/audit.head")
check "after the burst the chain is intact and the head agrees ($out)" test $? -eq 0
cp "$work/audit/audit.log" "$work/tampered.log"
sed -i '3s/ uid=/ uid=9/' "$work/tampered.log"
"$ZTCTL" audit verify "$work/tampered.log" >"$work/out"
check "an edited record is detected (exit 1)" \
    sh -c "[ $? -eq 1 ] && grep -q 'NOT INTACT' '$work/out'"
head -n -2 "$work/audit/audit.log" >"$work/cut.log"
"$ZTCTL" audit verify "$work/cut.log" --head "$work/state/audit.head" >"$work/out"
check "a cut tail is detected against the head (exit 1)" test $? -eq 1
"$ZTCTL" audit verify "$work/no-such.log" >"$work/out" 2>"$work/err"
check "audit verify of a missing file says so, not NOT INTACT (exit 2)" \
    sh -c "[ $? -eq 2 ] && grep -q 'cannot read .*no-such.log: No such file' '$work/err' && ! grep -q 'INTACT' '$work/out' '$work/err'"
mkdir "$work/dir.log"
"$ZTCTL" audit verify "$work/dir.log" >"$work/out" 2>"$work/err"
check "audit verify of an unreadable file says so (exit 2)" \
    sh -c "[ $? -eq 2 ] && grep -q 'cannot read .*dir.log: Is a directory' '$work/err' && ! grep -q 'INTACT' '$work/out' '$work/err'"

# audit.require: a decision whose record cannot be written is a deny
if command -v prlimit >/dev/null && [ -z "${ZT_VALGRIND:-}" ]; then
	open_session s5 "$agent_uid" zt-agent
	size=$(stat -c %s "$work/audit/audit.log")
	prlimit --pid "$ztd_pid" --fsize="$size:unlimited"
	out=$(ask s5 decide exec /usr/bin/rsync)
	check "an audit record that cannot be written makes the allow a deny ($out)" \
	    has "$out" '^deny: audit record could not be written'
	prlimit --pid "$ztd_pid" --fsize=unlimited:unlimited
	out=$(ask s5 decide exec /usr/bin/rsync)
	check "once it can be written again, allows come back ($out)" \
	    has "$out" '^allow'
	out=$(ask s5 close)
	"$ZTCTL" audit verify "$work/audit/audit.log" --head "$work/state/audit.head" >"$work/out"
	check "the record lost while the file was full shows as a gap (exit 1)" \
	    sh -c "[ $? -eq 1 ] && grep -q 'NOT INTACT' '$work/out'"
else
	skip "audit.require (needs prlimit, not under valgrind)"
	skip "audit recovery"
	skip "audit gap"
fi

# on_violation = "kill": a denied action ends the grant and kills
sed -i 's|decision_ttl = 30;|decision_ttl = 30;\n    on_violation = "kill";|' "$work/ztd.conf"
"$ZTCTL" --socket "$sock" reload >/dev/null
open_session s6 "$agent_uid" zt-agent
grant6=$(head -n 1 "$work/s6.out" | sed -n 's/.* grant=\([0-9a-f]\{32\}\):.*/\1/p')
check "a session under on_violation = kill: granted, its supervisor running" \
    sh -c "[ -n '$grant6' ] && kill -0 $s6_pid"
echo "decide exec /bin/sh" >&"$s6_fd"
check "with on_violation = kill a denied command kills the supervisor" \
    wait_for sh -c "! kill -0 $s6_pid 2>/dev/null"
check "and ends the grant, saying why" \
    wait_for logged -F "grant $grant6 (agent worker, account daemon) ended: violation: on_violation = kill (processes killed)"

# host attestation, software mode: measured files against golden values
echo "kernel v1" >"$work/measured"
sed -i -e 's|^attestation: { mode = "software"; };|attestation: { mode = "software"; files = ["'"$work"'/measured"]; golden = "'"$work"'/state/golden"; high_risk_max_age = 0; };|' \
    -e 's|on_violation = "kill";||' "$work/ztd.conf"
"$ZTCTL" --socket "$sock" reload >/dev/null
out=$("$TESTTOOL" session "$sock" "$agent_uid" zt-agent </dev/null)
check "not enrolled: the host is untrusted and sessions are denied ($out)" \
    has "$out" '^deny: host untrusted: no golden value'
out=$("$ZTCTL" --socket "$sock" enroll-host)
check "ztctl enroll-host records the golden values ($out)" \
    has "$out" '^enrolled: golden values recorded in .*\(software\)'
check "the golden file is private (0600)" \
    test "$(stat -c %a "$work/state/golden")" = 600
open_session s7 "$agent_uid" zt-agent
check "enrolled: sessions are allowed again" grep -q '^allow' "$work/s7.out"
out=$("$ZTCTL" --socket "$sock" attest)
check "with a file measured, ztctl attest says plainly trusted ($out)" \
    sh -c "printf '%s' \"\$1\" | grep -qx 'trusted: host trusted (software)'" _ "$out"
out=$(ask s7 decide exec /usr/bin/rsync)
check "a low-risk allow is cached ($out)" has "$out" '^allow risk=low ttl=30000'
echo "kernel v2 (tampered)" >"$work/measured"
setpriv --reuid=daemon --regid=daemon --clear-groups "$work/agent-bin" 300 &
agent_pid=$!
track $agent_pid
runs $agent_pid "$work/agent-bin"
out=$(ask s7 decide-pid $agent_pid exec /usr/bin/psql)
check "drift: a high-risk action (fresh measurement) is denied, naming the file ($out)" \
    has "$out" "^deny: host untrusted: .*measured differs from its golden value"
out=$(ask s7 decide exec /usr/bin/rsync)
check "and at once even the cached low-risk allow is gone ($out)" \
    has "$out" '^deny: host untrusted'
check "the drift is logged" logged -F "attestation (software): host untrusted"
stop_pid $agent_pid
echo "kernel v1" >"$work/measured"
out=$("$ZTCTL" --socket "$sock" --json status)
check "status shows the host untrusted until measured again ($out)" \
    has "$out" '"trusted":false'

stop_ztd
check "ztd stopped cleanly (and, under valgrind, without leaks)" \
    test "$ztd_status" -eq 0
[ "$ztd_status" -eq 0 ] || diag "$(cat "$work/ztd.stderr")"
finish
