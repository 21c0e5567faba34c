#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The attacker's review of issue 11: zt-attack (tests/attack/zt-attack.c)
# as the agent under zt-exec, a real ztd, a system account of its own, a
# profile with files and network rules (zt_exec.sh's setup), and a packet
# capture on lo (AF_PACKET) that sees what leaves for which address.
# Prints every attempt's line, what the capture saw and ztd's audit lines.
# Run as root from the build directory: top_builddir=. ../tests/attack/run.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"

account=zt-atk-$$
sock=$work/ztd.sock
bin=$work/bin
v6=fd00:5a7::fd58
v6_added=""

atk_cleanup() {
	cleanup
	[ -n "$v6_added" ] && ip -6 addr del "$v6/128" dev lo 2>/dev/null
	[ -n "${seg6_all:-}" ] &&
	    echo "$seg6_all" >/proc/sys/net/ipv6/conf/all/seg6_enabled
	[ -n "${seg6_lo:-}" ] &&
	    echo "$seg6_lo" >/proc/sys/net/ipv6/conf/lo/seg6_enabled
	id "$account" >/dev/null 2>&1 && retry userdel -f "$account"
	return 0
}
trap atk_cleanup EXIT

cc -Wall -Wextra -O1 -o "$work/zt-attack" "$here/zt-attack.c" || exit 1
retry useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$account" || exit 1
start_logsink "$work"

# Listeners: TCP good/bad, UDP ugood (IPv4) and ugood6 (::1), plus the
# same ports on the forbidden hop addresses, logging what they get.
cat >"$work/listen.py" <<'EOF'
import socket, sys
proto, addr, port, logfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
log = open(logfile, "a", buffering=1)
print(s.getsockname()[1], flush=True)
if proto == "udp":
    while True:
        d, p = s.recvfrom(65536)
        log.write("%s udp %s from %s\n" % (addr, d.strip(), p))
s.listen(64)
import threading
def serve(c, p):
    log.write("%s tcp accept from %s\n" % (addr, p))
    c.settimeout(30)
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            log.write("%s tcp data %r from %s\n" % (addr, d.strip(), p))
    except OSError:
        pass
    c.close()
while True:
    c, p = s.accept()
    threading.Thread(target=serve, args=(c, p), daemon=True).start()
EOF
port_of() { sed -n 1p "$work/$1.port"; }
listen() { # NAME PROTO ADDR PORT
	python3 "$work/listen.py" "$2" "$3" "$4" "$work/listeners.log" \
	    >"$work/$1.port" &
	track $!
	wait_for test -s "$work/$1.port"
}
listen good tcp 127.0.0.1 0
listen bad tcp 127.0.0.1 0
listen ugood udp 127.0.0.1 0
listen ugood6 udp ::1 0
good=$(port_of good) bad=$(port_of bad) ugood=$(port_of ugood)
ugood6=$(port_of ugood6)
ip -6 addr add "$v6/128" dev lo && v6_added=1
# The forbidden host, as its owner would set it up: it takes segment
# routing headers (seg6_enabled) and listens on the allowed UDP and TCP
# ports' numbers.  Both settings are put back by the cleanup.
seg6_all=$(cat /proc/sys/net/ipv6/conf/all/seg6_enabled)
seg6_lo=$(cat /proc/sys/net/ipv6/conf/lo/seg6_enabled)
echo 1 >/proc/sys/net/ipv6/conf/all/seg6_enabled
echo 1 >/proc/sys/net/ipv6/conf/lo/seg6_enabled
listen good6 tcp ::1 0
good6=$(port_of good6)
listen forbidden_u6 udp "$v6" "$ugood6"
listen forbidden_t6 tcp "$v6" "$good6"

