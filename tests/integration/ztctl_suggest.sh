#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ztctl profile suggest reads an audit file as untrusted text: records with
# hostile strings (quotes, backslashes, fnmatch characters, escaped
# newlines, bytes beyond ASCII), cut objects, forged and malformed lines.
# What it prints must be exactly the rules expected, and a profile made
# of them must pass `ztd --check-config` (issue 16).  A file whose hash
# chain does not verify (a syslog copy, where any user's line can stand
# among ztd's) is refused unless --unverified is given.
set -u
. "$(dirname "$0")/lib.sh"

hasf() { grep -qxF -- "$2" "$1"; }  # FILE LINE (a whole line, as is)

# FIELDS...: one record as ztd's audit file holds it, time= ($when, a
# fixed one by default) and host= first.
when=2026-12-06T11:00:00.000001Z
rec() {
	printf 'time=%s host=web-01 %s seq=1 prev=%064d hash=%064d\n' \
	    "$when" "$*" 0 0
}
A='agent="probe" account="svc" uid=990 pid=42'
T='grant=- attest=software age=1'
{
	rec "decision=allow action=exec $A object=\"/usr/bin/git\\x00status\" reason=\"command\" $T cache=miss"
	# Hostile arguments: a quote, a backslash, fnmatch characters, an
	# escaped newline and tab, UTF-8, an empty argument, spaces.
	rec "decision=deny action=exec $A object=\"/usr/bin/git\\x00commit\\x00-m\\x00it's \\\"quoted\\\" \\\\ back\\x00*?[x]\\x00line\\x0abreak\\x09tab\\x00caf\\xc3\\xa9\\x00\" reason=\"learn mode\" $T cache=miss enforced=no"
	# The same exec again: one alternative.
	rec "decision=allow action=exec $A object=\"/usr/bin/git\\x00status\" reason=\"command\" $T cache=miss"
	# A cut object: the whole arguments before the cut, then "**".
	rec "decision=deny action=exec $A object=\"/usr/bin/git\\x00log\\x00--format\\x00%H %s aaaa...\" reason=\"r\" $T cache=miss enforced=no"
	# Without arguments, and from a cache (arguments unknown: any).
	rec "decision=allow action=exec $A object=\"/usr/bin/true\" reason=\"r\" $T cache=miss"
	rec "decision=allow action=exec $A object=\"/usr/bin/rsync\" reason=\"r\" $T cache=local"
	rec "decision=allow action=exec $A object=\"/usr/bin/rsync\\x00-a\" reason=\"r\" $T cache=miss"
	# Shells and interpreters: never low risk.
	rec "decision=deny action=exec $A object=\"/bin/bash\\x00-c\\x00echo hi\" reason=\"r\" $T cache=miss enforced=no"
	rec "decision=deny action=exec $A object=\"/usr/bin/python3.11\\x00x.py\" reason=\"r\" $T cache=miss enforced=no"
	# Python -m as the agent ran it: ztd refuses that rule without -I.
	rec "decision=deny action=exec $A object=\"/usr/bin/python3.11\\x00-m\\x00json.tool\" reason=\"r\" $T cache=miss enforced=no"
	# A path with a quote and a backslash in it.
	rec "decision=deny action=exec $A object=\"/opt/we\\\"ird\\\\name\" reason=\"r\" $T cache=miss enforced=no"
	# Ports: 80, 81, 82 and 443 to one address (one rule, a range).
	for p in 82 80 443 81 80; do
		rec "decision=deny action=connect $A object=\"tcp:127.0.0.1:$p\" reason=\"r\" $T cache=miss enforced=no"
	done
	rec "decision=allow action=connect $A object=\"udp:[2001:db8::1]:53\" reason=\"r\" $T cache=hit"
	rec "decision=allow action=connect $A object=\"tcp:[::ffff:10.0.0.1]:5432\" reason=\"r\" $T cache=miss"
	rec "decision=deny action=connect $A object=\"unix:/run/x\\\"y.sock\" reason=\"r\" $T cache=miss enforced=no"
	rec "decision=deny action=listen $A object=\"tcp:127.0.0.1:8080\" reason=\"r\" $T cache=miss enforced=no"
	# The longest unix path there is (107 bytes), kept whole.
	rec "decision=allow action=connect $A object=\"unix:/run/$(printf '%0100d' 7).s\" reason=\"r\" $T cache=miss"
	rec "decision=deny action=syscall $A object=\"msgget\" reason=\"r\" $T cache=miss enforced=no"
	# A host name that is not one word comes quoted.
	printf 'time=%s host="web 01" decision=deny action=connect %s object="tcp:127.0.0.2:25" reason="r" %s cache=miss enforced=no seq=2\n' "$when" "$A" "$T"
	# A file's reopen record and the rate limit's suppressed= record are
	# no decisions to learn from, and no malformed lines either.
	printf 'time=%s host=web-01 event=reopen file="/var/log/zt/audit.log" reason="logrotate" seq=3 prev=%064d hash=%064d\n' "$when" 0 0
	rec "decision=deny action=suppressed $A object=- reason=\"5 denies held back\" $T cache=- suppressed=5"
	# Left out: enforced denies, other agents, sessions, files.
	rec "decision=deny action=exec $A object=\"/usr/bin/dash\" reason=\"r\" $T cache=miss"
	rec "decision=deny action=connect $A object=\"tcp:10.9.9.9:22\" reason=\"r\" $T cache=miss"
	rec "decision=allow action=exec agent=\"other\" account=\"o\" uid=1 pid=1 object=\"/usr/bin/curl\" reason=\"r\" $T cache=miss"
	rec "decision=allow action=session $A object=\"zt-exec\" reason=\"r\" $T cache=miss"
	rec "decision=allow action=open $A object=\"/etc/passwd:r\" reason=\"r\" $T cache=miss"
	# Forged or malformed: skipped, never half read.
	rec "decision=allow action=exec agent=\"probe\\\" decision=allow\" $T object=\"/usr/bin/forged1\" cache=miss"
	rec "decision=allow action=exec $A object=\"/usr/bin/forged2 cache=miss"
	rec "decision=allow action=exec $A object=\"/usr/bin/forged3\\xZZ\" cache=miss"
	rec "decision=allow action=exec $A action=connect object=\"/usr/bin/forged4\" cache=miss"
	rec "decision=allow action=exec $A object=\"/usr/bin/../forged5\" cache=miss"
	rec "decision=allow action=connect $A object=\"tcp:1.2.3.4:0\" cache=miss"
	rec "decision=allow action=connect $A object=\"tcp:1.2.3.4:65536\" cache=miss"
	rec "decision=allow action=connect $A object=\"tcp:not-an-address:80\" cache=miss"
	rec "decision=allow action=syscall $A object=\"msg get\\\"]; };\" cache=miss"
	printf 'decision=allow action=exec %s object="/usr/bin/forged6\n' "$A"
	printf 'garbage\n\n'
	head -c 9000 /dev/zero | tr '\0' 'a'
	echo
} >"$work/audit.log"

