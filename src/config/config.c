/* SPDX-License-Identifier: GPL-3.0-or-later */
/* config.ini loading and typed getters (contract in astrameter/config.h).
 *
 * Debian's libinih does the key/value splitting; we feed it through our own line reader so
 * that every configparser rule real files depend on holds, whatever inih's defaults: the
 * reader counts physical lines (inih's handler gets no line number), classifies each line
 * before inih sees it (section header, key, continuation, comment, blank) and stops at the
 * first line configparser would refuse, so error messages name the line and say why. We
 * keep section names ourselves because inih truncates them to 49 characters, and we join
 * continuation lines with '\n' (blank lines inside a value kept, as configparser does). */
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

/* The longest physical line we accept. A Home Assistant long-lived token is ~200 bytes and
 * JWTs (Envoy) a few KB; 1 MiB leaves room for anything a person pastes. */
#define CFG_MAX_LINE (1 << 20)
/* Whole-file cap: a config file is a few KB; refuse to slurp a wrong path to a log. */
#define CFG_MAX_FILE (8 << 20)

enum line_kind { LK_BLANK, LK_COMMENT, LK_SECTION, LK_KEY, LK_CONT };

struct parse_ctx {
	struct cfg *cfg;
	struct err *e;
	const char *origin; /* file name, or NULL for a string */
	const char *pos;    /* next byte to hand to inih */
	int line;           /* physical line being handed out, 1-based */
	bool at_bol;        /* the next chunk starts a new physical line */
	enum line_kind kind;
	size_t cur_sec;    /* index + 1 of the current section, 0 before the first header */
	size_t cur_kv;     /* index + 1 of the key continuation lines extend, 0 if none */
	size_t key_indent; /* indentation of that key's line */
	unsigned blanks;   /* blank lines seen since the last line of the current value */
	/* The current line split by classify(): key name (LK_KEY) and value (LK_KEY, LK_CONT).
	 * We use these rather than inih's arguments because inih would treat an indented key
	 * under an equally indented key as a continuation, where configparser sees a key. */
	const char *name, *value;
	size_t name_len, value_len;
	bool failed;
};

static bool is_blank(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static void upper_key(const char *key, char *buf, size_t n)
{
	size_t i = 0;
	for (; key[i] && i + 1 < n; i++)
		buf[i] = (char)toupper((unsigned char)key[i]);
	buf[i] = '\0';
}

static char *dup_range(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *dup_lower(const char *s)
{
	size_t n = strlen(s);
	char *p = dup_range(s, n);
	if (p) {
		for (size_t i = 0; i < n; i++)
			p[i] = (char)tolower((unsigned char)p[i]);
	}
	return p;
}

static char *dup_trimmed(const char *s)
{
	while (is_blank((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && is_blank((unsigned char)s[n - 1]))
		n--;
	return dup_range(s, n);
}

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
	upper_key(key, ukey, sizeof(ukey));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	show_value(key, value, shown, sizeof(shown));
	return err_set(e, "[%s] %s: %s '%s'", s->name, ukey, why, shown);
}

/* ---- sections and keys ---- */

static struct cfg_kv *kv_find(const struct cfg_section *s, const char *key)
{
	if (!s || !key)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		if (strcasecmp(s->kv[i].key, key) == 0)
			return &s->kv[i];
	}
	return NULL;
}

static void section_free(struct cfg_section *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->kv[i].key);
		free(s->kv[i].value);
	}
	free(s->kv);
	free(s->name);
}

void cfg_free(struct cfg *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n; i++)
		section_free(&cfg->sec[i]);
	free(cfg->sec);
	memset(cfg, 0, sizeof(*cfg));
}

struct cfg_section *cfg_find(const struct cfg *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (size_t i = 0; i < cfg->n; i++) {
		if (strcmp(cfg->sec[i].name, name) == 0)
			return &cfg->sec[i];
	}
	return NULL;
}

