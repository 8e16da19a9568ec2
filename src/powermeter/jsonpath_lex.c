/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSONPath lexer: the character-level reading of an expression (blanks, identifiers,
 * quoted names, integers) and the one error format every compile error uses. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/jsonpath.h"
#include "astrameter/pynum.h"
#include "powermeter/jsonpath_int.h"

int jp_fail(struct jp_parser *ps, const char *why)
{
	return err_set(ps->e, "JSON path '%s': %s at offset %zu", ps->expr, why, ps->pos);
}

void jp_skip_ws(struct jp_parser *ps)
{
	while (ps->pos < ps->len && isspace((unsigned char)ps->s[ps->pos]))
		ps->pos++;
}

int jp_peek(const struct jp_parser *ps)
{
	return ps->pos < ps->len ? (unsigned char)ps->s[ps->pos] : -1;
}

bool jp_ident_char(int c)
{
	return c >= 0x80 || isalnum(c) || c == '_' || c == '@' || c == '-' || c == '#' || c == '$';
}

char *jp_strndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

char *jp_quoted(struct jp_parser *ps)
{
	char q = ps->s[ps->pos++];
	char buf[JSONPATH_MAX_LEN + 1];
	size_t n = 0;
	while (ps->pos < ps->len && ps->s[ps->pos] != q) {
		char c = ps->s[ps->pos++];
		if (c == '\\' && ps->pos < ps->len)
			c = ps->s[ps->pos++];
		if (n < JSONPATH_MAX_LEN)
			buf[n++] = c;
	}
	if (ps->pos >= ps->len) {
		jp_fail(ps, "unterminated quoted name");
		return NULL;
	}
	ps->pos++;
	char *d = jp_strndup(buf, n);
	if (!d)
		jp_fail(ps, "out of memory");
	return d;
}

char *jp_ident(struct jp_parser *ps)
{
	size_t start = ps->pos;
	while (ps->pos < ps->len && jp_ident_char((unsigned char)ps->s[ps->pos]))
		ps->pos++;
	if (ps->pos == start) {
		jp_fail(ps, "expected a field name");
		return NULL;
	}
	char *d = jp_strndup(ps->s + start, ps->pos - start);
	if (!d)
		jp_fail(ps, "out of memory");
	return d;
}

int jp_long(struct jp_parser *ps, long *out)
{
	jp_skip_ws(ps);
	const char *start = ps->s + ps->pos;
	char *end;
	if (!(isdigit((unsigned char)*start) ||
	      (*start == '-' && isdigit((unsigned char)start[1]))))
		return jp_fail(ps, "expected an integer");
	errno = 0;
	long v = strtol(start, &end, 10);
	if (errno == ERANGE || (size_t)(end - ps->s) > ps->len)
		return jp_fail(ps, "integer out of range");
	ps->pos = (size_t)(end - ps->s);
	*out = v;
	return 0;
}

/* --- bounded string building (the regex translator, the sub extension) --- */

void jp_sb_putc(struct jp_sbuf *sb, char c)
{
	if (sb->n + 1 < sb->cap)
		sb->b[sb->n++] = c;
	else
		sb->over = true;
	sb->b[sb->n < sb->cap ? sb->n : sb->cap - 1] = '\0';
}

void jp_sb_puts(struct jp_sbuf *sb, const char *s)
{
	while (*s)
		jp_sb_putc(sb, *s++);
}

void jp_sb_putn(struct jp_sbuf *sb, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		jp_sb_putc(sb, s[i]);
}

/* Translates a bracket expression starting after '['; returns the index after ']'. Python
 * escapes inside brackets (\-, \], \\, \d, \s, \w) have no POSIX spelling, so literal ']'
 * goes first and '-' last, where POSIX reads them as themselves. */
