/* SPDX-License-Identifier: GPL-3.0-or-later */
/* config.ini loading (contract in astrameter/config.h; the store is config.c, the typed
 * getters config_get.c).
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

#include "config/cfg_int.h"

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
	while (s < end && txt_is_blank((unsigned char)*s))
		s++;
	while (end > s && txt_is_blank((unsigned char)end[-1]))
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
		if (!cfg_section_append(c->cfg, s + 1, nlen, c->line))
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
	while (ne > s && txt_is_blank((unsigned char)ne[-1]))
		ne--;
	while (v < end && txt_is_blank((unsigned char)*v))
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
	char *k = cfg_dup_range(c->name, c->name_len);
	char *v = cfg_dup_range(c->value, c->value_len);
	if (!k || !v) {
		free(k);
		free(v);
		parse_fail(c, "out of memory");
		return 0;
	}
	for (char *p = k; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	struct cfg_kv *kv = cfg_kv_find(s, k);
	if (kv) {
		char ukey[128];
		cfg_upper_key(kv->key, ukey, sizeof(ukey));
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
	if (!cfg_kv_append(s, k, v, c->line)) {
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