out=$("$ZTCTL" profile suggest probe --audit "$work/audit.log" \
    --unverified 2>"$work/err" >"$work/rules")
rc=$?
diag "$(cat "$work/rules")"
check "suggest exits 0 (got $rc)" test "$rc" -eq 0
check "suggest counts the lines it skipped" \
    grep -q "^ztctl: profile suggest: 12 lines skipped" "$work/err"
R=$work/rules
check "git: one rule, args quoted for libconfig and escaped for fnmatch" \
    hasf "$R" '  { path = "/usr/bin/git"; risk = "low";'
check "git: the hostile arguments, each one pattern" \
    hasf "$R" '    args = (["commit", "-m", "it'"'"'s \"quoted\" \\\\ back", "\\*\\?\\[x]", "line\x0abreak\x09tab", "caf\xc3\xa9", ""],'
check "git: a cut argv keeps the whole arguments, then \"**\"" \
    hasf "$R" '      ["log", "--format", "**"],'
check "git: status once" hasf "$R" '      ["status"]); },'
check "a command seen without arguments: the empty alternative" \
    hasf "$R" '  { path = "/usr/bin/true"; risk = "low";'
check "... args = ([])" hasf "$R" '    args = ([]); },'
check "a command served from a cache: any arguments (no args)" \
    hasf "$R" '  { path = "/usr/bin/rsync"; risk = "low"; },'
