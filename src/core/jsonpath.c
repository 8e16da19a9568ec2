/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSONPath compiler and evaluator (see jsonpath.h for the dialect). An expression becomes
 * a flat array of navigation steps plus an optional tail of string extensions (sub, split,
 * str). Evaluation is a depth-first walk that stops at the first node surviving every
 * step, which yields the same first match as jsonpath-ng's full match list: its results
 * are ordered left match by left match, and for `..` the node's own match comes before
 * its children's. Nothing is allocated while evaluating; string extensions work in a
 * fixed stack buffer. */
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

/* Strings produced by sub/split/str are bounded by this; meter values are short. */
#define JP_STRBUF    256
#define JP_MAX_NAMES 16
#define JP_MAX_CONDS 8

enum jp_kind { JP_FIELD, JP_WILD, JP_INDEX, JP_SLICE, JP_FILTER, JP_THIS };
enum jp_op { JP_OP_EXISTS, JP_OP_EQ, JP_OP_NE, JP_OP_LT, JP_OP_LE, JP_OP_GT, JP_OP_GE };
enum jp_lit { JP_LIT_NUM, JP_LIT_STR, JP_LIT_BOOL, JP_LIT_NULL };

struct jp_cond {
	char *names[JP_MAX_NAMES]; /* relative field path below @ */
	size_t n_names;
	enum jp_op op;
	enum jp_lit lit;
	double num;
	char *str;
	bool b;
};

struct jp_step {
	enum jp_kind kind;
	bool descend; /* reached through `..` */
	char *names[JP_MAX_NAMES];
	size_t n_names;
	long index;
	long start, end;
	bool has_start, has_end;
	struct jp_cond conds[JP_MAX_CONDS];
	size_t n_conds;
};

enum jp_xkind { JP_X_SUB, JP_X_SPLIT, JP_X_STR };

struct jp_xform {
	enum jp_xkind kind;
	regex_t re;
	bool re_ok;
	char *repl;
	char ch;
	long segment, maxsplit;
};

struct jsonpath {
	char *text;
	struct jp_step *steps;
	size_t n, cap;
	struct jp_xform *x;
	size_t nx, capx;
};

struct jp_parser {
	const char *s;
	size_t pos, len;
	const char *expr;
	struct err *e;
};

static int jp_fail(struct jp_parser *ps, const char *why)
{
	return err_set(ps->e, "JSON path '%s': %s at offset %zu", ps->expr, why, ps->pos);
}

static void jp_skip_ws(struct jp_parser *ps)
{
	while (ps->pos < ps->len && isspace((unsigned char)ps->s[ps->pos]))
		ps->pos++;
}

static int jp_peek(const struct jp_parser *ps)
{
	return ps->pos < ps->len ? (unsigned char)ps->s[ps->pos] : -1;
}

static bool jp_ident_char(int c)
{
	return c >= 0x80 || isalnum(c) || c == '_' || c == '@' || c == '-' || c == '#' || c == '$';
}

static char *jp_strndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

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
static char *jp_quoted(struct jp_parser *ps)
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

static char *jp_ident(struct jp_parser *ps)
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

static int jp_long(struct jp_parser *ps, long *out)
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

/* --- regex translation: Python re (as jsonpath-ng uses) -> POSIX ERE ------------------ */

struct jp_sbuf {
	char *b;
	size_t n, cap;
	bool over;
};

static void sb_putc(struct jp_sbuf *sb, char c)
{
	if (sb->n + 1 < sb->cap)
		sb->b[sb->n++] = c;
	else
		sb->over = true;
	sb->b[sb->n < sb->cap ? sb->n : sb->cap - 1] = '\0';
}

static void sb_puts(struct jp_sbuf *sb, const char *s)
{
	while (*s)
		sb_putc(sb, *s++);
}

static void sb_putn(struct jp_sbuf *sb, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sb_putc(sb, s[i]);
}

/* Translates a bracket expression starting after '['; returns the index after ']'. Python
 * escapes inside brackets (\-, \], \\, \d, \s, \w) have no POSIX spelling, so literal ']'
 * goes first and '-' last, where POSIX reads them as themselves. */
