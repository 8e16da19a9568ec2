/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A small JSONPath dialect compatible with what AstraMeter users write for jsonpath-ng's
 * extended parser (JSON_HTTP JSON_PATHS, MQTT JSON_PATH/JSON_PATHS). An expression is
 * compiled once at configure time into a list of steps and then evaluated on a cJSON tree
 * per reading, returning the FIRST match (upstream takes match[0]) converted to a number.
 *
 * Supported syntax:
 *   $ (optional root)  .name  ..name (recursive descent)  .*  [*]  [N] [-N]  [a:b]
 *   ['key'] ["key"] ['a','b'] (first that exists)  .'quoted key'  .`this`
 *   [?(@.k == 'v')] / [?k == 'v'] filters on array items: ==, =, !=, <, <=, >, >=, and
 *   a bare @.k (exists and truthy); conditions joined with '&'.
 *   Trailing string extensions: .`sub(/regex/, repl)` (POSIX ERE; \d \s \w and escaped
 *   punctuation accepted as in Python), .`split(c, segment, maxsplit)`, .`str()`.
 *
 * Value to number (as Python's float() on the match): JSON numbers; strings holding a
 * decimal number (surrounding blanks allowed, "1e3", "-0.5"); booleans as 1/0 (float(True)
 * is 1.0 upstream). null, objects, arrays, non-numeric strings and non-finite values are
 * errors. */
#ifndef ASTRAMETER_JSONPATH_H
#define ASTRAMETER_JSONPATH_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "astrameter/err.h"

struct jsonpath;

/* Longest expression accepted. */
#define JSONPATH_MAX_LEN 1024

/* Compiles expr. Returns a program owned by the caller (jsonpath_free), or NULL with e =
 * "JSON path '<expr>': <why> at offset N". */
struct jsonpath *jsonpath_compile(const char *expr, struct err *e);
void jsonpath_free(struct jsonpath *p);
/* The expression as written (for messages). */
const char *jsonpath_text(const struct jsonpath *p);

/* Splits a comma-separated list of expressions (commas inside quotes, brackets,
 * parentheses or backticks do not split; blank items are skipped) and compiles each into
 * out[0..cap). *n receives the count. On error every program compiled so far is freed,
 * *n is 0 and -1 is returned (also when the list holds more than cap items or none). */
int jsonpath_compile_list(const char *list, struct jsonpath **out, size_t cap, size_t *n,
                          struct err *e);

/* Evaluates p on root and converts the first match to a number. 0 with *out set, or -1
 * with e = "no match for JSON path '<expr>'" / "JSON path '<expr>': value is not a number
 * (<what>)". Allocates nothing (a `sub` step may let the C library's regexec allocate). */
int jsonpath_eval_number(const struct jsonpath *p, const cJSON *root, double *out, struct err *e);

/* Returns the first node the navigation steps reach (string extensions are not applied),
 * or NULL. The node belongs to root. */
const cJSON *jsonpath_find(const struct jsonpath *p, const cJSON *root);

#endif
