#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The mutual-TLS tunnel: an agent under zt-exec reaches real `openssl
# s_server`s (which demand a client certificate from ztd's CA) through the
# tunnel; the server sees the agent's URI SAN and an expiry within the
# grant; a wrong CA or name fails the agent's connect with nothing sent;
# revocation closes the server's connection at once; an expired grant's
# certificate is never used again; no client key reaches the disk.
# Certificates: only for an agent with a tunnel rule, at most 300 s with
# notBefore 60 s back, renewed by zt-exec (cert_lifetime 3 s: connects go
# on after the first certificate expired), and those of an ended grant in
# `ztctl ca crl`, which `openssl s_server -crl_check` then refuses.
#
# Needs root (three accounts "zt-tun-PID", "zt-tun2-PID", "zt-tun3-PID",
# removed at the end), seccomp user notification and openssl.
set -u
. "$(dirname "$0")/lib.sh"

account=zt-tun-$$
account2=zt-tun2-$$
account3=zt-tun3-$$
sock=$work/ztd.sock
bin=$work/bin
agent=$bin/agent
agent2=$bin/agent2
agent3=$bin/agent3

skip_unless_live_seccomp "the tunnel tests need root (system accounts)"

denied() { has "$1" '^errno=(EACCES|ECONNREFUSED|ECONNRESET)$'; }
now() { "$PROBE" now | sed 's/^t=//'; }

# zx ACCOUNT AGENT ARGS...: the agent under zt-exec; sets out and rc.
zx() { agent_run "$@"; }

add_accounts() {
	add_test_account "$account" && add_test_account "$account2" &&
	    add_test_account "$account3"
}
check "the accounts are added" add_accounts
start_logsink "$work"

# --------------------------------------------------- certificates (test's)
pki=$work/pki
mkdir -m 0755 "$pki"
mkcert() { # NAME CN CA-NAME|self
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$pki/$1.key" -out "$pki/$1.pem" -subj "/CN=$2" -days 2 \
	    -addext "subjectAltName=DNS:$2" \
	    ${3:+-CA "$pki/$3.pem" -CAkey "$pki/$3.key"} >/dev/null 2>&1
}
mkcert ca "test services CA" && mkcert other-ca "another CA" &&
    mkcert svc svc.test ca && mkcert wrongname other.test ca &&
    mkcert foreign svc.test other-ca
check "the test's CA and server certificates are made" \
    test -s "$pki/foreign.pem"
