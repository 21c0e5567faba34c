#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A fleet on etcd (TESTING.md 29): a real 3-member etcd cluster on
# loopback (client TLS with a throwaway CA made by openssl, etcd auth with
# one user per host whose role may write only its own report), two ztd
# instances as hosts h1 and h2, the real fleet client each one starts,
# ztctl fleet as the administrator, and an agent under zt-exec as a real
# system account.  Checked: a signed push reaches both hosts; an invalid,
# unsigned, wrongly signed or replayed entry is refused and audited on
# both and the old policy still decides; fleet disable kills the agent
# under h2 and blocks its launches, enable lifts it; fleet status lists
# both hosts and drops a stopped one; a member stopped under a host's
# watches (its streams open and silent) makes the host watch from another
# member, so that a disable written meanwhile still applies; a cached
# disable of an agent whose name holds ".new" is read back, and kept
# when admin_key is rotated (no enable signed it); one member
# killed changes nothing; all killed: the hosts decide from their cache
# and, after max_offline, deny sessions with "fleet unreachable", across a
# restart too; etcd back: a change made meanwhile arrives; a cached policy
# that no longer loads at a start still keeps older signed policies out
# (no rollback); a policy written between a host's two first reads
# (policy, then disabled set) still reaches it, and a revision a member
# lied about (or an etcd restored from an older snapshot) does not stop
# the watches.  Deadlines are generous (seconds); the propagation times
# measured are printed as diagnostics.
#
# Needs root (a system account and a group of this run's own), etcd and
# etcdctl (etcd-server, etcd-client), openssl, curl and python3.
set -u
. "$(dirname "$0")/lib.sh"

account=zt-fleet-$$
skip_unless_live_seccomp "the fleet test needs root (a system account)"
. "$(dirname "$0")/etcd_cluster.sh"
if missing=$(fleet_tools_missing); then
	echo "1..0 # SKIP $missing is missing"
	exit 0
fi
etcd_init
fleet_cleanup() {
	local p
	for p in "${etcd_pids[@]}"; do	# a member stopped by the test
		[ -n "$p" ] && kill -CONT "$p" 2>/dev/null
	done
	etcd_cleanup
	cleanup
	return 0
}
trap fleet_cleanup EXIT

