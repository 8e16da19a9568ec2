/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The per-battery controls' state file: the balancer's text (bal_controls_serialize /
 * bal_controls_parse) kept in a file written atomically (astrameter/statefile.h). */
#include <stdio.h>
#include <stdlib.h>

#include "astrameter/statefile.h"
#include "emulators/ct002_state.h"

int ct002_state_load(struct balancer *b, const char *path, struct err *e)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = statefile_read(path, BAL_CONTROLS_TEXT_MAX, &buf, &len, e);
	if (rc != 0)
		return rc > 0 ? 0 : -1; /* 1: no file yet */
	rc = bal_controls_parse(b, buf, len, e);
	if (rc < 0) {
		char msg[sizeof(e->msg)];
		snprintf(msg, sizeof(msg), "%s", e ? e->msg : "");
		err_set(e, "%s: %s", path, msg);
	}
	free(buf);
	return rc;
}

int ct002_state_save(const struct balancer *b, const char *path, struct err *e)
{
	char *buf = malloc(BAL_CONTROLS_TEXT_MAX);
	if (!buf)
		return err_set(e, "out of memory");
	long n = bal_controls_serialize(b, buf, BAL_CONTROLS_TEXT_MAX);
	int rc = n < 0 ? err_set(e, "controls do not fit the state file")
	               : statefile_write(path, buf, (size_t)n, e);
	free(buf);
	return rc;
}
