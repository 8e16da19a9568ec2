/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Typed getters over the loaded config (contract in astrameter/config.h): strings,
 * booleans, Python int()/float() numbers with ranges, number lists. Every error names
 * section, key and value, with secrets and URL credentials redacted. A getter marks the key
 * used, so the schema can report the keys nothing read. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "astrameter/cfg_schema.h"
#include "astrameter/config.h"
#include "astrameter/log.h"
#include "astrameter/pynum.h"
#include "astrameter/text.h"

#include "config/cfg_int.h"

/* Writes a value for a message: secrets become <redacted>, credentials in a URL lose
 * their user-info, control characters are escaped (multi-line values) and long values
 * are cut so the message keeps its shape. */
static void show_value(const char *key, const char *value, char *buf, size_t n)
{
	if (n == 0)
		return;
	if (cfg_key_is_secret(key)) {
		snprintf(buf, n, "<redacted>");
		return;
	}
	const char *skip_from = NULL, *skip_to = NULL;
	const char *scheme = strstr(value, "://");
	if (scheme) {
		const char *host = scheme + 3;
		const char *at = NULL;
		for (const char *p = host; *p && *p != '/' && *p != '?' && *p != '#'; p++) {
			if (*p == '@')
				at = p;
		}
		if (at) {
			skip_from = host;
			skip_to = at;
		}
	}
	const size_t limit = 60;
	size_t o = 0, shown = 0;
	for (const char *p = value; *p && o + 12 < n; p++) {
		if (p == skip_from) {
			o += (size_t)snprintf(buf + o, n - o, "<redacted>");
			p = skip_to - 1;
			continue;
		}
		if (shown++ >= limit) {
			o += (size_t)snprintf(buf + o, n - o, "...");
			break;
		}
		unsigned char ch = (unsigned char)*p;
		if (ch == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (ch < 0x20 || ch == 0x7f) {
			buf[o++] = '?';
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o] = '\0';
}

/* "[SEC] KEY: <why>" with the value appended by the caller's format. */
static int value_err(struct err *e, const struct cfg_section *s, const char *key, const char *value,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int value_err(struct err *e, const struct cfg_section *s, const char *key, const char *value,
                     const char *fmt, ...)
{
	char ukey[128], why[96], shown[96];
	cfg_upper_key(key, ukey, sizeof(ukey));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	show_value(key, value, shown, sizeof(shown));
	return err_set(e, "[%s] %s: %s '%s'", s->name, ukey, why, shown);
}

/* ---- getters ---- */

const char *cfg_get(struct cfg_section *s, const char *key)
{
	struct cfg_kv *kv = cfg_kv_find(s, key);
	if (!kv)
		return NULL;
	kv->used = true;
	return kv->value;
}

bool cfg_has(struct cfg_section *s, const char *key)
{
	return cfg_kv_find(s, key) != NULL;
}

int cfg_get_str(struct cfg_section *s, const char *key, const char *def, const char **out,
                struct err *e)
{
	(void)e;
	const char *v = cfg_get(s, key);
	*out = v ? v : def;
	return 0;
}

/* Copies s without surrounding blanks into buf; false if it does not fit. */
static bool trim_into(const char *s, char *buf, size_t n)
{
	while (txt_is_blank((unsigned char)*s))
		s++;
	size_t len = strlen(s);
	while (len > 0 && txt_is_blank((unsigned char)s[len - 1]))
		len--;
	if (len >= n)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return true;
}

int cfg_get_bool(struct cfg_section *s, const char *key, bool def, bool *out, struct err *e)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};
	const char *v = cfg_get(s, key);
	if (!v) {
		*out = def;
		return 0;
	}
	char t[8];
	if (trim_into(v, t, sizeof(t))) {
		for (size_t i = 0; i < 4; i++) {
			if (strcasecmp(t, yes[i]) == 0) {
				*out = true;
				return 0;
			}
			if (strcasecmp(t, no[i]) == 0) {
				*out = false;
				return 0;
			}
		}
	}
	return value_err(e, s, key, v, "invalid boolean (use true/false, yes/no, on/off, 1/0)");
}

static int range_err_long(struct err *e, struct cfg_section *s, const char *key, const char *v,
                          long min, long max)
{
	if (min == LONG_MIN && max == LONG_MAX)
		return value_err(e, s, key, v, "integer out of range");
	if (min == LONG_MIN)
		return value_err(e, s, key, v, "must be at most %ld, got", max);
	if (max == LONG_MAX)
		return value_err(e, s, key, v, "must be at least %ld, got", min);
	return value_err(e, s, key, v, "must be between %ld and %ld, got", min, max);
}

int cfg_get_int(struct cfg_section *s, const char *key, long def, long min, long max, long *out,
                struct err *e)
{
	const char *v = cfg_get(s, key);
	if (!v) {
		*out = def;
		return 0;
	}
	long x = 0;
	int rc = pynum_int(v, strlen(v), &x);
	if (rc == PYNUM_SYNTAX)
		return value_err(e, s, key, v, "invalid integer");
	if (rc == PYNUM_RANGE || x < min || x > max)
		return range_err_long(e, s, key, v, min, max);
	*out = x;
	return 0;
}

static int range_err_double(struct err *e, struct cfg_section *s, const char *key, const char *v,
                            double min, double max)
{
	if (min <= -DBL_MAX)
		return value_err(e, s, key, v, "must be at most %g, got", max);
	if (max >= DBL_MAX)
		return value_err(e, s, key, v, "must be at least %g, got", min);
	return value_err(e, s, key, v, "must be between %g and %g, got", min, max);
}

int cfg_get_double(struct cfg_section *s, const char *key, double def, double min, double max,
                   double *out, struct err *e)
{
	const char *v = cfg_get(s, key);
	if (!v) {
		*out = def;
		return 0;
	}
	double d = 0;
	if (pynum_float_finite(v, strlen(v), &d) != 0)
		return value_err(e, s, key, v, "invalid number");
	if (!(d >= min && d <= max))
		return range_err_double(e, s, key, v, min, max);
	*out = d;
	return 0;
}

int cfg_get_double_list(struct cfg_section *s, const char *key, double *out, size_t *n,
                        struct err *e)
{
	size_t cap = *n;
	*n = 0;
	const char *v = cfg_get(s, key);
	if (!v)
		return 0;
	size_t count = 0;
	struct txt_split it;
	struct txt_item item;
	txt_split_init(&it, v, strlen(v), ',');
	while (txt_split_next(&it, &item)) {
		if (item.len == 0) {
			if (item.last && count == 0)
				return value_err(e, s, key, v, "empty list");
			return value_err(e, s, key, v, "empty item in list");
		}
		double d = 0;
		if (pynum_float_finite(item.s, item.len, &d) != 0) {
			char shown[40];
			size_t len = item.len < sizeof(shown) ? item.len : sizeof(shown) - 1;
			memcpy(shown, item.s, len);
			shown[len] = '\0';
			if (cfg_key_is_secret(key))
				snprintf(shown, sizeof(shown), "<redacted>");
			return value_err(e, s, key, v, "invalid number '%s' in list", shown);
		}
		if (count == cap)
			return value_err(e, s, key, v, "more than %zu values in list", cap);
		out[count++] = d;
	}
	*n = count;
	return 0;
}

struct cfg_section *cfg_pick(struct cfg_section *sec, struct cfg_section *general, const char *key)
{
	return sec && cfg_has(sec, key) ? sec : general;
}

void cfg_warn_unused(const struct cfg_section *s, const char *const *later_keys)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		const struct cfg_kv *kv = &s->kv[i];
		if (kv->used)
			continue;
		bool later = false;
		for (size_t j = 0; later_keys && later_keys[j]; j++) {
			if (strcasecmp(later_keys[j], kv->key) == 0)
				later = true;
		}
		char ukey[128];
		cfg_upper_key(kv->key, ukey, sizeof(ukey));
		log_warnx("config", "[%s] %s: %s", s->name, ukey,
		          later ? "not supported yet" : "unknown key, ignored");
	}
}