# ------------------------------------------------------------ helpers
gone() {
	[ -e "/proc/$1" ] || return 0
	grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
ms() { date +%s%3N; }

# ------------------------------------------------------------ etcd
check "a throwaway CA and certificates for etcd, two hosts and the admin" \
    etcd_pki h1 h2
# Another signing key than the fleet administrator's.
openssl genpkey -algorithm ed25519 -out "$pki/evil.key" 2>/dev/null
openssl pkey -in "$pki/evil.key" -pubout -out "$pki/evil.pub"
for i in 0 1 2; do start_member "$i"; done
check "a 3-member etcd cluster answers over TLS" poll 60 healthy
etcd_auth h1 h2
check "etcd auth on: root, and users h1 and h2 with their roles" \
    sh -c "ETCDCTL_API=3 etcdctl --endpoints '$endpoints' --cacert '$pki/ca.pem' --cert '$pki/admin.pem' --key '$pki/admin.key' --user h1:pw-h1-$$ put /ztgate/policy x 2>&1 | grep -q 'permission denied'"

# ------------------------------------------------------------ the agent
require "the account $account is added" add_test_account "$account"
bin=$work/bin
mkdir -m 0755 "$bin"
install -m 0755 "$PROBE" "$bin/agent"
check "zt-exec is installed setgid to this run's supervisor group" \
    supervisor_setup "$bin"
digest=$(sha256sum "$bin/agent" | cut -d' ' -f1)

policy 1 >"$work/policy1.conf"
policy 2 >"$work/policy2.conf"
policy 3 >"$work/policy3.conf"
policy 9 'ztd = { socket = "/tmp/elsewhere.sock"; };' >"$work/bad.conf"

# h2 reaches etcd by name: curl's threaded resolver and glibc's
# getaddrinfo run under the client's seccomp allow-list too.
fleet_host h1
name=$(loopback_name)
diag "h2's endpoints name the host as $name"
fleet_host h2 "$(echo "$endpoints" | sed "s/127\.0\.0\.1/$name/g")"
fleet_section admin root "$pki/root.password" admin \
    "$pki/evil.pub" >"$work/evil.conf"
chmod 0644 "$work/evil.conf"
fleet() { "$ZTCTL" fleet "$@"; }
zcheck() { # HOST ACTION OBJECT: ztctl check's output and exit status
	out=$("$ZTCTL" --socket "$work/$1/ztd.sock" check --agent fleetagent \
	    --action "$2" --object "$3" 2>&1)
	rc=$?
}
allows() { zcheck "$@"; [ "$rc" -eq 0 ]; }
denies() { # HOST ACTION OBJECT ERE
	zcheck "$1" "$2" "$3"
	[ "$rc" -eq 1 ] && has "$out" "$4"
}
# synced_since HOST LINE: an "in sync" line in HOST's log after line LINE
# (sink_lines)
synced_since() { logged_since "$2" 'fleet: in sync with etcd' "$work/$1"; }
status_has() { fleet status --config "$work/admin.conf" 2>/dev/null | grep -qE -- "$1"; }
status_lacks() { ! fleet status --config "$work/admin.conf" 2>/dev/null | grep -qE -- "$1"; }

start_ztd h1
start_ztd h2
check "h1 is in sync with etcd (TLS, user h1)" \
    poll 30 logged 'fleet: in sync with etcd' "$work/h1"
check "h2 is in sync with etcd (TLS, user h2, endpoints by name)" \
    poll 30 logged 'fleet: in sync with etcd' "$work/h2"
client_of() { # HOST: the pid of its fleet client
	ps -o pid=,args= --ppid "${ztd_pid[$1]}" |
	    awk '$2 == "ztd-fleet" && $3 == "--fleet-client" { print $1 }'
}
client=$(client_of h1)
check "the fleet client is a child of ztd ($client)" test -n "$client"
st=/proc/${client:-0}/status
check "it runs as a user that is not root, without groups or capabilities" \
    sh -c "grep -qE '^Uid:[[:space:]]+[1-9][0-9]*' $st &&
	grep -qE '^Groups:[[:space:]]*\$' $st &&
	grep -qE '^CapEff:[[:space:]]+0+\$' $st &&
	grep -qE '^CapPrm:[[:space:]]+0+\$' $st"
check "with no_new_privs and a seccomp filter" \
    sh -c "grep -qE '^NoNewPrivs:[[:space:]]+1' $st &&
	grep -qE '^Seccomp:[[:space:]]+2' $st"
check "one filter: the allow-list loaded after its setup (Seccomp_filters: 1)" \
    grep -qE '^Seccomp_filters:[[:space:]]+1$' "$st"
# fd_paths PID: what its descriptors but stderr name
fd_paths() {
	for f in /proc/"$1"/fd/*; do
		[ "${f##*/}" = 2 ] || readlink "$f"
	done 2>/dev/null
}
check "ztd holds files of its own under the test's directory (the lock)" \
    sh -c "$(declare -f fd_paths); fd_paths ${ztd_pid[h1]} | grep -q '^$work/'"
check "its fleet client holds none of them (stderr aside, for its log)" \
    sh -c "$(declare -f fd_paths); ! fd_paths $client | grep -q '^$work/'"
kill -KILL "$client" 2>/dev/null
check "a fleet client killed is started again by ztd" \
    poll 20 sh -c "c=\$(ps -o pid=,args= --ppid ${ztd_pid[h1]} | awk '\$2 == \"ztd-fleet\" { print \$1 }'); [ -n \"\$c\" ] && [ \"\$c\" != $client ]"
zcheck h1 exec /bin/echo1
check "before any push, h1 knows no fleetagent (exit 2: $out)" test "$rc" -eq 2
# status_has_line HOST ERE: a line of HOST's ztctl status matches
status_has_line() {
	"$ZTCTL" --socket "$work/$1/ztd.sock" status 2>/dev/null |
	    grep -qE -- "$2"
}
# status_json HOST PYTHON-EXPR: true of f, ztctl --json status's fleet
status_json() {
	"$ZTCTL" --socket "$work/$1/ztd.sock" --json status 2>/dev/null |
	    python3 -c 'import json,sys; f=json.load(sys.stdin)["fleet"]; sys.exit(0 if '"$2"' else 1)'
}
check "ztctl status: h1 in sync, no fleet policy yet, none disabled" \
    poll 20 status_has_line h1 '^fleet: +host h1, in sync with https://127\.0\.0\.1:[0-9]+, no fleet policy \(the file.s agents\), 0 disabled$'

# ------------------------------------------------------------ reports
check "fleet status lists h1 and h2, as their own reports" \
    poll 20 sh -c "'$ZTCTL' fleet status --config '$work/admin.conf' | grep -q \"own reports\" && '$ZTCTL' fleet status --config '$work/admin.conf' | grep -q '^h1 {' && '$ZTCTL' fleet status --config '$work/admin.conf' | grep -q '^h2 {'"