static size_t rx_bracket(const char *re, size_t i, size_t len, struct jp_sbuf *out, bool *ok)
{
	char body[512];
	struct jp_sbuf b = {body, 0, sizeof(body), false};
	bool neg = false, close = false, dash = false, caret = false;
	body[0] = '\0';
	if (i < len && re[i] == '^') {
		neg = true;
		i++;
	}
	bool first = true;
	while (i < len && (re[i] != ']' || first)) {
		char c = re[i];
		if (c == ']') {
			close = true;
		} else if (c == '\\' && i + 1 < len) {
			char d = re[++i];
			switch (d) {
			case 'd':
				sb_puts(&b, "0-9");
				break;
			case 's':
				sb_puts(&b, "[:space:]");
				break;
			case 'w':
				sb_puts(&b, "[:alnum:]_");
				break;
			case 'n':
				sb_putc(&b, '\n');
				break;
			case 't':
				sb_putc(&b, '\t');
				break;
			case ']':
				close = true;
				break;
			case '-':
				dash = true;
				break;
			case '^':
				caret = true;
				break;
			case 'D':
			case 'S':
			case 'W':
				*ok = false; /* negated classes inside a set: no POSIX form */
				break;
			default:
				sb_putc(&b, d);
			}
		} else if (c == '-' && (i + 1 >= len || re[i + 1] == ']')) {
			dash = true;
		} else if (c == '^' && b.n == 0) {
			caret = true;
		} else if (c == '[' && i + 1 < len && re[i + 1] == ':') {
			const char *endc = strstr(re + i, ":]");
			if (!endc || (size_t)(endc - re) >= len) {
				*ok = false;
				return len;
			}
			sb_putn(&b, re + i, (size_t)(endc - (re + i)) + 2);
			i = (size_t)(endc - re) + 1;
		} else {
			sb_putc(&b, c);
		}
		first = false;
		i++;
	}
	if (i >= len || b.over) {
		*ok = false;
		return len;
	}
	sb_putc(out, '[');
	if (neg)
		sb_putc(out, '^');
	if (close)
		sb_putc(out, ']');
	sb_puts(out, body);
	if (caret)
		sb_putc(out, '^');
	if (dash)
		sb_putc(out, '-');
	if (!close && !caret && !dash && b.n == 0)
		*ok = false; /* empty set */
	sb_putc(out, ']');
	return i + 1;
}

static bool rx_translate(const char *re, size_t len, char *out, size_t cap)
{
	struct jp_sbuf o = {out, 0, cap, false};
	bool ok = true;
	out[0] = '\0';
	for (size_t i = 0; i < len && ok;) {
		char c = re[i];
		if (c == '[') {
			i = rx_bracket(re, i + 1, len, &o, &ok);
			continue;
		}
		if (c == '(' && i + 2 < len && re[i + 1] == '?') {
			if (re[i + 2] != ':')
				return false; /* lookarounds, flags, named groups */
			sb_putc(&o, '(');
			i += 3;
			continue;
		}
		if ((c == '*' || c == '+' || c == '?' || c == '}') && i + 1 < len &&
		    re[i + 1] == '?')
			return false; /* lazy quantifiers */
		if (c == '\\' && i + 1 < len) {
			char d = re[i + 1];
			i += 2;
			switch (d) {
			case 'd':
				sb_puts(&o, "[0-9]");
				break;
			case 'D':
				sb_puts(&o, "[^0-9]");
				break;
			case 's':
				sb_puts(&o, "[[:space:]]");
				break;
			case 'S':
				sb_puts(&o, "[^[:space:]]");
				break;
			case 'w':
				sb_puts(&o, "[[:alnum:]_]");
				break;
			case 'W':
				sb_puts(&o, "[^[:alnum:]_]");
				break;
			case 'n':
				sb_putc(&o, '\n');
				break;
			case 't':
				sb_putc(&o, '\t');
				break;
			default:
				if (isalnum((unsigned char)d))
					return false; /* \b, \A, back-references... */
				sb_putc(&o, '\\');
				sb_putc(&o, d);
			}
			continue;
		}
		sb_putc(&o, c);
		i++;
	}
	return ok && !o.over;
}

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
		if (!rx_translate(re, ren, posix, sizeof(posix)))
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

/* --- evaluation ------------------------------------------------------------------------ */

typedef bool jp_accept_fn(const cJSON *node, void *arg);

