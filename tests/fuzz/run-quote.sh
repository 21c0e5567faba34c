#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build the quote verifier's libFuzzer harness and run it for SECONDS on a
# copy of the seed corpus; a crash fails the run and is kept in
# tests/fuzz/crashes.
#
# usage: tests/fuzz/run-quote.sh SECONDS   (from any directory; CC=clang-NN
#                                           to pick another clang)
set -eu

usage() {
	echo "usage: $0 SECONDS" >&2
	exit 2
}

[ $# -eq 1 ] || usage
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

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz_quote.XXXXXX")
cleanup() {
	rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The sources include "config.h"; the fuzz build needs nothing from it.
: >"$work/config.h"
# tss2-mu and libcrypto are not instrumented, but their memcpy calls are
# intercepted and the harness hands over the attest and the signature in
# buffers of their exact size: a read past either end is caught.
"$cc" -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -D_GNU_SOURCE \
	-I"$work" -I"$top/common" -I"$top/daemon" \
	-o "$work/fuzz_quote" \
	"$here/fuzz_quote.c" "$top/daemon/quote_verify.c" \
	$(pkg-config --cflags --libs tss2-mu libcrypto)

# libFuzzer adds what it finds to its corpus: give it a copy.
mkdir "$work/corpus" "$work/artifacts"
cp -- "$here"/corpus-quote/* "$work/corpus/"

start=$(date +%s)
status=0
"$work/fuzz_quote" \
	-max_total_time="$seconds" \
	-dict="$here/quote.dict" \
	-max_len=3000 \
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
			saved=$(pwd)/fuzz_quote-crashes
			mkdir -p "$saved"
		fi
	fi
	cp -- "$artifact" "$saved/"
	echo "fuzz_quote: crash input: $saved/$(basename -- "$artifact")" >&2
done

if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
	# What the sanitizer or the harness said, without the progress lines.
	grep -v '^#[0-9]' "$work/log" | tail -n 60 >&2
	[ "$crashes" -ne 0 ] || crashes=1
	echo "fuzz_quote: $runs runs, $crashes crashes in $elapsed s" \
	    "(libFuzzer exit status $status)"
	exit 1
fi
echo "fuzz_quote: $runs runs, 0 crashes in $elapsed s"