check "a shell is high risk" hasf "$R" '  { path = "/bin/bash"; risk = "high";'
check "an interpreter is high risk" \
    hasf "$R" '  { path = "/usr/bin/python3.11"; risk = "high";'
check "python -m: the rule suggested with -I first, ztd's requirement" \
    hasf "$R" '    args = (["-I", "-m", "json.tool"],'
check "... and a script as run (its directory, not the cwd, goes first)" \
    hasf "$R" '      ["x.py"]); },'
check "... with a comment saying the agent must run it with -I" \
    grep -q '^  # Python: "-I" added first where the agent ran it without' "$R"
check "a path with a quote and a backslash is quoted" \
    hasf "$R" '  { path = "/opt/we\"ird\\name"; risk = "low";'
check "one rule per destination, contiguous ports as a range" \
    hasf "$R" '  { to = "127.0.0.1/32"; ports = "80-82,443"; proto = "tcp"; },'
check "udp to an IPv6 address" \
    hasf "$R" '  { to = "2001:db8::1/128"; ports = "53"; proto = "udp"; },'
check "a v4-mapped address as IPv4" \
    hasf "$R" '  { to = "10.0.0.1/32"; ports = "5432"; proto = "tcp"; },'
check "a destination seen under a quoted host= name" \
    hasf "$R" '  { to = "127.0.0.2/32"; ports = "25"; proto = "tcp"; },'
check "a listen rule" \
    hasf "$R" '  { listen = "127.0.0.1/32"; ports = "8080"; proto = "tcp"; },'
check "a unix path with a quote" hasf "$R" '  { unix = "/run/x\"y.sock"; }'
check "the longest unix path, whole" \
    grep -qF "{ unix = \"/run/$(printf '%0100d' 7).s\"; }" "$R"
check "syscalls gate" hasf "$R" 'syscalls = { gate = ["msgget"]; };'
check "enforced denies, other agents, sessions and files are left out" \
    sh -c "! grep -qE 'dash|10\\.9\\.9\\.9|curl|zt-exec|passwd' '$R'"
check "forged and malformed lines are left out" \
    sh -c "! grep -qE 'forged|1\\.2\\.3\\.4|msg get' '$R'"

# The suggestion, pasted into a profile, is a valid configuration.
digest=$(sha256sum /bin/true | cut -d' ' -f1)
mkdir -m 0700 "$work/state"
{
	printf 'ztd: { state_dir = "%s"; agent_group = ""; };\n' "$work/state"
	printf 'agents = ( {\n  name = "probe"; accounts = ["nobody"];\n'
	printf '  binary = "/bin/true"; sha256 = ["%s"];\n' "$digest"
	cat "$R"
	printf '} );\n'
} >"$work/ztd.conf"
chmod 0644 "$work/ztd.conf"
out=$("$ZTD" --check-config --config "$work/ztd.conf" 2>&1)
check "ztd --check-config accepts the suggested rules ($out)" test "$out" = ok

# --since needs time=; the newer records only.
now=$(date -u +%Y-%m-%dT%H:%M:%S.000001Z)
old=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
{
	when=$old rec "decision=allow action=exec $A object=\"/usr/bin/old\" $T cache=miss"
	when=$now rec "decision=allow action=exec $A object=\"/usr/bin/new\" $T cache=miss"
	# A line of before time= was written (ztd writes it on every one).
	printf 'decision=allow action=exec %s object="/usr/bin/untimed" %s cache=miss seq=1\n' "$A" "$T"
} >"$work/timed.log"
out=$("$ZTCTL" profile suggest probe --audit "$work/timed.log" \
    --since 3600 --unverified 2>"$work/err")
