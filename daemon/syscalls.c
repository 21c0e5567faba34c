/* SPDX-License-Identifier: Apache-2.0 */
/* Resolving syscall names with libseccomp (the daemon's only use of it). */
#include "config.h"

#include <seccomp.h>

#include "syscalls.h"

bool
syscall_name_known(const char *name)
{
	/* Pseudo-syscalls (socketcall, ipc, _llseek on x86_64) resolve to
	 * negative numbers no filter rule on this architecture ever meets. */
	return seccomp_syscall_resolve_name(name) >= 0;
}
