#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ztctl --json: every command's object and every failure's {"error": ...}
# parse with python3 -m json.tool and hold the fields ztctl(8) documents,
# whatever bytes the input holds (0xFF comes out as \xFF, a backslash as
# \\), against a real ztd on a private socket.
set -u
. "$(dirname "$0")/lib.sh"

if ! command -v python3 >/dev/null; then
	echo "1..0 # SKIP python3 is needed to parse the JSON"
	exit 0
fi

sock=$work/ztd.sock
start_logsink "$work"

# The checker: FILE is one line of valid UTF-8 that python3 -m json.tool
# parses, and the Python expression EXPR over it (d; rx: the optional
# third argument, a regular expression) is true.
cat >"$work/jcheck.py" <<'EOF'
import json, re, subprocess, sys
path, expr = sys.argv[1], sys.argv[2]
rx = sys.argv[3] if len(sys.argv) > 3 else None
raw = open(path, 'rb').read()
if subprocess.run([sys.executable, '-m', 'json.tool', path],
                  stdout=subprocess.DEVNULL).returncode != 0:
    sys.exit('json.tool refuses it')
text = raw.decode('utf-8')            # strict: invalid UTF-8 fails here
if text.count('\n') != 1 or not text.endswith('\n'):
    sys.exit('not exactly one line')
d = json.loads(text)
if not isinstance(d, dict):
    sys.exit('not an object')
if not eval('(' + expr + ')', {'d': d, 're': re, 'rx': rx}):
    sys.exit('assertion false: ' + expr)
EOF

# ztctl_json NAME ARGS...: run ztctl --json ARGS, stdout to NAME.json; rc.
ztctl_json() {
	local name=$1
	shift
	"$ZTCTL" --socket "$sock" --json "$@" >"$work/$name.json" \
	    2>"$work/$name.err"
	rc=$?
}

# json_is WHAT NAME WANT-RC EXPR [REGEX]: ztctl's exit status was WANT-RC
# and NAME.json passes jcheck.py with EXPR (and REGEX).
json_is() {
	local what=$1 name=$2 want=$3 why
	shift 3
	if [ "$rc" != "$want" ]; then
		not_ok "$what (exit $rc, not $want: $(cat "$work/$name.json" "$work/$name.err"))"
	elif why=$(python3 "$work/jcheck.py" "$work/$name.json" "$@" 2>&1); then
		ok "$what"
	else
		not_ok "$what ($why: $(head -c 600 "$work/$name.json"))"
	fi
}

# An error object: exactly {"error": TEXT}, TEXT a non-empty string
# matching REGEX.
error_is() { # WHAT NAME WANT-RC REGEX
	json_is "$1" "$2" "$3" \
	    "list(d) == ['error'] and isinstance(d['error'], str) and re.search(rx, d['error'])" \
	    "$4"
}

start_ztd() {
	$ZTD_WRAP "$ZTD" --foreground --config "$work/ztd.conf" --socket "$sock" \
	    --syslog-socket "$work/log.sock" 2>>"$work/ztd.stderr" &
	ztd_pid=$!
	track $ztd_pid
	wait_for test -S "$sock"
}

# The agent runs as the existing account "daemon": nothing is added to the
# system.  agent_group = "": no group check (no group is added either).
agent_uid=$(id -u daemon)
cp /bin/sleep "$work/agent-bin"
chmod 0755 "$work/agent-bin"
digest=$(sha256sum "$work/agent-bin" | cut -d' ' -f1)
mkdir -m 0700 "$work/state"
cat >"$work/ztd.conf" <<EOC
ztd: {
  state_dir = "$work/state";
  agent_group = "";
  audit: { file = "$work/audit.log"; require = true; };
};
attestation: { mode = "software"; files = []; golden = "$work/state/golden"; };
agents = (
  {
    name = "worker";
    accounts = ["daemon"];
    pam_services = ["zt-agent"];
    binary = "$work/agent-bin";
    sha256 = ["$digest"];
    commands = ( { path = "/usr/bin/rsync"; risk = "low"; },
                 { path = "/usr/bin/psql"; risk = "high"; } );
  }
);
EOC
chmod 0644 "$work/ztd.conf"
check "ztd starts" start_ztd

