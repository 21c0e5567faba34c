#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Debian packages: built with dpkg-buildpackage -us -uc -b from a copy
# of the checkout in a temporary directory (dpkg-buildpackage writes into
# the parent directory), running the unit tests only; lintian without an
# error; both installed with dpkg --root into an empty directory
# (--force-depends: the root has no libc; --force-script-chrootless: it
# has no shell either, so the maintainer scripts run here with DPKG_ROOT
# set, and must touch nothing but that root): every file where Debian puts
# it, the conffiles (the configuration, the logrotate snippet), the rsyslog
# example, the groups, zt-exec setgid zt-exec.  Takes 1-3 minutes.
set -u
. "$(dirname "$0")/lib.sh"

skip_unless_checkout "builds the packages"
for tool in dpkg-buildpackage dh lintian git; do
	if ! command -v $tool >/dev/null; then
		echo "1..0 # SKIP $tool missing (scripts/install-deps)"
		exit 0
	fi
done
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP dpkg --root with the maintainer scripts needs root"
	exit 0
fi

version=$(sed -n '1s/^ztgate (\([^)]*\)).*/\1/p' \
    "$top_srcdir/debian/changelog")
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

# ---------------------------------------------------------------- build
# The files git tracks, and new ones it does not ignore, as they are in
# the working tree: what a commit of it would hold (no build directory).
src=$work/src/ztgate-$version
mkdir -p "$src"
(cd "$top_srcdir" &&
    git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do
	[ -e "$f" ] && printf '%s\0' "$f"
    done | tar --null -T - -cf -) | tar -C "$src" -xf -
check "the checkout is copied (debian/rules, no build tree)" \
    sh -c "[ -x '$src/debian/rules' ] && [ ! -e '$src/build' ] && [ ! -e '$src/configure' ]"

# Run by make check, this test inherits MAKEFLAGS, which carries the
# outer make's variables (TESTS, TEST_LOGS: the whole suite) into every
# make below: the package's own build must not see them.
(cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL \
    DEB_BUILD_OPTIONS="parallel=2 noddebs" \
    dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1)
rc=$?
check "dpkg-buildpackage -us -uc -b builds" test $rc -eq 0
[ $rc -ne 0 ] && diag "$(tail -n 40 "$work/build.log")"
ztgate_deb=$work/src/ztgate_${version}_$arch.deb
pam_deb=$work/src/libpam-zt_${version}_$arch.deb
check "two packages: ztgate and libpam-zt" \
    test -f "$ztgate_deb" -a -f "$pam_deb"
check "the build ran the unit tests (make check-unit), all passed" \
    sh -c "grep -q 'make check-unit' '$work/build.log' && grep -q '^PASS: tests/unit/test_config ' '$work/build.log' && grep -qx '# FAIL:  0' '$work/build.log' && grep -qx '# ERROR: 0' '$work/build.log'"
check "and no integration test (accounts, /etc/pam.d, daemons)" \
    sh -c "! grep -qE '^(PASS|FAIL|ERROR|SKIP): tests/(integration|pam)/' '$work/build.log'"
check "the checkout is left as it was (no package files in its parent)" \
    sh -c "! ls '$top_srcdir'/../ztgate_*.deb >/dev/null 2>&1 && ! ls '$top_srcdir'/../ztgate_*.changes >/dev/null 2>&1"

# ---------------------------------------------------------------- lintian
lintian --tag-display-limit 0 "$work/src/ztgate_${version}_$arch.changes" \
    >"$work/lintian.out" 2>&1
check "lintian reports no error" sh -c "! grep -q '^E: ' '$work/lintian.out'"
grep -E '^[EW]: ' "$work/lintian.out" | while read -r line; do
	diag "$line"
done

# ---------------------------------------------------------------- control data
check "libpam-zt depends on ztgate of the same version" \
    sh -c "dpkg-deb -f '$pam_deb' Depends | grep -q 'ztgate (= $version)'"
ssl_source=$(dpkg-query -f '${source:Package} (= ${source:Version})' -W libssl-dev)
check "ztgate declares the openssl it links statically (Built-Using: $ssl_source)" \
    sh -c "[ \"\$(dpkg-deb -f '$ztgate_deb' Built-Using)\" = '$ssl_source' ]"
