/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSONPath compiler (see jsonpath.h for the dialect): an expression becomes a flat array
 * of navigation steps (fields, wildcards, indexes, slices, filters, `..`) plus an optional
 * tail of string extensions (sub, split, str), all allocated here and freed by
 * jsonpath_free(). The lexer is jsonpath_lex.c, evaluation jsonpath_eval.c. */
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

static void jp_step_free(struct jp_step *st)
{
	for (size_t i = 0; i < st->n_names; i++)
		free(st->names[i]);
	for (size_t c = 0; c < st->n_conds; c++) {
		for (size_t i = 0; i < st->conds[c].n_names; i++)
			free(st->conds[c].names[i]);
		free(st->conds[c].str);
	}
}

void jsonpath_free(struct jsonpath *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		jp_step_free(&p->steps[i]);
	for (size_t i = 0; i < p->nx; i++) {
		if (p->x[i].re_ok)
			regfree(&p->x[i].re);
		free(p->x[i].repl);
	}
	free(p->steps);
	free(p->x);
	free(p->text);
	free(p);
}

const char *jsonpath_text(const struct jsonpath *p)
{
	return p->text;
}

static struct jp_step *jp_new_step(struct jsonpath *p, struct jp_parser *ps, enum jp_kind k,
                                   bool descend)
{
	if (p->nx > 0) {
		jp_fail(ps, "only extensions may follow `sub`, `split` or `str`");
		return NULL;
	}
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 8;
		struct jp_step *ns = realloc(p->steps, nc * sizeof(*ns));
		if (!ns) {
			jp_fail(ps, "out of memory");
			return NULL;
		}
		p->steps = ns;
		p->cap = nc;
	}
	struct jp_step *st = &p->steps[p->n++];
	memset(st, 0, sizeof(*st));
	st->kind = k;
	st->descend = descend;
	return st;
}

/* Reads a quoted string ('..' or "..", backslash escapes the next byte) into a new
 * allocation. */
/* --- extensions ------------------------------------------------------------------------ */

static struct jp_xform *jp_new_xform(struct jsonpath *p, struct jp_parser *ps)
{
	if (p->nx == p->capx) {
		size_t nc = p->capx ? p->capx * 2 : 4;
		struct jp_xform *nx = realloc(p->x, nc * sizeof(*nx));
		if (!nx) {
			jp_fail(ps, "out of memory");
			return NULL;
		}
		p->x = nx;
		p->capx = nc;
	}
	struct jp_xform *x = &p->x[p->nx++];
	memset(x, 0, sizeof(*x));
	return x;
}