chmod 0644 "$pki"/*.pem

# --------------------------------------------------- ztd and its CA
mkdir -m 0755 "$bin"
install -m 0755 "$PROBE" "$agent"
install -m 0755 "$PROBE" "$agent2"
install -m 0755 "$PROBE" "$agent3"
check "zt-exec is installed setgid to this run's supervisor group" \
    supervisor_setup "$bin"
digest=$(sha256sum "$agent" | cut -d' ' -f1)
mkdir -m 0700 "$work/state"
www_port=$(free_ports 7)
rev_port=$((www_port + 1))
foreign_port=$((www_port + 2))
wrongname_port=$((www_port + 3))
hold_port=$((www_port + 4))
short_port=$((www_port + 5))
step_port=$((www_port + 6))
# RULES [STEP_NAME]: the tunnel rules, and with STEP_NAME one for
# step_port naming that server (no rule for it without).
tunnel_rules() {
	rules="{ to = \"127.0.0.1/32\"; ports = \"$www_port-$short_port\";
        proto = \"tcp\"; tunnel = true; server_name = \"svc.test\";
        ca = \"$pki/ca.pem\"; }"
	[ $# -eq 0 ] || rules="$rules,
      { to = \"127.0.0.1/32\"; ports = \"$step_port\"; proto = \"tcp\";
        tunnel = true; server_name = \"$1\"; ca = \"$pki/ca.pem\"; }"
}
tunnel_rules
write_conf() { # [CERT_LIFETIME]
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; trust_domain = "tunnel.test";
  supervisor_group = "$SUPERVISOR_GROUP"; ${1:+cert_lifetime = $1;} };
attestation: { mode = "software"; files = []; };
agents = (
  { name = "probe"; accounts = ["$account"]; pam_services = ["zt-exec"];
    binary = "$agent"; sha256 = ["$digest"]; session_ttl = 600;
    network = ( $rules ); },
  { name = "short"; accounts = ["$account2"]; pam_services = ["zt-exec"];
    binary = "$agent2"; sha256 = ["$digest"]; session_ttl = 4;
    network = ( $rules ); },
  { name = "plain"; accounts = ["$account3"]; pam_services = ["zt-exec"];
    binary = "$agent3"; sha256 = ["$digest"]; session_ttl = 600;
    network = ( { to = "127.0.0.1/32"; ports = "$www_port-$short_port";
        proto = "tcp"; } ); }
);
EOC
chmod 0644 "$work/ztd.conf"
}
write_conf
check "ztd starts" start_ztd
check "ztd made its CA key, 0600" \
    test "$(stat -c %a "$work/state/ca.key" 2>/dev/null)" = 600
# Serials are recorded when a certificate needs one, not at start: a ztd
# restarted again and again must not fill the CRL with unused serials.
check "nothing issued yet: no serial recorded ahead (no ca-issued)" \
    test ! -e "$work/state/ca-issued" -a -s "$work/state/ca.key"
"$ZTCTL" --socket "$sock" ca show >"$pki/ztd-ca.pem"
check "ztctl ca show prints the CA certificate" \
    sh -c "openssl x509 -in '$pki/ztd-ca.pem' -noout -subject |
    grep -q 'ztgate tunnel CA tunnel.test'"
touch "$work/marker"

# --------------------------------------------------- the services
serve() { # PORT CERT MODE...: openssl s_server demanding a ztd client cert
	local port=$1 cert=$2
	shift 2
	openssl s_server -accept "127.0.0.1:$port" -cert "$pki/$cert.pem" \
	    -key "$pki/$cert.key" -Verify 1 -CAfile "$pki/ztd-ca.pem" \
	    -verify_return_error -tls1_3 "$@" \
	    </dev/null >"$work/server-$port.out" 2>&1 &
	track $!
	echo $!
}
serve "$www_port" svc -www >/dev/null
serve "$rev_port" svc -rev >/dev/null
serve "$foreign_port" foreign -rev >/dev/null
serve "$wrongname_port" wrongname -rev >/dev/null
serve "$hold_port" svc -rev >/dev/null
serve "$short_port" svc -rev >/dev/null
for p in $www_port $rev_port $foreign_port $wrongname_port $hold_port \
    $short_port; do
	wait_for sh -c "ss -Htln 'sport = :$p' | grep -q ."
done
check "the six s_servers listen" \
    sh -c "ss -Htln 'sport = :$short_port' | grep -q ."

# --------------------------------------------------- through the tunnel
zx "$account" "$agent" connect tcp 127.0.0.1 "$rev_port" hello
check "the agent's data goes through and comes back ($out)" \
    test "$out" = "ok olleh"
check "the tunnel's open is audited with the certificate's serial" \
    logged "tunnel open: agent=\"probe\" object=\"tcp:127.0.0.1:$rev_port\" server_name=\"svc.test\" cert_serial=[0-9a-f]{32} tls=TLSv1.3"
check "and its close, with bytes each way" \
    wait_for logged "tunnel close: agent=\"probe\" object=\"tcp:127.0.0.1:$rev_port\" bytes_out=6 bytes_in=6 "

for _ in 1 2 3; do	# s_server -www answers one client at a time
	zx "$account" "$agent" fetch 127.0.0.1 "$www_port"
	printf '%s\n' "$out" >"$work/www.out"
	grep -q "URI:urn:ztgate:grant:" "$work/www.out" && break
	diag "fetch: $(head -c 300 "$work/www.out")" "$(cat "$work/zx.err")"
	sleep 0.5
done
grant=$(sed -n 's/.*URI:urn:ztgate:grant:\([0-9a-f]\{32\}\).*/\1/p' \
    "$work/www.out" | head -n 1)
check "the server saw the agent's SPIFFE URI SAN" \
    grep -q "URI:spiffe://tunnel.test/agent/probe" "$work/www.out"
check "and the grant's id in a second URI SAN ($grant)" test -n "$grant"
# What the server saw: the real certificate's dates.
not_before=$(sed -n 's/.*Not Before *: *\(.*GMT\).*/\1/p' "$work/www.out" |
    head -n 1)
not_after=$(sed -n 's/.*Not After *: *\(.*GMT\).*/\1/p' "$work/www.out" |
    head -n 1)