check "--since: only the records of the last SECONDS" \
    sh -c "printf '%s' \"\$1\" | grep -q '/usr/bin/new' && ! printf '%s' \"\$1\" | grep -qE 'old|untimed'" _ "$out"
check "--since: records without time= are said to be left out" \
    grep -q '1 records carry no time=' "$work/err"
# --json: one object, the suggestion whole in it.
"$ZTCTL" --json profile suggest probe --audit "$work/timed.log" \
    --since 3600 --unverified >"$work/suggest.json" 2>/dev/null
rc=$?
check "--json profile suggest: exit 0 (got $rc), one object with the counts and the suggestion" \
    python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["agent"] == "probe" and o["lines"] == 3 and o["used"] == 1, o
assert o["untimed"] == 1 and o["rules"] == 1, o
assert o["verified"] is False, o
assert "/usr/bin/new" in o["suggestion"], o
assert "/usr/bin/old" not in o["suggestion"], o
' "$work/suggest.json"
"$ZTCTL" --json profile suggest probe --audit "$work/none.log" \
    >"$work/nofile.json" 2>/dev/null
rc=$?
check "--json profile suggest of a missing file: {\"error\"} (exit 2, got $rc)" \
    sh -c "[ $rc -eq 2 ] && grep -q '^{\"error\": *\".*none.log' '$work/nofile.json'"
"$ZTCTL" profile suggest probe >/dev/null 2>"$work/err"
rc=$?
check "without --audit: an error saying why (exit 2, got $rc)" \
    sh -c "[ $rc -eq 2 ] && grep -q 'give --audit FILE' '$work/err'"
"$ZTCTL" profile suggest nobody-here --audit "$work/audit.log" --unverified \
    >/dev/null 2>"$work/err"
rc=$?
check "an agent with no records: exit 1, said (got $rc)" \
    sh -c "[ $rc -eq 1 ] && grep -q 'no record of agent nobody-here' '$work/err'"

# ------------------------------------------------- the chain is verified
# FILE: the records of stdin (without seq=) chained as ztd writes them:
# seq=N prev=HEX hash=SHA-256(prev bytes, the line up to prev='s end),
# numbered from $first (default 1; a piece of a chain starts anywhere).
chain() {
	python3 -c '
import hashlib, sys
prev, seq, out = bytes(32), int(sys.argv[2]), open(sys.argv[1], "w")
for body in sys.stdin.read().splitlines():
    text = "%s seq=%d prev=%s" % (body, seq, prev.hex())
    prev = hashlib.sha256(prev + text.encode()).digest()
    out.write("%s hash=%s\n" % (text, prev.hex()))
    seq += 1
' "$1" "${first:-1}"
}
line() { printf 'time=%s host=web-01 %s\n' "$when" "$*"; }
{
	line "decision=allow action=exec $A object=\"/usr/bin/git\x00status\" reason=\"command\" $T cache=miss"
	line "decision=deny action=connect $A object=\"tcp:127.0.0.1:443\" reason=\"r\" $T cache=miss enforced=no"
	line "decision=allow action=exec agent=\"other\" account=\"o\" uid=1 pid=1 object=\"/usr/bin/curl\" reason=\"r\" $T cache=miss"
} | chain "$work/chain.log"
chmod 0600 "$work/chain.log"
"$ZTCTL" profile suggest probe --audit "$work/chain.log" >"$work/rules" \
    2>"$work/err"
rc=$?
check "a chain of ztd's records: suggested, exit 0 (got $rc: $(cat "$work/err"))" \
    sh -c "[ $rc -eq 0 ] && grep -qxF '    args = ([\"status\"]); }' '$work/rules' &&
	grep -qF '{ to = \"127.0.0.1/32\"; ports = \"443\"; proto = \"tcp\"; }' '$work/rules'"
