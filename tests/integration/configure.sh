#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# What a package build asks of configure: --sysconfdir honoured for ztd's
# default configuration file (and where make install puts it), and a build
# on a machine without the test libraries (cmocka hidden from pkg-config):
# configure says the unit tests are disabled, make builds every program,
# make install leaves no libtool archive in the PAM directory.
set -u
. "$(dirname "$0")/lib.sh"

skip_unless_checkout "builds the tree again"
if [ ! -x "$top_srcdir/configure" ]; then
	echo "1..0 # SKIP no configure in $top_srcdir (run ./bootstrap)"
	exit 0
fi

# A pkg-config directory with every module this machine has but cmocka.
mkdir "$work/pc"
for dir in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
	for pc in "$dir"/*.pc; do
		[ -e "$pc" ] || continue
		case $(basename "$pc") in
		cmocka.pc) ;;
		*) ln -sf "$pc" "$work/pc/" ;;
		esac
	done
done
check "cmocka is hidden from pkg-config" \
    sh -c "! PKG_CONFIG_LIBDIR='$work/pc' PKG_CONFIG_PATH= pkg-config --exists cmocka && PKG_CONFIG_LIBDIR='$work/pc' PKG_CONFIG_PATH= pkg-config --exists libseccomp"

etc=$work/etc
mkdir -p "$work/b" "$etc"
(cd "$work/b" && PKG_CONFIG_LIBDIR=$work/pc PKG_CONFIG_PATH= \
    "$top_srcdir/configure" --prefix=/usr --sysconfdir="$etc" \
    --with-pammoddir=/usr/lib/test-security CFLAGS="-O0 -pipe" \
    >"$work/configure.out" 2>&1)
rc=$?
check "configure without cmocka succeeds" test $rc -eq 0
check "and says the unit tests are disabled" \
    grep -q "unit tests: disabled (no cmocka)" "$work/configure.out"
check "and names the default configuration file under --sysconfdir" \
    grep -q "ztd's default configuration file: $etc/zt/ztd.conf" \
    "$work/configure.out"
make -C "$work/b" -j2 >"$work/make.out" 2>&1
rc=$?
check "make builds the programs" \
    sh -c "[ $rc -eq 0 ] && [ -x '$work/b/ztd' ] && [ -x '$work/b/ztctl' ] && [ -x '$work/b/seccomp/zt-exec' ] && [ -f '$work/b/pam_module/.libs/pam_zt.so' ]"
[ $rc -ne 0 ] && diag "$(tail -n 20 "$work/make.out")"
check "and no cmocka test" test ! -e "$work/b/tests/unit/test_msg"
out=$(make -C "$work/b" check-unit 2>&1)
check "make check-unit says the unit tests are disabled" \
    sh -c "printf '%s' \"\$1\" | grep -q 'configure found no cmocka: the unit tests are disabled'" _ "$out"

check "ztd --help names $etc/zt/ztd.conf as the default" \
    sh -c "'$work/b/ztd' --help | grep -qF '(default $etc/zt/ztd.conf)'"
out=$("$work/b/ztd" --check-config 2>&1)
rc=$?
check "without --config, ztd reads $etc/zt/ztd.conf (missing: exit 1)" \
    sh -c "[ $rc -eq 1 ] && printf '%s' \"\$1\" | grep -qF '$etc/zt/ztd.conf: cannot open'" _ "$out"
mkdir -p "$etc/zt"
install -m 0644 "$top_srcdir/conf/ztd.conf" "$etc/zt/ztd.conf"
check "and accepts it once there" \
    sh -c "'$work/b/ztd' --check-config | grep -qx ok"

dest=$work/dest
make -C "$work/b" install DESTDIR="$dest" >"$work/install.out" 2>&1
rc=$?
check "make install succeeds" test $rc -eq 0
check "it installs the configuration under --sysconfdir (0644)" \
    test "$(stat -c %a "$dest$etc/zt/ztd.conf" 2>/dev/null)" = 644
check "pam_zt.so in the PAM directory, no pam_zt.la beside it" \
    sh -c "[ -f '$dest/usr/lib/test-security/pam_zt.so' ] && [ ! -e '$dest/usr/lib/test-security/pam_zt.la' ]"
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
check "the units, tmpfiles.d and sysusers.d entries where systemd reads them" \
    sh -c "[ -f '$dest${unitdir:-/usr/lib/systemd/system}/ztd.service' ] && [ -f '$dest${unitdir:-/usr/lib/systemd/system}/ztd.socket' ] && [ -f '$dest/usr/lib/tmpfiles.d/ztgate.conf' ] && [ -f '$dest/usr/lib/sysusers.d/ztgate.conf' ]"
check "ztd.service runs /usr/sbin/ztd and reloads with /usr/bin/ztctl" \
    sh -c "grep -qx 'ExecStart=/usr/sbin/ztd --foreground' '$dest${unitdir:-/usr/lib/systemd/system}/ztd.service' && grep -qx 'ExecReload=/usr/bin/ztctl reload' '$dest${unitdir:-/usr/lib/systemd/system}/ztd.service'"
echo "# changed" >>"$dest$etc/zt/ztd.conf"
make -C "$work/b" install DESTDIR="$dest" >/dev/null 2>&1
check "a second make install keeps an administrator's changed file" \
    grep -qx "# changed" "$dest$etc/zt/ztd.conf"

finish