nb=$(date -d "$not_before" +%s 2>/dev/null || echo 0)
na=$(date -d "$not_after" +%s 2>/dev/null || echo 0)
check "the server saw both dates ($not_before, $not_after)" \
    test "$nb" -gt 0 -a "$na" -gt 0
check "the certificate lives at most 360 s, notBefore backdated ($((na - nb)) s)" \
    test $((na - nb)) -le 360 -a $((na - nb)) -ge 300
check "its notBefore is in the past, its notAfter at most 300 s ahead" \
    sh -c "[ $nb -lt \$(date +%s) ] && [ $na -le \$((\$(date +%s) + 300)) ] &&
    [ $na -gt \$((\$(date +%s) + 200)) ]"
check "the certificate is for client authentication only" \
    grep -q "TLS Web Client Authentication" "$work/www.out"

out=$(echo hello | timeout 10 openssl s_client -connect \
    "127.0.0.1:$rev_port" -CAfile "$pki/ca.pem" -servername svc.test \
    -tls1_3 -quiet 2>&1)
# Refused by the server's TLS (an alert), not by a connect that failed
# for another reason: the server listens, the client got an alert.
check "a plain TLS client without the certificate is refused by the server ($(printf '%s' "$out" | grep -i -m 1 alert | cut -c1-160))" \
    sh -c "ss -Htln 'sport = :$rev_port' | grep -q . &&
    printf '%s' \"\$1\" | grep -qi 'alert' &&
    ! printf '%s' \"\$1\" | grep -q olleh" _ "$out"

# --------------------------------------------------- servers that fail
zx "$account" "$agent" connect tcp 127.0.0.1 "$foreign_port" secret1
check "a server with another CA's certificate: the connect fails ($out)" \
    denied "$out"
zx "$account" "$agent" connect tcp 127.0.0.1 "$wrongname_port" secret2
check "a server with another name: the connect fails ($out)" \
    denied "$out"
# Both servers wrote their output (ACCEPT) and still listen: their files
# are the evidence, not two missing files.
check "nothing was sent to either" \
    sh -c "grep -q ACCEPT '$work/server-$foreign_port.out' &&
    grep -q ACCEPT '$work/server-$wrongname_port.out' &&
    ss -Htln 'sport = :$foreign_port' | grep -q . &&
    ss -Htln 'sport = :$wrongname_port' | grep -q . &&
    ! grep -q 'secret' '$work/server-$foreign_port.out' \
    '$work/server-$wrongname_port.out'"
check "the failed verification is logged" \
    logged "tunnel to tcp:127.0.0.1:$foreign_port: the server is not svc.test by its CA"

# --------------------------------------------------- revocation mid-transfer
: >"$work/hold.out"
(cd "$work" && exec setpriv --reuid="$account" --regid="$account" \
    --clear-groups -- "$ZTEXEC" --socket "$sock" \
    --syslog-socket "$work/log.sock" -- "$agent" hold 127.0.0.1 \
    "$hold_port" 20 </dev/null >"$work/hold.out" 2>&1) &
hold_zx=$!
track $hold_zx
wait_for grep -q connected "$work/hold.out"
sleep 0.3
hgrant=$("$ZTCTL" --socket "$sock" --json grants |
    grep -o '"grant":"[0-9a-f]*","agent":"probe"' | head -n 1 |
    cut -d'"' -f4)
out=$("$ZTCTL" --socket "$sock" grants)
check "ztctl grants shows the grant's certificate serial and expiry ($hgrant)" \
    sh -c "[ -n '$hgrant' ] && printf '%s' \"\$1\" |
    grep -qE '^$hgrant .* [0-9a-f]{32} +[0-9]{4}-[0-9]{2}-[0-9]{2}T'" _ "$out"
json=$("$ZTCTL" --socket "$sock" --json grants)
check "ztctl --json grants: the certificate's serial (hex) and notAfter (seconds, after now)" \
    python3 -c 'import json, re, sys, time
g = [g for g in json.loads(sys.argv[1])["grants"] if g["grant"] == sys.argv[2]]
sys.exit(not (len(g) == 1 and re.fullmatch("[0-9a-f]{32}", g[0]["cert_serial"]) and
    isinstance(g[0]["cert_not_after"], int) and g[0]["cert_not_after"] > time.time()))' \
    "$json" "$hgrant"
