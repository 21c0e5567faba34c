#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The digest cache and a file written through a mapping (the attacker's
# review of exec6).  zt-exec keys its digest cache by (dev, inode, size,
# mtime, ctime, btime): a file is hashed again only when one of them
# changes.  A write through a shared writable mapping made earlier changes
# none of them once the mapping's pages are mapped and dirty (the kernel
# updates the times at some write faults only, and tmpfs has no writeback
# to make a page fault again): the content changes under the same key.
#
# The agent maps a command writable while it may write it (mode 0666,
# root's, in root's 0755 directory); then its write access is taken away
# (chmod 0755: the replaceable-path walk now lets it run).  Its first exec
# of the command is refused by the kernel (a file mapped for writing:
# ETXTBSY), but not before zt-exec hashed it (cached, the digest pinned
# for the grant, an approval made).  It then writes other bytes over the
# command through the mapping, lets the mapping go, and execs it again:
# zt-exec's pin, its approval and its check at the exec event find the old
# digest in the cache by the unchanged key, and the new image runs.  The
# exec event is where a fresh digest would tell: the kernel lets no one
# write an image while it runs.  A script likewise: the kernel refuses it
# while it is mapped for writing, but at the exec event the image is its
# interpreter's, and the interpreter reads the script's new bytes by its
# path.
#
# Real components: ztd, zt-exec (setgid to this run's group), a system
# account, Landlock and seccomp, a tmpfs mount of this run's own (on ext4 a
# writeback may clean the page and the next write fault updates the
# times; tmpfs has no writeback).  Needs root; skipped otherwise.
set -u
. "$(dirname "$0")/lib.sh"

account=zt-remap-$$
sock=$work/ztd.sock
bin=$work/bin
agent=$bin/agent
tfs=$work/t
cmd=$tfs/exit05

skip_unless_live_seccomp "these tests need root (a system account, a mount)"
for tool in useradd userdel setpriv timeout mount umount truncate; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is missing"
		exit 0
	fi
done


ctime_of() { stat -c '%.9Z' "$1"; }  # FILE: its ctime, to the ns
out_line() { grep -E "$2" "$work/$1.out" | tail -n 1; }  # NAME ERE

# ------------------------------------------------------------ setup
for f in "$PROBE" "$ZTEXEC"; do
	if [ ! -x "$f" ]; then
		not_ok "$f is built"
		finish
		exit
	fi
done
require "the account $account is added" add_test_account "$account"
start_logsink "$work"
mkdir -m 0755 "$bin"
install -m 0755 "$PROBE" "$agent"
check "zt-exec is installed setgid to this run's supervisor group" \
    supervisor_setup "$bin"
digest=$(sha256sum "$agent" | cut -d' ' -f1)
require "a tmpfs of this run's own is mounted at $tfs" private_tmpfs "$tfs"
# The command as allowed: a copy of zt-probe (run as exit05 it exits 5);
# what the agent writes over it: /bin/false (exits 1), both padded to the
# same size (the kernel loads an ELF file's headers and segments, not its
# tail; the same size keeps the cache key's).
install -m 0755 "$PROBE" "$bin/orig"
install -m 0644 /bin/false "$bin/new"
same_size "$bin/orig" "$bin/new"
# A script, whose interpreter opens it again by its path after the exec.
script=$tfs/tool.sh
printf '#!/bin/sh\nexit 5\n' >"$bin/orig.sh"
printf '#!/bin/sh\nexit 1\n' >"$bin/new.sh"
chmod 0755 "$bin/orig.sh"
chmod 0644 "$bin/new.sh"
install -m 0755 "$bin/orig" "$cmd"
install -m 0755 "$bin/orig.sh" "$script"
for f in "$cmd" "$script"; do
	"$f"
	st=$?
	check "precondition: $f, as allowed, exits 5 (got $st)" test "$st" -eq 5
done
echo "kernel v1" >"$work/measured"
mkdir -m 0700 "$work/state"
cat >"$work/ztd.conf" <<EOC
ztd: {
  state_dir = "$work/state";
  supervisor_group = "$SUPERVISOR_GROUP";
};
attestation: {
  mode = "software";
  files = ["$work/measured"];
  golden = "$work/state/golden";
};
agents = (
  {
    name = "probe";
    accounts = ["$account"];
    pam_services = ["zt-exec"];
    binary = "$agent";
    sha256 = ["$digest"];
    session_ttl = 600;
    decision_ttl = 30;
    commands = (
      { path = "$cmd"; risk = "low"; },
      { path = "$script"; risk = "low"; },
      { path = "/usr/bin/dash"; risk = "low"; }
    );
    files = (
      { path = "$bin"; access = "rx"; },
      { path = "$tfs"; access = "rwx"; }
    );
  }
);
EOC
chmod 0644 "$work/ztd.conf"
check "ztd starts" start_ztd
out=$("$ZTCTL" --socket "$sock" enroll-host)
check "the host is enrolled (software attestation) ($out)" \
    has "$out" '^enrolled: golden values recorded'