out=$("$ZTCTL" --json fleet status --config "$work/admin.conf")
check "fleet status --json: each report with host, attestation, policy, grants, version" \
    python3 -c 'import json,sys
d=json.loads(sys.argv[1]); hosts={h["key"]:h["report"] for h in d["hosts"]}
r=hosts["h1"]; assert r["host"]=="h1" and r["attestation"]["mode"]=="software"
assert "serial" in r["policy"] and "grants" in r and r["version"]
assert "not verified" in d["note"]' "$out"
out=$(curl -s --cacert "$pki/ca.pem" --cert "$pki/h1.pem" --key "$pki/h1.key" \
    "https://127.0.0.1:${ports[0]}/v3/auth/authenticate" \
    -d "{\"name\":\"h1\",\"password\":\"pw-h1-$$\"}")
token=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' 2>/dev/null)
out=$(curl -s --cacert "$pki/ca.pem" --cert "$pki/h1.pem" --key "$pki/h1.key" \
    -H "Authorization: $token" "https://127.0.0.1:${ports[0]}/v3/kv/put" \
    -d '{"key":"'"$(printf /ztgate/policy | base64)"'","value":"eA=="}')
check "etcd refuses h1's user a write to PREFIX/policy ($out)" \
    has "$out" 'permission denied'

mark=$(sink_lines "$work/h1")
kill -HUP "${ztd_pid[h1]}"
check "SIGHUP restarts h1's fleet client, which is in sync again" \
    poll 30 synced_since h1 "$mark"

# ------------------------------------------------------------ push
t0=$(ms)
out=$(fleet push "$work/policy1.conf" --key "$pki/fleet-admin.key" \
    --config "$work/admin.conf" 2>&1)
check "fleet push signs and writes policy 1 ($out)" \
    has "$out" '^policy serial [0-9]+ written to /ztgate/policy$'
serial1=$(printf '%s' "$out" | sed -n 's/^policy serial \([0-9]*\) .*/\1/p')
check "h1 applies policy 1: fleetagent's /bin/echo1 is allowed" \
    poll 20 allows h1 exec /bin/echo1
check "h2 applies policy 1 too" poll 20 allows h2 exec /bin/echo1
diag "push to both hosts deciding: $(($(ms) - t0)) ms (polled every 100 ms)"
check "the apply is audited on h2 (decision=allow action=fleet)" \
    poll 20 logged "decision=allow action=fleet agent=\"-\" .*object=\"policy serial $serial1\" reason=\"signed by the fleet administrator; applied\"" "$work/h2"
check "h2's audit records name the host as the fleet does (host=h2)" \
    poll 20 logged ' host=h2 decision=allow action=fleet ' "$work/h2"
check "ztctl --json status: fleet {host h1, in_sync, policy_serial $serial1}" \
    status_json h1 "f['host'] == 'h1' and f['in_sync'] is True and f['policy_serial'] == $serial1 and f['offline_since'] is None and f['disabled'] == 0 and f['offline_denying'] is False and f['max_offline'] == 8 and f['endpoint'].startswith('https://')"
check "policy 1 is cached in h1's state_dir" \
    grep -q '^kind policy$' "$work/h1/state/fleet/policy"
value1=$(ectl get /ztgate/policy -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["value"])')

out=$(fleet push "$work/bad.conf" --key "$pki/fleet-admin.key" \
    --config "$work/admin.conf" 2>&1)
check "fleet push refuses a policy with a ztd section locally ($out)" \
    has "$out" "unknown key 'ztd' in a fleet policy"