established() { ss -Htn state established "( sport = :$hold_port )" | grep -q .; }
check "the server holds the tunnel's connection" established
t0=$(now)
"$ZTCTL" --socket "$sock" revoke "$hgrant" >/dev/null
# The server's socket leaves ESTABLISHED when the tunnel's FIN arrives.
# How soon is a figure (shown here), not asserted: a loaded machine may
# take longer than any deadline; that it closes by itself is asserted.
for _ in $(seq 5000); do
	established || break
	sleep 0.002
done
t1=$(now)
check "revoked: the server's connection closed ($((t1 - t0)) ms after the revoke)" \
    sh -c '! ss -Htn state established "( sport = :$1 )" | grep -q .' _ "$hold_port"
check "and the agent's end closed too" \
    wait_for grep -q "ok closed" "$work/hold.out"
failed_before=$tap_failed
check "the tunnel's close names the revocation" \
    wait_for logged "tunnel close: agent=\"probe\" object=\"tcp:127.0.0.1:$hold_port\" bytes_out=[0-9]+ bytes_in=[0-9]+ reason=\"revoked"
# What closed it instead (a CI run once failed this check; say why).
[ "$tap_failed" = "$failed_before" ] ||
    diag "$(grep -F -e "tcp:127.0.0.1:$hold_port" -e "$hgrant" \
    "$work/syslog.out" | tail -n 12)"

# --------------------------------------------------- who gets a certificate
# What zt-exec does, by hand (zt-testtool sign: LAUNCH, then SIGN), so that
# the certificate itself can be looked at and presented to a server.
certs=$work/certs
mkdir -m 1777 "$certs"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$pki/client.key" -subj "/CN=ignored" -outform DER \
    -out "$pki/client.csr" >/dev/null 2>&1
chmod 0644 "$pki/client.csr"
check "the test's P-256 request is made" test -s "$pki/client.csr"
# A supervisor's requests: the tool setgid to the supervisor group, as
# zt-exec is (anyone else is refused LAUNCH and SIGN).
install -o root -g "$SUPERVISOR_GROUP" -m 2755 "$TESTTOOL" \
    "$bin/zt-testtool"
sign_as() { # ACCOUNT BINARY NAME HOLD_S: output in $certs/NAME.out
	(cd "$work" && exec setpriv --reuid="$1" --regid="$1" --clear-groups \
	    -- "$bin/zt-testtool" sign "$sock" "$2" "$pki/client.csr" \
	    "$certs/$3.der" "$4" </dev/null >"$certs/$3.out" 2>&1)
}
sign_as "$account" "$agent" ok 0
diag "$(cat "$certs/ok.out")"
ok_serial=$(sed -n 's/^sign=ok serial=\([0-9a-f]*\) .*/\1/p' "$certs/ok.out")
check "an agent with a tunnel rule gets a certificate ($ok_serial)" \
    test -n "$ok_serial"
openssl x509 -inform DER -in "$certs/ok.der" -out "$certs/ok.pem" 2>/dev/null
nb=$(date -d "$(openssl x509 -in "$certs/ok.pem" -noout -startdate |
    cut -d= -f2)" +%s 2>/dev/null || echo 0)
na=$(date -d "$(openssl x509 -in "$certs/ok.pem" -noout -enddate |
    cut -d= -f2)" +%s 2>/dev/null || echo 0)
check "the certificate is ztd's, with both dates" \
    sh -c "[ $nb -gt 0 ] && [ $na -gt 0 ] &&
    openssl verify -CAfile '$pki/ztd-ca.pem' '$certs/ok.pem' >/dev/null"
check "notAfter - notBefore <= 360 s ($((na - nb)) s)" \
    test $((na - nb)) -le 360 -a $((na - nb)) -gt 0
check "notBefore is in the past (backdated: $(($(date +%s) - nb)) s ago)" \
    test "$nb" -le $(($(date +%s) - 50))

sign_as "$account3" "$agent3" plain 0
diag "$(cat "$certs/plain.out")"
plain_grant=$(sed -n 's/^grant=\([0-9a-f]\{32\}\)$/\1/p' "$certs/plain.out")
check "an agent without a tunnel rule is launched ($plain_grant)" \
    test -n "$plain_grant"
check "but its certificate request is refused" \
    grep -q "^sign=refused .*no tunnel rule" "$certs/plain.out"
