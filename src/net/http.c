/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libcurl multi_socket glue: curl tells us which sockets to watch (SOCKETFUNCTION ->
 * ev_io_add/mod/del) and when to wake it (TIMERFUNCTION -> one ev timer); the loop calls
 * curl_multi_socket_action on events and we then drain finished transfers. We never call
 * into libcurl from inside its own callbacks: a timeout of 0 ("act now") becomes an ev
 * timer due next round. A request owns one easy handle for its whole life, so libcurl's
 * connection cache keeps the meter's TCP connection alive between polls. Errors are
 * classified into short human-readable strings; nothing here logs, and no message ever
 * contains the URL (it may carry credentials) or the auth settings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "astrameter/http.h"

#define HTTP_BODY_CAP           (1024 * 1024)
#define HTTP_DEFAULT_CONNECT_MS 1000L
#define HTTP_DEFAULT_TOTAL_MS   2000L

struct http_client {
	struct ev_loop *loop;
	CURLM *multi;
	uint64_t timer; /* ev timer id standing for curl's single timeout; 0 = none */
	bool in_timer;  /* inside our timer callback: curl's new timeout is returned */
	long want_ms;   /* timeout curl asked for while in_timer (-1 = none) */
	struct http_req *reqs;
};

struct http_req {
	struct http_client *c; /* NULL once the client is gone */
	struct http_req *next, **pprev;
	CURL *easy;
	struct curl_slist *headers; /* user headers */
	struct curl_slist *all;     /* user headers + content type, built at start */
	char *ctype;
	bool headers_dirty;
	long connect_ms, total_ms;
	bool running;
	http_done_fn *fn;
	void *arg;
	char *buf;
	size_t len, cap;
	bool too_big;
};

/* --- loop glue -------------------------------------------------------------------------- */

static void drain(struct http_client *c);

static void on_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	struct http_client *c = arg;
	int flags = 0, running = 0;
	if (events & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (events & EV_ERROR)
		flags |= CURL_CSELECT_ERR;
	(void)curl_multi_socket_action(c->multi, fd, flags, &running);
	drain(c);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)easy;
	struct http_client *c = userp;
	if (what == CURL_POLL_REMOVE) {
		ev_io_del(c->loop, s);
		(void)curl_multi_assign(c->multi, s, NULL);
		return 0;
	}
	unsigned ev = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= EV_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= EV_WRITE;
	if (socketp) {
		if (ev_io_mod(c->loop, s, ev) == 0)
			return 0;
		/* Not watched after all (e.g. the fd number was recycled): add it anew. */
	}
	if (ev_io_add(c->loop, s, ev, on_io, c) != 0)
		return -1; /* curl fails the transfer */
	/* Any non-NULL pointer marks the socket as registered. */
	(void)curl_multi_assign(c->multi, s, c);
	return 0;
}

static ev_ms on_timer(struct ev_loop *loop, void *arg)
{
	(void)loop;
	struct http_client *c = arg;
	int running = 0;
	c->in_timer = true;
	c->want_ms = -1;
	(void)curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drain(c);
	c->in_timer = false;
	/* Like a one-shot timerfd: only re-armed if curl asked for a new timeout. */
	if (c->want_ms < 0) {
		c->timer = 0;
		return EV_STOP;
	}
	return c->want_ms;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct http_client *c = userp;
	if (c->in_timer) {
		c->want_ms = timeout_ms;
		return 0;
	}
	if (timeout_ms < 0) {
		ev_timer_del(c->loop, c->timer);
		c->timer = 0;
		return 0;
	}
	if (c->timer && ev_timer_reset(c->loop, c->timer, timeout_ms) == 0)
		return 0;
	c->timer = ev_timer_add(c->loop, timeout_ms, on_timer, c);
	return c->timer ? 0 : -1;
}

/* --- results ---------------------------------------------------------------------------- */

