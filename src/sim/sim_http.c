/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astra-sim's HTTP API on libmicrohttpd (the server the daemon uses, driven by our loop
 * through net/httpd.c): every request goes through sim_app_route; GET /events is a
 * Server-Sent-Events stream of the status document once a second. Replies close the
 * connection after they are sent and are never chunked (MHD's HTTP/1.0-compatible mode), as
 * the simple scripts and test peers that talk to the simulator expect; bodies are limited
 * to SIM_HTTP_MAX_BODY bytes (413 beyond). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_app.h"

#define SIM_HTTP_MAX_BODY 8191
/* A stream whose reader leaves this much unsent is dropped. */
#define SIM_SSE_MAX_QUEUE 65536

/* The request body as it arrives (MHD hands it over in pieces). */
struct sim_req {
	size_t len;
	bool too_big;
	char body[SIM_HTTP_MAX_BODY + 1];
};

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, const char *body)
{
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	enum MHD_Result ok = MHD_YES;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") !=
	            MHD_YES ||
	    MHD_set_response_options(r, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END) != MHD_YES)
		ok = MHD_NO;
	if (ok == MHD_YES)
		ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* ---- /events ------------------------------------------------------------------------- */

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sim_sse *s = cls;
	(void)pos;
	if (s->drop)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (s->off == s->len) {
		/* Nothing queued: park the connection until sim_http_sse_tick has an event. */
		s->len = s->off = 0;
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		return 0;
	}
	size_t n = s->len - s->off;
	if (n > max)
		n = max;
	memcpy(buf, s->buf + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct sim_sse *s = cls;
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static enum MHD_Result sse_start(struct sim_app *app, struct MHD_Connection *c)
{
	struct sim_sse *s = NULL;
	for (size_t i = 0; i < SIM_MAX_CONNS && !s; i++)
		if (!app->sse[i].conn)
			s = &app->sse[i];
	if (!s)
		return MHD_NO; /* full: shed load rather than queue */
	struct MHD_Response *r =
	        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (!r)
		return MHD_NO;
	s->conn = c;
	enum MHD_Result ok = MHD_YES;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream") !=
	            MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES ||
	    MHD_set_response_options(r, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END) != MHD_YES)
		ok = MHD_NO;
	if (ok == MHD_YES)
		ok = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r); /* sse_free runs when MHD is done with the stream */
	return ok;
}

static bool sse_append(struct sim_sse *s, const char *data, size_t n)
{
	char *b = realloc(s->buf, s->len + n);
	if (!b)
		return false;
	memcpy(b + s->len, data, n);
	s->buf = b;
	s->len += n;
	return true;
}

ev_ms sim_http_sse_tick(struct ev_loop *loop, void *arg)
{
	struct sim_app *app = arg;
	(void)loop;
	if (!app->httpd)
		return 1000;
	char *st = NULL;
	bool resumed = false;
	for (size_t i = 0; i < SIM_MAX_CONNS; i++) {
		struct sim_sse *s = &app->sse[i];
		if (!s->conn || s->drop)
			continue;
		if (!st && !(st = sim_app_status_json(app)))
			break;
		static const char pre[] = "event: status\ndata: ";
		if (s->len - s->off > SIM_SSE_MAX_QUEUE || !sse_append(s, pre, sizeof(pre) - 1) ||
		    !sse_append(s, st, strlen(st)) || !sse_append(s, "\n\n", 2))
			s->drop = true; /* a reader that stopped reading, or out of memory */
		if (s->suspended) {
			s->suspended = false;
			MHD_resume_connection(s->conn);
			resumed = true;
		}
	}
	free(st);
	if (resumed)
		httpd_kick(app->httpd);
	return 1000;
}

/* ---- requests ------------------------------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct sim_app *app = cls;
	(void)version;
	struct sim_req *rq = *con_cls;
	if (!rq) {
		/* First call: headers only. */
		if (!strcmp(method, MHD_HTTP_METHOD_GET) && !strcmp(url, "/events"))
			return sse_start(app, c);
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->len + *upload_size > SIM_HTTP_MAX_BODY)
			rq->too_big = true;
		else
			memcpy(rq->body + rq->len, upload, *upload_size);
		if (!rq->too_big)
			rq->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return queue(c, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"request too large\"}");
	rq->body[rq->len] = '\0';
	char *out = NULL;
	int status = sim_app_route(app, method, url, rq->body, rq->len, &out);
	enum MHD_Result r = queue(c, out ? (unsigned)status : MHD_HTTP_INTERNAL_SERVER_ERROR,
	                          out ? out : "{\"error\":\"out of memory\"}");
	free(out);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

int sim_http_open(struct sim_app *app, struct err *e)
{
	struct sockaddr_in sa;
	if (sim_app_resolve4(app->cfg.http_host, app->cfg.http_port, &sa, e) < 0)
		return -1;
	char addr[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
	struct httpd_opts o = {
	        .addr = addr,
	        .port = app->cfg.http_port,
	        .max_conns = SIM_MAX_CONNS, /* no per-client limit, no idle timeout: a test peer */
	        .flags = MHD_ALLOW_SUSPEND_RESUME,
	        .handler = on_request,
	        .completed = on_completed,
	        .cls = app,
	        .log_comp = "sim-http",
	};
	struct err ie = {{0}};
	app->httpd = httpd_new(app->loop, &o, &ie);
	if (!app->httpd)
		return err_set(e, "HTTP %s:%u: %s", app->cfg.http_host, app->cfg.http_port, ie.msg);
	app->http_fd = httpd_listen_fd(app->httpd);
	return 0;
}

void sim_http_close(struct sim_app *app)
{
	if (!app->httpd)
		return;
	/* MHD refuses to stop with suspended connections: wake every stream to end it. */
	for (size_t i = 0; i < SIM_MAX_CONNS; i++) {
		struct sim_sse *s = &app->sse[i];
		if (s->conn) {
			s->drop = true;
			if (s->suspended) {
				s->suspended = false;
				MHD_resume_connection(s->conn);
			}
		}
	}
	httpd_kick(app->httpd); /* the resumed streams end (and are freed) in this pass */
	httpd_free(app->httpd);
	app->httpd = NULL;
	app->http_fd = -1;
}