check "and it got no certificate" test ! -s "$certs/plain.der"
check "the refusal is audited, naming the agent and the grant" \
    wait_for logged "decision=deny action=sign agent=\"plain\" .*grant=$plain_grant"
check "and logged as a refused certificate request" \
    logged "grant $plain_grant: tunnel certificate request of agent plain refused"

# --------------------------------------------------- the CRL
crl_text() { openssl crl -in "$1" -noout -text 2>/dev/null; }
crl_ok() { openssl crl -in "$1" -CAfile "$pki/ztd-ca.pem" -noout 2>&1 |
    grep -q "verify OK"; }
: >"$certs/held.out"
sign_as "$account" "$agent" held 120 &
track $!
wait_for grep -q "^sign=" "$certs/held.out"
held_grant=$(sed -n 's/^grant=\([0-9a-f]\{32\}\)$/\1/p' "$certs/held.out")
held_serial=$(sed -n 's/^sign=ok serial=\([0-9a-f]*\) .*/\1/p' \
    "$certs/held.out")
check "a grant that lives on holds a certificate ($held_serial)" \
    test -n "$held_serial" -a -n "$held_grant"
openssl x509 -inform DER -in "$certs/held.der" -out "$certs/held.pem" \
    2>/dev/null
"$ZTCTL" --socket "$sock" ca crl >"$certs/before.crl"
check "ztctl ca crl prints a CRL that verifies against ztd's CA" \
    crl_ok "$certs/before.crl"
text=$(crl_text "$certs/before.crl")
check "a v2 CRL with a next update and a CRL number" \
    sh -c "printf '%s' '$text' | grep -q 'Version 2' &&
    printf '%s' '$text' | grep -q 'Next Update' &&
    printf '%s' '$text' | grep -q 'X509v3 CRL Number'"
check "the certificate of the grant whose supervisor exited is in it" \
    has "$text" "Serial Number: (0x)?$(printf '%s' "$ok_serial" | tr a-f A-F)"
check "the live grant's certificate is not" \
    sh -c "! printf '%s' '$text' | grep -qi 'Serial Number: $held_serial'"

crl_port=$(free_ports)
serve_crl() { # PORT CRL: an s_server that checks client certificates
	openssl s_server -accept "127.0.0.1:$1" -cert "$pki/svc.pem" \
	    -key "$pki/svc.key" -Verify 1 -CAfile "$pki/ztd-ca.pem" \
	    -CRL "$2" -crl_check -verify_return_error -tls1_3 -rev \
	    </dev/null >"$work/server-$1.out" 2>&1 &
	track $!
	wait_for sh -c "ss -Htln 'sport = :$1' | grep -q ."
}
present() { # PORT: the held certificate, presented by openssl s_client
	(echo hello; sleep 2) | timeout 10 openssl s_client \
	    -connect "127.0.0.1:$1" -cert "$certs/held.pem" \
	    -key "$pki/client.key" -CAfile "$pki/ca.pem" -servername svc.test \
	    -tls1_3 -quiet -no_ign_eof 2>&1
}
serve_crl "$crl_port" "$certs/before.crl"
out=$(present "$crl_port")
check "a server checking the CRL takes the certificate while its grant lives ($(printf '%s' "$out" | tail -n 1))" \
    has "$out" olleh
"$ZTCTL" --socket "$sock" revoke "$held_grant" >/dev/null
check "the revocation revokes the grant's certificate" \
    wait_for logged "grant $held_grant \(agent probe\): 1 unexpired tunnel certificates revoked"
"$ZTCTL" --socket "$sock" ca crl >"$certs/after.crl"
text=$(crl_text "$certs/after.crl")
check "after ztctl revoke the CRL verifies" crl_ok "$certs/after.crl"
check "and lists the revoked grant's certificate serial" \
    has "$text" "Serial Number: (0x)?$(printf '%s' "$held_serial" | tr a-f A-F)"
check "with reason cessationOfOperation" \
    has "$text" "Cessation Of Operation"
serve_crl $((crl_port + 1)) "$certs/after.crl"
out=$(present $((crl_port + 1)))
check "a server with that CRL refuses a client presenting it ($(printf '%s' "$out" | tail -n 1))" \
    sh -c "! printf '%s' '$out' | grep -q olleh"
check "because it is revoked" \
    wait_for grep -q "certificate revoked" "$work/server-$((crl_port + 1)).out"

