/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Error reporting across module boundaries: functions return 0/-1 and, on -1, leave a
 * human-readable message in a caller-provided struct err. The layer that decides what to
 * do with the failure logs it, once. */
#ifndef ASTRAMETER_ERR_H
#define ASTRAMETER_ERR_H

struct err {
	char msg[256];
};

/* Formats msg into e (truncating). e may be NULL. Always returns -1 so callers can write
 * `return err_set(e, "...")`. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
