# SPDX-License-Identifier: Apache-2.0
# A fleet on loopback, for fleet_etcd.sh and bench/fleet.sh (sourced after
# lib.sh, whose $work, stop_pid, track and start_logsink it uses): a real
# 3-member etcd cluster with client TLS (a throwaway CA made by openssl)
# and etcd auth (root for the administrator, one user per host whose role
# reads the prefix and writes only its own report), its data on tmpfs,
# election timeouts a loaded 2-core machine keeps; the fleet section and
# ztd.conf of each host; ztd started as a host.
#
# Functions return a status and print nothing on success; the caller says
# what failed (a TAP check, or a benchmark's message).

# fleet_tools_missing: the first tool the fleet needs that is not
# installed, printed; status 1 when all are there.
fleet_tools_missing() {
	local tool
	for tool in etcd etcdctl openssl curl python3 useradd userdel setpriv \
	    timeout; do
		if ! command -v "$tool" >/dev/null; then
			echo "$tool"
			return 0
		fi
	done
	return 1
}

# poll SECONDS COMMAND...: up to SECONDS (generous: a loaded 2-core box).
# Its tries but the last skip logged's sink_sync, as wait_for's do.
poll() {
	local i steps=$(($1 * 10)) sink_polling=1
	shift
	for i in $(seq "$steps"); do
		"$@" && return 0
		sleep 0.1
	done
	sink_polling=""
	"$@"
}

# etcd_init: the members' data directory (on tmpfs when there is one;
# etcd_cleanup removes it), six free loopback ports (three members, client
# and peer each), $endpoints, and $pki for the CA.
etcd_pids=("" "" "")
etcd_data=""
etcd_init() {
	local i
	etcd_data=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo /tmp)/zt-fleet-etcd.XXXXXX") || return 1
	read -r -a ports < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
	endpoints=""
	cluster=""
	for i in 0 1 2; do
		endpoints="$endpoints${endpoints:+,}https://127.0.0.1:${ports[$i]}"
		cluster="$cluster${cluster:+,}m$i=http://127.0.0.1:${ports[$((i + 3))]}"
	done
	pki=$work/pki
	mkdir -m 0700 "$pki"
}
etcd_cleanup() {
	local p
	for p in "${etcd_pids[@]}"; do
		[ -n "$p" ] && stop_pid "$p"
	done
	[ -n "$etcd_data" ] && rm -rf "$etcd_data"
	return 0
}

# ------------------------------------------------------------ a CA
# mkcert NAME SUBJECT SAN: clients' have no CN, which etcd's gateway
# refuses when auth is on ("CommonName ... will be ignored").
mkcert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "$2" \
	    2>/dev/null &&
	openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" \
	    -CAkey "$pki/ca.key" -CAcreateserial -days 1 \
	    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
	    "$3") -out "$pki/$1.pem" 2>/dev/null
}
# loopback_name: a name of this machine that /etc/hosts (or DNS) resolves
# to 127.0.0.1, which curl hands to getaddrinfo in its resolver thread;
# else "localhost", which curl resolves itself.
loopback_name() {
	local name
	name=$(hostname 2>/dev/null)
	if [ -n "$name" ] && [ "$name" != localhost ] &&
	    [ "$(getent ahostsv4 "$name" 2>/dev/null | awk 'NR == 1 { print $1 }')" = 127.0.0.1 ]; then
		echo "$name"
	else
		echo localhost
	fi
}

# etcd_pki HOST...: the CA, etcd's server certificate (127.0.0.1,
# localhost and loopback_name), one client
# certificate per host and the administrator's (admin), and the fleet
# administrator's Ed25519 signing key (fleet-admin.key, .pub).
etcd_pki() {
	local h
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$pki/ca.key" -out "$pki/ca.pem" \
	    -subj "/CN=zt-fleet-test-ca" -days 1 2>/dev/null &&
	    mkcert server /CN=localhost \
	    "IP:127.0.0.1,DNS:localhost,DNS:$(loopback_name)" &&
	    mkcert admin /O=zt-fleet-test/OU=admin DNS:admin || return 1
	for h in "$@"; do
		mkcert "$h" "/O=zt-fleet-test/OU=$h" "DNS:$h" || return 1
	done
	openssl genpkey -algorithm ed25519 -out "$pki/fleet-admin.key" \
	    2>/dev/null &&
	    openssl pkey -in "$pki/fleet-admin.key" -pubout \
	    -out "$pki/fleet-admin.pub"
}

# ------------------------------------------------------------ etcd
start_member() { # I
	local i=$1
	etcd --name "m$i" --data-dir "$etcd_data/m$i" \
	    --listen-client-urls "https://127.0.0.1:${ports[$i]}" \
	    --advertise-client-urls "https://127.0.0.1:${ports[$i]}" \
	    --listen-peer-urls "http://127.0.0.1:${ports[$((i + 3))]}" \
	    --initial-advertise-peer-urls "http://127.0.0.1:${ports[$((i + 3))]}" \
	    --initial-cluster "$cluster" --initial-cluster-state new \
	    --initial-cluster-token "zt-fleet-$$" \
	    --cert-file "$pki/server.pem" --key-file "$pki/server.key" \
	    --client-cert-auth --trusted-ca-file "$pki/ca.pem" \
	    --heartbeat-interval 200 --election-timeout 2000 \
	    >>"$work/etcd-m$i.log" 2>&1 &
	etcd_pids[$i]=$!
}
kill_member() { # I
	[ -n "${etcd_pids[$1]}" ] && kill -KILL "${etcd_pids[$1]}" 2>/dev/null
	wait "${etcd_pids[$1]}" 2>/dev/null
	etcd_pids[$1]=""
}
ectl() { # etcdctl as root over TLS
	ETCDCTL_API=3 etcdctl --endpoints "$endpoints" \
	    --cacert "$pki/ca.pem" --cert "$pki/admin.pem" \
	    --key "$pki/admin.key" --dial-timeout 3s --command-timeout 5s \
	    ${auth_root:+--user root:root-$$} "$@"
}
healthy() { ectl endpoint health >/dev/null 2>&1; }