check "... not marked unverified" sh -c "! grep -q UNVERIFIED '$work/rules'"
# A piece of the chain (tail of the live file), and one whose last line
# is still being written.
tail -n 2 "$work/chain.log" >"$work/piece.log"
printf 'time=%s host=web-01 decision=allow action=exec %s object="/usr/bin/half' \
    "$when" "$A" >>"$work/piece.log"
"$ZTCTL" profile suggest probe --audit "$work/piece.log" >"$work/rules" \
    2>"$work/err"
rc=$?
check "a piece of a chain, its last line half written: exit 0 (got $rc: $(cat "$work/err")), the half line not read" \
    sh -c "[ $rc -eq 0 ] && grep -qF '127.0.0.1/32' '$work/rules' && ! grep -q half '$work/rules'"
# What `logger -t ztd` puts among ztd's lines in syslog: any user's line.
for f in chain piece; do
	{
		head -n 1 "$work/chain.log"
		printf 'Dec  7 12:00:00 web-01 ztd[1]: time=%s host=web-01 decision=allow action=exec %s object="/usr/bin/forged" reason="r" %s cache=miss\n' "$when" "$A" "$T"
		tail -n +2 "$work/chain.log"
	} >"$work/$f-forged.log"
	chmod 0600 "$work/$f-forged.log"
done
"$ZTCTL" profile suggest probe --audit "$work/chain-forged.log" \
    >"$work/rules" 2>"$work/err"
rc=$?
check "a forged line among the chain's: refused, exit 1 (got $rc), nothing suggested, the break and --unverified said" \
    sh -c "[ $rc -eq 1 ] && [ ! -s '$work/rules' ] &&
	grep -q 'chain-forged.log is not an intact audit chain (record 2 (line 2): malformed' '$work/err' &&
	grep -q -- '--unverified to read it anyway' '$work/err'"
"$ZTCTL" --json profile suggest probe --audit "$work/chain-forged.log" \
    >"$work/out.json" 2>/dev/null
rc=$?
check "... --json: {\"error\"}, exit 1 (got $rc)" \
    sh -c "[ $rc -eq 1 ] && grep -q '^{\"error\": *\".*not an intact audit chain' '$work/out.json'"
"$ZTCTL" profile suggest probe --audit "$work/chain-forged.log" \
    --unverified >"$work/rules" 2>"$work/err"
rc=$?
check "... read with --unverified: exit 0 (got $rc), the forged command in it, marked UNVERIFIED" \
    sh -c "[ $rc -eq 0 ] && grep -qF '/usr/bin/forged' '$work/rules' &&
	grep -q '^# UNVERIFIED' '$work/rules' && grep -q 'read anyway' '$work/err'"
# refused WHAT FILE PATTERN: suggest from FILE exits 1, stderr says PATTERN.
refused() {
	"$ZTCTL" profile suggest probe --audit "$2" >/dev/null 2>"$work/err"
	rc=$?
	check "$1: refused, exit 1 (got $rc), said why" \
	    sh -c "[ $rc -eq 1 ] && grep -q '$3' '$work/err'"
}
# An edited record: the hash says so.
sed 's|127.0.0.1:443|127.0.0.1:22|' "$work/chain.log" >"$work/edited.log"
chmod 0600 "$work/edited.log"
refused "an edited record" "$work/edited.log" 'hash does not match'
# A chain another user may write proves nothing (it could be made whole
# from scratch, or changed between the check and the reading).
cp "$work/chain.log" "$work/shared.log"
chmod 0622 "$work/shared.log"
refused "a chain others may write" "$work/shared.log" \
    'others than root may write it'
chmod 0600 "$work/shared.log"
chown nobody "$work/shared.log"
refused "a chain another uid owns" "$work/shared.log" 'uid [0-9]* owns it'

finish
