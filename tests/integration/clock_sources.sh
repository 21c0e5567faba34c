#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# TESTING.md item 17: a wall-clock step changes no TTL (clock_step.sh steps
# ztd's own wall clock; this holds the rest).  CLOCK_REALTIME
# cannot be put in a namespace, and stepping the machine's clock under
# other tests is no option; so this holds the property where it lives:
# every lifetime (grants, the decision caches, attestation age, client
# deadlines, zt-exec's grant and cache) is measured by ztd_now_ms() or
# ztconn_now_ms(), both on CLOCK_BOOTTIME, and no file that measures one
# reads the wall clock.  (The cache's own expiry logic runs on an
# injectable clock, tested against a model in test_cache.)
#
# Known readers of the wall clock, each for a wall-clock fact: the tunnel
# certificate's notAfter (requests.c answer_sign, seccomp/tunnel.c; being
# reworked with the certificates), log timestamps (zt_log.c), file times
# compared with file times (zt_exe.c), ztctl's display.
set -u
. "$(dirname "$0")/lib.sh"

src=$top_srcdir
wall='time\(NULL\)|CLOCK_REALTIME|gettimeofday|[^_]time\(&'

# The clock, once in common/, and the daemon's and zt-exec's names for it.
clock_body() { # FILE FUNCTION: the function's body
	awk -v f="$2" '$0 ~ "^" f "\\(" { on = 1 } on { print } on && /^}/ { exit }' "$1"
}
body=$(clock_body "$src/common/zt_clock.c" zt_boottime_ms)
check "zt_boottime_ms (common/zt_clock.c) reads CLOCK_BOOTTIME and nothing else" \
    sh -c "printf '%s' \"\$1\" | grep -q 'clock_ms(CLOCK_BOOTTIME)' &&
    ! printf '%s' \"\$1\" | grep -qE 'MONOTONIC|REALTIME|(^|[^a-z_])time\\('" _ "$body"
for pair in daemon/ztd.c:ztd_now_ms seccomp/ztconn.c:ztconn_now_ms; do
	file=${pair%%:*}
	fn=${pair#*:}
	body=$(clock_body "$src/$file" "$fn")
	check "$fn ($file) is zt_boottime_ms and nothing else" \
	    sh -c "printf '%s' \"\$1\" | grep -q 'return zt_boottime_ms();' &&
	    ! printf '%s' \"\$1\" | grep -qE 'MONOTONIC|REALTIME|(^|[^a-z_])time\\('" _ "$body"
done

# Files that keep lifetimes: they measure them with those clocks only.
for f in daemon/grant.c daemon/grantset.c daemon/cache.c daemon/decide.c \
    daemon/server.c daemon/attest.c seccomp/ztconn.c; do
	if [ ! -s "$src/$f" ]; then
		not_ok "$f exists (a renamed file must be listed here again)"
		continue
	fi
	n=$(grep -cE 'ztd_now_ms|ztconn_now_ms|zt_boottime_ms|->clock\(|expires_ms' "$src/$f")
	hits=$(grep -nE "$wall" "$src/$f" | head -n 3 | tr '\n' ' ')
	check "$f measures lifetimes ($n uses of the clocks) and never reads the wall clock${hits:+ ($hits)}" \
	    sh -c '[ "$1" -gt 0 ] && [ -z "$2" ]' _ "$n" "$hits"
done

# requests.c: the wall clock only for the certificate's notAfter.
hits=$(grep -nE "$wall" "$src/daemon/requests.c" | grep -v 'not_after = time(NULL)' |
    head -n 3 | tr '\n' ' ')
check "requests.c reads the wall clock only for a certificate's notAfter${hits:+ ($hits)}" \
    sh -c 'grep -q ztd_now_ms "$1" && [ -z "$2" ]' _ "$src/daemon/requests.c" "$hits"
finish