# etcd_auth HOST...: etcd auth on, root for the administrator
# ($pki/root.password), a user per host ($pki/HOST.password) whose role
# host-HOST reads the prefix and writes only /ztgate/hosts/HOST.
etcd_auth() {
	local h
	ectl user add "root:root-$$" >/dev/null &&
	    ectl user grant-role root root >/dev/null || return 1
	for h in "$@"; do
		ectl role add "host-$h" >/dev/null &&
		    ectl role grant-permission --prefix=true "host-$h" read \
		    /ztgate/ >/dev/null &&
		    ectl role grant-permission "host-$h" readwrite \
		    "/ztgate/hosts/$h" >/dev/null &&
		    ectl user add "$h:pw-$h-$$" >/dev/null &&
		    ectl user grant-role "$h" "host-$h" >/dev/null &&
		    printf 'pw-%s-%s\n' "$h" "$$" >"$pki/$h.password" ||
		    return 1
	done
	ectl auth enable >/dev/null || return 1
	auth_root=1
	printf 'root-%s\n' "$$" >"$pki/root.password"
	chmod 0600 "$pki"/*.key "$pki"/*.password
}

# etcd_start: the three members, until they answer (60 s) with auth for
# HOST... on.
etcd_start() {
	local i
	for i in 0 1 2; do start_member "$i"; done
	poll 60 healthy && etcd_auth "$@"
}

# ------------------------------------------------------------ hosts
# fleet_section HOST USER PASSWORD_FILE CERT ADMIN_PUB [ENDPOINTS]
fleet_section() {
	cat <<EOC
fleet: {
  etcd = ["$(echo "${6:-$endpoints}" | sed 's/,/", "/g')"];
  host = "$1";
  ca = "$pki/ca.pem";
  cert = "$pki/$4.pem";
  key = "$pki/$4.key";
  user = "$2";
  password_file = "$3";
  admin_key = "$5";
  heartbeat = 1;
  max_offline = 8;
};
EOC
}

# fleet_host HOST [ENDPOINTS]: $work/HOST/ztd.conf (state in
# $work/HOST/state, zt-exec's $SUPERVISOR_GROUP, software attestation, the
# fleet as user HOST, at ENDPOINTS or $endpoints) and its log sink;
# $work/admin.conf, the administrator's (root in etcd).
fleet_host() {
	mkdir -m 0755 "$work/$1" &&
	cat >"$work/$1/ztd.conf" <<EOC &&
ztd: {
  state_dir = "$work/$1/state";
  supervisor_group = "$SUPERVISOR_GROUP";
};
attestation: { mode = "software"; golden = "$work/$1/state/golden"; };
$(fleet_section "$1" "$1" "$pki/$1.password" "$1" "$pki/fleet-admin.pub" \
    "${2:-}")
EOC
	chmod 0644 "$work/$1/ztd.conf" &&
	start_logsink "$work/$1" || return 1
	if [ ! -e "$work/admin.conf" ]; then
		fleet_section admin root "$pki/root.password" admin \
		    "$pki/fleet-admin.pub" >"$work/admin.conf" &&
		chmod 0644 "$work/admin.conf"
	fi
}

declare -A ztd_pid
start_ztd() { # HOST
	$ZTD_WRAP "$ZTD" --foreground --config "$work/$1/ztd.conf" \
	    --socket "$work/$1/ztd.sock" --syslog-socket "$work/$1/log.sock" \
	    2>>"$work/$1/ztd.stderr" &
	ztd_pid[$1]=$!
	track "${ztd_pid[$1]}"
	wait_for test -S "$work/$1/ztd.sock"
}
stop_ztd() { # HOST
	stop_pid "${ztd_pid[$1]}"
	wait "${ztd_pid[$1]}" 2>/dev/null
}
# in_sync HOST: HOST's log says it is in sync with etcd.
in_sync() { logged 'fleet: in sync with etcd' "$work/$1"; }

# ------------------------------------------------------------ the agent
# The caller sets $account (a system account of the run's own), $bin/agent
# (the probe, under zt-exec as $ZTEXEC) and $digest (its sha256).

# policy N [EXTRA]: a fleet policy whose agent "fleetagent" runs the probe;
# N tells versions apart (a command /bin/echoN of risk low).
policy() {
	cat <<EOC
${2:-}
agents = (
  {
    name = "fleetagent";
    accounts = ["$account"];
    pam_services = ["zt-exec"];
    binary = "$bin/agent";
    sha256 = ["$digest"];
    landlock = "optional";
    commands = ( { path = "/bin/echo$1"; risk = "low"; } );
  }
);
EOC
}
# fleet_agent_bg NAME HOST ARGS...: the agent under zt-exec against
# HOST's ztd in the background, its output in $work/NAME.out and .err;
# its pid (zt-exec's) in zx_pid, a job of this shell (wait works).
fleet_agent_bg() {
	local name=$1 host=$2
	shift 2
	(cd "$work" && exec setpriv --reuid="$account" --regid="$account" \
	    --clear-groups -- "$ZTEXEC" --socket "$work/$host/ztd.sock" \
	    --syslog-socket "$work/$host/log.sock" -- "$bin/agent" "$@" \
	    </dev/null >"$work/$name.out" 2>"$work/$name.err") &
	zx_pid=$!
	track $zx_pid
}
