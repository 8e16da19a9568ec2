/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Atomic small-file writes and bounded whole-file reads (contract in astrameter/
 * statefile.h). The write goes to path.tmp, is fsync'd before the rename makes it visible,
 * and the directory is fsync'd (best effort) so the rename itself is durable. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrameter/statefile.h"

int statefile_write(const char *path, const void *data, size_t len, struct err *e)
{
	const char *buf = data;
	char tmp[4096];
	int rc = -1, fd = -1;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return err_set(e, "state file path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_set(e, "%s: %s", tmp, strerror(errno));
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err_set(e, "%s: write: %s", tmp, strerror(errno));
			goto out_unlink;
		}
		off += (size_t)w;
	}
	/* Data on disk before the rename makes it visible. */
	if (fsync(fd) < 0) {
		err_set(e, "%s: fsync: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		err_set(e, "%s: close: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		err_set(e, "rename %s -> %s: %s", tmp, path, strerror(errno));
		goto out_unlink;
	}
	/* And the rename itself durable: fsync the directory (best effort). */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		(void)close(dfd);
	}
	return 0;
out_unlink:
	(void)unlink(tmp);
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

int statefile_read(const char *path, size_t max, char **out, size_t *len, struct err *e)
{
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return err_set(e, "%s: %s", path, strerror(errno));
	}
	char *buf = malloc(max + 1);
	if (!buf) {
		(void)close(fd);
		return err_set(e, "out of memory");
	}
	size_t n = 0;
	int rc = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, max - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_set(e, "%s: read: %s", path, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n >= max) {
			rc = err_set(e, "%s: file too large", path);
			break;
		}
	}
	(void)close(fd);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}
