#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Allocation failure injected at every call site of a request path
# (TESTING.md 20): ztd runs with a counting allocator (LD_PRELOAD of
# tests/helpers/libfailalloc.so) that fails the N-th allocation after each
# accepted connection; for N = 1, 2, ... a session is opened, a denied and
# an allowed command decided on its grant, the session closed, a denied
# command checked and a session for a service the agent may not use asked.
# What must be denied is never allowed; ztd either answers (anything) and
# still serves afterwards, or stops by abort() (STYLE.md: the daemon may
# treat out-of-memory as fatal), never by a crash; the loop ends at the
# first N that no request of the round reaches.
set -u
. "$(dirname "$0")/lib.sh"

preload=$top_builddir/tests/helpers/.libs/libfailalloc.so
if [ -n "${ZT_SANITIZED:-}" ] || [ -n "${ZT_VALGRIND:-}" ]; then
	echo "1..0 # SKIP an interposed malloc and a sanitizer or valgrind do not mix"
	exit 0
fi
if [ ! -f "$preload" ]; then
	echo "1..0 # SKIP $preload not built"
	exit 0
fi
if [ "$(id -u)" != 0 ] || ! id daemon >/dev/null 2>&1; then
	echo "1..0 # SKIP needs root (SESSION_OPEN) and the daemon account"
	exit 0
fi

MAX_N=${ZT_FAILALLOC_MAX:-400}
BUDGET_S=${ZT_FAILALLOC_BUDGET:-150}	# a loaded 2-core machine

sock=$work/ztd.sock
nfile=$work/fail-at
echo 0 >"$nfile"
start_logsink "$work"

agent_uid=$(id -u daemon)
cp /bin/sleep "$work/agent-bin"
chmod 0755 "$work/agent-bin"
digest=$(sha256sum "$work/agent-bin" | cut -d' ' -f1)
mkdir -m 0700 "$work/state"
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; };
attestation: { mode = "software"; };
agents = ( {
  name = "worker"; accounts = ["daemon"]; pam_services = ["zt-agent"];
  binary = "$work/agent-bin"; sha256 = ["$digest"];
  session_ttl = 60; decision_ttl = 30;
  commands = (
    { path = "/usr/bin/rsync"; risk = "low"; },
    { path = "/bin/sh"; risk = "deny"; }
  );
} );
EOC
chmod 0644 "$work/ztd.conf"

start_ztd() {
	env LD_PRELOAD="$preload" ZT_FAIL_ALLOC_FILE="$nfile" \
	    "$ZTD" --foreground --config "$work/ztd.conf" --socket "$sock" \
	    --syslog-socket "$work/log.sock" 2>>"$work/ztd.stderr" &
	ztd_pid=$!
	track $ztd_pid
	wait_for sh -c "'$ZTCTL' --socket '$sock' status >/dev/null 2>&1"
}
injected() { grep -c '^failalloc: allocation' "$work/ztd.stderr"; }

# One round: every line of output, one per answer, in $work/round.out.
round() {
	printf 'decide exec /bin/sh\ndecide exec /usr/bin/rsync\ndecide exec /bin/sh\nclose\n' |
	    timeout 30 "$TESTTOOL" session "$sock" "$agent_uid" zt-agent \
	    >"$work/session.out" 2>&1
	timeout 30 "$ZTCTL" --socket "$sock" check --agent worker \
	    --action exec --object /bin/sh >"$work/check.out" 2>&1
	check_rc=$?
	timeout 30 "$TESTTOOL" session "$sock" "$agent_uid" sshd </dev/null \
	    >"$work/other.out" 2>&1
}

# What must be denied in a round was not allowed: the session's 2nd and
# 4th lines (the /bin/sh decisions), the check, the session for sshd.
# Nor was the agent's account called no agent's (ZT_E_NOT_AGENT, -10023):
# pam_zt lets such an account through (PAM_IGNORE) without a grant.
round_denied_all() {
	! sed -n '2p;4p' "$work/session.out" | grep -q '^allow' &&
	    [ "$check_rc" != 0 ] && ! grep -q '^allow' "$work/check.out" &&
	    ! grep -q '^allow' "$work/other.out" &&
	    ! grep -q '^error -10023 ' "$work/session.out" "$work/other.out"
}

: >"$work/ztd.stderr"
check "ztd starts with the counting allocator preloaded" start_ztd

