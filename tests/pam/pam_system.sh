#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# pam_zt.so on the real system: a real service account, a real
# /etc/pam.d/zt-test-PID built from conf/pam.d/zt-agent, pamtester, a real ztd
# on a private socket, and the audit line read back from its syslog sink.
set -u
. "$(dirname "$0")/../integration/lib.sh"

# Names of this run's own (by pid): a run that could not clean up never
# blocks the next.
account=zt-svc-$$
service=zt-test-$$
pamfile=/etc/pam.d/$service
module=${ZT_PAM_MODULE:-$top_builddir/pam_module/.libs/pam_zt.so}
[ -n "${ZT_PAM_MODULE:-}" ] || [ -f "$module" ] ||
    module=$top_builddir/.libs/pam_zt.so
sock=$work/ztd.sock
created_account=""
created_pamfile=""
created_aliases=""
# Other names of an agent's uid (two /etc/passwd lines, one uid): one
# added after the agent account, one before another agent account.
alias_after=zt-al-$$
alias_before=zt-ab-$$
account2=zt-sv2-$$
# The agents' group of this run (ztd's agent_group, pam_zt's group=).
agroup=ztag$$
created_group=""

# Remove what this test added to the system, even when it fails.
system_cleanup() {
	[ -n "$created_pamfile" ] && rm -f "$pamfile"
	[ -n "$created_account" ] && retry userdel -f "$account"
	for name in $created_aliases; do
		retry userdel -f "$name"
	done
	[ -n "$created_group" ] && getent group "$agroup" >/dev/null &&
	    retry groupdel "$agroup"
	cleanup
}
trap system_cleanup EXIT

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (creates an account and $pamfile)"
	exit 0
fi
if [ -n "${ZT_SANITIZED:-}" ]; then
	# pamtester is not instrumented and cannot load a sanitized module.
	echo "1..0 # SKIP sanitizer build (pamtester cannot load it)"
	exit 0
fi
for tool in pamtester useradd userdel groupadd groupdel gpasswd; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is not installed"
		exit 0
	fi
done
if [ ! -f "$module" ]; then
	echo "1..0 # SKIP $module is not built"
	exit 0
fi
if getent passwd "$account" >/dev/null || [ -e "$pamfile" ]; then
	echo "Bail out! $account or $pamfile already exists: not ours to touch"
	exit 1
fi

retry groupadd --system "$agroup" && created_group=1
retry useradd --system --no-create-home --shell /usr/sbin/nologin \
    -G "$agroup" "$account" && created_account=1
check "useradd --system $account, a member of $agroup" \
    sh -c "[ -n '$created_account' ] && id -nG '$account' | grep -qw '$agroup'"
uid=$(id -u "$account")
# An alias of the agent's uid, after it in /etc/passwd, in no agent group;
# and a second agent account whose uid's first name is another's.
retry useradd --system --no-create-home --shell /usr/sbin/nologin \
    -o -u "$uid" "$alias_after" && created_aliases="$alias_after"
retry useradd --system --no-create-home --shell /usr/sbin/nologin \
    "$alias_before" && created_aliases="$created_aliases $alias_before"
uid2=$(id -u "$alias_before")
retry useradd --system --no-create-home --shell /usr/sbin/nologin \
    -o -u "$uid2" -G "$agroup" "$account2" &&
    created_aliases="$created_aliases $account2"
check "aliases: $alias_after (uid $uid, after $account), $alias_before before $account2 (uid $uid2)" \
    sh -c "[ \"\$(awk -F: '\$3 == $uid { print \$1 }' /etc/passwd | tr '\n' ' ')\" = '$account $alias_after ' ] && [ \"\$(awk -F: '\$3 == $uid2 { print \$1 }' /etc/passwd | tr '\n' ' ')\" = '$alias_before $account2 ' ]"

