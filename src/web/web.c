/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The health endpoint (contract in astrameter/web.h). HTTP is libmicrohttpd's job: it runs
 * in external-loop epoll mode, so it owns one epoll fd that we watch in our loop, and we
 * call MHD_run() when that fd is readable or when MHD_get_timeout() says a connection
 * timeout is due. MHD never blocks and never starts a thread here; a slow or hostile
 * client address costs at most WEB_MAX_PER_IP connection slots and WEB_CONN_MEMORY bytes
 * each until their inactivity timeout, so a couple of hosts cannot lock out the health
 * check, and can never delay a battery's UDP reply by more than one MHD_run() pass.
 *
 * The JSON body and the healthy/unhealthy verdict are pure functions of a snapshot; the
 * owner (the app) fills the snapshot from its live meters and devices on each request,
 * through a callback, so this module knows neither meters nor emulators. The blocking
 * client at the end serves `astrameter --healthcheck` only. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "astrameter/log.h"
#include "astrameter/net.h"
#include "astrameter/web.h"

#define COMP "web"
/* Upper bound between two MHD_run() calls when MHD asks for none (cheap; keeps us safe
 * against a missed wakeup). */
#define WEB_IDLE_TICK_MS 5000

/* --- pure part ------------------------------------------------------------------- */

bool web_meter_ok(const struct web_meter_info *m, ev_ms max_age_ms, ev_ms now)
{
	if (!m->have || m->failed)
		return false;
	return max_age_ms <= 0 || now - m->last_success <= max_age_ms;
}

bool web_health_ok(const struct web_health *h, ev_ms now)
{
	if (h->max_age_ms <= 0)
		return true;
	ev_ms newest = h->started;
	for (size_t i = 0; i < h->n_meters; i++)
		if (h->meters[i].have && h->meters[i].last_success > newest)
			newest = h->meters[i].last_success;
	return now - newest <= h->max_age_ms;
}

/* Seconds with one decimal, so the JSON does not carry clock noise. */
static double secs(ev_ms ms)
{
	return (double)(ms / 100) / 10.0;
}

char *web_health_json(const struct web_health *h, ev_ms now, bool *healthy)
{
	bool ok = web_health_ok(h, now);
	if (healthy)
		*healthy = ok;
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	cJSON *pms = NULL, *devs = NULL;
	bool good = cJSON_AddStringToObject(root, "status", ok ? "healthy" : "unhealthy") &&
	            cJSON_AddStringToObject(root, "service", "astrameter") &&
	            cJSON_AddStringToObject(root, "version", h->version ? h->version : "");
	if (good && h->git_commit)
		good = cJSON_AddStringToObject(root, "git_commit", h->git_commit) != NULL;
	good = good &&
	       cJSON_AddNumberToObject(root, "uptime_s", (double)((now - h->boot) / 1000)) &&
	       cJSON_AddNumberToObject(root, "max_age_s", secs(h->max_age_ms)) &&
	       (pms = cJSON_AddArrayToObject(root, "powermeters")) != NULL;
	for (size_t i = 0; good && i < h->n_meters; i++) {
		const struct web_meter_info *m = &h->meters[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(pms, o)) {
			cJSON_Delete(o);
			good = false;
			break;
		}
		good = cJSON_AddStringToObject(o, "name", m->name) &&
		       cJSON_AddStringToObject(o, "type", m->kind) &&
		       cJSON_AddBoolToObject(o, "ok", web_meter_ok(m, h->max_age_ms, now)) &&
		       (m->have ? cJSON_AddNumberToObject(o, "last_success_age_s",
		                                          secs(now - m->last_success)) != NULL
		                : cJSON_AddNullToObject(o, "last_success_age_s") != NULL) &&
		       cJSON_AddNumberToObject(o, "fetches", (double)m->fetches) &&
		       cJSON_AddNumberToObject(o, "failures", (double)m->failures) &&
		       (m->failed && m->error && *m->error
		                ? cJSON_AddStringToObject(o, "error", m->error) != NULL
		                : cJSON_AddNullToObject(o, "error") != NULL);
	}
	good = good && (devs = cJSON_AddArrayToObject(root, "devices")) != NULL;
	for (size_t i = 0; good && i < h->n_devices; i++) {
		const struct web_device_info *d = &h->devices[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(devs, o)) {
			cJSON_Delete(o);
			good = false;
			break;
		}
		good = cJSON_AddStringToObject(o, "type", d->type) &&
		       cJSON_AddStringToObject(o, "id", d->id) &&
		       (d->consumers >= 0 ? cJSON_AddNumberToObject(o, "consumers",
		                                                    (double)d->consumers) != NULL
		                          : cJSON_AddNullToObject(o, "consumers") != NULL);
	}
	char *out = good ? cJSON_PrintUnformatted(root) : NULL;
	cJSON_Delete(root);
	return out;
}