# Positive preconditions, nothing injected (N = 0).
round
check "no injection: the session is allowed ($(head -n 1 "$work/session.out"))" \
    grep -q '^allow' "$work/session.out"
check "no injection: /bin/sh on the grant is denied" \
    sh -c "sed -n 2p '$work/session.out' | grep -q '^deny: '"
check "no injection: rsync on the grant is allowed" \
    sh -c "sed -n 3p '$work/session.out' | grep -q '^allow'"
check "no injection: the session closes" \
    sh -c "sed -n 5p '$work/session.out' | grep -q '^allow.*grant ended'"
check "no injection: ztctl check of /bin/sh is a deny (exit 1)" \
    sh -c "[ $check_rc = 1 ] && grep -q '^deny' '$work/check.out'"
check "no injection: a session for sshd is denied ($(cat "$work/other.out"))" \
    grep -q '^deny: ' "$work/other.out"
check "no allocation failed without N" test "$(injected)" = 0

# run_pass WHAT: N = 1, 2, ... until a round that no failure reaches.
run_pass() {
	local what=$1 n before rc
	allowed_bad="" crashed="" unanswered="" aborts=0 failed_rounds=0
	allowed_ok=0 complete=0 start_s=$(date +%s)
	for n in $(seq 1 "$MAX_N"); do
		if [ $(($(date +%s) - start_s)) -gt "$BUDGET_S" ]; then
			diag "time budget of $BUDGET_S s spent at N = $n"
			break
		fi
		before=$(injected)
		echo "$n" >"$nfile"
		round
		echo 0 >"$nfile"
		round_denied_all || allowed_bad="$allowed_bad $n"
		grep -q '^allow' "$work/session.out" &&
		    allowed_ok=$((allowed_ok + 1))
		if ! kill -0 "$ztd_pid" 2>/dev/null; then
			wait "$ztd_pid"
			rc=$?
			# 134: SIGABRT, the daemon's out-of-memory stop; any
			# other end is a crash.
			if [ "$rc" = 134 ]; then
				aborts=$((aborts + 1))
			else
				crashed="$crashed $n(exit $rc)"
			fi
			if ! start_ztd; then
				crashed="$crashed $n(no restart)"
				break
			fi
		elif ! timeout 30 "$ZTCTL" --socket "$sock" status \
		    >/dev/null 2>&1; then
			unanswered="$unanswered $n"
		fi
		if [ "$(injected)" = "$before" ]; then
			complete=$n
			break
		fi
		failed_rounds=$((failed_rounds + 1))
	done
	diag "$what: $failed_rounds rounds with an injected failure, $aborts stopped by abort(), $allowed_ok still allowed the session; no failure reached at N = $complete"

	check "$what: failures were injected (at least 10 rounds: $failed_rounds)" \
	    test "$failed_rounds" -ge 10
	check "$what: a round no failure reached came: every call site tried (N = $complete)" \
	    test "$complete" -gt 0
	check "$what: nothing that must be denied was allowed (${allowed_bad:-none})" \
	    test -z "$allowed_bad"
	check "$what: ztd never crashed; it answered or stopped by abort() (${crashed:-none})" \
	    test -z "$crashed"
	check "$what: after each failure ztd, alive, still answered status (${unanswered:-all did})" \
	    test -z "$unanswered"
}

run_pass "the N-th allocation fails"

# Then every allocation from the N-th on, until the next connection.
kill -TERM "$ztd_pid"
wait "$ztd_pid"
check "ztd stops cleanly between the passes (exit 0)" test $? -eq 0
export ZT_FAIL_ALLOC_PERSIST=1
check "ztd restarts with failures that persist" start_ztd
run_pass "every allocation from the N-th on fails"
unset ZT_FAIL_ALLOC_PERSIST

# Afterwards, without injection, the decisions are as before.
round
check "after the run the session is allowed again" \
    grep -q '^allow' "$work/session.out"
check "after the run /bin/sh is still denied, rsync allowed" \
    sh -c "sed -n 2p '$work/session.out' | grep -q '^deny: ' &&
    sed -n 3p '$work/session.out' | grep -q '^allow'"
kill -TERM "$ztd_pid"
wait "$ztd_pid"
check "ztd stops cleanly at the end (exit 0)" test $? -eq 0
finish
