#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ztd's digest cache and an agent binary written through a mapping (the
# attacker's review of exec6: the cache zt-exec shares with ztd,
# common/zt_exe.c).  ztd recognises an agent by its binary's pinned
# SHA-256, hashed again only when the file's key (dev, inode, size, mtime,
# ctime, btime) changes.  A write through a shared writable mapping whose
# pages are already mapped and dirty changes no part of the key (the
# kernel updates the times at some write faults only).
#
# The agent's account owns its binary (a self-updating install): it may
# rewrite it, and a rewrite by write() changes the key, so ztd hashes the
# new bytes and refuses a binary no longer pinned (the control).  Mapped
# first, every page written once (the times change then), the binary is
# hashed by ztd at a session's open while the mapping stays; the account
# then writes other bytes through the mapping: ztd's next session open
# finds the pinned digest in its cache by the unchanged key and recognises
# the rewritten binary.
#
# A script agent's interpreter (the same review, a sibling: ztd's check
# of a process running a script checked the interpreter by its path): a
# second account maps a copy of zt-testtool writable while it owns it;
# root then takes it over (chown, chmod: only root may write it now, so
# its digest may be cached) and ztd checks the agent by path at a
# session's open, hashing the interpreter as pinned; the account writes
# other bytes through the mapping and runs the script, whose process asks
# ztd about itself.  ztd hashes the running image (the kernel refuses to
# exec a file while a writable mapping of it exists, so an image's digest
# is what runs) and refuses it.
#
# Real components: ztd, two system accounts, the pinned binary on a tmpfs of
# this run's own (on ext4 a writeback may clean a page and the next write
# fault updates the times), zt-testtool as the PAM stack (SESSION_OPEN as
# root), python3's mmap as the account.  Needs root; skipped otherwise.
set -u
. "$(dirname "$0")/lib.sh"

account=zt-rmid-$$
saccount=zt-rmis-$$
sock=$work/ztd.sock
tfs=$work/t
binary=$tfs/agent-bin
interp=$tfs/interp
script=$tfs/agent.sh

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (a system account, a mount)"
	exit 0
fi
for tool in useradd userdel setpriv python3 mount umount truncate; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is missing"
		exit 0
	fi
done

# The system's python3 (the account cannot reach root's own, if any).
py=$(PATH=/usr/bin:/bin command -v python3)

ctime_of() { stat -c '%.9Z' "$1"; }  # FILE: its ctime, to the ns
session() { "$TESTTOOL" session "$sock" "$uid" zt-agent </dev/null; }

# ------------------------------------------------------------ setup
require "the account $account is added" add_test_account "$account"
uid=$(id -u "$account")
require "the account $saccount is added" add_test_account "$saccount"
suid=$(id -u "$saccount")
require "a tmpfs of this run's own is mounted at $tfs" private_tmpfs "$tfs"
# The agent's binary: sleep; the bytes written over it: false; both
# padded to one size (an ELF file's tail is not loaded; the size is part
# of the key).
cp /bin/sleep "$work/orig"
cp /bin/false "$work/new"
same_size "$work/orig" "$work/new"
chmod 0644 "$work/orig" "$work/new"
digest=$(sha256sum "$work/orig" | cut -d' ' -f1)
# The script agent: its interpreter a copy of zt-testtool; the bytes
# written over it the same but for one letter of its usage text (so it
# still runs, and asks as the pinned one would).
cp "$TESTTOOL" "$work/iorig"
"$py" - "$work/iorig" "$work/inew" <<'EOF2'
import sys
data = open(sys.argv[1], "rb").read()
old = b"usage: zt-testtool logsink"
assert data.count(old) == 1, "the usage text is not there once"
open(sys.argv[2], "wb").write(data.replace(old, b"usage: zt-testtoox logsink"))
EOF2
chmod 0644 "$work/iorig" "$work/inew"
idigest=$(sha256sum "$work/iorig" | cut -d' ' -f1)
printf '#!%s script-decide\n' "$interp" >"$work/agent.sh"
install -m 0755 "$work/agent.sh" "$script"
sdigest=$(sha256sum "$script" | cut -d' ' -f1)
start_logsink "$work"
mkdir -m 0700 "$work/state"
cat >"$work/ztd.conf" <<EOC
ztd: { state_dir = "$work/state"; agent_group = ""; };
attestation: { mode = "software"; golden = "$work/state/golden"; };
agents = (
  {
    name = "worker";
    accounts = ["$account"];
    pam_services = ["zt-agent"];
    binary = "$binary";
    sha256 = ["$digest"];
  },
  {
    name = "scripted";
    accounts = ["$saccount"];
    pam_services = ["zt-agent"];
    binary = "$script";
    sha256 = ["$sdigest", "$idigest"];
    commands = ( { path = "/usr/bin/rsync"; risk = "low"; } );
  }
);
EOC
chmod 0644 "$work/ztd.conf"
check "ztd starts" start_ztd
out=$("$ZTCTL" --socket "$sock" enroll-host)
check "the host is enrolled (software attestation) ($out)" \
    has "$out" '^enrolled: golden values recorded'

