#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Host attestation against a real TPM 2.0 (swtpm): enroll, verified quotes,
# drift detected within one quote_interval and named in the audit line,
# the exported quote checked by tpm2_checkquote, the TPM lost and restored.
set -u
. "$(dirname "$0")/lib.sh"

if ! command -v swtpm >/dev/null || ! command -v tpm2_pcrextend >/dev/null; then
	skip "swtpm or tpm2-tools not installed"
	finish
	exit 0
fi

sock=$work/ztd.sock
start_logsink "$work"

# A free port pair for swtpm (server P, control P+1).
port=$((20000 + ($$ % 20000)))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null ||
    (exec 3<>"/dev/tcp/127.0.0.1/$((port + 1))") 2>/dev/null; do
	port=$((port + 2))
done
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"

start_swtpm() { # fresh state when $1 = fresh
	[ "${1:-}" = fresh ] && rm -rf "$work/tpm"
	mkdir -p "$work/tpm"
	swtpm socket --tpm2 --tpmstate dir="$work/tpm" \
	    --server type=tcp,port=$port --ctrl type=tcp,port=$((port + 1)) \
	    --flags not-need-init,startup-clear --daemon \
	    --pid file="$work/tpm/swtpm.pid" \
	    --log file="$work/tpm/swtpm.log",level=1 \
	    2>>"$work/tpm-start.err" || return 1
	wait_for test -s "$work/tpm/swtpm.pid" && track "$(cat "$work/tpm/swtpm.pid")"
}
# Another test may take the port pair between the probe and the start
# (the unit test of attest_tpm.c runs its own swtpm): try the next pair.
start_first_swtpm() {
	local tries
	for tries in $(seq 20); do
		start_swtpm fresh && return 0
		port=$((port + 2))
	done
	return 1
}
stop_swtpm() {
	stop_pid "$(cat "$work/tpm/swtpm.pid")"
	rm -f "$work/tpm/swtpm.pid"
}

# Without a TPM nothing below means anything: one failure saying why,
# not a cascade of eleven.
if start_first_swtpm; then
	ok "swtpm starts"
else
	not_ok "swtpm starts: $( { tail -n 2 "$work/tpm-start.err"
	    tail -n 2 "$work/tpm/swtpm.log"; } 2>/dev/null | tr '\n' ' ' |
	    cut -c1-300)"
	finish
	exit
fi
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
cp /bin/sleep "$work/agent-bin"
digest=$(sha256sum "$work/agent-bin" | cut -d' ' -f1)
agent_uid=$(id -u daemon)
mkdir -m 0700 "$work/state"
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; };
attestation: {
  mode = "tpm";
  tcti = "swtpm:host=127.0.0.1,port=$port";
  pcrs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14];
  golden = "$work/state/golden.pcrs";
  quote_interval = 1;
  session_max_age = 60;
  high_risk_max_age = 0;
};
agents = ( {
  name = "worker"; accounts = ["daemon"]; pam_services = ["zt-agent"];
  binary = "$work/agent-bin"; sha256 = ["$digest"];
  commands = ( { path = "/usr/bin/rsync"; risk = "low"; } );
} );
EOC
chmod 0644 "$work/ztd.conf"

"$ZTD" --foreground --config "$work/ztd.conf" --socket "$sock" \
    --syslog-socket "$work/log.sock" 2>>"$work/ztd.stderr" &
ztd_pid=$!
track $ztd_pid
check "ztd starts in tpm mode" wait_for test -S "$sock"
check "the attestation key's public part is saved" wait_for test -s "$work/state/ak.pem"
out=$("$ZTCTL" --socket "$sock" attest)
rc=$?
check "not enrolled: ztctl attest says untrusted (exit 1) ($out)" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -q 'no golden values'" _ "$out"
out=$("$TESTTOOL" session "$sock" "$agent_uid" zt-agent </dev/null)
check "not enrolled: a session is denied ($out)" has "$out" '^deny: host untrusted'

out=$("$ZTCTL" --socket "$sock" enroll-host)
check "ztctl enroll-host records the PCRs ($out)" has "$out" '^enrolled: golden values recorded in .*\(tpm\)'
check "the golden file is 0600 and has 12 PCRs" \
    sh -c "[ \$(stat -c %a '$work/state/golden.pcrs') = 600 ] && [ \$(grep -c '^pcr ' '$work/state/golden.pcrs') = 12 ]"
