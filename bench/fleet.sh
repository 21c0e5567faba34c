#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: a fleet on etcd (issue 17).  The 3-member etcd cluster of
# fleet_etcd.sh on loopback (client TLS, etcd auth; the same code:
# tests/integration/etcd_cluster.sh), two ztd instances as hosts h1 and h2
# with their fleet clients, and the administrator's ztctl.
#
#   fleet.disable: from the start of `ztctl fleet disable` to the death of
#   an agent running under zt-exec on h2 (zt-exec's exit, taken by the
#   shell's wait: no polling), median of DISABLES; ztctl's own time (its
#   TLS handshake, etcd login, signature and put) is printed beside it.
#   Between two runs `fleet enable` lifts the disable and h2 is seen
#   deciding again.
#   fleet.push: from the start of `ztctl fleet push` of a policy with a
#   new command to both hosts allowing that command (`ztctl check`, asked
#   in a loop with no pause: a few ms of resolution), median of PUSHES.
#
# Usage (from the build directory): bench/fleet.sh [ZTD]; the default is
# ./ztd, with ztctl, seccomp/zt-exec and tests/helpers/zt-probe beside it
# (make bench builds them all).  Needs root (a system account and a group
# of this run's own, removed at the end); exits 77 when it is not root or
# etcd, etcdctl, openssl, curl or python3 is not installed.  Figures only
# print: the exit status is 1 only when the run itself fails.
set -u
DISABLES=50
PUSHES=20
who=bench/fleet
ztd_path=${1:-./ztd}
case $ztd_path in /*) ;; *) ztd_path=$PWD/$ztd_path ;; esac
if [ "$(id -u)" != 0 ]; then
	echo "$who: skipped: needs root (a system account for the agent)" >&2
	exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(dirname "$here")
top_builddir=$(dirname "$ztd_path")
ZT_TEST_ZTD=$ztd_path
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd_cluster.sh"
if missing=$(fleet_tools_missing); then
	echo "$who: skipped: $missing is not installed (etcd-server," \
	    "etcd-client, openssl, curl, python3)" >&2
	exit 77
fi
for f in "$ZTD" "$ZTCTL" "$ZTEXEC" "$PROBE"; do
	if [ ! -x "$f" ]; then
		echo "$who: skipped: $f is not built (make bench builds it)" >&2
		exit 77
	fi
done
bench_cleanup() {
	etcd_cleanup
	cleanup
}
trap bench_cleanup EXIT
# fail WHY: said on the bench's stderr (fd 3: the loops' fd 2 goes to a
# file, for bash's notes on the agents it saw killed).
exec 3>&2
fail() {
	echo "$who: $*" >&3
	exit 1
}
# now_ms: bash's own clock, no fork (the wall clock; a run is short).
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((10#$t / 1000))
}
# median N...: of integers, with one decimal when between two.
median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
	    END { if (NR % 2) print v[(NR + 1) / 2];
		  else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
allows() { # HOST OBJECT
	"$ZTCTL" --socket "$work/$1/ztd.sock" check --agent fleetagent \
	    --action exec --object "$2" >/dev/null 2>&1
}
# until_allowed SECONDS HOST OBJECT: asked again at once, up to SECONDS.
until_allowed() {
	local end=$(($(now_ms) + $1 * 1000))
	until allows "$2" "$3"; do
		[ "$(now_ms)" -lt "$end" ] || return 1
	done
}
admin() { # ztctl fleet ARGS... as the administrator, signing
	"$ZTCTL" fleet "$@" --key "$pki/fleet-admin.key" \
	    --config "$work/admin.conf" >"$work/ztctl.out" 2>&1
}
launched() { # N: h2 has launched the agent N times
	[ "$(grep -c "grant [0-9a-f]*: agent fleetagent account $account launched" \
	    "$work/h2/syslog.out")" -ge "$1" ]
}

t_start=$(now_ms)
etcd_init || fail "cannot make the etcd cluster's directories"
etcd_pki h1 h2 || fail "openssl could not make the certificates"
etcd_start h1 h2 || fail "the etcd cluster did not start (see $work/etcd-m*.log)"
account=zt-bfleet-$$
add_test_account "$account" || fail "cannot add the account $account"
bin=$work/bin
mkdir -m 0755 "$bin"
install -m 0755 "$PROBE" "$bin/agent"
supervisor_setup "$bin" || fail "cannot install zt-exec setgid"
digest=$(sha256sum "$bin/agent" | cut -d' ' -f1)
for h in h1 h2; do
	fleet_host "$h" || fail "cannot set up host $h"
	start_ztd "$h" || fail "ztd $h did not start: $(tail -5 "$work/$h/ztd.stderr")"
done
for h in h1 h2; do
	poll 30 in_sync "$h" || fail "ztd $h is not in sync with etcd"
done
policy 1 >"$work/policy.conf"
admin push "$work/policy.conf" || fail "fleet push: $(cat "$work/ztctl.out")"
for h in h1 h2; do
	until_allowed 30 "$h" /bin/echo1 || fail "$h did not apply the policy"
done

# ------------------------------------------------------------ disable
total=() own=()
for i in $(seq "$DISABLES"); do
	fleet_agent_bg "agent$i" h2 sleep 120
	poll 20 launched "$i" ||
	    fail "the agent was not launched on h2: $(cat "$work/agent$i.err")"
	# A watchdog: a disable that never arrives ends the run, not the wait.
	(sleep 30; kill -KILL "$zx_pid" 2>/dev/null) &
	dog=$!
	t0=$(now_ms)
	admin disable fleetagent --why "bench $i" ||
	    fail "fleet disable: $(cat "$work/ztctl.out")"
	t1=$(now_ms)
	wait "$zx_pid"
	t2=$(now_ms)
	kill "$dog" 2>/dev/null
	wait "$dog" 2>/dev/null
	[ $((t2 - t0)) -lt 30000 ] ||
	    fail "run $i: the agent on h2 was not killed within 30 s"
	total+=($((t2 - t0)))
	own+=($((t1 - t0)))
	admin enable fleetagent || fail "fleet enable: $(cat "$work/ztctl.out")"
	until_allowed 30 h2 /bin/echo1 || fail "h2 did not lift the disable"
done 2>>"$work/jobs.log"
m=$(median "${total[@]}")
printf 'fleet.disable: ztctl fleet disable to the agent'\''s death on another host, median of %d: %s ms (ztctl itself: %s ms; after it returned: %s ms); goal <= 100 ms: %s\n' \
    "$DISABLES" "$m" "$(median "${own[@]}")" \
    "$(median "$(for k in "${!total[@]}"; do echo $((total[k] - own[k])); done)")" \
    "$(awk -v m="$m" 'BEGIN { print (m <= 100 ? "met" : "not met") }')"

# ------------------------------------------------------------ push
total=() own=()
for i in $(seq "$PUSHES"); do
	n=$((100 + i))
	policy "$n" >"$work/policy.conf"
	t0=$(now_ms)
	admin push "$work/policy.conf" || fail "fleet push: $(cat "$work/ztctl.out")"
	t1=$(now_ms)
	until_allowed 30 h1 "/bin/echo$n" && until_allowed 30 h2 "/bin/echo$n" ||
	    fail "push $i: the hosts did not apply it within 30 s"
	t2=$(now_ms)
	total+=($((t2 - t0)))
	own+=($((t1 - t0)))
done
printf 'fleet.push: ztctl fleet push to the new policy deciding on both hosts, median of %d: %s ms (ztctl itself, which validates, signs and writes: %s ms); no goal in the issue\n' \
    "$PUSHES" "$(median "${total[@]}")" "$(median "${own[@]}")"
printf '# %s: %d CPUs, load %s, etcd %s; %d s\n' "$who" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')" \
    $((($(now_ms) - t_start) / 1000))