static struct cfg_section *section_append(struct cfg *cfg, const char *name, size_t len, int line)
{
	if (cfg->n == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 8;
		struct cfg_section *p = realloc(cfg->sec, cap * sizeof(*p));
		if (!p)
			return NULL;
		cfg->sec = p;
		cfg->cap = cap;
	}
	struct cfg_section *s = &cfg->sec[cfg->n];
	memset(s, 0, sizeof(*s));
	s->name = dup_range(name, len);
	if (!s->name)
		return NULL;
	s->line = line;
	cfg->n++;
	return s;
}

struct cfg_section *cfg_add_section(struct cfg *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	struct cfg_section *s = cfg_find(cfg, name);
	return s ? s : section_append(cfg, name, strlen(name), 0);
}

/* Appends a key (no duplicate check). Takes ownership of key and value. */
static struct cfg_kv *kv_append(struct cfg_section *s, char *key, char *value, int line)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct cfg_kv *p = realloc(s->kv, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->kv = p;
		s->cap = cap;
	}
	struct cfg_kv *kv = &s->kv[s->n++];
	kv->key = key;
	kv->value = value;
	kv->line = line;
	kv->used = false;
	return kv;
}

int cfg_set(struct cfg_section *s, const char *key, const char *value)
{
	if (!s || !key || !value)
		return -1;
	char *v = dup_trimmed(value);
	if (!v)
		return -1;
	struct cfg_kv *kv = kv_find(s, key);
	if (kv) {
		free(kv->value);
		kv->value = v;
		kv->line = 0;
		return 0;
	}
	char *k = dup_lower(key);
	if (!k || !kv_append(s, k, v, 0)) {
		free(k);
		free(v);
		return -1;
	}
	return 0;
}

/* ---- parsing ---- */

