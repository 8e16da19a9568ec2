/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Logging to stderr, one line per message: "YYYY-MM-DD HH:MM:SS LEVEL component: text".
 * Plus complain/release (after collectd): a failing source logs once, then at growing
 * intervals while it keeps failing (or keeps failing again soon after recovering), and once
 * more when it recovers. */
#ifndef ASTRAMETER_LOG_H
#define ASTRAMETER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/ev.h"

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR, LOG_LVL_CRIT };

/* Parses critical/error/warn/warning/info/debug (case-insensitive). 0 on success, -1 if
 * unknown (then *out is left untouched). */
int log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
bool log_enabled(enum log_level lvl);

void log_msg(enum log_level lvl, const char *comp, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define log_debug(comp, ...)                                       \
	do {                                                       \
		if (log_enabled(LOG_LVL_DEBUG))                    \
			log_msg(LOG_LVL_DEBUG, comp, __VA_ARGS__); \
	} while (0)
#define log_info(comp, ...)  log_msg(LOG_LVL_INFO, comp, __VA_ARGS__)
#define log_warnx(comp, ...) log_msg(LOG_LVL_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) log_msg(LOG_LVL_ERROR, comp, __VA_ARGS__)

/* Copies len bytes of src into dst (cap bytes, NUL-terminated when cap > 0) so that the text
 * is safe for a log line whatever a peer put in it: CR and LF become a space, every other
 * byte below 0x20, 0x7f and every byte that is not part of a valid UTF-8 sequence become
 * "\xNN". An escape is never cut in half when dst is full. Returns the length written.
 * log_msg() runs every line through it, so callers may log peer-supplied text as is. */
size_t log_sanitize(char *dst, size_t cap, const char *src, size_t len);

/* Rate-limited complaint state; zero-initialise. */
struct log_complain {
	ev_ms next;      /* earliest time of the next complaint line */
	ev_ms interval;  /* current back-off */
	unsigned missed; /* complaints suppressed since the last one logged */
	bool failing;    /* between a complaint and the release */
	bool announced;  /* this failure was logged (so its recovery is too) */
};

/* Logs at WARN if the back-off allows (first failure at once, then 30 s, 60 s, ... up to
 * 1 h); otherwise counts it. A source that fails again soon after a release (flapping:
 * before a whole back-off period has passed since the next line was due) stays under its
 * back-off, so a meter that fails every other poll logs a pair of lines per back-off
 * period, not per poll; one quiet for longer starts afresh. */
void log_complain(struct log_complain *c, ev_ms now, const char *comp, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Ends a failure. Logs one INFO recovery line if the failure was logged, and returns
 * whether it did; a failure that stayed under the back-off recovers silently. */
bool log_release(struct log_complain *c, const char *comp, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