# Every packet on lo that carries "ZTATTACK": its IP destination.
cat >"$work/sniff.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("lo", 0))
log = open(sys.argv[1], "a", buffering=1)
print("up", flush=True)
while True:
    d = s.recv(65536)
    ip = d[14:]
    v6dst = ip[0] >> 4 == 6 and socket.inet_ntop(socket.AF_INET6, ip[24:40]) == "fd00:5a7::fd58"
    if b"ZTATTACK" not in d and not v6dst:
        continue
    if ip[0] >> 4 == 4:
        hl = (ip[0] & 15) * 4
        log.write("v4 dst=%s src=%s ihl=%d payload=%r\n" % (socket.inet_ntoa(ip[16:20]),
            socket.inet_ntoa(ip[12:16]), hl, ip[hl + 8:].strip()))
    else:
        log.write("v6 dst=%s nexthdr=%d payload-tail=%r\n" % (
            socket.inet_ntop(socket.AF_INET6, ip[24:40]), ip[6], d[-16:]))
EOF
: >"$work/sniff.log"
python3 "$work/sniff.py" "$work/sniff.log" >"$work/sniff.up" &
track $!
wait_for test -s "$work/sniff.up"

# An allowed unix datagram socket (it only reads).
mkdir -m 0755 "$work/u"
python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
while True: s.recv(100)' "$work/u/dgram.sock" &
track $!
wait_for test -S "$work/u/dgram.sock"
chmod 0777 "$work/u/dgram.sock"
mkdir -m 0755 "$bin"
install -m 0755 "$work/zt-attack" "$bin/agent"
install -m 0755 "$PROBE" "$bin/exit00"
supervisor_setup "$bin" || exit 1
printf '#!/usr/bin/bash\necho approved-script-ran\n' >"$bin/ok.sh"
chmod 0755 "$bin/ok.sh"
digest=$(sha256sum "$bin/agent" | cut -d' ' -f1)
mkdir -m 0755 "$work/rw" "$work/ro" "$work/outside" "$work/secret"
echo secret >"$work/secret/data"
echo readable >"$work/ro/data"
echo original >"$work/outside/file"
: >"$work/rw/x"
chown "$account:" "$work/rw" "$work/ro" "$work/ro/data" "$work/outside" \
    "$work/outside/file" "$work/secret" "$work/secret/data" "$work/rw/x"
chmod 0700 "$work/secret"
chmod 0600 "$work/secret/data" "$work/outside/file"
mkdir -m 0700 "$work/state"
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; supervisor_group = "$SUPERVISOR_GROUP"; };
attestation: { mode = "software"; golden = "$work/state/golden"; };
agents = (
  {
    name = "attacker";
    accounts = ["$account"];
    pam_services = ["zt-exec"];
    binary = "$bin/agent";
    sha256 = ["$digest"];
    session_ttl = 600;
    decision_ttl = 30;
    commands = (
      { path = "$bin/exit00"; risk = "low"; },
      { path = "$bin/ok.sh"; risk = "low"; args = ([]); },
      { path = "/usr/bin/bash"; risk = "low"; args = (["ok.sh"]); },
      { path = "/usr/bin/python3.11"; risk = "low"; args = (["-I", "-m", "json.tool", "**"]); },
      { path = "/usr/bin/dash"; risk = "deny"; }
    );
    network = (
      { to = "127.0.0.1/32"; ports = "$good"; proto = "tcp"; },
      { to = "127.0.0.1/32"; ports = "$ugood"; proto = "udp"; },
      { to = "::1/128"; ports = "$ugood6"; proto = "udp"; },
      { to = "::1/128"; ports = "$good6"; proto = "tcp"; },
      { unix = "$work/u/dgram.sock"; }
    );
    files = (
      { path = "$bin"; access = "rx"; },
      { path = "$work/rw"; access = "rw"; },
      { path = "$work/ro"; access = "r"; }
    );
  }
);
EOC
chmod 0644 "$work/ztd.conf"
start_ztd || exit 1
"$ZTCTL" --socket "$sock" enroll-host