static void classify(struct http_req *r, CURLcode rc, char *out, size_t cap)
{
	long oserr = 0;
	(void)curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		if (oserr == ECONNREFUSED)
			snprintf(out, cap, "connection refused");
		else if (oserr == EHOSTUNREACH)
			snprintf(out, cap, "host unreachable");
		else if (oserr == ENETUNREACH)
			snprintf(out, cap, "network unreachable");
		else
			snprintf(out, cap, "could not connect");
		break;
	case CURLE_OPERATION_TIMEDOUT: {
		curl_off_t connected = 0;
		(void)curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connected);
		if (connected == 0)
			snprintf(out, cap, "connect timeout after %ld ms", r->connect_ms);
		else
			snprintf(out, cap, "timeout after %ld ms", r->total_ms);
		break;
	}
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(out, cap, "could not resolve host");
		break;
	case CURLE_COULDNT_RESOLVE_PROXY:
		snprintf(out, cap, "could not resolve proxy");
		break;
	case CURLE_FILESIZE_EXCEEDED:
		snprintf(out, cap, "body too large (over %d bytes)", HTTP_BODY_CAP);
		break;
	case CURLE_WRITE_ERROR:
		if (r->too_big)
			snprintf(out, cap, "body too large (over %d bytes)", HTTP_BODY_CAP);
		else
			snprintf(out, cap, "out of memory storing the body");
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(out, cap, "TLS certificate verification failed");
		break;
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(out, cap, "TLS handshake failed");
		break;
	case CURLE_GOT_NOTHING:
		snprintf(out, cap, "empty reply from server");
		break;
	case CURLE_RECV_ERROR:
		snprintf(out, cap,
		         oserr == ECONNRESET ? "connection reset by peer" : "receive error");
		break;
	case CURLE_SEND_ERROR:
		snprintf(out, cap,
		         oserr == EPIPE || oserr == ECONNRESET ? "connection reset by peer"
		                                               : "send error");
		break;
	case CURLE_PARTIAL_FILE:
		snprintf(out, cap, "connection closed before the whole body arrived");
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(out, cap, "bad URL");
		break;
	case CURLE_TOO_MANY_REDIRECTS:
		snprintf(out, cap, "too many redirects");
		break;
	case CURLE_WEIRD_SERVER_REPLY:
		snprintf(out, cap, "not an HTTP reply");
		break;
	default:
		snprintf(out, cap, "%s", curl_easy_strerror(rc));
	}
}

static void drain(struct http_client *c)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		char *priv = NULL;
		(void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		struct http_req *r = (struct http_req *)(void *)priv;
		/* Remove first (this invalidates msg), so the callback may restart r. */
		(void)curl_multi_remove_handle(c->multi, easy);
		if (!r)
			continue;
		r->running = false;
		struct http_result res;
		memset(&res, 0, sizeof(res));
		if (rc == CURLE_OK) {
			res.ok = true;
			(void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res.status);
			res.body = r->buf ? r->buf : "";
			res.len = r->len;
		} else {
			res.body = "";
			classify(r, rc, res.error, sizeof(res.error));
		}
		http_done_fn *fn = r->fn;
		void *arg = r->arg;
		r->fn = NULL;
		/* r may be freed or restarted by the callback: do not touch it afterwards. */
		if (fn)
			fn(r, &res, arg);
	}
}

/* --- client ----------------------------------------------------------------------------- */

struct http_client *http_client_new(struct ev_loop *loop)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	struct http_client *c = calloc(1, sizeof(*c));
	if (!c) {
		curl_global_cleanup();
		return NULL;
	}
	c->loop = loop;
	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c);
		curl_global_cleanup();
		return NULL;
	}
	(void)curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	(void)curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	(void)curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	(void)curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	/* Requests outlive the client only as shells: their owners still free them. */
	while (c->reqs) {
		struct http_req *r = c->reqs;
		http_req_cancel(r);
		c->reqs = r->next;
		if (r->next)
			r->next->pprev = &c->reqs;
		r->next = NULL;
		r->pprev = NULL;
		r->c = NULL;
	}
	(void)curl_multi_cleanup(c->multi);
	if (c->timer)
		ev_timer_del(c->loop, c->timer);
	free(c);
	curl_global_cleanup();
}

/* --- requests --------------------------------------------------------------------------- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_req *r = userdata;
	size_t n = size * nmemb;
	if (n > HTTP_BODY_CAP - r->len) {
		r->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (r->len + n + 1 > r->cap) {
		size_t nc = r->cap ? r->cap : 4096;
		while (nc < r->len + n + 1)
			nc *= 2;
		char *nb = realloc(r->buf, nc);
		if (!nb)
			return 0;
		r->buf = nb;
		r->cap = nc;
	}
	memcpy(r->buf + r->len, ptr, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return n;
}

struct http_req *http_req_new(struct http_client *c)
{
	struct http_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->easy = curl_easy_init();
	if (!r->easy) {
		free(r);
		return NULL;
	}
	r->c = c;
	r->connect_ms = HTTP_DEFAULT_CONNECT_MS;
	r->total_ms = HTTP_DEFAULT_TOTAL_MS;
	CURL *h = r->easy;
	/* No SIGALRM-based DNS timeouts: we are single-threaded in a loop. */
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700 /* 7.87.0 */
	/* A lookup still running when the request times out or is removed is abandoned, not
	 * joined: without this, libcurl waits inside curl_multi_socket_action for its resolver
	 * thread, and the whole loop stalls until getaddrinfo gives up (20 s and more with a
	 * DNS server that does not answer). Older libcurl joins; nothing we can do there. */
	(void)curl_easy_setopt(h, CURLOPT_QUICK_EXIT, 1L);