out=$("$ZTCTL" --socket "$sock" attest)
check "ztctl attest: trusted, exit 0, PCR 14 listed ($out)" \
    sh -c "[ $? -eq 0 ] && printf '%s' \"\$1\" | grep -q '^trusted' && printf '%s' \"\$1\" | grep -q 'pcr 14:'" _ "$out"
json=$("$ZTCTL" --socket "$sock" --json attest)
check "ztctl --json attest: pcrs a list of {index, sha256}, the 12 configured ($json)" \
    python3 -c 'import json, re, sys
d = json.loads(sys.argv[1])
sys.exit(not (d["trusted"] is True and d["mode"] == "tpm" and
    [p["index"] for p in d["pcrs"]] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14] and
    all(re.fullmatch("[0-9a-f]{64}", p["sha256"]) for p in d["pcrs"])))' "$json"
out=$("$TESTTOOL" session "$sock" "$agent_uid" zt-agent </dev/null)
check "enrolled: a session is allowed ($out)" has "$out" '^allow'
check "its audit line says attest=tpm" \
    wait_for grep -q 'action=session .* attest=tpm age=[0-9]' "$work/syslog.out"

# The exported quote, checked by the reference verifier.  Quotes (each
# second here) are exported only when asked (ztctl attest --export), into
# a new directory that the link state/quote is switched to: files are
# never rewritten in place.
q=$work/state/quote
check "no quote is exported unless asked" \
    sh -c "sleep 2; [ ! -e '$q' ]"
out=$("$ZTCTL" --socket "$sock" attest --export)
rc=$?
check "ztctl attest --export: trusted, exported, exit 0 ($rc: $out)" \
    sh -c "[ $rc -eq 0 ] && printf '%s' \"\$1\" | grep -q '^quote exported to'" _ "$out"
check "state/quote is a link to a directory of the four files" \
    sh -c "[ -L '$q' ] && for f in msg sig pcrs nonce; do [ -s '$q/'\$f ] || exit 1; done"
out=$("$ZTCTL" --socket "$sock" --json attest --export)
check "ztctl --json attest --export says exported ($out)" \
    has "$out" '"exported":true'
if command -v tpm2_checkquote >/dev/null; then
	verify_in() { # DIR [NONCE-HEX]
		tpm2_checkquote -u "$work/state/ak.pem" -m "$1/msg" \
		    -s "$1/sig" -f "$1/pcrs" -g sha256 -q "${2:-$(cat "$1/nonce")}"
	}
	check "tpm2_checkquote verifies the exported quote" \
	    quiet verify_in "$q"
	# Rejected for the nonce, not for a missing file or a bad option:
	# the same files verified with their own nonce, and the refusal
	# names the nonce.
	verify_in "$q" 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff \
	    >"$work/checkquote.out" 2>&1
	rc=$?
	check "tpm2_checkquote rejects it with another nonce ($rc: $(tail -n 1 "$work/checkquote.out"))" \
	    sh -c "[ $rc -ne 0 ] && grep -qi 'nonce' '$work/checkquote.out'"

	# While quotes refresh (every second, and a loop of ztctl attest),
	# the exported files stay whole: every run by path verifies.
	( while [ ! -e "$work/stop-attest" ]; do
		"$ZTCTL" --socket "$sock" attest >/dev/null 2>&1
	done ) &
	track $!
	bad=0 runs=0
	while [ $runs -lt 100 ]; do
		quiet verify_in "$q" || bad=$((bad + 1))
		runs=$((runs + 1))
	done
	touch "$work/stop-attest"
	check "100 tpm2_checkquote runs while quotes refresh: none failed ($bad)" \
	    [ "$bad" -eq 0 ]
	# While new exports are made, a reader that resolves the link once
	# reads one whole export: none fails.
	rm -f "$work/stop-attest"
	( while [ ! -e "$work/stop-attest" ]; do
		"$ZTCTL" --socket "$sock" attest --export >/dev/null 2>&1
		sleep 0.05
	done ) &
	exporter=$!
	track $exporter
	bad=0 runs=0 seen=""
	while [ $runs -lt 100 ]; do
		d=$(readlink -f "$q")
		seen="$seen $d"
		quiet verify_in "$d" || bad=$((bad + 1))
		runs=$((runs + 1))
	done
	touch "$work/stop-attest"
	wait $exporter	# its last export done: none half made
	exports=$(printf '%s\n' $seen | sort -u | wc -l)
	check "100 tpm2_checkquote runs while exports are made: none failed ($bad), $exports exports read" \
	    sh -c "[ $bad -eq 0 ] && [ $exports -gt 1 ]"
	check "at most 16 export directories are kept" \
	    sh -c "[ \$(ls -d '$work/state/'quote.* | wc -l) -le 16 ]"
