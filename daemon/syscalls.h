/* SPDX-License-Identifier: Apache-2.0 */
/* Syscall names of the native architecture, as libseccomp knows them. */
#ifndef ZTD_SYSCALLS_H
#define ZTD_SYSCALLS_H

#include <stdbool.h>

/* True when NAME is a syscall libseccomp can resolve on this architecture. */
bool syscall_name_known(const char *name);

#endif
