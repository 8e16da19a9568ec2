/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSON_HTTP powermeter: GET a URL, evaluate one compiled JSONPath per value. The driver
 * itself is pm_json_http_driver (powermeter.h); this header exposes its pure parts for
 * tests and fuzzing. */
#ifndef ASTRAMETER_PM_JSON_HTTP_H
#define ASTRAMETER_PM_JSON_HTTP_H

#include <stddef.h>
#include "astrameter/err.h"
#include "astrameter/reading.h"

struct jsonpath;

/* Parses body (len bytes, need not be NUL-terminated) as one JSON document (trailing
 * non-blank bytes are an error, as in Python's json.loads) and evaluates paths[0..n) in
 * order into out->w[0..n). n must be 1..PM_MAX_VALUES. Values must be finite and within
 * +-PM_PARSE_MAX_W. 0, or -1 with e = "empty body" / "body is not valid JSON" / the
 * JSONPath error naming the path. out->at is left 0. */
int pm_json_http_parse(const struct jsonpath *const *paths, size_t n, const char *body, size_t len,
                       struct pm_reading *out, struct err *e);

/* Parses HEADERS as upstream does: items separated by ';', each "Name: value" split at the
 * first ':', both trimmed; items without ':' are ignored. Calls fn(name, value, arg) per
 * header; returns -1 with e if a name is empty or a name/value holds CR/LF, or if fn
 * fails. */
typedef int pm_json_http_header_fn(const char *name, const char *value, void *arg);
int pm_json_http_parse_headers(const char *spec, pm_json_http_header_fn *fn, void *arg,
                               struct err *e);

#endif