# ------------------------------------------------------------ the attack
# remap NAME FILE ORIG NEW FIRST [first-page]: FILE as allowed (ORIG's
# bytes, mode 0666), the agent under zt-exec (a grant, a digest cache and
# pins of its own) mapping it (map-exec), its write access taken away, the
# settle waited out, then its two execs, the first one's result matching
# FIRST (an ERE), NEW's bytes written over FILE between them: sets line
# (the agent's result) and changed (FILE's ctime after the chmod).
remap() {
	local name=$1 file=$2 orig=$3 new=$4 first=$5
	shift 5
	install -m 0666 "$orig" "$file"
	rm -f "$work/go"
	: >"$work/$name.out"
	(cd "$work" && exec setpriv --reuid="$account" --regid="$account" \
	    --clear-groups -- "$ZTEXEC" --socket "$sock" \
	    --syslog-socket "$work/log.sock" -- "$agent" map-exec "$file" \
	    "$new" "$work/go" "$@" </dev/null >"$work/$name.out" \
	    2>"$work/$name.err") &
	track $!
	check "$name: the agent maps the command writable while it may write it" \
	    wait_for grep -qx mapped "$work/$name.out"
	# Its write access taken away: the walk now finds the command
	# root's, in root's directories, writable by no one else.
	chmod 0755 "$file"
	changed=$(ctime_of "$file")
	# The digest cache keeps a file's digest only once its last change
	# is ZT_DIGEST_SETTLE_SECONDS (2) old: a lower bound, no deadline.
	sleep 3
	touch "$work/go"
	check "$name: the agent's two execs are done" \
	    wait_for grep -q '^ok first=' "$work/$name.out"
	line=$(out_line "$name" '^ok first=')
	diag "$name: agent: $line"
	check "$name: precondition: the first exec went as expected (zt-exec hashed, pinned and approved it)" \
	    has "$line" "^ok first=$first "
	check "$name: precondition: the command on disk is now the agent's bytes" \
	    cmp -s "$file" "$new"
	"$file"
	st=$?
	check "$name: precondition: run now (outside zt-exec) it exits 1 (got $st)" \
	    test "$st" -eq 1
}
second() { printf '%s' "$line" | sed 's/.*second=//'; }

# The control: only the mapping's first page was written before, so the
# rewrite's own write faults update the times: the key changes, the file
# is hashed again, and the grant's pin refuses the changed command.
remap control "$cmd" "$bin/orig" "$bin/new" errno=ETXTBSY first-page
check "control: the rewrite changed the command's ctime ($changed, now $(ctime_of "$cmd"))" \
    test "$(ctime_of "$cmd")" != "$changed"
check "control: the rewritten command is refused by the grant's pin (second=$(second))" \
    has "$line" ' second=errno=EACCES$'

# The attack: every page written before, the rewrite changes no time.  The
# first exec, with the mapping still there, is the kernel's ETXTBSY (a file
# mapped for writing), after zt-exec let it go on.
remap attack "$cmd" "$bin/orig" "$bin/new" errno=ETXTBSY
check "attack: precondition: its ctime did not change ($changed, now $(ctime_of "$cmd"))" \
    test "$(ctime_of "$cmd")" = "$changed"
# The hole: the second exec runs the rewritten command (status=1) under
# the digest of the first.  Held: refused before (EACCES) or killed at
# the exec event (signal=9).
check "attack: an exec of the command rewritten through a mapping is refused or killed, not run (second=$(second))" \
    has "$line" ' second=(errno=EACCES|signal=9)$'

# A script: the kernel refuses it too while it is mapped for writing
# (ETXTBSY), but the image checked at the exec event is its
# interpreter's.  The rewritten script's digest is the cached one of its
# first version (the pin holds by the key), and its interpreter reads the
# new bytes by the path.
remap script "$script" "$bin/orig.sh" "$bin/new.sh" errno=ETXTBSY
check "script: precondition: its ctime did not change ($changed, now $(ctime_of "$script"))" \
    test "$(ctime_of "$script")" = "$changed"
check "script: an exec of the script rewritten through a mapping is refused or killed, not run (second=$(second))" \
    has "$line" ' second=(errno=EACCES|signal=9)$'

finish