static const cJSON *jp_child(const cJSON *obj, const char *name)
{
	for (const cJSON *c = obj->child; c; c = c->next)
		if (c->string && strcmp(c->string, name) == 0)
			return c;
	return NULL;
}

static bool jp_is_container(const cJSON *n)
{
	return cJSON_IsObject(n) || cJSON_IsArray(n);
}

static bool jp_truthy(const cJSON *n)
{
	if (cJSON_IsFalse(n) || cJSON_IsNull(n))
		return false;
	if (cJSON_IsNumber(n))
		return n->valuedouble != 0.0;
	if (cJSON_IsString(n))
		return n->valuestring[0] != '\0';
	if (jp_is_container(n))
		return n->child != NULL;
	return true;
}

static bool jp_cond_true(const struct jp_cond *c, const cJSON *item)
{
	const cJSON *v = item;
	for (size_t i = 0; i < c->n_names && v; i++)
		v = cJSON_IsObject(v) ? jp_child(v, c->names[i]) : NULL;
	if (!v)
		return false;
	if (c->op == JP_OP_EXISTS)
		return jp_truthy(v);
	int cmp;
	switch (c->lit) {
	case JP_LIT_NUM:
		if (!cJSON_IsNumber(v))
			return c->op == JP_OP_NE;
		cmp = v->valuedouble < c->num ? -1 : v->valuedouble > c->num ? 1 : 0;
		break;
	case JP_LIT_STR:
		if (!cJSON_IsString(v))
			return c->op == JP_OP_NE;
		cmp = strcmp(v->valuestring, c->str);
		break;
	case JP_LIT_BOOL:
		if (!cJSON_IsBool(v))
			return c->op == JP_OP_NE;
		cmp = (cJSON_IsTrue(v) == c->b) ? 0 : 1;
		if (c->op != JP_OP_EQ && c->op != JP_OP_NE)
			return false;
		break;
	default:
		cmp = cJSON_IsNull(v) ? 0 : 1;
		if (c->op != JP_OP_EQ && c->op != JP_OP_NE)
			return false;
		break;
	}
	switch (c->op) {
	case JP_OP_EQ:
		return cmp == 0;
	case JP_OP_NE:
		return cmp != 0;
	case JP_OP_LT:
		return cmp < 0;
	case JP_OP_LE:
		return cmp <= 0;
	case JP_OP_GT:
		return cmp > 0;
	case JP_OP_GE:
		return cmp >= 0;
	default:
		return false;
	}
}

static bool jp_walk(const struct jsonpath *p, size_t i, const cJSON *node, jp_accept_fn *acc,
                    void *arg);

/* Applies step i at node itself (not below it) and continues with i + 1. */
static bool jp_here(const struct jsonpath *p, size_t i, const cJSON *node, jp_accept_fn *acc,
                    void *arg)
{
	const struct jp_step *st = &p->steps[i];
	switch (st->kind) {
	case JP_THIS:
		return jp_walk(p, i + 1, node, acc, arg);
	case JP_FIELD:
		if (!cJSON_IsObject(node))
			return false;
		for (size_t k = 0; k < st->n_names; k++) {
			const cJSON *c = jp_child(node, st->names[k]);
			if (c && jp_walk(p, i + 1, c, acc, arg))
				return true;
		}
		return false;
	case JP_WILD:
		if (!jp_is_container(node))
			return false;
		for (const cJSON *c = node->child; c; c = c->next)
			if (jp_walk(p, i + 1, c, acc, arg))
				return true;
		return false;
	case JP_INDEX: {
		if (!cJSON_IsArray(node))
			return false;
		long size = cJSON_GetArraySize(node);
		long idx = st->index < 0 ? size + st->index : st->index;
		if (idx < 0 || idx >= size)
			return false;
		const cJSON *c = node->child;
		for (long k = 0; k < idx && c; k++)
			c = c->next;
		return c && jp_walk(p, i + 1, c, acc, arg);
	}
	case JP_SLICE: {
		if (!cJSON_IsArray(node))
			return false;
		long size = cJSON_GetArraySize(node);
		long a = st->has_start ? st->start : 0, b = st->has_end ? st->end : size;
		if (a < 0)
			a = a + size < 0 ? 0 : a + size;
		if (b < 0)
			b = b + size < 0 ? 0 : b + size;
		if (b > size)
			b = size;
		long k = 0;
		for (const cJSON *c = node->child; c && k < b; c = c->next, k++)
			if (k >= a && jp_walk(p, i + 1, c, acc, arg))
				return true;
		return false;
	}
	case JP_FILTER:
		if (!jp_is_container(node))
			return false;
		for (const cJSON *c = node->child; c; c = c->next) {
			bool all = true;
			for (size_t k = 0; k < st->n_conds && all; k++)
				all = jp_cond_true(&st->conds[k], c);
			if (all && jp_walk(p, i + 1, c, acc, arg))
				return true;
		}
		return false;
	}
	return false;
}