# ------------------------------------------------------------ commands
ztctl_json status status
json_is "status: the documented object" status 0 \
    "d['pid'] == $ztd_pid and d['generation'] == 1 and d['agents'] == 1 and
     isinstance(d['version'], str) and isinstance(d['uptime'], int) and
     d['config'] == '$work/ztd.conf' and isinstance(d['clients'], int) and
     isinstance(d['max_clients'], int) and
     d['attestation']['mode'] == 'software' and
     d['attestation']['trusted'] is True and
     d['attestation']['state'].startswith('trusted') and
     (d['attestation']['age'] is None or isinstance(d['attestation']['age'], int)) and
     set(d['cache']) == {'entries', 'hits', 'misses'} and
     d['grants'] == 0 and isinstance(d['audit_seq'], int) and
     d['reload_error'] is None and 'agent_group' in d and
     d['fleet'] is None"

ztctl_json allow check --agent worker --action exec --object /usr/bin/rsync
json_is "check, an allow: decision, risk, reason, the request echoed" allow 0 \
    "d['decision'] == 'allow' and d['risk'] == 'low' and
     'rsync' in d['reason'] and d['agent'] == 'worker' and
     d['action'] == 'exec' and d['object'] == '/usr/bin/rsync' and
     d['account'] is None and d['grant'] is None"
ztctl_json high check --agent worker --action exec --object /usr/bin/psql \
    --account daemon
json_is "check, a high-risk allow with --account" high 0 \
    "d['decision'] == 'allow' and d['risk'] == 'high' and
     d['account'] == 'daemon'"
ztctl_json deny check --agent worker --action exec --object /bin/sh
json_is "check, a deny (exit 1): risk null" deny 1 \
    "d['decision'] == 'deny' and d['risk'] is None and
     isinstance(d['reason'], str) and d['reason'] != ''"

ztctl_json attest attest
json_is "attest: verdict, mode, reason, age, pcrs a list" attest 0 \
    "d['trusted'] is True and d['mode'] == 'software' and
     isinstance(d['reason'], str) and
     (d['age'] is None or isinstance(d['age'], int)) and d['pcrs'] == []"
ztctl_json enroll enroll-host
json_is "enroll-host: enrolled, trusted, reason" enroll 0 \
    "d['enrolled'] is True and d['trusted'] is True and
     'golden' in d['reason']"

ztctl_json nogrants grants
json_is "grants with none live: {\"grants\": []}" nogrants 0 "d == {'grants': []}"

# A PAM-style session of the agent's account makes a grant to list.
mkfifo "$work/s1.in"
"$TESTTOOL" session "$sock" "$agent_uid" zt-agent <"$work/s1.in" \
    >"$work/s1.out" &
track $!
exec {s1_fd}>"$work/s1.in"
wait_for test -s "$work/s1.out"
grant=$(sed -n 's/.* grant=\([0-9a-f]\{32\}\):.*/\1/p' "$work/s1.out" | head -n 1)
check "a session gets a grant ($(head -n 1 "$work/s1.out"))" test -n "$grant"
ztctl_json grants grants
json_is "grants: an object holding the list; no certificate: both null" grants 0 \
    "list(d) == ['grants'] and len(d['grants']) == 1 and
     d['grants'][0]['grant'] == '$grant' and
     d['grants'][0]['agent'] == 'worker' and
     d['grants'][0]['account'] == 'daemon' and
     d['grants'][0]['uid'] == $agent_uid and
     isinstance(d['grants'][0]['pid'], int) and
     0 < d['grants'][0]['expires_in'] <= 3600 and
     d['grants'][0]['service'] == 'zt-agent' and
     d['grants'][0]['cert_serial'] is None and
     d['grants'][0]['cert_not_after'] is None"
