/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Asynchronous HTTP client on libcurl's multi_socket API, driven by our event loop
 * (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION -> ev_io/ev_timer). A request object wraps one
 * easy handle that is reused, so connections are kept alive between polls. Defaults:
 * 1 s connect timeout, 2 s total. The body is capped (default 1 MiB). */
#ifndef ASTRAMETER_HTTP_H
#define ASTRAMETER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/ev.h"

struct http_client;
struct http_req;

struct http_result {
	bool ok;          /* transfer completed (any HTTP status) */
	long status;      /* HTTP status, 0 if none */
	const char *body; /* NUL-terminated, valid only during the callback */
	size_t len;
	char error[160]; /* "connection refused", "timeout after 2000 ms", ... when !ok */
};

typedef void http_done_fn(struct http_req *req, const struct http_result *res, void *arg);

struct http_client *http_client_new(struct ev_loop *loop);
/* Cancels all running requests (their callbacks do not run) and frees the client. */
void http_client_free(struct http_client *c);

struct http_req *http_req_new(struct http_client *c);
void http_req_free(struct http_req *r); /* cancels if running */

int http_req_set_url(struct http_req *r, const char *url);
/* Basic (digest=false) or digest auth; NULL user clears. */
int http_req_set_auth(struct http_req *r, const char *user, const char *pass, bool digest);
/* Adds "Name: value" (copied). */
int http_req_add_header(struct http_req *r, const char *line);
void http_req_clear_headers(struct http_req *r);
void http_req_set_timeouts(struct http_req *r, long connect_ms, long total_ms);
/* POST body (copied); NULL = GET. */
int http_req_set_post(struct http_req *r, const char *body, size_t len, const char *content_type);
void http_req_set_verify_tls(struct http_req *r, bool verify);
/* Escape hatch for driver-specific options (cookies, CA file...). */
void *http_req_easy(struct http_req *r);

/* Starts the request; fn runs once from the loop. -1 if already running or curl refused. */
int http_req_start(struct http_req *r, http_done_fn *fn, void *arg);
bool http_req_running(const struct http_req *r);
void http_req_cancel(struct http_req *r);

#endif
