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

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one (overlong forms,
 * surrogates and code points above U+10FFFF are not valid). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t need;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	unsigned cp = c & (0x3fu >> (need - 1));
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

size_t log_sanitize(char *dst, size_t cap, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;
	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n = c >= 0x20 && c != 0x7f ? utf8_len(s + i, len - i) : 0;
		if (c == '\n' || c == '\r') {
			if (o + 1 >= cap)
				break;
			dst[o++] = ' ';
			i++;
		} else if (n == 0) {
			if (o + 4 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
			i++;
		} else {
			if (o + n >= cap)
				break;
			memcpy(dst + o, s + i, n);
			o += n;
			i += n;
		}
	}
	dst[o] = '\0';
	return o;
}

static void vlog(enum log_level lvl, const char *comp, const char *fmt, va_list ap)
{
	char line[1024], msg[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	int k = snprintf(line + n, sizeof(line) - n, " %s %s: ", level_names[lvl],
	                 comp ? comp : "astrameter");
	if (k > 0)
		n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t mlen = m < 0 ? 0 : (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1;
	/* Whatever a peer sent (battery ids, device types, JSON ids) may be in msg: one
	 * line per message, no control bytes, valid UTF-8. One byte is kept for '\n'. */
	n += log_sanitize(line + n, sizeof(line) - n - 1, msg, mlen);
	line[n++] = '\n';
	/* One write per line so concurrent writers (the simulator in tests) do not interleave. */
	fwrite(line, 1, n, stderr);
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
	if (!c->failing) {
		c->failing = true;
		/* Quiet for a whole back-off period after the last allowed line: a new episode,
		 * logged at once and backing off from the start. Sooner than that the source is
		 * flapping, and the back-off of its last episode still holds. */
		if (now >= c->next + c->interval) {
			c->interval = 0;
			c->next = 0;
		}
	}
	if (now < c->next) {
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
	c->interval = c->interval ? c->interval * 2 : COMPLAIN_FIRST_MS;
	if (c->interval > COMPLAIN_MAX_MS)
		c->interval = COMPLAIN_MAX_MS;
	c->next = now + c->interval;
	c->missed = 0;
	c->announced = true;
}

bool log_release(struct log_complain *c, const char *comp, const char *fmt, ...)
{
	if (!c->failing)
		return false;
	bool said = c->announced;
	c->failing = false;
	c->announced = false; /* next, interval and missed stay: see log_complain */
	if (!said)
		return false;
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_INFO, comp, "%s", msg);
	return true;
}