static bool jp_descend(const struct jsonpath *p, size_t i, const cJSON *node, jp_accept_fn *acc,
                       void *arg)
{
	if (jp_here(p, i, node, acc, arg))
		return true;
	if (!jp_is_container(node))
		return false;
	for (const cJSON *c = node->child; c; c = c->next)
		if (jp_descend(p, i, c, acc, arg))
			return true;
	return false;
}

static bool jp_walk(const struct jsonpath *p, size_t i, const cJSON *node, jp_accept_fn *acc,
                    void *arg)
{
	if (i == p->n)
		return acc(node, arg);
	if (p->steps[i].descend)
		return jp_descend(p, i, node, acc, arg);
	return jp_here(p, i, node, acc, arg);
}

static bool jp_accept_any(const cJSON *node, void *arg)
{
	*(const cJSON **)arg = node;
	return true;
}

const cJSON *jsonpath_find(const struct jsonpath *p, const cJSON *root)
{
	const cJSON *found = NULL;
	if (root)
		jp_walk(p, 0, root, jp_accept_any, &found);
	return found;
}

/* Python-style rendering of a scalar for `str()`. */
static int jp_scalar_str(const cJSON *n, char *buf, size_t cap)
{
	int w;
	if (cJSON_IsString(n))
		w = snprintf(buf, cap, "%s", n->valuestring);
	else if (cJSON_IsNumber(n))
		w = snprintf(buf, cap, "%.17g", n->valuedouble);
	else if (cJSON_IsTrue(n))
		w = snprintf(buf, cap, "True");
	else if (cJSON_IsFalse(n))
		w = snprintf(buf, cap, "False");
	else if (cJSON_IsNull(n))
		w = snprintf(buf, cap, "None");
	else
		return -1;
	return (w < 0 || (size_t)w >= cap) ? -1 : 0;
}

/* re.sub(regex, repl, in) with all matches replaced; \N and \g<N> in repl refer to groups. */
static int jp_sub(const struct jp_xform *x, const char *in, char *out, size_t cap)
{
	struct jp_sbuf o = {out, 0, cap, false};
	size_t len = strlen(in), pos = 0;
	regmatch_t m[10];
	out[0] = '\0';
	while (pos <= len) {
		if (regexec(&x->re, in + pos, 10, m, pos > 0 ? REG_NOTBOL : 0) != 0)
			break;
		size_t so = (size_t)m[0].rm_so, eo = (size_t)m[0].rm_eo;
		sb_putn(&o, in + pos, so);
		for (const char *r = x->repl; *r; r++) {
			int g = -1;
			if (r[0] == '\\' && isdigit((unsigned char)r[1])) {
				g = r[1] - '0';
				r++;
			} else if (r[0] == '\\' && r[1] == 'g' && r[2] == '<' &&
			           isdigit((unsigned char)r[3]) && r[4] == '>') {
				g = r[3] - '0';
				r += 4;
			} else if (r[0] == '\\' && r[1]) {
				r++;
				sb_putc(&o, *r == 'n' ? '\n' : *r == 't' ? '\t' : *r);
				continue;
			} else {
				sb_putc(&o, *r);
				continue;
			}
			if (m[g].rm_so >= 0)
				sb_putn(&o, in + pos + m[g].rm_so,
				        (size_t)(m[g].rm_eo - m[g].rm_so));
		}
		if (eo == so) {
			/* Empty match: keep one character and move on, as re.sub does. */
			if (pos + so < len)
				sb_putc(&o, in[pos + so]);
			pos += so + 1;
		} else {
			pos += eo;
		}
	}
	if (pos < len)
		sb_puts(&o, in + pos);
	return o.over ? -1 : 0;
}

