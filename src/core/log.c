/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Logging to stderr, one line per message, and complain/release rate limiting.
 *
 * The level is the one piece of process-wide state outside struct app: it is set once
 * from the command line before anything runs, and every module reads it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "astrameter/log.h"

static enum log_level current_level = LOG_LVL_WARN;

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level lvl;
	} map[] = {{"debug", LOG_LVL_DEBUG},  {"info", LOG_LVL_INFO},   {"warn", LOG_LVL_WARN},
	           {"warning", LOG_LVL_WARN}, {"error", LOG_LVL_ERROR}, {"critical", LOG_LVL_CRIT}};
	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(s, map[i].name) == 0) {
			*out = map[i].lvl;
			return 0;
		}
	}
	return -1;
}

void log_set_level(enum log_level lvl)
{
	current_level = lvl;
}

enum log_level log_get_level(void)
{
	return current_level;
}

bool log_enabled(enum log_level lvl)
{
	return lvl >= current_level;
}

static void vlog(enum log_level lvl, const char *comp, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	int n = (int)strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, " %s %s: ", level_names[lvl],
	              comp ? comp : "astrameter");
	if (n < (int)sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One write per line so concurrent writers (the simulator in tests) do not interleave. */
	size_t len = strnlen(line, sizeof(line) - 2);
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}

void log_msg(enum log_level lvl, const char *comp, const char *fmt, ...)
{
	if (!log_enabled(lvl))
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(lvl, comp, fmt, ap);
	va_end(ap);
}

#define COMPLAIN_FIRST_MS 30000
#define COMPLAIN_MAX_MS   3600000

void log_complain(struct log_complain *c, ev_ms now, const char *comp, const char *fmt, ...)
{
	if (c->failing && now < c->next) {
		c->missed++;
		return;
	}
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->missed)
		log_msg(LOG_LVL_WARN, comp, "%s (%u more since last report)", msg, c->missed);
	else
		log_msg(LOG_LVL_WARN, comp, "%s", msg);
	c->interval = c->failing ? c->interval * 2 : COMPLAIN_FIRST_MS;
	if (c->interval > COMPLAIN_MAX_MS)
		c->interval = COMPLAIN_MAX_MS;
	c->next = now + c->interval;
	c->missed = 0;
	c->failing = true;
}

void log_release(struct log_complain *c, const char *comp, const char *fmt, ...)
{
	if (!c->failing)
		return;
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_INFO, comp, "%s", msg);
	*c = (struct log_complain){0};
}
