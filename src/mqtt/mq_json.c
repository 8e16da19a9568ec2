/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The fixed-buffer JSON writer of the mqtt module (mq_json.h). Strings are escaped as JSON
 * requires (quote, backslash, control bytes as \u00XX); bytes >= 0x80 pass through, so
 * UTF-8 text stays readable. Numbers use the shortest text that reads back exactly. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "astrameter/bal_fields.h"
#include "mqtt/mq_json.h"

void mqj_init(struct mqj *j, char *buf, size_t cap)
{
	memset(j, 0, sizeof(*j));
	j->buf = buf;
	j->cap = cap;
	j->first[0] = true;
	if (!buf || cap == 0)
		j->err = true;
	else
		buf[0] = '\0';
}

static void raw(struct mqj *j, const char *s, size_t n)
{
	if (j->err)
		return;
	if (j->cap - j->len <= n) {
		j->err = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void rawc(struct mqj *j, char c)
{
	raw(j, &c, 1);
}

static void escaped(struct mqj *j, const char *s)
{
	rawc(j, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			char t[2] = {'\\', (char)*p};
			raw(j, t, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			char t[8];
			snprintf(t, sizeof(t), "\\u%04x", *p);
			raw(j, t, 6);
		} else {
			rawc(j, (char)*p);
		}
	}
	rawc(j, '"');
}

/* Comma and key before a value. */
static void lead(struct mqj *j, const char *key)
{
	if (!j->first[j->depth])
		rawc(j, ',');
	j->first[j->depth] = false;
	if (key) {
		escaped(j, key);
		rawc(j, ':');
	}
}

static void open_(struct mqj *j, const char *key, char c)
{
	lead(j, key);
	rawc(j, c);
	if (j->depth + 1 >= MQJ_DEPTH) {
		j->err = true;
		return;
	}
	j->first[++j->depth] = true;
	j->close[j->depth] = c == '{' ? '}' : ']';
}

void mqj_obj(struct mqj *j, const char *key)
{
	open_(j, key, '{');
}

void mqj_arr(struct mqj *j, const char *key)
{
	open_(j, key, '[');
}

void mqj_end(struct mqj *j)
{
	if (j->depth == 0) {
		j->err = true;
		return;
	}
	rawc(j, j->close[j->depth]);
	j->depth--;
}

void mqj_str(struct mqj *j, const char *key, const char *s)
{
	lead(j, key);
	if (s)
		escaped(j, s);
	else
		raw(j, "null", 4);
}

void mqj_strf(struct mqj *j, const char *key, const char *fmt, ...)
{
	char t[256];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(t, sizeof(t), fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(t)) {
		j->err = true;
		return;
	}
	mqj_str(j, key, t);
}

void mqj_num(struct mqj *j, const char *key, double d)
{
	lead(j, key);
	char t[40];
	int k = bal_fmt_double(d, t, sizeof(t));
	if (k < 0)
		raw(j, "null", 4);
	else
		raw(j, t, (size_t)k);
}

void mqj_opt(struct mqj *j, const char *key, bool set, double d)
{
	if (set)
		mqj_num(j, key, d);
	else
		mqj_null(j, key);
}

void mqj_bool(struct mqj *j, const char *key, bool b)
{
	lead(j, key);
	if (b)
		raw(j, "true", 4);
	else
		raw(j, "false", 5);
}

void mqj_null(struct mqj *j, const char *key)
{
	lead(j, key);
	raw(j, "null", 4);
}

int mqj_finish(struct mqj *j)
{
	if (j->err || j->depth != 0)
		return -1;
	return (int)j->len;
}