static void jp_trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* Parses the text between backticks (body, n bytes). */
static int jp_extension(struct jsonpath *p, struct jp_parser *ps, const char *body, size_t n)
{
	jp_trim(&body, &n);
	if (n == 4 && memcmp(body, "this", 4) == 0)
		return jp_new_step(p, ps, JP_THIS, false) ? 0 : -1;
	if (n == 5 && memcmp(body, "str()", 5) == 0) {
		struct jp_xform *x = jp_new_xform(p, ps);
		if (!x)
			return -1;
		x->kind = JP_X_STR;
		return 0;
	}
	if (n > 6 && memcmp(body, "split(", 6) == 0 && body[n - 1] == ')') {
		/* split(c, segment, maxsplit): c is exactly one character, maybe ' ' or ','. */
		struct jp_xform *x = jp_new_xform(p, ps);
		if (!x)
			return -1;
		x->kind = JP_X_SPLIT;
		if (n < 8 || body[7] != ',')
			return jp_fail(ps, "split() needs (char, segment, maxsplit)");
		x->ch = body[6];
		char args[64];
		size_t an = n - 9; /* after "split(c," up to before ')' */
		if (an >= sizeof(args))
			return jp_fail(ps, "split() arguments too long");
		memcpy(args, body + 8, an);
		args[an] = '\0';
		char *end;
		errno = 0;
		x->segment = strtol(args, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (end == args || *end != ',' || errno)
			return jp_fail(ps, "split() segment must be an integer");
		char *m = end + 1;
		x->maxsplit = strtol(m, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (end == m || *end != '\0' || errno || x->maxsplit < -1)
			return jp_fail(ps, "split() maxsplit must be an integer >= -1");
		return 0;
	}
	if (n > 5 && memcmp(body, "sub(/", 5) == 0 && body[n - 1] == ')') {
		/* sub(/regex/, repl): the regex runs to the LAST "/," (as jsonpath-ng's greedy
		 * match does), so '/' may appear inside it. */
		const char *r = body + 5;
		const char *last = NULL;
		for (const char *q = r; q + 1 < body + n; q++)
			if (q[0] == '/' && q[1] == ',')
				last = q;
		if (!last)
			return jp_fail(ps, "sub() needs (/regex/, replacement)");
		const char *rep = last + 2;
		size_t rn = (size_t)(body + n - 1 - rep);
		jp_trim(&rep, &rn);
		size_t ren = (size_t)(last - r);
		const char *re = r;
		jp_trim(&re, &ren);
		struct jp_xform *x = jp_new_xform(p, ps);
		if (!x)
			return -1;
		x->kind = JP_X_SUB;
		x->repl = jp_strndup(rep, rn);
		if (!x->repl)
			return jp_fail(ps, "out of memory");
		char posix[1024];
		if (!jp_rx_translate(re, ren, posix, sizeof(posix)))
			return jp_fail(ps, "sub() regex uses syntax without a POSIX equivalent");
		if (regcomp(&x->re, posix, REG_EXTENDED) != 0)
			return jp_fail(ps, "sub() regex does not compile");
		x->re_ok = true;
		return 0;
	}
	return jp_fail(ps, "unsupported extension (have sub, split, str, this)");
}

/* --- filters --------------------------------------------------------------------------- */

static int jp_cond(struct jp_parser *ps, struct jp_cond *c)
{
	jp_skip_ws(ps);
	if (jp_peek(ps) == '@')
		ps->pos++;
	for (;;) {
		int ch = jp_peek(ps);
		char *name = NULL;
		if (ch == '.') {
			ps->pos++;
			ch = jp_peek(ps);
			if (ch == '\'' || ch == '"')
				name = jp_quoted(ps);
			else
				name = jp_ident(ps);
		} else if (ch == '[') {
			ps->pos++;
			jp_skip_ws(ps);
			ch = jp_peek(ps);
			if (ch != '\'' && ch != '"')
				return jp_fail(ps, "filter paths take only quoted names in []");
			name = jp_quoted(ps);
			jp_skip_ws(ps);
			if (name && jp_peek(ps) != ']') {
				free(name);
				return jp_fail(ps, "expected ']'");
			}
			ps->pos++;
		} else if (c->n_names == 0 && ch >= 0 && jp_ident_char(ch)) {
			name = jp_ident(ps);
		} else {
			break;
		}
		if (!name)
			return -1;
		if (c->n_names == JP_MAX_NAMES) {
			free(name);
			return jp_fail(ps, "filter path too deep");
		}
		c->names[c->n_names++] = name;
	}
	if (c->n_names == 0)
		return jp_fail(ps, "filter needs a field (@.name)");
	jp_skip_ws(ps);
	static const struct {
		const char *t;
		enum jp_op op;
	} ops[] = {{"==", JP_OP_EQ}, {"!=", JP_OP_NE}, {"<=", JP_OP_LE}, {">=", JP_OP_GE},
	           {"=", JP_OP_EQ},  {"<", JP_OP_LT},  {">", JP_OP_GT}};
	c->op = JP_OP_EXISTS;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t tl = strlen(ops[i].t);
		if (ps->pos + tl <= ps->len && memcmp(ps->s + ps->pos, ops[i].t, tl) == 0) {
			c->op = ops[i].op;
			ps->pos += tl;
			break;
		}
	}
	if (c->op == JP_OP_EXISTS)
		return 0;
	jp_skip_ws(ps);
	int ch = jp_peek(ps);
	if (ch == '\'' || ch == '"') {
		c->lit = JP_LIT_STR;
		c->str = jp_quoted(ps);
		return c->str ? 0 : -1;
	}
	static const struct {
		const char *t;
		enum jp_lit lit;
		bool b;
	} words[] = {{"true", JP_LIT_BOOL, true},   {"True", JP_LIT_BOOL, true},
	             {"false", JP_LIT_BOOL, false}, {"False", JP_LIT_BOOL, false},
	             {"null", JP_LIT_NULL, false},  {"None", JP_LIT_NULL, false}};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t tl = strlen(words[i].t);
		if (ps->pos + tl <= ps->len && memcmp(ps->s + ps->pos, words[i].t, tl) == 0 &&
		    !jp_ident_char(ps->pos + tl < ps->len ? (unsigned char)ps->s[ps->pos + tl]
		                                          : ' ')) {
			c->lit = words[i].lit;
			c->b = words[i].b;
			ps->pos += tl;
			return 0;
		}
	}
	size_t start = ps->pos;
	while (ps->pos < ps->len && strchr("+-.0123456789eE", ps->s[ps->pos]))
		ps->pos++;
	if (pynum_float_finite(ps->s + start, ps->pos - start, &c->num) != 0) {
		ps->pos = start;
		return jp_fail(ps, "filter value must be a number, a quoted string, true, false "
		                   "or null");
	}
	c->lit = JP_LIT_NUM;
	return 0;
}