ztctl_json nomatch revoke 0123456789abcdef0123456789abcdef
json_is "revoke matching nothing: {\"revoked\": 0}, exit 1" nomatch 1 \
    "d == {'revoked': 0}"
ztctl_json revoke revoke "$grant"
json_is "revoke of the grant: {\"revoked\": 1}" revoke 0 "d == {'revoked': 1}"
exec {s1_fd}>&-

ztctl_json reload reload
json_is "reload: reloaded, the new generation" reload 0 \
    "d == {'reloaded': True, 'generation': 2}"

ztctl_json ca ca show
json_is "ca show: the PEM certificate" ca 0 \
    "list(d) == ['ca'] and d['ca'].startswith('-----BEGIN CERTIFICATE-----')"
ztctl_json crl ca crl
json_is "ca crl: the PEM CRL" crl 0 \
    "list(d) == ['crl'] and d['crl'].startswith('-----BEGIN X509 CRL-----')"

ztctl_json verify audit verify "$work/audit.log"
json_is "audit verify: intact and the report" verify 0 \
    "d['intact'] is True and isinstance(d['report'], str)"
# One record's decision flipped: the chain breaks at it.
sed '0,/decision=allow/s//decision=deny/' "$work/audit.log" >"$work/broken.log"
ztctl_json broken audit verify "$work/broken.log"
json_is "audit verify of a broken chain: intact false, exit 1" broken 1 \
    "d['intact'] is False and d['report'] != ''"

printf 'x' >"$work/agent.bin"
want=$(sha256sum "$work/agent.bin" | cut -d' ' -f1)
ztctl_json enrollagent enroll-agent "$work/agent.bin"
json_is "enroll-agent prints JSON, not libconfig text" enrollagent 0 \
    "d['name'] == 'agent-bin' and d['binary'] == '$work/agent.bin' and
     d['sha256'] == ['$want'] and d['accounts'] == ['svc-agent-bin'] and
     d['pam_services'] == ['zt-agent'] and
     'sha256 = [\"$want\"]' in d['stanza']"

# disable and enable: a --why with 0xFF and a backslash goes to ztd, and
# none of it comes back raw.
ztctl_json disable disable worker --why $'gone\xff\\now'
json_is "disable: agent, disabled, grants_ended" disable 0 \
    "d == {'agent': 'worker', 'disabled': True, 'grants_ended': 0}"
ztctl_json disabled status
json_is "status after disable still parses" disabled 0 "d['agents'] == 1"
ztctl_json enable enable worker
json_is "enable: agent, disabled false, was_disabled" enable 0 \
    "d == {'agent': 'worker', 'disabled': False, 'was_disabled': True}"
ztctl_json reenable enable worker
json_is "enable of an agent not disabled: was_disabled false" reenable 0 \
    "d == {'agent': 'worker', 'disabled': False, 'was_disabled': False}"
# audit reopen: the file, and the seq of its first record (event=reopen).
ztctl_json reopen audit reopen
json_is "audit reopen: the file and its first record's seq" reopen 0 \
    "d['file'] == '$work/audit.log' and isinstance(d['seq'], int) and
     d['seq'] > 1"

# ------------------------------------------------------------ failures
ztctl_json bad_agent check --agent nosuch --action exec --object /bin/true
error_is "check of an unknown agent: an error object (exit 2)" bad_agent 2 \
    'no agent named nosuch'
