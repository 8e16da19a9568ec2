/* SPDX-License-Identifier: GPL-3.0-or-later */
/* struct err: the error message carried across module boundaries. */
#include <stdarg.h>
#include <stdio.h>

#include "astrameter/err.h"

int err_set(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}
