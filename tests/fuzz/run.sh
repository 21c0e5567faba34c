#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build a libFuzzer harness (msg: the wire decoder, quote: the TPM quote
# verifier, utf8: the escaping of untrusted bytes for JSON, audit: the audit
# files' verifier, auditline: reading audit lines back for ztctl profile
# suggest, dns: the grant resolver's DNS messages, etcd: etcd's JSON
# answers, the fleet's signed entries and the fleet client's frames) and
# run it for SECONDS
# on a copy of its seed corpus; a crash fails the run and is kept in
# tests/fuzz/crashes.
#
# usage: tests/fuzz/run.sh [msg|quote|utf8|audit|auditline|dns|etcd] SECONDS
#        (from any directory; CC=clang-NN to pick another clang)
set -eu

usage() {
	echo "usage: $0 [msg|quote|utf8|audit|auditline|dns|etcd] SECONDS" >&2
	exit 2
}

harness=msg
if [ $# -eq 2 ]; then
	harness=$1
	shift
fi
[ $# -eq 1 ] || usage
case $harness in
msg | quote | utf8 | audit | auditline | dns | etcd) ;;
*) usage ;;
esac
name=fuzz_$harness
seconds=$1
case $seconds in
'' | *[!0-9]*) usage ;;
esac
[ "$seconds" -gt 0 ] || usage

# The source tree, from this script's own path (works out of a VPATH build).
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
top=$(CDPATH='' cd -- "$here/../.." && pwd)
cc=${CC:-clang}
case $cc in
*clang*) ;;
*) cc=clang ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
cleanup() {
	rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The sources include "config.h"; the fuzz build needs nothing from it.
: >"$work/config.h"
if [ "$harness" = msg ]; then
	# zt-exec's reader of the profile a launch reply carries, too.
	sources="$top/common/zt_msg.c $top/common/zt_err.c $top/common/zt_log.c
	    $top/common/zt_clock.c $top/common/zt_envcheck.c
	    $top/seccomp/profile.c"
	libs=
	corpus=$here/corpus
	max_len=4200
elif [ "$harness" = utf8 ]; then
	sources=$top/common/zt_utf8.c
	libs=$(pkg-config --cflags --libs jansson)
	corpus=$here/corpus-utf8
	max_len=4200
elif [ "$harness" = audit ]; then
	sources="$top/daemon/audit.c $top/daemon/digest.c $top/common/zt_log.c
	    $top/common/zt_clock.c $top/common/zt_err.c"
	libs=$(pkg-config --cflags --libs libcrypto)
	corpus=$here/corpus-audit
	max_len=20000
elif [ "$harness" = auditline ]; then
	sources="$top/common/zt_auditline.c $top/daemon/suggest.c
	    $top/daemon/interp.c"
	libs=
	corpus=$here/corpus-auditline
	max_len=20000
elif [ "$harness" = dns ]; then
	# ldns is not instrumented; the harness checks what it returns, and
	# ASan catches a write by it into our buffers.
	sources=$top/seccomp/dnsmsg.c
	libs=$(pkg-config --cflags --libs ldns)
	corpus=$here/corpus-dns
	max_len=4200
elif [ "$harness" = etcd ]; then
	# fleet_entry.c takes its name rule from config.c, which needs the
	# rest of the engine's checks.
	sources="$top/daemon/etcd.c $top/daemon/fleet_entry.c
	    $top/daemon/fleet_proto.c $top/daemon/pubkey.c
	    $top/daemon/config.c $top/daemon/interp.c $top/daemon/syscalls.c
	    $top/daemon/policy.c
	    $top/common/zt_group.c $top/common/zt_envcheck.c
	    $top/common/zt_err.c $top/common/zt_msg.c $top/common/zt_log.c
	    $top/common/zt_clock.c $top/common/zt_addr.c
	    $top/common/zt_auditline.c"
	libs=$(pkg-config --cflags --libs libcurl jansson libcrypto libconfig libpsl \
	    libseccomp)
	corpus=$here/corpus-etcd
	max_len=8192
else
	# tss2-mu and libcrypto are not instrumented, but their memcpy calls
	# are intercepted and the harness hands over the attest and the
	# signature in buffers of their exact size: a read past either end
	# is caught.
	sources=$top/daemon/quote_verify.c
	libs=$(pkg-config --cflags --libs tss2-mu libcrypto)
	corpus=$here/corpus-quote
	max_len=3000
fi
# shellcheck disable=SC2086
if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -D_GNU_SOURCE \
	-I"$work" -I"$top/common" -I"$top/daemon" -I"$top/seccomp" \
	-o "$work/$name" "$here/$name.c" $sources $libs; then
	echo "$name: the harness did not build (above)" >&2
	exit 2
fi

# libFuzzer adds what it finds to its corpus: give it a copy.
mkdir "$work/corpus" "$work/artifacts"
cp -- "$corpus"/* "$work/corpus/"

start=$(date +%s)
status=0
"$work/$name" \
	-max_total_time="$seconds" \
	-dict="$here/$harness.dict" \
	-max_len="$max_len" \
	-timeout=10 \
	-print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" \
	"$work/corpus" >"$work/log" 2>&1 || status=$?
elapsed=$(($(date +%s) - start))

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
[ -n "$runs" ] || runs=0

crashes=0
saved=
for artifact in "$work"/artifacts/*; do
	[ -f "$artifact" ] || continue
	crashes=$((crashes + 1))
	if [ -z "$saved" ]; then
		saved=$here/crashes
		if ! mkdir -p "$saved" 2>/dev/null || [ ! -w "$saved" ]; then
			# A read-only source tree: keep them where we were run.
			saved=$(pwd)/$name-crashes
			mkdir -p "$saved"
		fi
	fi
	cp -- "$artifact" "$saved/"
	echo "$name: crash input: $saved/$(basename -- "$artifact")" >&2
done

if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
	# What the sanitizer or the harness said, without the progress lines.
	grep -v '^#[0-9]' "$work/log" | tail -n 60 >&2
	[ "$crashes" -ne 0 ] || crashes=1
	echo "$name: $runs runs, $crashes crashes in $elapsed s" \
	    "(libFuzzer exit status $status)"
	exit 1
fi
echo "$name: $runs runs, 0 crashes in $elapsed s"
