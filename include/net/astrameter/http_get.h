/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One blocking HTTP request on libcurl, for command-line tools only (`astrameter
 * --healthcheck`, astra-sim's control commands): never call it from the event loop. The
 * request goes straight to host:port (proxy settings in the environment are ignored: these
 * are loopback calls). */
#ifndef ASTRAMETER_HTTP_GET_H
#define ASTRAMETER_HTTP_GET_H

#include <stddef.h>
#include <stdint.h>

#include "astrameter/err.h"

/* The largest response body http_blocking() keeps (a longer one fails the request). */
#define HTTP_BLOCKING_MAX_BODY (16u << 20)

/* Sends method path (with body as application/json; NULL = none, Content-Length: 0 for a
 * method other than GET/HEAD) to http://host:port and
 * waits at most timeout_ms in all. Returns the HTTP status, with *out (if out is not NULL)
 * a malloc'ed NUL-terminated body; or -1 with e: "connect HOST:PORT: <why>", "no answer from
 * HOST:PORT: <why>", "not an HTTP answer from HOST:PORT", ... */
int http_blocking(const char *host, uint16_t port, const char *method, const char *path,
                  const char *body, long timeout_ms, char **out, struct err *e);

#endif