# --------------------------------------------------- an expired certificate
: >"$work/short.out"
(cd "$work" && exec setpriv --reuid="$account2" --regid="$account2" \
    --clear-groups -- "$ZTEXEC" --socket "$sock" \
    --syslog-socket "$work/log.sock" -- "$agent2" loop-connect 127.0.0.1 \
    "$short_port" 1000 7 </dev/null >"$work/short.out" 2>&1) &
track $!
for _ in $(seq 120); do	# 7 attempts a second apart: up to 12 s
	[ "$(wc -l <"$work/short.out")" -ge 7 ] && break
	sleep 0.1
done
diag "$(cat "$work/short.out")"
check "with session_ttl 4, the first connects go through the tunnel" \
    sh -c "head -n 2 '$work/short.out' | grep -c ' ok ' | grep -qx 2"
check "after the grant and its certificate expire, connects are denied" \
    sh -c "tail -n 2 '$work/short.out' | grep -c 'errno=EACCES' | grep -qx 2"

# --------------------------------------------------- renewal
# cert_lifetime 4 s: zt-exec asks for a new certificate from 2.7 s on, and
# connects after the first certificate expired still reach the server.
write_conf 4
check "ztd takes ztd.cert_lifetime = 4" \
    "$ZTCTL" --socket "$sock" reload
zx "$account" "$agent" loop-connect 127.0.0.1 "$rev_port" 2000 5 hello
diag "$out"
check "every connect over 8 s got its answer, well past the first certificate's 4 s" \
    test "$(printf '%s\n' "$out" | grep -c ' ok olleh ')" -eq 5
check "zt-exec renewed its certificate" \
    logged "tunnel certificate [0-9a-f]{32} \(renewed\), valid until [0-9]+ \(unix time\), [0-9]+ ms"
check "the certificates it got lived 4 s" \
    logged "tunnel certificate [0-9a-f]{32} issued to agent probe, valid 4 s"

# --------------------------------------------------- across a restart
# Every grant ends with ztd: a certificate a grant held then must be in
# the next ztd's CRL, though that ztd never saw the grant end.
: >"$certs/kept.out"
sign_as "$account" "$agent" kept 120 &
track $!
wait_for grep -q "^sign=" "$certs/kept.out"
kept_serial=$(sed -n 's/^sign=ok serial=\([0-9a-f]*\) .*/\1/p' \
    "$certs/kept.out")
check "a live grant holds a certificate before the restart ($kept_serial)" \
    test -n "$kept_serial"
check "ztd records what it issued in state_dir/ca-issued, 0600" \
    sh -c "[ \$(stat -c %a '$work/state/ca-issued') = 600 ] &&
    grep -q '^$kept_serial ' '$work/state/ca-issued'"
# Serials are recorded ahead, four at a time (one fsync for four
# certificates): a line names no grant until the file is written again,
# and its notAfter must cover the certificate's, or a ztd that dies now
# would let the next one forget it too early.
kept_line=$(grep "^$kept_serial " "$work/state/ca-issued")
kept_na=$(sed -n 's/^sign=ok .* not_after=\([0-9]*\) .*/\1/p' \
    "$certs/kept.out")
diag "ca-issued: $kept_line; the certificate's notAfter $kept_na"
check "its serial was recorded ahead: the line names no grant yet" \
    sh -c "printf '%s\n' '$kept_line' | grep -Eq '^$kept_serial 0{32} [0-9]+ 0\$'"
check "and its notAfter covers the certificate's" \
    sh -c "[ -n '$kept_na' ] &&
    [ \$(printf '%s\n' '$kept_line' | cut -d' ' -f3) -ge $kept_na ]"
check "other serials wait, recorded ahead and unused" \
    sh -c "[ \$(grep -Ec '^[0-9a-f]{32} 0{32} [0-9]+ 0\$' \
    '$work/state/ca-issued') -ge 2 ]"
kill -KILL "$ztd_pid"
wait_for sh -c "! kill -0 $ztd_pid 2>/dev/null"
rm -f "$sock"
check "ztd starts again (after SIGKILL)" start_ztd
"$ZTCTL" --socket "$sock" ca crl >"$certs/restart.crl"
text=$(crl_text "$certs/restart.crl")
check "the new ztd's CRL verifies" crl_ok "$certs/restart.crl"
check "and lists the certificate whose grant ended with the old ztd" \
    has "$text" "Serial Number: (0x)?$(printf '%s' "$kept_serial" | tr a-f A-F)"