/* --- the server ------------------------------------------------------------------ */

struct web_server {
	struct ev_loop *loop;
	struct MHD_Daemon *mhd;
	int epfd;
	uint64_t timer;
	struct web_opts o;
	uint16_t port;
	web_snapshot_fn *snapshot;
	void *snapshot_arg;
};

static char *render(struct web_server *w, ev_ms now, bool *healthy)
{
	struct web_health h = {.version = w->o.version,
	                       .git_commit = w->o.git_commit,
	                       .boot = w->o.boot,
	                       .started = w->o.boot,
	                       .max_age_ms = w->o.max_age_ms};
	if (w->snapshot)
		w->snapshot(w->snapshot_arg, now, &h);
	return web_health_json(&h, now, healthy);
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *body,
                               const char *allow)
{
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	enum MHD_Result ok = MHD_YES;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") !=
	            MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache") != MHD_YES ||
	    (allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES))
		ok = MHD_NO;
	if (ok == MHD_YES)
		ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static bool is_health_path(const char *url)
{
	return !strcmp(url, "/health") || !strcmp(url, "/health/") || !strcmp(url, "/api") ||
	       !strcmp(url, "/api/");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	struct web_server *w = cls;
	/* A body (POST/PUT) is never wanted: discard what arrives, answer on the first call. */
	if (*con_cls) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	*con_cls = w;
	if (!is_health_path(url))
		return respond(c, MHD_HTTP_NOT_FOUND, "{\"error\":\"Not Found\"}", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"Method Not Allowed\"}",
		               "GET, HEAD");
	ev_ms now = ev_now(w->loop);
	bool healthy = true;
	char *body = render(w, now, &healthy);
	if (!body)
		return respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"out of memory\"}",
		               NULL);
	enum MHD_Result r =
	        respond(c, healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body, NULL);
	free(body);
	return r;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	char buf[256];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	log_debug(COMP, "%s", buf);
}

/* Runs MHD once and returns how long until it must run again. */
static ev_ms drive(struct web_server *w)
{
	(void)MHD_run(w->mhd);
	MHD_UNSIGNED_LONG_LONG t = 0;
	if (MHD_get_timeout(w->mhd, &t) != MHD_YES || t > WEB_IDLE_TICK_MS)
		return WEB_IDLE_TICK_MS;
	return (ev_ms)t;
}

static void on_epoll(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	struct web_server *w = arg;
	ev_ms next = drive(w);
	if (w->timer)
		(void)ev_timer_reset(w->loop, w->timer, next);
}

static ev_ms on_timer(struct ev_loop *loop, void *arg)
{
	(void)loop;
	return drive(arg);
}

