/* SPDX-License-Identifier: Apache-2.0 */
/* Resolving syscall names with libseccomp (the daemon's only use of it). */
#include "config.h"

#include <seccomp.h>

#include "syscalls.h"

bool
syscall_name_known(const char *name)
{
	return seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR;
}
