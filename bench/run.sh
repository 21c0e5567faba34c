#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark from the build directory and prints its figures.
#
# Usage: bench/run.sh [BUILDDIR].  bench/fleet is a script, run from
# beside this one (make bench builds what it needs).  A benchmark that
# exits 77 (not root, a component missing) is reported as skipped; one
# that fails is reported and the others still run, and the exit status is then 1.  Figures never
# fail it: each benchmark only prints them.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cd "${1:-.}" || exit 1
status=0
# The vCPUs' idle policy, which sets the cost of every wake-up of an idle
# CPU (README, "Benchmarks"): with cpuidle-haltpoll and a zero poll, an
# idle vCPU halts at once and each wake-up of it goes through the host.
governor=$(cat /sys/devices/system/cpu/cpuidle/current_governor_ro \
    2>/dev/null || echo unknown)
idle="cpuidle governor $governor"
if poll=$(cat /sys/module/haltpoll/parameters/guest_halt_poll_ns \
    2>/dev/null); then
	idle="$idle, haltpoll guest_halt_poll_ns $poll"
fi
echo "# bench/run.sh: $(nproc) CPUs, $idle"
for name in decide attest pam exec tunnel dns fleet; do
	if [ "$name" = fleet ]; then
		bash "$here/fleet.sh" ./ztd
	elif [ ! -x "./bench/$name" ]; then
		echo "bench/run.sh: bench/$name is not built" \
		    "(make bench builds it)" >&2
		status=1
		continue
	else
		"./bench/$name" ./ztd
	fi
	rc=$?
	case $rc in
	0) ;;
	77) echo "# bench/$name: skipped" ;;
	*)
		echo "bench/run.sh: bench/$name failed (exit $rc)" >&2
		status=1
		;;
	esac
done
exit $status