check "and still the one revoked before the restart" \
    has "$text" "Serial Number: (0x)?$(printf '%s' "$held_serial" | tr a-f A-F)"
check "the revocation at start is logged" \
    wait_for logged "tunnel CA: [0-9]+ unexpired certificates of grants that ended with the previous ztd revoked"
check "... the serials recorded ahead counted apart (the kept one among them)" \
    logged "ended with the previous ztd revoked, and [1-9][0-9]* serials it had recorded ahead \(used or not\)"
kill -TERM "$ztd_pid"
wait_for sh -c "! kill -0 $ztd_pid 2>/dev/null"
cp "$work/state/ca-issued" "$work/ca-issued.good"
echo "not a record" >>"$work/state/ca-issued"
"$ZTD" --foreground --config "$work/ztd.conf" --socket "$sock" \
    --syslog-socket "$work/log.sock" >"$work/bad-issued.out" 2>&1
rc=$?
check "a damaged ca-issued refuses the start (exit $rc)" test "$rc" -ne 0
check "... naming the file and the line" \
    wait_for logged "ca-issued line [0-9]+ is not one of ztd's issued certificates"
cp "$work/ca-issued.good" "$work/state/ca-issued"
check "restored, ztd starts" start_ztd

# --------------------------------------------------- a certificate not issued
# zt-exec asks for the grant's certificate at launch, ahead of the first
# connect, with a key pair made (and OpenSSL warmed by a handshake in
# memory) while the agent starts; none of that may let a connect through
# without a certificate.  A ztd just started has no serial recorded ahead:
# its first certificate needs ca-issued written, which a directory in the
# way of ca-issued.new prevents.  Nothing is issued, the connect fails,
# nothing reaches the server.
sink_mark=$(sink_lines)
mkdir "$work/state/ca-issued.new"
zx "$account" "$agent" connect tcp 127.0.0.1 "$rev_port" unrecorded
check "a certificate ztd cannot record is not issued: the tunnel's connect fails ($out)" \
    denied "$out"
check "... the request refused and audited, naming the agent" \
    logged_since "$sink_mark" "decision=deny action=sign agent=\"probe\" .*reason=\"tunnel CA: cannot record the certificate"
check "... zt-exec's connect had no certificate" \
    logged_since "$sink_mark" "tunnel to tcp:127.0.0.1:$rev_port: no certificate: "
check "... and no tunnel was opened" \
    not_logged_since "$sink_mark" "tunnel open: agent=\"probe\" object=\"tcp:127.0.0.1:$rev_port\""
check "... nothing was sent to the server (which still listens)" \
    sh -c "ss -Htln 'sport = :$rev_port' | grep -q . &&
    ! grep -q unrecorded '$work/server-$rev_port.out'"
rmdir "$work/state/ca-issued.new"
zx "$account" "$agent" connect tcp 127.0.0.1 "$rev_port" hello
check "once ca-issued can be written, the next grant's tunnel works ($out)" \
    test "$out" = "ok olleh"

# --------------------------------------------------- readied while ztd decides
# A connect to where the grant's last tunnel went has its socket and its
# TLS first flight (ClientHello, key share) made while ztd decides it,
# for the server name and CA of that last allow.  Used only when the
# allow names the same: a reload that renames the server makes the next
# handshake verify the new name; one that drops the rule denies the
# connect with nothing sent to the server.  Every tunnel a full handshake
# with the client certificate (never a resumed session).  The agent
# connects once per line the test writes, so each reload comes between
# two connects of one grant.
serve_step() {
	openssl s_server -accept "127.0.0.1:$step_port" -cert "$pki/svc.pem" \
	    -key "$pki/svc.key" -Verify 1 -CAfile "$pki/ztd-ca.pem" \
	    -verify_return_error -tls1_3 -rev -state \
	    </dev/null >"$work/server-step.out" 2>&1 &
	track $!
}
serve_step
wait_for sh -c "ss -Htln 'sport = :$step_port' | grep -q ."
hellos() { grep -c 'SSL_accept:SSLv3/TLS read client hello' "$work/server-step.out"; }
full() { grep -c 'SSL_accept:SSLv3/TLS read client certificate' "$work/server-step.out"; }
steps() { wc -l <"$work/step.out"; }
step() { # N: the agent's Nth connect, its line
	echo >&7
	wait_for sh -c "[ \$(wc -l <'$work/step.out') -ge $1 ]"
	sed -n "${1}p" "$work/step.out"
}
reload_step() { # [STEP_NAME]
	tunnel_rules "$@"
	write_conf
	"$ZTCTL" --socket "$sock" reload >/dev/null
}
check "a rule for the step server (svc.test), the default certificate life" \
    reload_step svc.test