struct web_server *web_server_new(struct ev_loop *loop, const struct web_opts *o, struct err *e)
{
	struct web_server *w = calloc(1, sizeof(*w));
	if (!w) {
		err_set(e, "out of memory");
		return NULL;
	}
	w->loop = loop;
	w->o = *o;
	w->epfd = -1;
	int fd = net_tcp_listen(o->addr, o->port, 16, e);
	if (fd < 0)
		goto fail;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		w->port = ntohs(sa.sin_port);
	/* MHD owns fd from here on: MHD_stop_daemon closes it. */
	/* The logger goes first so that MHD never writes to stderr on its own. */
	w->mhd = MHD_start_daemon(
	        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, w,
	        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *)NULL, MHD_OPTION_LISTEN_SOCKET,
	        (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_MAX_CONNECTIONS,
	        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)WEB_MAX_PER_IP,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_CONN_MEMORY,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_CONN_TIMEOUT_S, MHD_OPTION_END);
	if (!w->mhd) {
		close(fd);
		err_set(e, "cannot start the HTTP server on tcp/%u", (unsigned)o->port);
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		err_set(e, "libmicrohttpd has no epoll fd");
		goto fail;
	}
	w->epfd = info->epoll_fd;
	if (ev_io_add(loop, w->epfd, EV_READ, on_epoll, w) != 0) {
		err_set(e, "cannot watch the HTTP server: %s", strerror(errno));
		w->epfd = -1;
		goto fail;
	}
	w->timer = ev_timer_add(loop, WEB_IDLE_TICK_MS, on_timer, w);
	if (!w->timer) {
		err_set(e, "out of memory");
		goto fail;
	}
	return w;
fail:
	web_server_free(w);
	return NULL;
}

void web_server_set_source(struct web_server *w, web_snapshot_fn *fn, void *arg)
{
	w->snapshot = fn;
	w->snapshot_arg = arg;
}

void web_server_set_max_age(struct web_server *w, ev_ms max_age_ms)
{
	w->o.max_age_ms = max_age_ms;
}

uint16_t web_server_port(const struct web_server *w)
{
	return w->port;
}

void web_server_free(struct web_server *w)
{
	if (!w)
		return;
	if (w->timer)
		ev_timer_del(w->loop, w->timer);
	if (w->epfd >= 0)
		ev_io_del(w->loop, w->epfd);
	if (w->mhd)
		MHD_stop_daemon(w->mhd);
	free(w);
}

/* --- the client ------------------------------------------------------------------ */

static int remaining(const struct timespec *end)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(end->tv_sec - now.tv_sec) * 1000 +
	               (end->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

static int wait_fd(int fd, short ev, const struct timespec *end)
{
	struct pollfd p = {.fd = fd, .events = ev};
	for (;;) {
		int r = poll(&p, 1, remaining(end));
		if (r > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

int web_healthcheck(const char *host, uint16_t port, int timeout_ms, struct err *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return err_set(e, "invalid address '%s'", host);
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, "socket: %s", strerror(errno));
	int rc = -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int soerr = 0;
		socklen_t l = sizeof(soerr);
		if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, &end) != 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) != 0 || soerr != 0) {
			if (soerr)
				errno = soerr;
			err_set(e, "connect %s:%u: %s", host, (unsigned)port, strerror(errno));
			goto out;
		}
	}
	char req[128];
	int n = snprintf(req, sizeof(req),
	                 "GET /health HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n\r\n", host,
	                 (unsigned)port);
	for (int off = 0; off < n;) {
		ssize_t k = send(fd, req + off, (size_t)(n - off), MSG_NOSIGNAL);
		if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, &end) != 0)
				break;
			continue;
		}
		if (k <= 0) {
			err_set(e, "send: %s", strerror(errno));
			goto out;
		}
		off += (int)k;
	}
	/* The status line is all we need: "HTTP/1.x NNN ...". */
	char buf[64];
	size_t got = 0;
	while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
		if (wait_fd(fd, POLLIN, &end) != 0) {
			err_set(e, "no answer from %s:%u: %s", host, (unsigned)port,
			        strerror(errno));
			goto out;
		}
		ssize_t k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	buf[got] = '\0';
	unsigned status = 0;
	if (sscanf(buf, "HTTP/1.%*1[01] %3u", &status) != 1 || status < 100 || status > 599) {
		err_set(e, "not an HTTP answer from %s:%u", host, (unsigned)port);
		goto out;
	}
	rc = (int)status;
out:
	close(fd);
	return rc;
}