static int jp_filter(struct jp_parser *ps, struct jp_step *st)
{
	/* after "[?" */
	jp_skip_ws(ps);
	bool paren = jp_peek(ps) == '(';
	if (paren)
		ps->pos++;
	for (;;) {
		if (st->n_conds == JP_MAX_CONDS)
			return jp_fail(ps, "too many filter conditions");
		if (jp_cond(ps, &st->conds[st->n_conds++]) != 0)
			return -1;
		jp_skip_ws(ps);
		if (jp_peek(ps) == '&') {
			ps->pos++;
			if (jp_peek(ps) == '&')
				ps->pos++;
			continue;
		}
		break;
	}
	if (paren) {
		if (jp_peek(ps) != ')')
			return jp_fail(ps, "expected ')' closing the filter");
		ps->pos++;
		jp_skip_ws(ps);
	}
	if (jp_peek(ps) != ']')
		return jp_fail(ps, "expected ']' closing the filter");
	ps->pos++;
	return 0;
}

/* --- brackets and members -------------------------------------------------------------- */

static int jp_bracket(struct jsonpath *p, struct jp_parser *ps, bool descend)
{
	/* after '[' */
	jp_skip_ws(ps);
	int c = jp_peek(ps);
	if (c == '*') {
		ps->pos++;
		jp_skip_ws(ps);
		if (jp_peek(ps) != ']')
			return jp_fail(ps, "expected ']'");
		ps->pos++;
		return jp_new_step(p, ps, JP_WILD, descend) ? 0 : -1;
	}
	if (c == '?') {
		ps->pos++;
		struct jp_step *st = jp_new_step(p, ps, JP_FILTER, descend);
		return st ? jp_filter(ps, st) : -1;
	}
	if (c == '\'' || c == '"') {
		struct jp_step *st = jp_new_step(p, ps, JP_FIELD, descend);
		if (!st)
			return -1;
		for (;;) {
			jp_skip_ws(ps);
			c = jp_peek(ps);
			if (c != '\'' && c != '"')
				return jp_fail(ps, "expected a quoted name");
			if (st->n_names == JP_MAX_NAMES)
				return jp_fail(ps, "too many names in []");
			char *name = jp_quoted(ps);
			if (!name)
				return -1;
			st->names[st->n_names++] = name;
			jp_skip_ws(ps);
			if (jp_peek(ps) == ',') {
				ps->pos++;
				continue;
			}
			if (jp_peek(ps) != ']')
				return jp_fail(ps, "expected ']'");
			ps->pos++;
			return 0;
		}
	}
	/* [N], [-N], [a:b], [:b], [a:], [:] */
	long a = 0, b = 0;
	bool has_a = false, has_b = false;
	if (c != ':') {
		if (jp_long(ps, &a) != 0)
			return -1;
		has_a = true;
		jp_skip_ws(ps);
	}
	if (jp_peek(ps) == ':') {
		ps->pos++;
		jp_skip_ws(ps);
		if (jp_peek(ps) != ']') {
			if (jp_long(ps, &b) != 0)
				return -1;
			has_b = true;
			jp_skip_ws(ps);
		}
		if (jp_peek(ps) != ']')
			return jp_fail(ps, "expected ']' (slice steps are not supported)");
		ps->pos++;
		struct jp_step *st = jp_new_step(p, ps, JP_SLICE, descend);
		if (!st)
			return -1;
		st->start = a;
		st->end = b;
		st->has_start = has_a;
		st->has_end = has_b;
		return 0;
	}
	if (jp_peek(ps) != ']')
		return jp_fail(ps, "expected ']'");
	ps->pos++;
	struct jp_step *st = jp_new_step(p, ps, JP_INDEX, descend);
	if (!st)
		return -1;
	st->index = a;
	return 0;
}

