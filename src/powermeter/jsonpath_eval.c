/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSONPath evaluation: a depth-first walk over the compiled steps that stops at the first
 * node surviving every step (jsonpath-ng's first match), then the string extensions
 * (sub, split, str) in a fixed stack buffer and Python's float() of the result. Nothing is
 * allocated. */
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
		jp_sb_putn(&o, in + pos, so);
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
				jp_sb_putc(&o, *r == 'n' ? '\n' : *r == 't' ? '\t' : *r);
				continue;
			} else {
				jp_sb_putc(&o, *r);
				continue;
			}
			if (m[g].rm_so >= 0)
				jp_sb_putn(&o, in + pos + m[g].rm_so,
				           (size_t)(m[g].rm_eo - m[g].rm_so));
		}
		if (eo == so) {
			/* Empty match: keep one character and move on, as re.sub does. */
			if (pos + so < len)
				jp_sb_putc(&o, in[pos + so]);
			pos += so + 1;
		} else {
			pos += eo;
		}
	}
	if (pos < len)
		jp_sb_puts(&o, in + pos);
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