check "ztgate's conffiles are /etc/zt/ztd.conf and /etc/logrotate.d/ztd" \
    sh -c "[ \"\$(dpkg-deb --ctrl-tarfile '$ztgate_deb' | tar -xOf - ./conffiles | sort | tr '\n' ' ')\" = '/etc/logrotate.d/ztd /etc/zt/ztd.conf ' ]"

# ---------------------------------------------------------------- install
# What the host must still look like afterwards.
host_state() {
	grep -E '^zt-(agents|exec):' /etc/group
	grep ' /usr/bin/zt-exec$' /var/lib/dpkg/statoverride
	cat /etc/pam.d/common-account /etc/pam.d/common-session \
	    /etc/pam.d/common-session-noninteractive 2>/dev/null | md5sum
	ls /etc/systemd/system/*.wants 2>/dev/null | grep ztd
	ls -d /var/lib/zt /var/log/zt /etc/zt 2>/dev/null
}
host_state >"$work/host.before" 2>/dev/null
root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: >"$root/var/lib/dpkg/status"
dpkg --root="$root" --force-depends --force-not-root \
    --force-script-chrootless -i "$ztgate_deb" "$pam_deb" \
    >"$work/dpkg.log" 2>&1
check "dpkg --root installs both into an empty directory" \
    sh -c "[ \"\$(dpkg-query --admindir='$root/var/lib/dpkg' -W -f='\${Status}\n' ztgate libpam-zt | sort -u)\" = 'install ok installed' ]"
[ -n "$(grep -i error "$work/dpkg.log")" ] && diag "$(cat "$work/dpkg.log")"
host_state >"$work/host.after" 2>/dev/null
check "the maintainer scripts touched only that root" \
    cmp -s "$work/host.before" "$work/host.after"

# Every file of each package, exactly where Debian puts it.
files() {
	dpkg-query --admindir="$root/var/lib/dpkg" -L "$1" |
	    while read -r f; do [ -f "$root$f" ] && echo "$f"; done | sort
}
sort >"$work/ztgate.expected" <<EOF
/etc/logrotate.d/ztd
/etc/zt/ztd.conf
/lib/systemd/system/ztd.service
/lib/systemd/system/ztd.socket
/usr/bin/zt-exec
/usr/bin/ztctl
/usr/lib/sysusers.d/ztgate.conf
/usr/lib/tmpfiles.d/ztgate.conf
/usr/sbin/ztd
/usr/share/doc/ztgate/changelog.gz
/usr/share/doc/ztgate/copyright
/usr/share/doc/ztgate/examples/ztd-relp.conf
/usr/share/man/man1/zt-exec.1.gz
/usr/share/man/man5/ztd.conf.5.gz
/usr/share/man/man8/ztctl.8.gz
/usr/share/man/man8/ztd.8.gz
EOF
sort >"$work/pam.expected" <<EOF
/usr/lib/$multiarch/security/pam_zt.so
/usr/share/doc/libpam-zt/changelog.gz
/usr/share/doc/libpam-zt/copyright
/usr/share/man/man8/pam_zt.8.gz
/usr/share/pam-configs/zt
EOF
files ztgate >"$work/ztgate.files"
files libpam-zt >"$work/pam.files"
check "ztgate's files: programs, units, tmpfiles/sysusers, config, logrotate, the rsyslog example, man pages" \
    cmp -s "$work/ztgate.expected" "$work/ztgate.files"
cmp -s "$work/ztgate.expected" "$work/ztgate.files" ||
    diag "$(diff "$work/ztgate.expected" "$work/ztgate.files")"
check "libpam-zt's files: pam_zt.so in /usr/lib/$multiarch/security, pam_zt(8), the profile" \
    cmp -s "$work/pam.expected" "$work/pam.files"
cmp -s "$work/pam.expected" "$work/pam.files" ||
    diag "$(diff "$work/pam.expected" "$work/pam.files")"
check "no libtool archive in the PAM directory" \
    sh -c "! ls '$root/usr/lib/$multiarch/security/'*.la >/dev/null 2>&1"

check "groups zt-agents and zt-exec made in the root (sysusers)" \
    sh -c "grep -q '^zt-agents:' '$root/etc/group' && grep -q '^zt-exec:' '$root/etc/group'"
check "the fleet client's system user zt-fleet made in the root (sysusers)" \
    grep -qE '^zt-fleet:x:[1-9][0-9]*:' "$root/etc/passwd"
gid=$(sed -n 's/^zt-exec:[^:]*:\([0-9]*\):.*/\1/p' "$root/etc/group")
check "zt-exec is setgid zt-exec (2755 root:zt-exec, gid ${gid:-none})" \
    test "$(stat -c '%a %u %g' "$root/usr/bin/zt-exec")" = "2755 0 ${gid:-none}"
check "no statoverride naming a group of this host is recorded in the root" \
    sh -c "! grep -qs zt-exec '$root/var/lib/dpkg/statoverride'"
check "/etc/zt/ztd.conf is a conffile, 0644 root" \
    sh -c "dpkg-query --admindir='$root/var/lib/dpkg' -W -f='\${Conffiles}' ztgate | grep -q '^ /etc/zt/ztd.conf [0-9a-f]\{32\}$' && [ \"\$(stat -c '%a %u' '$root/etc/zt/ztd.conf')\" = '644 0' ]"
check "the units are enabled in the root (ztd.socket with ztd.service)" \
    sh -c "[ -L '$root/etc/systemd/system/sockets.target.wants/ztd.socket' ] && [ -L '$root/etc/systemd/system/multi-user.target.wants/ztd.service' ]"
check "its run, state and log directories made (tmpfiles)" \
    sh -c "[ \"\$(stat -c %a '$root/var/lib/zt' '$root/var/log/zt' | tr '\n' ' ')\" = '700 750 ' ]"
check "the pam-auth-update profile adds account and session lines with group=zt-agents" \
    sh -c "grep -A1 '^Account:' '$root/usr/share/pam-configs/zt' | grep -q 'pam_zt.so group=zt-agents' && grep -A1 '^Session:' '$root/usr/share/pam-configs/zt' | grep -q 'pam_zt.so group=zt-agents' && grep -qx 'Default: no' '$root/usr/share/pam-configs/zt'"
check "the installed ztd reads /etc/zt/ztd.conf by default" \
    sh -c "'$root/usr/sbin/ztd' --help | grep -qF '(default /etc/zt/ztd.conf)'"
check "the shipped conffile is a valid configuration" \
    sh -c "'$root/usr/sbin/ztd' --check-config --config '$root/etc/zt/ztd.conf' | grep -qx ok"
check "ztd.service runs /usr/sbin/ztd and reloads with /usr/bin/ztctl" \
    sh -c "grep -qx 'ExecStart=/usr/sbin/ztd --foreground' '$root/lib/systemd/system/ztd.service' && grep -qx 'ExecReload=/usr/bin/ztctl reload' '$root/lib/systemd/system/ztd.service'"
check "/etc/logrotate.d/ztd is the shipped conf/logrotate/ztd, 0644 root" \
    sh -c "cmp -s '$top_srcdir/conf/logrotate/ztd' '$root/etc/logrotate.d/ztd' && [ \"\$(stat -c '%a %u' '$root/etc/logrotate.d/ztd')\" = '644 0' ]"
check "... rotating ztd's audit file, its postrotate the package's ztctl" \
    sh -c "grep -q '^/var/log/zt/audit.log {' '$root/etc/logrotate.d/ztd' && grep -q '/usr/bin/ztctl .*audit reopen' '$root/etc/logrotate.d/ztd' && [ -x '$root/usr/bin/ztctl' ]"
if command -v logrotate >/dev/null; then
	check "logrotate -d accepts the installed snippet" \
	    logrotate -d -s "$work/logrotate.state" "$root/etc/logrotate.d/ztd"
fi
check "the rsyslog RELP/TLS example is the shipped conf/rsyslog/ztd-relp.conf" \
    cmp -s "$top_srcdir/conf/rsyslog/ztd-relp.conf" \
    "$root/usr/share/doc/ztgate/examples/ztd-relp.conf"
check "pam_zt.so exports only pam_sm_*" \
    sh -c "[ -z \"\$(nm -D --defined-only '$root/usr/lib/$multiarch/security/pam_zt.so' | awk '\$2 == \"T\" && \$3 !~ /^pam_sm_/')\" ]"

finish