static int parse_fail(struct parse_ctx *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int parse_fail(struct parse_ctx *c, const char *fmt, ...)
{
	char why[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->failed = true;
	if (c->origin)
		return err_set(c->e, "%s:%d: %s", c->origin, c->line, why);
	return err_set(c->e, "line %d: %s", c->line, why);
}

/* Decides what the physical line at c->pos is, exactly as inih will treat it (so that the
 * handler knows whether it is being called for a new key or a continuation), and refuses
 * the lines configparser refuses. */
static int classify(struct parse_ctx *c)
{
	const char *b = c->pos;
	const char *nl = strchr(b, '\n');
	size_t len = nl ? (size_t)(nl - b) : strlen(b);
	if (len + 3 > (size_t)CFG_MAX_LINE)
		return parse_fail(c, "line longer than %d bytes", CFG_MAX_LINE - 3);

	const char *s = b, *end = b + len;
	if (c->line == 1 && len >= 3 && (unsigned char)s[0] == 0xEF &&
	    (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
		s += 3;
	const char *text_start = s;
	while (s < end && is_blank((unsigned char)*s))
		s++;
	while (end > s && is_blank((unsigned char)end[-1]))
		end--;

	if (s == end) {
		c->kind = LK_BLANK;
		if (c->cur_kv)
			c->blanks++;
		return 0;
	}
	if (*s == '#' || *s == ';') {
		/* A comment inside a multi-line value neither ends it nor adds a line. */
		c->kind = LK_COMMENT;
		return 0;
	}
	size_t indent = (size_t)(s - text_start);
	if (c->cur_kv && indent > c->key_indent) {
		c->kind = LK_CONT;
		c->value = s;
		c->value_len = (size_t)(end - s);
		return 0;
	}
	if (*s == '[') {
		/* configparser's header regex is greedy: the name runs to the last ']'. */
		const char *close = NULL;
		for (const char *p = s + 1; p < end; p++) {
			if (*p == ']')
				close = p;
		}
		if (!close)
			return parse_fail(c, "section header without closing ']'");
		if (close == s + 1)
			return parse_fail(c, "empty section name");
		size_t nlen = (size_t)(close - (s + 1));
		for (size_t i = 0; i < c->cfg->n; i++) {
			const struct cfg_section *o = &c->cfg->sec[i];
			if (strlen(o->name) == nlen && memcmp(o->name, s + 1, nlen) == 0)
				return parse_fail(c,
				                  "section [%s] already defined on line %d (merge "
				                  "the two sections into one)",
				                  o->name, o->line);
		}
		if (memchr(s + 1, '\0', nlen))
			return parse_fail(c, "NUL byte in section name");
		if (!section_append(c->cfg, s + 1, nlen, c->line))
			return parse_fail(c, "out of memory");
		c->cur_sec = c->cfg->n;
		c->cur_kv = 0;
		c->blanks = 0;
		c->kind = LK_SECTION;
		return 0;
	}
	const char *delim = NULL;
	for (const char *p = s; p < end; p++) {
		if (*p == '=' || *p == ':') {
			delim = p;
			break;
		}
	}
	if (!delim)
		return parse_fail(c, "expected '[SECTION]', 'KEY = value' or a comment");
	if (delim == s)
		return parse_fail(c, "key name missing before '%c'", *delim);
	if (!c->cur_sec)
		return parse_fail(c, "key before the first [SECTION] header");
	const char *ne = delim, *v = delim + 1;
	while (ne > s && is_blank((unsigned char)ne[-1]))
		ne--;
	while (v < end && is_blank((unsigned char)*v))
		v++;
	c->kind = LK_KEY;
	c->name = s;
	c->name_len = (size_t)(ne - s);
	c->value = v;
	c->value_len = (size_t)(end - v);
	c->key_indent = indent;
	c->blanks = 0;
	return 0;
}

/* fgets-style reader over the in-memory text. inih may call it several times for one
 * physical line while it grows its buffer; only the first chunk of a line counts it. */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	if (c->failed || *c->pos == '\0' || num < 2)
		return NULL;
	if (c->at_bol) {
		c->line++;
		if (classify(c) != 0)
			return NULL;
	}
	size_t max = (size_t)num - 1, i = 0;
	while (i < max && c->pos[i] != '\0') {
		str[i] = c->pos[i];
		if (c->pos[i++] == '\n')
			break;
	}
	str[i] = '\0';
	c->at_bol = str[i - 1] == '\n';
	c->pos += i;
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	/* inih's section is truncated to 49 characters and its view of indented lines differs
	 * from configparser's; classify() already split the line, so use that. */
	(void)section;
	(void)name;
	(void)value;
	if (c->failed || !c->cur_sec)
		return 0;
	struct cfg_section *s = &c->cfg->sec[c->cur_sec - 1];
	if (c->kind == LK_CONT && c->cur_kv) {
		struct cfg_kv *kv = &s->kv[c->cur_kv - 1];
		size_t old = strlen(kv->value), add = c->value_len, nls = 1 + (size_t)c->blanks;
		/* configparser would start "KEY =" + indented lines with '\n'; values are kept
		 * trimmed (config.h), so the first line of text starts the value. */
		if (old == 0)
			nls = 0;
		char *p = realloc(kv->value, old + nls + add + 1);
		if (!p) {
			parse_fail(c, "out of memory");
			return 0;
		}
		memset(p + old, '\n', nls);
		memcpy(p + old + nls, c->value, add);
		p[old + nls + add] = '\0';
		kv->value = p;
		c->blanks = 0;
		return 1;
	}
	if (c->kind != LK_KEY) {
		/* An indented [section] that inih reads as a continuation: already handled. */
		return 1;
	}
	char *k = dup_range(c->name, c->name_len);
	char *v = dup_range(c->value, c->value_len);
	if (!k || !v) {
		free(k);
		free(v);
		parse_fail(c, "out of memory");
		return 0;
	}
	for (char *p = k; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	struct cfg_kv *kv = kv_find(s, k);
	if (kv) {
		char ukey[128];
		upper_key(kv->key, ukey, sizeof(ukey));
		char where[300];
		if (c->origin)
			snprintf(where, sizeof(where), "%s:%d", c->origin, c->line);
		else
			snprintf(where, sizeof(where), "line %d", c->line);
		log_warnx("config",
		          "%s: [%s] %s: duplicate key (first set on line %d), the last value wins",
		          where, s->name, ukey, kv->line);
		free(k);
		free(kv->value);
		kv->value = v;
		kv->line = c->line;
		c->cur_kv = (size_t)(kv - s->kv) + 1;
		return 1;
	}
	if (!kv_append(s, k, v, c->line)) {
		free(k);
		free(v);
		parse_fail(c, "out of memory");
		return 0;
	}
	c->cur_kv = s->n;
	return 1;
}

static int load_text(struct cfg *cfg, const char *text, const char *origin, struct err *e)
{
	/* Debian's libinih exposes its compile-time options as globals; set them on every load
	 * so nothing else in the process can leave a surprising value behind. */
	ini_max_line = CFG_MAX_LINE;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_allow_inline_comments = false;
	ini_allow_multiline = true;
	ini_allow_bom = true;
	ini_allow_no_value = false;
	ini_stop_on_first_error = true;

	struct parse_ctx c = {.cfg = cfg, .e = e, .origin = origin, .pos = text, .at_bol = true};
	int rc = ini_parse_stream(reader, &c, handler, &c);
	if (c.failed) {
		cfg_free(cfg);
		return -1;
	}
	if (rc != 0) {
		cfg_free(cfg);
		if (rc == -2)
			return err_set(e, "%s: out of memory", origin ? origin : "config");
		c.line = rc > 0 ? rc : c.line;
		return parse_fail(&c, "syntax error");
	}
	return 0;
}

int cfg_load_string(struct cfg *cfg, const char *text, struct err *e)
{
	if (!cfg || !text)
		return err_set(e, "no configuration text");
	return load_text(cfg, text, NULL, e);
}

int cfg_load_file(struct cfg *cfg, const char *path, struct err *e)
{
	if (!cfg || !path)
		return err_set(e, "no configuration file");
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, "%s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			fclose(f);
			return err_set(e, "%s: out of memory", path);
		}
		if (n + 1 == cap) {
			if (cap >= CFG_MAX_FILE) {
				free(buf);
				fclose(f);
				return err_set(e, "%s: larger than %d bytes", path, CFG_MAX_FILE);
			}
			char *p = realloc(buf, cap * 2);
			if (!p)
				free(buf);
			buf = p;
			cap *= 2;
			continue;
		}
		size_t got = fread(buf + n, 1, cap - 1 - n, f);
		n += got;
		if (got == 0)
			break;
	}
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		free(buf);
		return err_set(e, "%s: read error", path);
	}
	buf[n] = '\0';
	const char *nul = memchr(buf, '\0', n);
	if (nul) {
		int line = 1;
		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		free(buf);
		return err_set(e, "%s:%d: NUL byte (is this a text file?)", path, line);
	}
	int rc = load_text(cfg, buf, path, e);
	free(buf);
	return rc;
}

/* ---- getters ---- */

const char *cfg_get(struct cfg_section *s, const char *key)
{
	struct cfg_kv *kv = kv_find(s, key);
	if (!kv)
		return NULL;
	kv->used = true;
	return kv->value;
}

bool cfg_has(struct cfg_section *s, const char *key)
{
	return kv_find(s, key) != NULL;
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
	while (is_blank((unsigned char)*s))
		s++;
	size_t len = strlen(s);
	while (len > 0 && is_blank((unsigned char)s[len - 1]))
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
		upper_key(kv->key, ukey, sizeof(ukey));
		log_warnx("config", "[%s] %s: %s", s->name, ukey,
		          later ? "not supported yet" : "unknown key, ignored");
	}
}
