#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The shipped rsyslog snippet (conf/rsyslog/ztd-relp.conf) ships ztd's
# audit lines over RELP with TLS: a throwaway CA (openssl) signs a
# collector, an impostor and two senders; rsyslogd instances of the test's
# own (their own -f config, -i pidfile, work directory, imuxsock on a
# private socket, free loopback ports; never the system's rsyslog) are
# the collector and the sender, and a real ztd logs to the sender's
# socket.  The collector gets ztd's audit line and not its other lines,
# nor an audit line another user forges with ztd's tag; a collector with
# another name, and a sender with another name, get nothing through.
set -u
. "$(dirname "$0")/lib.sh"

for tool in rsyslogd openssl ss; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is missing"
		exit 0
	fi
done
modules=/usr/lib/x86_64-linux-gnu/rsyslog
[ -d "$modules" ] || modules=$(dirname "$(find /usr/lib -name omrelp.so 2>/dev/null | head -n 1)")
if [ ! -f "$modules/omrelp.so" ] || [ ! -f "$modules/imrelp.so" ]; then
	echo "1..0 # SKIP rsyslog-relp is not installed"
	exit 0
fi

sock=$work/ztd.sock
# Two loopback ports in a row of this run's own.
port_a=$(free_ports 2)
port_b=$((port_a + 1))
listening() { ss -Htln "sport = :$1" | grep -q .; }
# wait_long COMMAND...: up to 30 s (TLS handshakes and RELP retries on a
# loaded machine), done as soon as it holds.
wait_long() {
	local i
	for i in $(seq 600); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# ------------------------------------------------ a throwaway PKI
pki=$work/pki
mkdir -m 0700 "$pki"
make_cert() { # NAME: key and certificate for DNS:NAME, signed by the CA
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$pki/$1.key" -subj "/CN=$1" -out "$pki/$1.csr" \
	    2>/dev/null &&
	    printf 'subjectAltName = DNS:%s\nextendedKeyUsage = serverAuth, clientAuth\n' \
	    "$1" >"$pki/$1.ext" &&
	    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" \
	    -CAkey "$pki/ca.key" -CAcreateserial -days 2 \
	    -extfile "$pki/$1.ext" -out "$pki/$1.pem" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$pki/ca.key" -subj "/CN=ztgate test CA $$" -days 2 \
    -out "$pki/ca.pem" 2>/dev/null
check "a throwaway CA, collector, impostor and sender certificates" \
    sh -c "$(declare -f make_cert); pki='$pki'; make_cert collector.test &&
    make_cert impostor.test && make_cert sender.test && make_cert other.test"

# ------------------------------------------------ rsyslogd instances
# start_rsyslog NAME: $work/NAME.conf, pidfile $work/NAME.pid, work
# directory $work/NAME.d, its own messages in $work/NAME.self.
start_rsyslog() {
	mkdir -p "$work/$1.d"
	rsyslogd -n -f "$work/$1.conf" -i "$work/$1.pid" -M "$modules" \
	    >"$work/$1.out" 2>&1 &
	track $!
	eval "${1}_pid=$!"
}
collector_conf() { # NAME PORT CERT PERMITTED
	mkdir -p "$work/$1.d"
	cat >"$work/$1.conf" <<EOC
global(workDirectory="$work/$1.d" maxMessageSize="8k")
module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="$2" tls="on"
    tls.caCert="$pki/ca.pem" tls.myCert="$pki/$3.pem"
    tls.myPrivKey="$pki/$3.key" tls.authMode="name"
    tls.permittedPeer=["$4"])
if \$inputname == "imrelp" then {
	action(type="omfile" file="$work/$1.received")
	stop
}
action(type="omfile" file="$work/$1.self")
EOC
}
# sender_conf NAME PORT CERT: the shipped snippet, pointed at PORT on
# loopback, with CERT as this host's certificate; it reads the socket
# $work/NAME.sock and keeps a copy of everything in NAME.all.
sender_conf() {
	mkdir -p "$work/$1.d"
	cat >"$work/$1.conf" <<EOC
global(workDirectory="$work/$1.d" maxMessageSize="8k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$work/$1.sock" CreatePath="off"
    Annotate="on" ParseTrusted="on")
action(type="omfile" file="$work/$1.all")
EOC
	sed -e "s|target=\"collector.example.org\"|target=\"127.0.0.1\"|" \
	    -e "s|port=\"2514\"|port=\"$2\"|" \
	    -e "s|/etc/zt/relp/client\.|$pki/$3.|g" \
	    -e "s|/etc/zt/relp/|$pki/|g" \
	    -e "s|\"collector.example.org\"\]|\"collector.test\"]|" \
	    -e "s|action.resumeInterval=\"10\"|action.resumeInterval=\"1\"|" \
	    "$top_srcdir/conf/rsyslog/ztd-relp.conf" >>"$work/$1.conf"
}

collector_conf colA "$port_a" collector.test sender.test
start_rsyslog colA
check "the collector (collector.test, permits sender.test) listens on 127.0.0.1:$port_a" \
    wait_for listening "$port_a"
sender_conf sendA "$port_a" sender.test
check "the sender's config is the shipped snippet's (omrelp, TLS, name check)" \
    sh -c "grep -q 'tls.authMode=\"name\"' '$work/sendA.conf' &&
    grep -q 'tls.permittedPeer=\[\"collector.test\"\]' '$work/sendA.conf' &&
    grep -q 'programname == \"ztd\"' '$work/sendA.conf'"
check "rsyslogd -N1 accepts the sender's config" \
    quiet rsyslogd -N1 -f "$work/sendA.conf" -M "$modules"
start_rsyslog sendA
check "the sender listens on its own socket" wait_for test -S "$work/sendA.sock"

# ------------------------------------------------ a real ztd logging there
worker_conf ""
"$ZTD" --foreground --config "$work/ztd.conf" --socket "$sock" \
    --syslog-socket "$work/sendA.sock" 2>"$work/ztd.stderr" &
ztd_pid=$!
track $ztd_pid
check "ztd starts, logging to the sender's socket" wait_for test -S "$sock"
out=$("$TESTTOOL" session "$sock" "$(id -u daemon)" zt-agent </dev/null)
grant=$(printf '%s' "$out" | sed -n 's/.* grant=\([0-9a-f]\{32\}\):.*/\1/p')
check "a session of the agent account: an audit line ($out)" test -n "$grant"
check "the sender got ztd's audit line" \
    wait_for grep -q "ztd\[$ztd_pid\]: time=.* decision=allow action=session agent=\"worker\"" "$work/sendA.all"
check "the collector received it over RELP/TLS, whole (time=, host=, seq=, chain=)" \
    wait_long grep -sqE "ztd\[$ztd_pid\]: time=[0-9T:.-]+Z host=[^ ]+ decision=allow action=session agent=\"worker\" account=\"daemon\" .* seq=[0-9]+ chain=[0-9a-f]{16}$" "$work/colA.received"
check "the sender has ztd's other lines (serving ...)" \
    grep -q "ztd\[$ztd_pid\]: ztd .* serving" "$work/sendA.all"
check "... which do not leave the host (only authpriv lines of ztd do)" \
    sh -c "! grep -q 'serving' '$work/colA.received'"
# Another program's authpriv line stays local too.
logger --socket "$work/sendA.sock" -p authpriv.notice -t sshd "marker-sshd-$$"
check "another program's authpriv line reached the sender" \
    wait_for grep -q "marker-sshd-$$" "$work/sendA.all"
# stays_local MARKER N: after one more session of ztd's, the collector
# holds N session lines (that later line went through) and no MARKER.
stays_local() {
	"$TESTTOOL" session "$sock" "$(id -u daemon)" zt-agent </dev/null \
	    >/dev/null
	wait_long sh -c "[ \$(grep -c 'action=session' '$work/colA.received') -ge $2 ]" 2>/dev/null
	[ "$(grep -c 'action=session' "$work/colA.received")" -ge "$2" ] &&
	    ! grep -q -- "$1" "$work/colA.received"
}
check "... and was not shipped (a later ztd line was)" \
    stays_local "marker-sshd-$$" 2

# A user other than root forges an audit line of ztd's (logger's tag and
# facility are the sender's say): before, the snippet shipped it to the
# collector as ztd's.  The kernel's uid of the sender tells them apart.
chmod 0666 "$work/sendA.sock"
forged="time=2026-12-07T00:00:00.000000Z host=h decision=allow action=exec agent=\"worker\" account=\"daemon\" uid=1 pid=1 object=\"/bin/sh\" reason=\"forged-$$\" grant=- cache=miss attest=software age=0 seq=1 chain=0000000000000000"
setpriv --reuid=65534 --regid=65534 --clear-groups -- \
    logger --socket "$work/sendA.sock" -p authpriv.notice -t ztd "$forged"
check "a forged ztd audit line from uid 65534 reached the sender (precondition)" \
    wait_for grep -q "forged-$$" "$work/sendA.all"
check "... and was not shipped: only root's ztd lines are (a later one was)" \
    stays_local "forged-$$" 3

# ------------------------------------------------ the names are checked
# A collector with another name: the sender refuses to talk to it.
collector_conf colB "$port_b" impostor.test sender.test
start_rsyslog colB
check "an impostor collector (impostor.test) listens on 127.0.0.1:$port_b" \
    wait_for listening "$port_b"
# refused_by_name SENDER PORT CERT COLLECTOR WHO WHAT: SENDER (with CERT)
# sends a ztd-like line to COLLECTOR on PORT; WHO (SENDER or COLLECTOR)
# logs that the other's name WHAT is not permitted, and the line never
# arrives.
refused_by_name() {
	local sender=$1 port=$2 cert=$3 collector=$4 who=$5 what=$6
	local marker="marker-$sender-$$"
	sender_conf "$sender" "$port" "$cert"
	start_rsyslog "$sender"
	wait_for test -S "$work/$sender.sock"
	logger --socket "$work/$sender.sock" -p authpriv.notice -t ztd \
	    "time=2026-12-06T10:31:14.123456Z host=h decision=deny action=exec $marker seq=1 chain=0000000000000000"
	check "$sender ($cert) got the line (precondition)" \
	    wait_for grep -qs "$marker" "$work/$sender.all"
	# The refusal is a log line of its own: waited for, not a time.
	check "$who refuses the peer $what: its name is not permitted" \
	    wait_long grep -qsE "authentication error .*peer is 'DNSname: $what" \
	    "$work/$who.all" "$work/$who.self" "$work/$who.out"
	diag "$(grep -hsE 'authentication error' "$work/$who.all" "$work/$who.self" "$work/$who.out" | head -n 1)"
	check "$collector received nothing of $sender" \
	    sh -c "! grep -qs '$marker' '$work/$collector.received'"
}
# A collector with another name: the sender refuses to talk to it.
refused_by_name sendB "$port_b" sender.test colB sendB impostor.test
# A sender with another name: the collector refuses it.
refused_by_name sendC "$port_a" other.test colA colA other.test
finish
