/* SPDX-License-Identifier: Apache-2.0 */
/* What an approved interpreter loads from where it runs: Python's rules
 * (ztd.conf(5), commands), shared by the configuration and ztctl profile
 * suggest. */
#ifndef ZTD_INTERP_H
#define ZTD_INTERP_H

#include <stdbool.h>

#include "ztd_config.h"

/* Is PATH a Python interpreter's: named python, pythonN or pythonN.M, or
 * resolving to a file so named? */
bool interp_is_python(const char *path);

/*
 * Why does args alternative A let Python import first from the directory
 * it runs in (-m, -c, "-", standard input, or a pattern that may match
 * one of them, before a literal -I or -P)?  NULL when it does not.  ztd
 * refuses a Python rule with such an alternative.
 */
const char *interp_python_unsafe(const struct args_alternative *a);

#endif
