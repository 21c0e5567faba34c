#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The man pages against the sources: they render without a warning, have
# every section, and name every option, command, configuration key and
# environment variable the programs accept (manpages.py, which reads the
# C option tables; TAP); and the README against the tree (the files it
# cites, the PAM module directories, the kernel table, the install
# commands).
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
for tool in python3 groff; do
	if ! command -v "$tool" >/dev/null; then
		echo "1..0 # SKIP $tool is not installed (scripts/install-deps)"
		exit 0
	fi
done
exec python3 "$top_srcdir/tests/integration/manpages.py" "$top_srcdir"