fi

# Drift: extend a configured PCR.
open_fifo_session() {
	mkfifo "$work/s.in"
	"$TESTTOOL" session "$sock" "$agent_uid" zt-agent <"$work/s.in" >"$work/s.out" &
	track $!
	exec {sfd}>"$work/s.in"
	wait_for test -s "$work/s.out"
}
open_fifo_session
echo "decide exec /usr/bin/rsync" >&"$sfd"
wait_for has_lines "$work/s.out" 2
check "before drift, a low-risk exec is allowed" sh -c "sed -n 2p '$work/s.out' | grep -q '^allow'"
tpm2_pcrextend 14:sha256=$(printf 'drift' | sha256sum | cut -d' ' -f1)
check "the drift is detected within one quote_interval, naming PCR 14" \
    wait_for logged -F "attestation (tpm): host untrusted: PCR 14 differs from its golden value"
echo events >&"$sfd"
wait_for has_lines "$work/s.out" 3
check "the supervisor was told to drop its cache" \
    grep -q 'event 2 -: host attestation changed' "$work/s.out"
lines=$(wc -l <"$work/s.out")
echo "decide exec /usr/bin/rsync" >&"$sfd"
wait_for has_lines "$work/s.out" $((lines + 1))
check "after drift the (cached) exec is denied at once" \
    sh -c "tail -n 1 '$work/s.out' | grep -q '^deny: host untrusted: PCR 14'"
out=$("$TESTTOOL" session "$sock" "$agent_uid" zt-agent </dev/null)
check "after drift a session is denied, naming the PCR ($out)" has "$out" '^deny: host untrusted: PCR 14 differs'
check "the audit line names the PCR" \
    logged 'decision=deny action=session .*reason="host untrusted: PCR 14 differs from its golden value; pam user='
exec {sfd}>&-

# The TPM stops answering: denied, nothing hangs (ztd's own bound on a
# TPM command is 5 s; the call's, 30 s, only a hang reaches).
stop_swtpm
start=$(date +%s%N)
out=$("$TESTTOOL" session "$sock" "$agent_uid" zt-agent </dev/null)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
diag "TPM gone: the session's answer came in $ms ms"
check "TPM gone: a session is denied ($out)" has "$out" '^deny'
check "ztd still answers status" quiet "$ZTCTL" --socket "$sock" status

# A fresh TPM state, re-enrolled, recovers without restarting ztd.
# The same port pair ztd's tcti names: another test's swtpm may have taken
# it while this one was stopped (it probes for a free pair), so tried again
# until that one is gone.
check "swtpm restarts with a fresh state" wait_for start_swtpm fresh
check "ztd reconnects and re-enrolls" \
    wait_for sh -c "'$ZTCTL' --socket '$sock' enroll-host >/dev/null 2>&1"
check "trust returns after a good quote" \
    wait_for quiet "$ZTCTL" --socket "$sock" attest
out=$("$TESTTOOL" session "$sock" "$agent_uid" zt-agent </dev/null)
check "sessions are allowed again ($out)" has "$out" '^allow'

kill -TERM "$ztd_pid"
wait "$ztd_pid"
check "ztd stops cleanly" test $? -eq 0

# tpm mode with no TPM reachable is an error at start, never a fallback.
stop_swtpm
"$ZTD" --foreground --config "$work/ztd.conf" --socket "$work/b.sock" \
    --syslog-socket "$work/log.sock" >"$work/out" 2>&1
check "mode tpm without a TPM: exit 2 at start" test $? -eq 2
finish