# The account's rewrite of its binary (python3 as the account): "mapped"
# once the mapping is made (every page written once with "all", the first
# only with "first"), then, once FILE go exists, NEW's bytes written over
# it through the mapping, and "rewritten".
cat >"$work/remap.py" <<'EOF'
import mmap, os, sys, time
path, new, go, pages = sys.argv[1:5]
with open(path, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
step = mmap.PAGESIZE if pages == "all" else len(m)
for at in range(0, len(m), step):
    m[at] = m[at]
print("mapped", flush=True)
while not os.path.exists(go):
    time.sleep(0.05)
with open(new, "rb") as f:
    m[:] = f.read()
m.close()
print("rewritten", flush=True)
EOF
chmod 0644 "$work/remap.py"

# remap NAME all|first: the binary as pinned, the account's own; the
# account maps it; the settle waited out; a session opened (ztd hashes the
# binary, mapped, as pinned); the bytes rewritten through the mapping:
# sets first (that session's answer) and changed (the ctime before the
# rewrite).
remap() {
	local name=$1 pages=$2
	install -o "$account" -m 0755 "$work/orig" "$binary"
	rm -f "$work/go"
	: >"$work/$name.out"
	(cd "$work" && exec setpriv --reuid="$account" --regid="$account" \
	    --clear-groups -- "$py" "$work/remap.py" "$binary" \
	    "$work/new" "$work/go" "$pages" >"$work/$name.out" \
	    2>"$work/$name.err") &
	track $!
	check "$name: the account maps its binary" \
	    wait_for grep -qx mapped "$work/$name.out"
	# The digest cache keeps a file's digest only once its last change
	# is ZT_DIGEST_SETTLE_SECONDS (2) old: a lower bound, no deadline.
	sleep 3
	first=$(session)
	check "$name: precondition: a session of the account opens on its binary as pinned ($first)" \
	    has "$first" '^allow '
	changed=$(ctime_of "$binary")
	touch "$work/go"
	check "$name: the account rewrote its binary through the mapping" \
	    wait_for grep -qx rewritten "$work/$name.out"
	check "$name: precondition: the binary on disk is now false's bytes, not pinned" \
	    sh -c "cmp -s '$binary' '$work/new' &&
	    [ \"\$(sha256sum <'$binary' | cut -d' ' -f1)\" != '$digest' ]"
}

# The control: only the first page written before, the rewrite's own
# faults update the times: ztd hashes the binary again and refuses it.
remap control first
check "control: the rewrite changed the binary's ctime" \
    test "$(ctime_of "$binary")" != "$changed"
out=$(session)
check "control: a session on the rewritten binary is refused ($out)" \
    has "$out" '^deny: '

# The attack: every page written before, the rewrite changes no time.
remap attack all
check "attack: precondition: the binary's ctime did not change ($changed, now $(ctime_of "$binary"))" \
    test "$(ctime_of "$binary")" = "$changed"
out=$(session)
check "attack: a session on the rewritten binary is refused ($out)" \
    has "$out" '^deny: '

# ------------------------------------------------ a script's interpreter
# ask: the script run by the second account; its process asks ztd about
# itself (DECIDE without a grant: identity through the connection).
ask() {
	(cd "$work" && exec setpriv --reuid="$saccount" --regid="$saccount" \
	    --clear-groups -- "$script" "$sock" exec /usr/bin/rsync 2>&1)
}
install -m 0755 "$work/iorig" "$interp"
out=$(ask)
check "interpreter: precondition: the script's process, its interpreter as pinned, is allowed ($out)" \
    has "$out" '^allow risk=low'
install -o "$saccount" -m 0755 "$work/iorig" "$interp"
rm -f "$work/go"
: >"$work/interp.out"
(cd "$work" && exec setpriv --reuid="$saccount" --regid="$saccount" \
    --clear-groups -- "$py" "$work/remap.py" "$interp" "$work/inew" \
    "$work/go" all >"$work/interp.out" 2>"$work/interp.err") &
track $!
check "interpreter: the account maps the interpreter it owns" \
    wait_for grep -qx mapped "$work/interp.out"
chown root:root "$interp"
chmod 0755 "$interp"
check "interpreter: precondition: root took it over, the account's mapping stays writable (the script cannot run meanwhile: ETXTBSY)" \
    sh -c "[ \"\$(stat -c %U:%a '$interp')\" = root:755 ] && grep -qx mapped '$work/interp.out' && ! [ -s '$work/interp.err' ]"
sleep 3	# ZT_DIGEST_SETTLE_SECONDS (2): a lower bound, no deadline
out=$("$TESTTOOL" session "$sock" "$suid" zt-agent </dev/null)
check "interpreter: precondition: a session of the account opens, ztd hashing the interpreter by path as pinned ($out)" \
    has "$out" '^allow '
changed=$(ctime_of "$interp")
touch "$work/go"
check "interpreter: the account rewrote the interpreter through the mapping" \
    wait_for grep -qx rewritten "$work/interp.out"
check "interpreter: precondition: on disk it is the other bytes, its ctime unchanged ($changed)" \
    sh -c "cmp -s '$interp' '$work/inew' && [ \"\$(stat -c '%.9Z' '$interp')\" = '$changed' ]"
out=$(ask)
check "interpreter: the script's process, run by the rewritten interpreter, is refused ($out)" \
    has "$out" '^deny: identity: interpreter .* is not pinned'

finish