/* str.split(ch, maxsplit)[segment]. */
static int jp_split(const struct jp_xform *x, const char *in, char *out, size_t cap)
{
	size_t len = strlen(in);
	long pieces = 1;
	for (size_t i = 0; i < len; i++)
		if (in[i] == x->ch && (x->maxsplit < 0 || pieces <= x->maxsplit))
			pieces++;
	long seg = x->segment < 0 ? pieces + x->segment : x->segment;
	if (seg < 0 || seg >= pieces)
		return -1;
	long k = 0;
	size_t start = 0, i = 0;
	for (; i < len; i++) {
		if (in[i] == x->ch && (x->maxsplit < 0 || k < x->maxsplit)) {
			if (k == seg)
				break;
			k++;
			start = i + 1;
		}
	}
	size_t n = i - start;
	if (n >= cap)
		return -1;
	memcpy(out, in + start, n);
	out[n] = '\0';
	return 0;
}

struct jp_num_ctx {
	const struct jsonpath *p;
	const cJSON *node; /* first match */
	char str[JP_STRBUF];
	bool is_str; /* the match went through extensions; value in str */
};

static bool jp_accept_xform(const cJSON *node, void *arg)
{
	struct jp_num_ctx *ctx = arg;
	const struct jsonpath *p = ctx->p;
	ctx->node = node;
	ctx->is_str = p->nx > 0;
	if (p->nx == 0)
		return true;
	char a[JP_STRBUF], b[JP_STRBUF];
	char *cur = a, *next = b;
	if (p->x[0].kind == JP_X_STR) {
		if (jp_scalar_str(node, cur, JP_STRBUF) != 0)
			return false;
	} else {
		/* sub/split need a string, as in Python (re.sub on an int raises). */
		if (!cJSON_IsString(node) || strlen(node->valuestring) >= JP_STRBUF)
			return false;
		strcpy(cur, node->valuestring);
	}
	for (size_t i = 0; i < p->nx; i++) {
		const struct jp_xform *x = &p->x[i];
		int rc = 0;
		if (x->kind == JP_X_SUB)
			rc = jp_sub(x, cur, next, JP_STRBUF);
		else if (x->kind == JP_X_SPLIT)
			rc = jp_split(x, cur, next, JP_STRBUF);
		else
			strcpy(next, cur);
		if (rc != 0)
			return false;
		char *t = cur;
		cur = next;
		next = t;
	}
	strcpy(ctx->str, cur);
	return true;
}

int jsonpath_eval_number(const struct jsonpath *p, const cJSON *root, double *out, struct err *e)
{
	struct jp_num_ctx ctx;
	ctx.p = p;
	ctx.node = NULL;
	ctx.is_str = false;
	if (!root || !jp_walk(p, 0, root, jp_accept_xform, &ctx))
		return err_set(e, "no match for JSON path '%s'", p->text);
	const cJSON *n = ctx.node;
	if (ctx.is_str) {
		if (pynum_float_finite(ctx.str, strlen(ctx.str), out) != 0)
			return err_set(e, "JSON path '%s': value is not a number (\"%.40s\")",
			               p->text, ctx.str);
		return 0;
	}
	if (cJSON_IsNumber(n)) {
		if (!isfinite(n->valuedouble))
			return err_set(e, "JSON path '%s': value is not a finite number", p->text);
		*out = n->valuedouble;
		return 0;
	}
	if (cJSON_IsBool(n)) {
		*out = cJSON_IsTrue(n) ? 1.0 : 0.0;
		return 0;
	}
	if (cJSON_IsString(n)) {
		if (pynum_float_finite(n->valuestring, strlen(n->valuestring), out) != 0)
			return err_set(e, "JSON path '%s': value is not a number (\"%.40s\")",
			               p->text, n->valuestring);
		return 0;
	}
	return err_set(e, "JSON path '%s': value is not a number (%s)", p->text,
	               cJSON_IsNull(n)     ? "null"
	               : cJSON_IsArray(n)  ? "an array"
	               : cJSON_IsObject(n) ? "an object"
	                                   : "unsupported type");
}