/* A member after '.' or '..' (or at the start when '$' is omitted). */
static int jp_member(struct jsonpath *p, struct jp_parser *ps, bool descend)
{
	int c = jp_peek(ps);
	if (c == '*') {
		ps->pos++;
		return jp_new_step(p, ps, JP_WILD, descend) ? 0 : -1;
	}
	if (c == '[' && descend) {
		ps->pos++;
		return jp_bracket(p, ps, true);
	}
	if (c == '`') {
		if (descend)
			return jp_fail(ps, "an extension cannot follow '..'");
		size_t start = ++ps->pos;
		while (ps->pos < ps->len && ps->s[ps->pos] != '`')
			ps->pos++;
		if (ps->pos >= ps->len)
			return jp_fail(ps, "unterminated `extension`");
		size_t end = ps->pos++;
		return jp_extension(p, ps, ps->s + start, end - start);
	}
	char *name = (c == '\'' || c == '"') ? jp_quoted(ps) : jp_ident(ps);
	if (!name)
		return -1;
	struct jp_step *st = jp_new_step(p, ps, JP_FIELD, descend);
	if (!st) {
		free(name);
		return -1;
	}
	st->names[0] = name;
	st->n_names = 1;
	return 0;
}

struct jsonpath *jsonpath_compile(const char *expr, struct err *e)
{
	size_t len = strlen(expr);
	struct jp_parser ps = {expr, 0, len, expr, e};
	if (len > JSONPATH_MAX_LEN) {
		err_set(e, "JSON path too long (%zu bytes, max %d)", len, JSONPATH_MAX_LEN);
		return NULL;
	}
	struct jsonpath *p = calloc(1, sizeof(*p));
	if (!p || !(p->text = jp_strndup(expr, len))) {
		free(p);
		err_set(e, "out of memory");
		return NULL;
	}
	jp_skip_ws(&ps);
	int c = jp_peek(&ps);
	if (c < 0) {
		jp_fail(&ps, "empty expression");
		goto fail;
	}
	if (c == '$') {
		ps.pos++;
	} else if (c != '.' && c != '[') {
		/* "a.b" without '$' starts with a member, as jsonpath-ng allows. */
		if (c == '@' &&
		    (ps.pos + 1 == len || ps.s[ps.pos + 1] == '.' || ps.s[ps.pos + 1] == '['))
			ps.pos++;
		else if (jp_member(p, &ps, false) != 0)
			goto fail;
	}
	for (;;) {
		jp_skip_ws(&ps);
		c = jp_peek(&ps);
		if (c < 0)
			break;
		int rc;
		if (c == '.') {
			ps.pos++;
			bool desc = jp_peek(&ps) == '.';
			if (desc)
				ps.pos++;
			rc = jp_member(p, &ps, desc);
		} else if (c == '[') {
			ps.pos++;
			rc = jp_bracket(p, &ps, false);
		} else {
			rc = jp_fail(&ps, "unexpected character");
		}
		if (rc != 0)
			goto fail;
	}
	return p;
fail:
	jsonpath_free(p);
	return NULL;
}

int jsonpath_compile_list(const char *list, struct jsonpath **out, size_t cap, size_t *n,
                          struct err *e)
{
	*n = 0;
	const char *s = list;
	while (*s) {
		const char *start = s;
		int depth = 0;
		char quote = 0;
		for (; *s; s++) {
			if (quote) {
				if (*s == '\\' && quote != '`' && s[1])
					s++;
				else if (*s == quote)
					quote = 0;
			} else if (*s == '\'' || *s == '"' || *s == '`') {
				quote = *s;
			} else if (*s == '[' || *s == '(') {
				depth++;
			} else if ((*s == ']' || *s == ')') && depth > 0) {
				depth--;
			} else if (*s == ',' && depth == 0) {
				break;
			}
		}
		const char *item = start;
		size_t il = (size_t)(s - start);
		if (*s == ',')
			s++;
		jp_trim(&item, &il);
		if (il == 0)
			continue;
		if (*n == cap) {
			err_set(e, "too many JSON paths (max %zu)", cap);
			goto fail;
		}
		char *copy = jp_strndup(item, il);
		if (!copy) {
			err_set(e, "out of memory");
			goto fail;
		}
		out[*n] = jsonpath_compile(copy, e);
		free(copy);
		if (!out[*n])
			goto fail;
		(*n)++;
	}
	if (*n == 0) {
		err_set(e, "no JSON path given");
		return -1;
	}
	return 0;
fail:
	for (size_t i = 0; i < *n; i++)
		jsonpath_free(out[i]);
	*n = 0;
	return -1;
}