# Every shipped stack and the pam-auth-update profile: each pam_zt.so line
# carries group=zt-agents (no lockout of others while ztd is down).
n=$(cat "$top_srcdir"/conf/pam.d/* "$top_srcdir/conf/pam-configs/zt" |
    grep -v '^#' | grep -c 'pam_zt\.so')
check "every pam_zt.so line of conf/pam.d/* and conf/pam-configs/zt has group=zt-agents ($n lines)" \
    sh -c "[ $n -ge 12 ] && ! cat '$top_srcdir'/conf/pam.d/* '$top_srcdir/conf/pam-configs/zt' | grep -v '^#' | grep 'pam_zt\.so' | grep -qv 'pam_zt\.so group=zt-agents\b'"

# The shipped zt-agent stack, with the built module on a private socket.
case "$module" in /*) ;; *) module=$PWD/$module ;; esac
sed -e "s|pam_zt\.so group=zt-agents|$module socket=$sock timeout=3000 group=$agroup|" \
    "$top_srcdir/conf/pam.d/zt-agent" >"$work/$service"
install -m 0644 "$work/$service" "$pamfile" && created_pamfile=1
check "$pamfile installed from conf/pam.d/zt-agent (group=$agroup)" \
    sh -c "[ -n '$created_pamfile' ] && grep -q 'group=$agroup' '$pamfile'"

cp /bin/sleep "$work/agent-bin"
chmod 0755 "$work/agent-bin"
digest=$(sha256sum "$work/agent-bin" | cut -d' ' -f1)
mkdir -m 0700 "$work/state"
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; agent_group = "$agroup"; };
attestation: { mode = "software"; };
agents = (
  {
    name = "svc";
    accounts = ["$account"];
    pam_services = ["$service"];
    binary = "$work/agent-bin";
    sha256 = ["$digest"];
    session_ttl = 60;
  },
  {
    name = "svc2";
    accounts = ["$account2"];
    pam_services = ["$service"];
    binary = "$work/agent-bin";
    sha256 = ["$digest"];
    session_ttl = 60;
  }
);
EOC
chmod 0644 "$work/ztd.conf"
start_logsink "$work"
"$ZTD" --foreground --config "$work/ztd.conf" --socket "$sock" \
    --syslog-socket "$work/log.sock" 2>"$work/ztd.stderr" &
ztd_pid=$!
track $ztd_pid
check "ztd starts on a private socket" wait_for test -S "$sock"

pamtester "$service" "$account" acct_mgmt >"$work/out" 2>&1
check "pamtester acct_mgmt: the agent account is allowed" test $? -eq 0
pamtester -v "$service" "$account" open_session close_session \
    >"$work/out" 2>&1
rc=$?
check "pamtester open_session close_session succeeds" test $rc -eq 0
[ $rc -eq 0 ] || diag "$(cat "$work/out")"
check "the session's allow is audited with account, uid and service" \
    wait_for grep -qE "decision=allow action=session agent=\"svc\" account=\"$account\" uid=$uid pid=[0-9]+ object=\"$service\"" "$work/syslog.out"
check "a grant was made for the session" \
    wait_for grep -q "grant [0-9a-f]\{32\}: agent svc account $account service $service" "$work/syslog.out"
check "no grant outlives the session" \
    sh -c "[ -z \"\$('$ZTCTL' --socket '$sock' grants | grep ' $account ')\" ]"

pamtester "$service" root open_session close_session >"$work/out" 2>&1
check "root through the same stack: pam_zt.so ignores it (success)" \
    test $? -eq 0

# ztd matches agents by uid, whatever name the uid's first /etc/passwd
# line carries: $account2's uid reads $alias_before first.
pamtester -v "$service" "$account2" open_session close_session \
    >"$work/out" 2>&1
rc=$?
check "the second agent's session, its uid's first name another's, is decided by ztd (rc $rc)" \
    wait_for grep -qE "decision=allow action=session agent=\"svc2\" account=\"$account2\" uid=$uid2 " "$work/syslog.out"
check "and gets a grant" \
    wait_for grep -q "grant [0-9a-f]\{32\}: agent svc2 account $account2 service $service" "$work/syslog.out"
pamtester "$service" "$alias_before" open_session close_session \
    >"$work/out" 2>&1
check "a login by that other name is the agent's uid: decided, not ignored" \
    wait_for grep -qE "decision=allow action=session agent=\"svc2\" account=\"$account2\" uid=$uid2 .*pam user=$alias_before " "$work/syslog.out"

cp -p "$work/agent-bin" "$work/agent-bin.orig"
printf x >>"$work/agent-bin"
pamtester "$service" "$account" open_session close_session >"$work/out" 2>&1
rc=$?
cp -p "$work/agent-bin.orig" "$work/agent-bin"
check "a changed agent binary: the session is refused" test $rc -ne 0
check "and the deny is audited" \
    wait_for grep -q "decision=deny action=session agent=\"svc\" account=\"$account\"" "$work/syslog.out"

# agent_group: every agent account must be in it, now and later.
out=$("$ZTCTL" --socket "$sock" status)
check "status: every agent account is in $agroup" \
    sh -c "printf '%s' \"\$1\" | grep -q '^agent_group:  $agroup: every agent account a member'" _ "$out"
retry gpasswd -d "$account" "$agroup" >/dev/null
out=$("$ZTCTL" --socket "$sock" status)
check "status reports the drift when the account leaves $agroup" \
    sh -c "printf '%s' \"\$1\" | grep -q 'DRIFT: not a member now: $account'" _ "$out"
out=$("$ZTD" --check-config --config "$work/ztd.conf" 2>&1)
check "ztd refuses a policy whose agent account is not in agent_group" \
    sh -c "printf '%s' \"\$1\" | grep -q 'account $account of agent \"svc\" is not in group $agroup (agent_group)'" _ "$out"
retry gpasswd -a "$account" "$agroup" >/dev/null

# ztd down: only agents are locked out (TESTING.md 27).
kill -TERM "$ztd_pid"
wait "$ztd_pid" 2>/dev/null
pamtester "$service" "$account" acct_mgmt >"$work/out" 2>&1
check "ztd stopped: the agent account (in $agroup) is refused" test $? -ne 0
pamtester "$service" root acct_mgmt >"$work/out" 2>&1
check "ztd stopped: root passes the stack (no member of $agroup)" test $? -eq 0
pamtester "$service" daemon acct_mgmt >"$work/out" 2>&1
check "ztd stopped: another account, daemon, passes too" test $? -eq 0
pamtester "$service" "$alias_after" acct_mgmt >"$work/out" 2>&1
check "ztd stopped: $alias_after, the agent's uid by another name, is refused" \
    test $? -ne 0
pamtester "$service" "$alias_before" acct_mgmt >"$work/out" 2>&1
check "and so is $alias_before, the second agent's uid" test $? -ne 0
retry groupdel "$agroup"
pamtester "$service" root acct_mgmt >"$work/out" 2>&1
check "the group missing from /etc/group: root is refused (doubt)" \
    test $? -ne 0
pamtester "$service" daemon acct_mgmt >"$work/out" 2>&1
check "and so is daemon" test $? -ne 0

finish