#endif
	(void)curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)r);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	(void)curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_BODY_CAP);
	(void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* aiohttp (upstream) follows redirects; keep that, bounded. */
	(void)curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	(void)curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	(void)curl_easy_setopt(h, CURLOPT_USERAGENT, "astrameter/" AM_VERSION);
	(void)curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c) {
		r->next = c->reqs;
		if (r->next)
			r->next->pprev = &r->next;
		c->reqs = r;
		r->pprev = &c->reqs;
	}
	return r;
}

void http_req_free(struct http_req *r)
{
	if (!r)
		return;
	http_req_cancel(r);
	if (r->pprev) {
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
	}
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	curl_slist_free_all(r->all);
	free(r->ctype);
	free(r->buf);
	free(r);
}

int http_req_set_url(struct http_req *r, const char *url)
{
	return curl_easy_setopt(r->easy, CURLOPT_URL, url) == CURLE_OK ? 0 : -1;
}

int http_req_set_auth(struct http_req *r, const char *user, const char *pass, bool digest)
{
	CURL *h = r->easy;
	if (!user) {
		(void)curl_easy_setopt(h, CURLOPT_USERNAME, NULL);
		(void)curl_easy_setopt(h, CURLOPT_PASSWORD, NULL);
		(void)curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		return 0;
	}
	if (curl_easy_setopt(h, CURLOPT_USERNAME, user) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PASSWORD, pass ? pass : "") != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPAUTH,
	                     (long)(digest ? CURLAUTH_DIGEST : CURLAUTH_BASIC)) != CURLE_OK)
		return -1;
	return 0;
}

int http_req_add_header(struct http_req *r, const char *line)
{
	struct curl_slist *n = curl_slist_append(r->headers, line);
	if (!n)
		return -1;
	r->headers = n;
	r->headers_dirty = true;
	return 0;
}

void http_req_clear_headers(struct http_req *r)
{
	curl_slist_free_all(r->headers);
	r->headers = NULL;
	r->headers_dirty = true;
}

void http_req_set_timeouts(struct http_req *r, long connect_ms, long total_ms)
{
	r->connect_ms = connect_ms > 0 ? connect_ms : HTTP_DEFAULT_CONNECT_MS;
	r->total_ms = total_ms > 0 ? total_ms : HTTP_DEFAULT_TOTAL_MS;
}

int http_req_set_post(struct http_req *r, const char *body, size_t len, const char *content_type)
{
	CURL *h = r->easy;
	free(r->ctype);
	r->ctype = NULL;
	r->headers_dirty = true;
	if (!body)
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -1;
	if (content_type) {
		size_t n = strlen(content_type) + sizeof("Content-Type: ");
		r->ctype = malloc(n);
		if (!r->ctype)
			return -1;
		snprintf(r->ctype, n, "Content-Type: %s", content_type);
	}
	if (curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK)
		return -1;
	return 0;
}

void http_req_set_verify_tls(struct http_req *r, bool verify)
{
	(void)curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	(void)curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
}

void *http_req_easy(struct http_req *r)
{
	return r->easy;
}

static int build_headers(struct http_req *r)
{
	if (!r->headers_dirty)
		return 0;
	curl_slist_free_all(r->all);
	r->all = NULL;
	for (struct curl_slist *s = r->headers; s; s = s->next) {
		struct curl_slist *n = curl_slist_append(r->all, s->data);
		if (!n)
			return -1;
		r->all = n;
	}
	if (r->ctype) {
		struct curl_slist *n = curl_slist_append(r->all, r->ctype);
		if (!n)
			return -1;
		r->all = n;
	}
	if (curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->all) != CURLE_OK)
		return -1;
	r->headers_dirty = false;
	return 0;
}

int http_req_start(struct http_req *r, http_done_fn *fn, void *arg)
{
	if (r->running || !r->c)
		return -1;
	if (build_headers(r) != 0)
		return -1;
	(void)curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, r->connect_ms);
	(void)curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, r->total_ms);
	r->len = 0;
	r->too_big = false;
	if (r->buf)
		r->buf[0] = '\0';
	r->fn = fn;
	r->arg = arg;
	/* Adding the handle only makes curl ask for a 0 ms timeout; the transfer begins
	 * from the loop, never from inside this call. */
	if (curl_multi_add_handle(r->c->multi, r->easy) != CURLM_OK) {
		r->fn = NULL;
		return -1;
	}
	r->running = true;
	return 0;
}

bool http_req_running(const struct http_req *r)
{
	return r->running;
}

void http_req_cancel(struct http_req *r)
{
	if (!r->running)
		return;
	r->running = false;
	r->fn = NULL;
	if (r->c)
		(void)curl_multi_remove_handle(r->c->multi, r->easy);
}