run_agent() {
	(cd "$work" && timeout 120 setpriv --reuid="$account" \
	    --regid="$account" --clear-groups -- "$ZTEXEC" --socket "$sock" \
	    --syslog-socket "$work/log.sock" -- "$bin/agent" "$@" \
	    </dev/null 2>>"$work/zx.err")
}

echo "== attempts (all)"
run_agent all "$work" "$ugood" "$good" "$bad" "$ugood6" "$good6"
echo "rc=$?"
echo "== outside/file now: $(cat "$work/outside/file") $(stat -c %a "$work/outside/file")"
ls -la "$work/rw" "$work/outside"

echo "== udp inbound"
rm -f "$work/rw/port"
run_agent udp-inbound "$work" >"$work/inbound.out" &
inbound=$!
wait_for test -s "$work/rw/port"
python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.7", 0))
s.sendto(b"ZTATTACK-INBOUND from a host no rule names\n", ("127.0.0.1", int(sys.argv[1])))' \
    "$(cat "$work/rw/port")"
wait $inbound
cat "$work/inbound.out"

echo "== deaf datagram sockets (UDP-Lite, ping, upper bits, ADDRFORM, races...)"
rm -f "$work/rw/deaf.ports" "$work/rw/deaf.go"
run_agent deaf "$work" "$ugood" "$ugood6" >"$work/deaf.out" &
deafpid=$!
wait_for grep -q '^ports-ready$' "$work/deaf.out"
# To each socket with a port, from an address no rule names: a datagram
# and a forged ICMP "port unreachable" quoting it with a text.
while read -r name fam port; do
	if [ "$fam" = v4 ]; then from=127.0.0.7 to=127.0.0.1; else from=::1 to=::1; fi
	python3 -c 'import socket,sys
f = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(f, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.sendto(b"ZTATTACK-intruder", (sys.argv[2], int(sys.argv[3])))' \
	    "$from" "$to" "$port"
	"$PROBE" icmp-intrude "$to" "$port" ZTATTACK-icmp >/dev/null
	echo "sent to $name ($fam port $port)"
done <"$work/rw/deaf.ports"
: >"$work/rw/deaf.go"
wait $deafpid
cat "$work/deaf.out"

echo "== unix datagram autobind (SO_PASSCRED)"
rm -f "$work/rw/abstract"
run_agent unix-passcred "$work" "$work/u/dgram.sock" >"$work/passcred.out" &
pc=$!
wait_for test -s "$work/rw/abstract" &&
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- /usr/bin/python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"ZTATTACK-from-nobody", "\0" + sys.argv[1])
print("sent as nobody")' "$(cat "$work/rw/abstract")"
wait $pc
cat "$work/passcred.out"

echo "== cwd swap (CLONE_FS) under an approved script"
for i in 1 2 3; do run_agent cwd-swap "$work"; echo "rc=$?"; done
grep -E "ok.sh|bash" "$work/syslog.out" | grep -oE "decision=[a-z]+ action=exec.{0,160}" | sort | uniq -c

# ztd refuses a Python rule that lets -m run without -I (the cwd first on
# sys.path); the rule requires it: the agent's "python3.11 -m json.tool"
# matches no rule (EACCES), and with -I the real json.tool runs.
echo "== python -m from the agent's cwd"
run_agent pym "$work" </dev/null; echo "rc=$?"

echo "== orphan: a child outlives the agent"
t0=$(date +%s.%N)
run_agent orphan "$good"
echo "zt-exec returned rc=$? after $(echo "$(date +%s.%N) - $t0" | bc) s"
sleep 7
grep "late" "$work/listeners.log" || echo "no late data at the listener"
pgrep -u "$account" -l || echo "no process of $account left"

sleep 1
echo "== capture (packets carrying ZTATTACK on lo)"
cat "$work/sniff.log"
echo "== listeners"
cat "$work/listeners.log"
echo "== zt-exec stderr"
cat "$work/zx.err"
echo "== audit/syslog (deny, exec, net)"
grep -E "decision=|denied|refused" "$work/syslog.out" | cut -c1-300
