/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SCRIPT powermeter: runs COMMAND through /bin/sh -c and reads one number per line. The
 * driver itself is pm_script_driver (powermeter.h); this header exposes its pure part. */
#ifndef ASTRAMETER_PM_SCRIPT_H
#define ASTRAMETER_PM_SCRIPT_H

#include <stddef.h>
#include "astrameter/err.h"
#include "astrameter/reading.h"

/* Largest stdout accepted from the command; more is an error. */
#define SCRIPT_OUTPUT_CAP 65536

/* Parses a command's stdout: every line that is not blank is one value (Python float():
 * blanks around, "1e3", "1_000"); blank lines are skipped; line ends are \n, \r\n or \r.
 * 0, or -1 with e = "line N is not a number: '...'" / "no output" / "more than 8
 * values" / "value out of range". out->at is left 0. */
int pm_script_parse_output(const char *buf, size_t len, struct pm_reading *out, struct err *e);

#endif
