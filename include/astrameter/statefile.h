/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Small state files that must survive a crash or a power cut (the per-battery controls):
 * written atomically (a temporary file, fsync, rename, fsync of the directory), read back
 * whole with a size bound. Blocking file I/O: call it off the request path (a deferred
 * timer), never from inside a battery's reply. */
#ifndef ASTRAMETER_STATEFILE_H
#define ASTRAMETER_STATEFILE_H

#include <stddef.h>
#include "astrameter/err.h"

/* Replaces path with the len bytes at data atomically: readers see the old file or the
 * new one, never a part. 0, or -1 with e naming the file and the failing step (the
 * temporary path.tmp is removed). */
int statefile_write(const char *path, const void *data, size_t len, struct err *e);
/* Reads path whole into a malloc'd, NUL-terminated *out (the caller frees it) of *len
 * bytes. 1 if the file does not exist (*out NULL), 0 on success, -1 with e if it cannot
 * be read or holds max bytes or more. */
int statefile_read(const char *path, size_t max, char **out, size_t *len, struct err *e);

#endif