ztctl_json bad_action check --agent worker --action fly --object x
error_is "an unknown action" bad_action 2 "unknown action 'fly'"
ztctl_json missing check --agent worker
error_is "check without --action and --object" missing 2 'needs --agent'
ztctl_json noarg check --agent
error_is "an option missing its argument" noarg 2 'missing the argument of --agent'
ztctl_json badopt check --bogus
error_is "an unknown option of a command" badopt 2 'unknown option --bogus'
ztctl_json nonhex revoke nonhex
error_is "revoke of a malformed grant id" nonhex 2 "'nonhex' is no grant id"
ztctl_json unknown fly
error_is "an unknown command" unknown 2 "unknown command 'fly'"
ztctl_json extra status now
error_is "a command given arguments it takes none of" extra 2 'takes no arguments'
ztctl_json cabad ca sign
error_is "ca with a bad subcommand" cabad 2 'ca show \| ca crl'
ztctl_json noaudit audit verify "$work/nosuch.log"
error_is "audit verify of a missing file" noaudit 2 'cannot read'
ztctl_json noagent enroll-agent "$work/nosuch"
error_is "enroll-agent of a missing file" noagent 2 'nosuch: No such file'
"$ZTCTL" --json >"$work/nocmd.json" 2>/dev/null
rc=$?
error_is "no command at all" nocmd 2 'no command given'
ztctl_json disunknown disable $'no\xffsuch'
error_is "disable of an unknown agent, its name with 0xFF" disunknown 2 \
    'no agent of that name'
ztctl_json disusage enable
error_is "enable without an agent" disusage 2 'usage: enable AGENT'
ztctl_json reopenbad audit reopen now
error_is "audit reopen given an argument" reopenbad 2 'audit reopen'
ztctl_json suggestnone profile suggest worker --audit "$work/nosuch.log"
error_is "profile suggest of a missing audit file" suggestnone 2 'nosuch.log'
ztctl_json fleetnone fleet status --config "$work/ztd.conf"
error_is "fleet status with no fleet section" fleetnone 2 'fleet'
ztctl_json fleetusage fleet push
error_is "fleet push without its arguments" fleetusage 2 'fleet'
# --json after the bad option still applies.
"$ZTCTL" -x --json status >"$work/early.json" 2>/dev/null
rc=$?
error_is "a bad option before --json" early 2 'unknown option -x'
"$ZTCTL" --socket "$work/nosuch.sock" --json status >"$work/down.json" \
    2>/dev/null
rc=$?
error_is "ztd unreachable" down 2 'cannot reach ztd'
if [ "$(id -u)" = 0 ]; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$ZTCTL" --socket "$sock" --json status >"$work/perm.json" 2>/dev/null
	rc=$?
	error_is "status as an unprivileged user" perm 2 'permission denied|root'
else
	skip "status as an unprivileged user (needs root)"
fi
cp "$work/ztd.conf" "$work/ztd.conf.good"
printf 'ztd: { bogus = 1; };\n' >"$work/ztd.conf"
ztctl_json badreload reload
error_is "reload of a broken file: an error object, exit 1" badreload 1 \
    "unknown key 'bogus'"
cp "$work/ztd.conf.good" "$work/ztd.conf"

# ------------------------------------------- bytes that are not UTF-8
# A raw 0xFF and a backslash reach the output through ztd's error text
# (the agent's name) and through the request echoed (the object): valid
# UTF-8 out, 0xFF as the text \xFF, the backslash doubled.
ztctl_json ffagent check --agent $'ag\xff\\nt' --action exec --object /x
error_is "an agent name with 0xFF and a backslash, in ztd's error text" \
    ffagent 2 'no agent named ag\\xFF\\\\nt in'
ztctl_json ffobject check --agent worker --action exec --object $'/opt/x\xff\\y'
json_is "an object with 0xFF and a backslash, echoed and in the reason" \
    ffobject 1 \
    "d['object'] == r'/opt/x\\xFF\\\\y' and r'/opt/x\\xFF\\\\y' in d['reason']"
check "no raw 0xFF byte in either output" \
    sh -c "! LC_ALL=C grep -q \$(printf '\\377') '$work/ffagent.json' '$work/ffobject.json'"
# The text \xFF and the byte 0xFF stay distinct.
ztctl_json fftext check --agent worker --action exec --object '/opt/x\xff\y'
json_is "the text \\xff differs from the byte 0xFF" fftext 1 \
    "d['object'] == r'/opt/x\\\\xff\\\\y'"

finish