# put_signed KEY KIND AGENT SERIAL FILE SIGNKEY: an entry signed with
# openssl (a second implementation of the format), put through the gateway.
put_signed() {
	local header body=$work/body.$$ msg=$work/msg.$$ sig
	header=$(printf 'ztgate-fleet 1\nkind %s\nagent %s\nserial %s\nwhy -\n' \
	    "$2" "$3" "$4")
	cp "$5" "$body"
	{ printf 'ztgate fleet entry\n%s\n\n' "$header"; cat "$body"; } >"$msg"
	sig=$(openssl pkeyutl -sign -inkey "$6" -rawin -in "$msg" | base64 -w0)
	{ printf '%s\nsignature %s\n\n' "$header" "$sig"; cat "$body"; } \
	    >"$work/entry.$$"
	put_raw "$1" "$(base64 -w0 "$work/entry.$$")"
}
# put_raw KEY BASE64-VALUE: the exact bytes, as root through the gateway.
put_raw() {
	local token
	token=$(curl -s --cacert "$pki/ca.pem" --cert "$pki/admin.pem" \
	    --key "$pki/admin.key" \
	    "https://127.0.0.1:${ports[1]}/v3/auth/authenticate" \
	    -d "{\"name\":\"root\",\"password\":\"root-$$\"}" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
	curl -s --cacert "$pki/ca.pem" --cert "$pki/admin.pem" \
	    --key "$pki/admin.key" -H "Authorization: $token" \
	    "https://127.0.0.1:${ports[1]}/v3/kv/put" \
	    -d "{\"key\":\"$(printf '%s' "$1" | base64 -w0)\",\"value\":\"$2\"}" \
	    >/dev/null
}
# A later serial, well signed, but not a valid policy: ztd validates too.
put_signed /ztgate/policy policy - $((serial1 + 1)) "$work/bad.conf" \
    "$pki/fleet-admin.key"
check "h1 refuses a signed policy with a ztd section, audited with its line" \
    poll 20 logged "decision=deny action=fleet agent=\"-\" .*object=\"policy serial $((serial1 + 1))\" reason=\"fleet policy serial $((serial1 + 1)):[0-9]+: unknown key 'ztd' in a fleet policy" "$work/h1"
check "h2 refuses it too" \
    poll 20 logged "decision=deny action=fleet .*object=\"policy serial $((serial1 + 1))\"" "$work/h2"
check "and policy 1 still decides on h2" allows h2 exec /bin/echo1
check "the refusal is published in h2's report" \
    poll 20 status_has "^h2 .*\"error\":\"policy serial $((serial1 + 1)): fleet policy serial"

out=$(fleet push "$work/policy2.conf" --key "$pki/evil.key" \
    --config "$work/evil.conf" 2>&1)
check "a push signed by another key is written ($out)" has "$out" 'written'
check "h1 refuses it: bad signature, audited" \
    poll 20 logged 'decision=deny action=fleet .*object="policy serial [0-9]+" reason="bad signature: not signed by the fleet administrator'"'"'s key' "$work/h1"
check "h2 refuses it too" poll 20 logged 'reason="bad signature' "$work/h2"
policy1_decides() { allows h1 exec /bin/echo1 && ! allows h1 exec /bin/echo2; }
check "policy 1 still decides on h1 (echo1 allowed, echo2 not)" \
    policy1_decides
put_raw /ztgate/policy "$(printf 'kind policy\nno signature\n' | base64 -w0)"
check "an unsigned entry is refused, audited" \
    poll 20 logged 'decision=deny action=fleet .*object="policy" reason="not a fleet entry' "$work/h2"

# --json: one object (ztctl(8) JSON OUTPUT), not the text line.
out=$("$ZTCTL" --json fleet push "$work/policy2.conf" \
    --key "$pki/fleet-admin.key" --config "$work/admin.conf" 2>/dev/null)
check "fleet push --json policy 2: {written, serial, key} ($out)" \
    python3 -c 'import json,sys
d=json.loads(sys.argv[1]); assert sys.argv[1].count("\n") == 0
assert list(d) == ["written", "serial", "key"], d
assert d["written"] == "policy" and d["key"] == "/ztgate/policy"
assert isinstance(d["serial"], int) and d["serial"] > int(sys.argv[2])' \
    "$out" "$serial1"
check "h1 applies policy 2" poll 20 allows h1 exec /bin/echo2
check "h2 applies policy 2" poll 20 allows h2 exec /bin/echo2
put_raw /ztgate/policy "$value1"
check "a replay of policy 1 (older serial) is refused on h1: rollback" \
    poll 20 logged "decision=deny action=fleet .*object=\"policy serial $serial1\" reason=\"serial $serial1 is at or below [0-9]+, the last applied: a replay or rollback\"" "$work/h1"
check "and on h2" poll 20 logged "object=\"policy serial $serial1\" reason=\"serial $serial1 is at or below" "$work/h2"
check "policy 2 still decides on h2 after the replay" \
    allows h2 exec /bin/echo2

# ------------------------------------------------------------ disable
zx_bg() { # NAME HOST ARGS...: fleet_agent_bg, no job of this shell's
	fleet_agent_bg "$@"
	disown "$zx_pid" 2>/dev/null
}
zx() { # HOST ARGS...: sets rc
	(cd "$work" && timeout 60 setpriv --reuid="$account" \
	    --regid="$account" --clear-groups -- "$ZTEXEC" \
	    --socket "$work/$1/ztd.sock" --syslog-socket "$work/$1/log.sock" \
	    -- "$bin/agent" "${@:2}" </dev/null >"$work/zx.out" \
	    2>"$work/zx.err")
	rc=$?
}
zx_bg long h2 sleep 120
check "the agent runs under zt-exec on h2 (a grant there)" \
    poll 20 logged "grant [0-9a-f]+: agent fleetagent account $account launched" "$work/h2"
t0=$(ms)
out=$(fleet disable fleetagent --why "key leaked" --key "$pki/fleet-admin.key" \
    --config "$work/admin.conf" 2>&1)
t1=$(ms)
check "fleet disable writes a signed disable ($out)" \
    has "$out" '^disable serial [0-9]+ written to /ztgate/disabled/fleetagent$'
if poll 20 gone "$zx_pid"; then
	ok "the agent under h2 is killed by the fleet disable"
	diag "fleet disable to the agent's death on h2: $(($(ms) - t0)) ms from ztctl's start (its TLS, etcd login, signature, put: $((t1 - t0)) ms), polled every 100 ms"
else
	not_ok "the agent under h2 is killed by the fleet disable"
fi
check "h2 audits the disable with the grants it ended" \
    poll 20 logged 'decision=allow action=fleet agent="fleetagent" .*reason="agent disabled on this host: key leaked; 1 grants ended"' "$work/h2"
check "h1 refuses fleetagent's actions: disabled by the fleet administrator" \
    poll 20 denies h1 exec /bin/echo2 'disabled by the fleet administrator .*key leaked'
zx h2 exit 0
check "a new launch on h2 is denied (zt-exec exit 126, got $rc)" test "$rc" -eq 126
check "and audited as a denied session" \
    poll 20 logged "decision=deny action=session agent=\"fleetagent\" .*reason=\"agent disabled by the fleet administrator" "$work/h2"
check "the disabled set is cached in h1's state_dir" \
    grep -q '^kind disable$' "$work/h1/state/fleet/disabled/fleetagent"
check "h1's report lists fleetagent as disabled" \
    poll 20 status_has '^h1 .*"disabled":\["fleetagent"\]'
disabled_value=$(ectl get /ztgate/disabled/fleetagent -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["value"])')
ectl del /ztgate/disabled/fleetagent >/dev/null
check "a delete of the entry in etcd is seen by h2" \
    poll 20 logged 'fleet: a disabled entry fleetagent was deleted in etcd: ignored' "$work/h2"
check "and ignored (unsigned): fleetagent stays disabled" \
    denies h2 exec /bin/echo2 'disabled by the fleet'

out=$("$ZTCTL" --json fleet enable fleetagent --key "$pki/fleet-admin.key" \
    --config "$work/admin.conf" 2>/dev/null)
check "fleet enable --json writes a signed enable: {written, serial, key} ($out)" \
    python3 -c 'import json,sys
d=json.loads(sys.argv[1])
assert d["written"] == "enable" and isinstance(d["serial"], int)
assert d["key"] == "/ztgate/disabled/fleetagent"' "$out"
check "h2 allows fleetagent again" poll 20 allows h2 exec /bin/echo2
check "h1 allows fleetagent again" poll 20 allows h1 exec /bin/echo2
zx h2 exit 0
check "a launch on h2 runs again (exit 0, got $rc)" test "$rc" -eq 0
put_raw /ztgate/disabled/fleetagent "$disabled_value"
check "a replayed disable is refused on h1" \
    poll 20 logged 'decision=deny action=fleet agent="fleetagent" .*reason="serial [0-9]+ is at or below' "$work/h1"
check "fleetagent stays enabled on h1 after the replay" \
    allows h1 exec /bin/echo2

# ------------------------------------------------------------ a stalled member
# watch_member HOST: the member (0-2) its fleet client's watches are on,
# the etcd port its established connections go to.
watch_member() {
	local c i
	c=$(client_of "$1")
	[ -n "$c" ] || return 1
	for i in 0 1 2; do
		if ss -tnpH state established "( dport = :${ports[$i]} )" \
		    2>/dev/null | grep -q "pid=$c,"; then
			echo "$i"
			return 0
		fi
	done
	return 1
}
# fleet_retry COMMAND ARGS...: ztctl fleet, a few times while the cluster
# elects a leader without the stopped member; its output in $out.
fleet_retry() {
	local i
	for i in 1 2 3 4 5 6; do
		out=$(fleet "$@" 2>&1) && return 0
		sleep 2
	done
	return 1
}
m=$(poll 20 watch_member h2)
check "h2's fleet client watches member ${m:-?} of etcd" test -n "$m"
# A member stopped (SIGSTOP: the kernel keeps its connections, so the
# watch streams stay open and say nothing) or cut off from its leader:
# h2's heartbeat moves on to another member, which answers; before,
# h2 then said "in sync" for ever on watches that carried nothing more.
kill -STOP "${etcd_pids[${m:-0}]}"
fleet_retry disable fleetagent --why "member stalled" \
    --key "$pki/fleet-admin.key" --config "$work/admin.conf"
check "member $m stopped: fleet disable is written through the others ($out)" \
    has "$out" '^disable serial [0-9]+ written'
check "h2 watches again from the member its heartbeat reaches: the disable applies" \
    poll 60 denies h2 exec /bin/echo2 'disabled by the fleet administrator .*member stalled'
check "and h2 said why it left the stalled member's watches" \
    logged 'the heartbeat went to .*, not to the member the watches are on' "$work/h2"
check "h1 applies it too" \
    poll 60 denies h1 exec /bin/echo2 'disabled by the fleet administrator .*member stalled'
fleet_retry enable fleetagent --key "$pki/fleet-admin.key" \
    --config "$work/admin.conf"
check "fleet enable is written through the others ($out)" \
    has "$out" '^enable serial [0-9]+ written'
check "h2 allows fleetagent again" poll 60 allows h2 exec /bin/echo2
check "h1 allows fleetagent again" poll 60 allows h1 exec /bin/echo2
kill -CONT "${etcd_pids[${m:-0}]}"
check "member $m goes on: the cluster is healthy" poll 60 healthy

# ------------------------------------------------------------ a name with ".new"
# Agent names may hold dots: a cached disable of svc.news must be read
# back at a start like any other.  Before, the cache loader took every
# name with ".new" in it for a temporary file and skipped it: a restart
# without etcd lifted the disable.
out=$(fleet disable svc.news --why "a name with .new in it" \
    --key "$pki/fleet-admin.key" --config "$work/admin.conf" 2>&1)
check "fleet disable svc.news is written ($out)" \
    has "$out" '^disable serial [0-9]+ written'
check "h2 caches it in state_dir/fleet/disabled/svc.news" \
    poll 20 grep -q '^agent svc.news$' "$work/h2/state/fleet/disabled/svc.news"
check "h2 counts one agent disabled" poll 20 status_json h2 "f['disabled'] == 1"

# ------------------------------------------------------------ etcd down
kill_member 0
out=$(fleet push "$work/policy3.conf" --key "$pki/fleet-admin.key" \
    --config "$work/admin.conf" 2>&1)
check "one member killed: fleet push still works ($out)" \
    has "$out" '^policy serial'
check "one member killed: h1 applies policy 3" poll 30 allows h1 exec /bin/echo3
check "one member killed: h2 applies policy 3" poll 30 allows h2 exec /bin/echo3
kill_member 1
kill_member 2
check "all killed: h1 logs the outage" \
    poll 30 logged 'fleet: etcd unreachable .*deciding from the cached policy' "$work/h1"
check "all killed: h1 still decides from its cache (echo3 allowed)" \
    allows h1 exec /bin/echo3
check "all killed: sessions are still allowed within max_offline" \
    allows h2 session zt-exec
check "after max_offline (8 s) h2 denies sessions: fleet unreachable" \
    poll 30 denies h2 session zt-exec '^deny: fleet unreachable'
check "ztctl status on h2: OFFLINE since when, past max_offline, the serial in force" \
    status_has_line h2 '^fleet: +host h2, OFFLINE since [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z \(past max_offline: denying sessions and high-risk actions\), policy serial [0-9]+, 1 disabled$'
check "and in --json: in_sync false, offline_since, offline_denying" \
    status_json h2 "f['in_sync'] is False and f['offline_since'].endswith('Z') and f['offline_denying'] is True and f['endpoint'] is None and isinstance(f['policy_serial'], int)"
check "low-risk actions still decided from the cache" \
    allows h2 exec /bin/echo3
zx h2 exit 0
check "a launch under h2 is denied offline (126, got $rc)" test "$rc" -eq 126
check "audited with reason fleet unreachable" \
    poll 20 logged 'decision=deny action=session agent="fleetagent" .*reason="fleet unreachable' "$work/h2"
stop_ztd h2
start_ztd h2
check "h2 restarted offline starts from its cached policy 3" \
    poll 20 allows h2 exec /bin/echo3
check "and still denies sessions: the last sync is kept across restarts" \
    denies h2 session zt-exec '^deny: fleet unreachable'
check "and its cached disable of svc.news (one agent disabled)" \
    status_json h2 "f['disabled'] == 1"
stop_ztd h2
# admin_key rotated: the cached disable, signed by the old key, no longer
# verifies; it is no enable, so it stays in force (before, a restart
# under the new key lifted it).
sed -i "s|admin_key = \"$pki/fleet-admin.pub\"|admin_key = \"$pki/evil.pub\"|" \
    "$work/h2/ztd.conf"
mark=$(sink_lines "$work/h2")
start_ztd h2
check "h2 restarted under a rotated admin_key says its cached disable of svc.news no longer verifies" \
    poll 20 logged_since "$mark" 'fleet: cached disable .*/svc.news no longer verifies .*bad signature.*svc.news stays disabled' "$work/h2"
check "and keeps it (one agent disabled)" status_json h2 "f['disabled'] == 1"
stop_ztd h2
sed -i "s|admin_key = \"$pki/evil.pub\"|admin_key = \"$pki/fleet-admin.pub\"|" \
    "$work/h2/ztd.conf"

# ------------------------------------------------------------ etcd back
mark=$(sink_lines "$work/h1")
for i in 0 1 2; do start_member "$i"; done
check "etcd is back" poll 60 healthy
check "h1 is in sync again" poll 60 synced_since h1 "$mark"
check "h1 allows sessions again" poll 30 allows h1 session zt-exec
out=$(fleet push "$work/policy1.conf" --key "$pki/fleet-admin.key" \
    --config "$work/admin.conf" 2>&1)
check "a change while h2 is down: policy 1 again, a new serial ($out)" \
    has "$out" '^policy serial'
check "h1 applies it" poll 30 allows h1 exec /bin/echo1
check "fleet status drops h2, whose ztd stopped (its lease expired)" \
    poll 60 status_lacks '^h2 '
start_ztd h2
check "h2 started again catches up: the change made meanwhile arrives" \
    poll 30 allows h2 exec /bin/echo1
check "h2 is listed again" poll 30 status_has '^h2 '
# ------------------------------------------------------------ the floor
# The cached policy in force may no longer load at a start (the local
# file changed: here agent_group names a group fleetagent's account is
# not in).  It still says which serial the administrator had reached: an
# older signed policy that would load (its account daemon is in group
# daemon) is a rollback when etcd serves it.  Before, h1 then had no
# floor and put an old policy in force.
if [ "$(id -gn daemon 2>/dev/null)" = daemon ]; then
	stop_ztd h1
	mark=$(sink_lines "$work/h1")
	sed -i 's/^ztd: {$/ztd: {\n  agent_group = "daemon";/' \
	    "$work/h1/ztd.conf"
	start_ztd h1
	check "h1 restarted: its cached policy no longer loads (agent_group daemon)" \
	    poll 20 logged_since "$mark" 'fleet: cached policy .* refused: .*not in group daemon' "$work/h1"
	check "h1 is in sync again" poll 60 synced_since h1 "$mark"
	policy 9 | sed -e 's/"fleetagent"/"oldagent"/' \
	    -e "s/\\[\"$account\"\\]/[\"daemon\"]/" >"$work/old.conf"
	check "the old policy names oldagent with the account daemon" \
	    grep -q 'accounts = \["daemon"\]' "$work/old.conf"
	put_signed /ztgate/policy policy - 7 "$work/old.conf" \
	    "$pki/fleet-admin.key"
	check "an older signed policy that would load is refused on h1: a rollback" \
	    poll 20 logged_since "$mark" 'decision=deny action=fleet .*object="policy serial 7" reason="serial 7 is at or below [0-9]+' "$work/h1"
	"$ZTCTL" --socket "$work/h1/ztd.sock" check --agent oldagent \
	    --action exec --object /bin/echo9 >/dev/null 2>&1
	rc=$?
	check "and it is not in force: h1 knows no oldagent (exit 2, got $rc)" \
	    test "$rc" -eq 2
	check "the floor is kept in h1's state_dir (policy.seen)" \
	    grep -q '^kind policy$' "$work/h1/state/fleet/policy.seen"
else
	skip "the floor: no account daemon whose group is daemon"
fi
# ------------------------------------------------------------ a write between the reads
# h3 reaches etcd through a man in the middle (one member behind
# tests/helpers/etcd-race-proxy.py) that, when h3's client reads the
# disabled set (its second read, after the policy's), first has the
# administrator push policy 4: a write between the two reads, as a slow
# link or a busy member may place it.  Before, both watches started after
# the second read's revision: policy 4 was in neither the policy's read
# nor its watch, and h3 kept the policy read first while in sync.
ectl role add host-h3 >/dev/null &&
    ectl role grant-permission --prefix=true host-h3 read /ztgate/ \
    >/dev/null &&
    ectl role grant-permission host-h3 readwrite /ztgate/hosts/h3 \
    >/dev/null &&
    ectl user add "h3:pw-h3-$$" >/dev/null &&
    ectl user grant-role h3 host-h3 >/dev/null &&
    printf 'pw-h3-%s\n' "$$" >"$pki/h3.password"
check "etcd user h3, whose role writes only its own report" \
    test -s "$pki/h3.password"
check "a client certificate for h3" \
    mkcert h3 /O=zt-fleet-test/OU=h3 DNS:h3
policy 4 >"$work/policy4.conf"
pport=$(free_ports 1)
python3 "$top_srcdir/tests/helpers/etcd-race-proxy.py" "$pport" \
    "https://127.0.0.1:${ports[1]}" "$pki/ca.pem" "$pki/admin.pem" \
    "$pki/admin.key" /ztgate/disabled/ "$work/proxy.log" \
    "$ZTCTL" fleet push "$work/policy4.conf" --key "$pki/fleet-admin.key" \
    --config "$work/admin.conf" 2>"$work/proxy.err" &
proxy_pid=$!
track "$proxy_pid"
proxy_listens() { ss -Htln "sport = :$pport" | grep -q .; }
check "the proxy listens on 127.0.0.1:$pport" poll 20 proxy_listens
check "h3's configuration: etcd through the proxy (plain HTTP on loopback)" \
    fleet_host h3 "http://127.0.0.1:$pport"
start_ztd h3
check "the proxy had policy 4 pushed between h3's two reads" \
    poll 30 grep -q '^COMMAND rc=0$' "$work/proxy.log"
check "h3 is in sync with etcd through the proxy" poll 30 in_sync h3
check "h3 applies policy 4, written between its reads" \
    poll 30 allows h3 exec /bin/echo4

# The proxy again, now lying about revisions (ZT_PROXY_BUMP: every
# event 10^9 revisions ahead), as a hostile member may, or as a cluster
# restored from an older snapshot looks to a client of the newer one.
# Back at the store's true revision, h3 must read everything again:
# before, it watched from the revision it was told, which the store
# never reaches, and missed every change while in sync.
# proxy_again [BUMP]: the proxy restarted on the same port, running
# nothing, its events' revisions raised by BUMP.
proxy_again() {
	stop_pid "$proxy_pid"
	wait "$proxy_pid" 2>/dev/null
	ZT_PROXY_BUMP=${1:-0} python3 \
	    "$top_srcdir/tests/helpers/etcd-race-proxy.py" "$pport" \
	    "https://127.0.0.1:${ports[1]}" "$pki/ca.pem" "$pki/admin.pem" \
	    "$pki/admin.key" - "$work/proxy.log" 2>>"$work/proxy.err" &
	proxy_pid=$!
	track "$proxy_pid"
}
# through N [BUMP] WHAT: the proxy restarted (raising revisions by
# BUMP), h3 in sync through it again, policy N pushed: h3 must apply it.
through() {
	local mark
	policy "$1" >"$work/policy$1.conf"
	mark=$(sink_lines "$work/h3")
	proxy_again "$2"
	check "the proxy (revisions raised by $2) listens" poll 20 proxy_listens
	check "h3 is in sync again through it" poll 60 synced_since h3 "$mark"
	out=$(fleet push "$work/policy$1.conf" --key "$pki/fleet-admin.key" \
	    --config "$work/admin.conf" 2>&1)
	check "policy $1 is pushed ($out)" has "$out" '^policy serial'
	check "h3 applies policy $1: $3" poll 30 allows h3 exec "/bin/echo$1"
}
through 5 1000000000 "its event's revision raised by 10^9"
through 6 0 "it read everything again, not watching from the lie"
stop_ztd h3

check "no fleet client was killed by its seccomp allow-list (SIGSYS)" \
    synced -d "$work/h1" -d "$work/h2" \
    sh -c "! grep -qa 'outside its seccomp allow-list' '$work/h1/syslog.out' '$work/h2/syslog.out'"
check "neither ztd wrote to its stderr about a crash" \
    sh -c "! grep -qiE 'sanitizer|segfault|abort' '$work/h1/ztd.stderr' '$work/h2/ztd.stderr'"

finish
