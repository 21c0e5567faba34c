#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Enrolling, as an administrator does it:
# - `ztctl enroll-host` that measured the host but could not write the
#   golden file reports the write error, exits non-zero, and leaves the
#   host's trust as it was (it used to make the host untrusted);
# - `ztctl enroll-agent` on a script pins the script and its interpreter
#   (ztd checks both at launch): the stanza it prints, put into a policy,
#   launches the script under zt-exec (it used to pin only the script, and
#   the launch was refused).
# Needs root for the second part (a system account "zt-enr-PID").
set -u
. "$(dirname "$0")/lib.sh"

sock=$work/ztd.sock
account=zt-enr-$$

start_logsink "$work"
stop_ztd() {
	kill -TERM "$ztd_pid" 2>/dev/null
	wait "$ztd_pid" 2>/dev/null
}

# ------------------------------------------------ enroll-host: the golden file
mkdir -m 0700 "$work/state"
echo "kernel v1" >"$work/measured"
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; agent_group = ""; };
attestation: {
  mode = "software";
  files = ["$work/measured"];
  golden = "$work/state/golden";
};
agents = ( );
EOC
chmod 0644 "$work/ztd.conf"
check "ztd starts (software attestation of one file)" start_ztd
out=$("$ZTCTL" --socket "$sock" enroll-host 2>&1)
check "enroll-host records the golden values ($out)" \
    has "$out" '^enrolled: golden values recorded'
out=$("$ZTCTL" --socket "$sock" status)
check "the host is trusted" has "$out" 'attestation: +software, trusted'
# The golden file cannot be written now: its temporary name is taken by
# a directory (root writes anywhere else).
mkdir "$work/state/golden.new"
out=$("$ZTCTL" --socket "$sock" enroll-host 2>&1)
rc=$?
check "an enroll-host that cannot write the golden file exits non-zero, saying why (exit $rc: $out)" \
    sh -c "[ $rc -ne 0 ] && printf '%s' \"\$1\" | grep -q 'cannot write $work/state/golden'" _ "$out"
out=$("$ZTCTL" --socket "$sock" status)
check "the host is still trusted: its trust did not change ($out)" \
    has "$out" 'attestation: +software, trusted'
check "ztd logged the write error and that trust is unchanged" \
    wait_for grep -q "enroll-host: cannot write $work/state/golden.*the host's trust is unchanged" "$work/syslog.out"
check "the golden values are the old ones, whole" \
    grep -q "^file [0-9a-f]\{64\} $work/measured$" "$work/state/golden"
# A real change of what is measured still makes the host untrusted.
echo "kernel v2" >"$work/measured"
"$ZTCTL" --socket "$sock" attest >"$work/out" 2>&1
rc=$?
check "a changed file makes the host untrusted (exit $rc: $(cat "$work/out"))" \
    sh -c "[ $rc -eq 1 ] && grep -q 'differs from its golden value' '$work/out'"
# ... and a failed enroll does not make it trusted either.
out=$("$ZTCTL" --socket "$sock" enroll-host 2>&1)
check "a failed enroll-host of a changed host leaves it untrusted" \
    sh -c "[ $? -ne 0 ] && '$ZTCTL' --socket '$sock' status | grep -q 'attestation: .*differs from its golden value'"
rmdir "$work/state/golden.new"
out=$("$ZTCTL" --socket "$sock" enroll-host 2>&1)
check "with the file writable again, enroll-host works and trusts the host ($out)" \
    sh -c "printf '%s' \"\$1\" | grep -q '^enrolled' && '$ZTCTL' --socket '$sock' status | grep -qE 'attestation: +software, trusted'" _ "$out"
stop_ztd

# ------------------------------------------------ enroll-agent: a script
if [ -n "${ZT_SANITIZED:-}" ] || [ "$(id -u)" != 0 ] ||
    ! grep -qw user_notif /proc/sys/kernel/seccomp/actions_avail 2>/dev/null ||
    ! command -v useradd >/dev/null; then
	skip "a script enrolled with enroll-agent launches under zt-exec (needs root, seccomp user notification and the plain build)"
	finish
	exit
fi
require "the account $account is added" add_test_account "$account"
mkdir -m 0755 "$work/bin"
check "zt-exec is installed setgid to this run's supervisor group" \
    supervisor_setup "$work/bin"
# Builtins only: the agent may run no command.
printf '#!/bin/sh\necho "the script ran with $# arguments: $*"\nexit 7\n' \
    >"$work/bin/agent.sh"
chmod 0755 "$work/bin/agent.sh"
"$ZTCTL" enroll-agent "$work/bin/agent.sh" >"$work/stanza" 2>"$work/err"
check "enroll-agent accepts the script" test $? -eq 0
script_sha=$(sha256sum "$work/bin/agent.sh" | cut -d' ' -f1)
sh_sha=$(sha256sum "$(readlink -f /bin/sh)" | cut -d' ' -f1)
check "the stanza pins the script and its interpreter /bin/sh" \
    sh -c "grep -q '\"$script_sha\",' '$work/stanza' &&
    grep -q '\"$sh_sha\" *# its interpreter /bin/sh' '$work/stanza'"
json=$("$ZTCTL" --json enroll-agent "$work/bin/agent.sh")
check "--json enroll-agent: sha256 is the script's and the interpreter's ($json)" \
    sh -c "printf '%s' \"\$1\" | python3 -c 'import json,sys
o = json.load(sys.stdin)
sys.exit(o[\"sha256\"] != sys.argv[1:])' '$script_sha' '$sh_sha'" _ "$json"
policy() { # STANZA-FILE
	cat >"$work/ztd.conf" <<EOC
ztd: {
  state_dir = "$work/state";
  agent_group = "";
  supervisor_group = "$SUPERVISOR_GROUP";
};
attestation: { mode = "software"; files = []; };
agents = (
$(sed -e "s/\"svc-agent-sh\"/\"$account\"/" \
    -e 's/pam_services = \["zt-agent"\]/pam_services = ["zt-exec"]/' "$1")
);
EOC
	chmod 0644 "$work/ztd.conf"
}
policy "$work/stanza"
check "ztd --check-config accepts the stanza as printed (account and service filled in)" \
    sh -c "'$ZTD' --check-config --config '$work/ztd.conf' | grep -qx ok"
check "ztd starts with it" start_ztd
launch() {
	out=$(cd "$work" && timeout 60 setpriv --reuid="$account" \
	    --regid="$account" --clear-groups -- "$ZTEXEC" --socket "$sock" \
	    --syslog-socket "$work/log.sock" -- "$work/bin/agent.sh" a b \
	    </dev/null 2>"$work/zx.err")
	rc=$?
}
launch
check "the script launches under zt-exec and runs (exit $rc: $out $(head -c 300 "$work/zx.err"))" \
    sh -c "[ $rc -eq 7 ] && [ \"\$1\" = 'the script ran with 2 arguments: a b' ]" _ "$out"
stop_ztd
# What enroll-agent used to print: the script alone.  Refused at launch.
grep -v "# its interpreter" "$work/stanza" | sed "s/\"$script_sha\",/\"$script_sha\"/" \
    >"$work/stanza-old"
policy "$work/stanza-old"
check "ztd starts with the script alone pinned" start_ztd
launch
check "... and that launch is refused (exit $rc)" \
    test "$rc" -ne 7 -a "$rc" -ne 0
# The line is sent before the answer; the sink writes it a moment later.
check "... saying the interpreter is not pinned" \
    wait_for grep -qE 'launch denied: identity: interpreter ./bin/sh. of script .* is not pinned' "$work/syslog.out"
stop_ztd
finish
