/* SPDX-License-Identifier: Apache-2.0 */
/* Small state files replaced whole and atomically. */
#ifndef ZT_FILE_H
#define ZT_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Replace the content of PATH with TEXT (LEN bytes) so that a crash at
 * any moment leaves either the old content or the new one: PATH.tmp is
 * written (mode MODE, O_NOFOLLOW: a symbolic link there is refused),
 * fsync()ed, renamed over PATH, and PATH's directory fsync()ed.  Returns 0,
 * or -errno with PATH unchanged and the temporary file removed.
 */
int zt_file_replace(const char *path, const void *text, size_t len,
    mode_t mode);

#endif