mkfifo "$work/step.in"
exec 7<>"$work/step.in"
: >"$work/step.out"
(cd "$work" && exec setpriv --reuid="$account" --regid="$account" \
    --clear-groups -- "$ZTEXEC" --socket "$sock" \
    --syslog-socket "$work/log.sock" -- "$agent" step-connect 127.0.0.1 \
    "$step_port" hello <"$work/step.in" >"$work/step.out" 2>&1 7>&-) &
step_zx=$!
track $step_zx
for n in 1 2 3 4; do
	line=$(step $n)
	check "connect $n of one grant to the same server goes through ($line)" \
	    test "$line" = "ok olleh"
done
check "the server saw 4 full handshakes, each with the client certificate ($(full), $(hellos) client hellos)" \
    test "$(full)" -eq 4 -a "$(hellos)" -eq 4
sink_mark=$(sink_lines)
check "reloaded: the rule now names other.test" reload_step other.test
line=$(step 5)
check "the next connect verifies the new name, not the one its first flight was readied for: it fails ($line)" \
    denied "$line"
check "... the server is not other.test, says zt-exec" \
    wait_for logged_since "$sink_mark" "tunnel to tcp:127.0.0.1:$step_port: the server is not other.test by its CA"
check "reloaded: svc.test again" reload_step svc.test
line=$(step 6)
check "the next connect goes through again ($line)" test "$line" = "ok olleh"
seen=$(hellos)
sink_mark=$(sink_lines)
check "reloaded: no rule for the step server" reload_step
line=$(step 7)
check "the next connect is denied ($line)" \
    has "$line" '^errno=EACCES$'
check "... by ztd, audited" \
    wait_for logged_since "$sink_mark" "decision=deny action=connect agent=\"probe\" .*object=\"tcp:127.0.0.1:$step_port\""
check "... and its first flight, readied while ztd decided, never left: no client hello reached the server (still listening; $(hellos) before and after)" \
    sh -c "ss -Htln 'sport = :$step_port' | grep -q . &&
    [ \$(grep -c 'SSL_accept:SSLv3/TLS read client hello' '$work/server-step.out') -eq $seen ]"
check "... nor a tunnel opened" \
    not_logged_since "$sink_mark" "tunnel open: agent=\"probe\" object=\"tcp:127.0.0.1:$step_port\""
exec 7>&-
wait "$step_zx" 2>/dev/null
check "the agent read all 7 steps ($(steps) lines)" test "$(steps)" -eq 7
tunnel_rules
write_conf
"$ZTCTL" --socket "$sock" reload >/dev/null

# --------------------------------------------------- no key on disk
# The client keys live in zt-exec, which runs as the agents' accounts:
# any file it could have written is theirs.  ztd's own CA key (root's,
# made before the marker) and other tests' files are not this question.
# The search must have run (the marker there, find without an error): an
# empty answer from a failed find proves nothing.
found=$(find /tmp "$work/state" -xdev -newer "$work/marker" -type f \
    \( -user "$account" -o -user "$account2" -o -user "$account3" \) \
    -print0 2>/dev/null |
    xargs -0 -r grep -l -- '-----BEGIN .*PRIVATE KEY-----' 2>/dev/null)
owned=$(find /tmp "$work/state" -xdev -type f \( -user "$account" -o \
    -user "$account2" \) 2>/dev/null | wc -l)
check "the key search runs (marker present, find succeeds on state_dir)" \
    sh -c "[ -f '$work/marker' ] &&
    find '$work/state' -xdev -newer '$work/marker' -type f >/dev/null"
check "no private key file of the agents appeared in /tmp or state_dir (${found:-none}; $owned files of theirs at all)" \
    test -z "$found"

# ztd compiles each profile's filter once and sends it with the launch.
check "every launch carried ztd's compiled filter of its profile" \
    filters_sent probe "$account"

finish
