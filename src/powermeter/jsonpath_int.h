/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internals shared by the JSONPath files (not a contract: include/astrameter/jsonpath.h is):
 * the compiled form (a flat array of navigation steps plus string extensions) and the
 * lexer's and the regex translator's entry points. jsonpath_lex.c reads tokens,
 * jsonpath_regex.c turns Python regexes into POSIX ones, jsonpath_parse.c compiles an
 * expression, jsonpath_eval.c walks a document. */
#ifndef ASTRAMETER_POWERMETER_JSONPATH_INT_H
#define ASTRAMETER_POWERMETER_JSONPATH_INT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "astrameter/jsonpath.h"

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

/* --- lexer (jsonpath_lex.c) --- */
int jp_fail(struct jp_parser *ps, const char *why);
void jp_skip_ws(struct jp_parser *ps);
int jp_peek(const struct jp_parser *ps);
bool jp_ident_char(int c);
char *jp_strndup(const char *s, size_t n);
char *jp_quoted(struct jp_parser *ps);
char *jp_ident(struct jp_parser *ps);
int jp_long(struct jp_parser *ps, long *out);

/* Bounded string builder: output beyond cap - 1 bytes sets over instead. */
struct jp_sbuf {
	char *b;
	size_t n, cap;
	bool over;
};
void jp_sb_putc(struct jp_sbuf *sb, char c);
void jp_sb_puts(struct jp_sbuf *sb, const char *s);
void jp_sb_putn(struct jp_sbuf *sb, const char *s, size_t n);

/* --- regex translation (jsonpath_regex.c): Python re -> POSIX ERE; false if the pattern
 * uses what ERE cannot express --- */
bool jp_rx_translate(const char *re, size_t len, char *out, size_t cap);

#endif
