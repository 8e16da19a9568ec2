/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A WebSocket client connection in the event loop: name resolution by the loop's resolver
 * service (resolve.h: a worker thread, never a wait in the loop, abandoned if the open
 * times out), a nonblocking connect over the resolved addresses in turn (each gets a share
 * of the open timeout), an OpenSSL TLS session driven by WANT_READ/WANT_WRITE, the HTTP
 * upgrade, then wslay's event API for frames over the same socket. Why wslay: it is
 * Debian's small framing library that leaves the socket to us, so one epoll loop keeps
 * owning every fd and TLS stays in our hands (HomeWizard verifies a name that is not the
 * host); libwebsockets would bring its own service loop, TLS setup and logging.
 *
 * State moves forward only: RESOLVE -> CONNECT -> TLS -> UPGRADE -> OPEN, and any failure
 * ends in on_close. A single timer covers the open deadline and, once open, the heartbeat:
 * a ping after ping_ms without traffic, and a close if pong_ms pass after it with nothing
 * received (any frame proves the peer alive). ws_free() from inside a callback only marks
 * the object; the outermost dispatch frees it.
 *
 * Once open, a peer gets a bounded share of the loop and of memory (flow.h): one wakeup
 * reads at most ws_limits.read_bytes / read_msgs, then yields; while the messages queued
 * for the peer (our pongs to its pings, our own messages) are above the soft cap we stop
 * reading, and a peer that leaves them there for stall_ms, or lets them pass the hard
 * cap, is dropped. Without this a peer flooding pings and never reading our pongs kept
 * the loop inside wslay_event_recv and the pong queue growing without end. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <wslay/wslay.h>

#include "astrameter/flow.h"
#include "astrameter/resolve.h"
#include "astrameter/ws.h"
#include "net/ws_int.h"

static void ws_destroy(struct ws_conn *c);

/* ---------------------------------------------------------------- teardown */

/* keep_frames: we are inside wslay (a user callback freed the connection), so its context
 * must outlive this call; ws_destroy frees it later. */
void ws_close_transport(struct ws_conn *c, bool keep_frames)
{
	if (c->timer) {
		ev_timer_del(c->loop, c->timer);
		c->timer = 0;
	}
	if (c->io_added) {
		ev_io_del(c->loop, c->fd);
		c->io_added = false;
	}
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->wctx && !keep_frames) {
		wslay_event_context_free(c->wctx);
		c->wctx = NULL;
	}
	rsv_cancel(c->lookup); /* never waits: a lookup in flight is abandoned */
	c->lookup = NULL;
	free(c->addrs);
	c->addrs = NULL;
}

static void ws_destroy(struct ws_conn *c)
{
	ws_close_transport(c, false);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	free(c->hbuf);
	free(c->pre);
	free(c);
}

void ws_free(struct ws_conn *c)
{
	if (!c)
		return;
	c->state = WS_DONE;
	if (c->depth > 0) {
		/* Inside one of our callbacks: the outermost frame frees it. */
		c->freed = true;
		ws_close_transport(c, true);
		return;
	}
	ws_destroy(c);
}

/* Every entry from the loop goes through enter/leave so that ws_free() inside a user
 * callback is deferred until nothing of ours is on the stack. ws_leave() returns false if
 * the object is gone. */
void ws_enter(struct ws_conn *c)
{
	c->depth++;
}

bool ws_leave(struct ws_conn *c)
{
	if (--c->depth == 0 && c->freed) {
		ws_destroy(c);
		return false;
	}
	return !c->freed;
}

/* Ends the connection and reports why, once. */
void ws_fail(struct ws_conn *c, const char *fmt, ...)
{
	if (c->state == WS_DONE || c->freed)
		return;
	char why[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->state = WS_DONE;
	ws_close_transport(c, false);
	ws_enter(c);
	if (c->h.on_close)
		c->h.on_close(c, why, c->arg);
	ws_leave(c);
}

/* ---------------------------------------------------------------- state machine */

static void on_io(struct ev_loop *loop, int fd, unsigned events, void *arg);

void ws_update_io(struct ws_conn *c)
{
	if (c->fd < 0 || c->state == WS_DONE)
		return;
	unsigned want = EV_READ;
	switch (c->state) {
	case WS_CONNECT:
		want = EV_WRITE;
		break;
	case WS_TLS:
		want = c->ssl_want_write ? EV_WRITE : EV_READ;
		break;
	case WS_UPGRADE:
		want = c->hoff < c->hlen ? EV_WRITE : EV_READ;
		break;
	case WS_OPEN:
		/* Paused: only the write side, until the peer takes what we queued. */
		want = c->flow.paused ? 0u : EV_READ;
		if (wslay_event_want_write(c->wctx) || c->ssl_want_write)
			want |= EV_WRITE;
		break;
	default:
		break;
	}
	if (!c->io_added) {
		if (ev_io_add(c->loop, c->fd, want, on_io, c) != 0) {
			ws_fail(c, "cannot watch socket: %s", strerror(errno));
			return;
		}
		c->io_added = true;
		c->io_mask = want;
	} else if (want != c->io_mask) {
		if (ev_io_mod(c->loop, c->fd, want) != 0) {
			ws_fail(c, "cannot watch socket: %s", strerror(errno));
			return;
		}
		c->io_mask = want;
	}
}

static void start_upgrade(struct ws_conn *c)
{
	c->state = WS_UPGRADE;
	c->hcap = 4096;
	c->hbuf = malloc(c->hcap);
	if (!c->hbuf) {
		ws_fail(c, "out of memory");
		return;
	}
	int n = ws_build_request(c->hbuf, c->hcap, c->path, c->host_hdr, c->key);
	if (n < 0) {
		ws_fail(c, "upgrade request does not fit");
		return;
	}
	c->hlen = (size_t)n;
	c->hoff = 0;
}

static void start_tls(struct ws_conn *c)
{
	c->state = WS_TLS;
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		ws_fail(c, "TLS setup failed");
		return;
	}
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	const char *name = c->tls_name;
	struct in6_addr a6;
	struct in_addr a4;
	bool is_ip = inet_pton(AF_INET, name, &a4) == 1 || inet_pton(AF_INET6, name, &a6) == 1;
	/* SNI carries names only (RFC 6066), as Python's ssl does. */
	if (!is_ip && SSL_set_tlsext_host_name(c->ssl, name) != 1) {
		ws_fail(c, "TLS: bad server name");
		return;
	}
	if (c->verify) {
		X509_VERIFY_PARAM *p = SSL_get0_param(c->ssl);
		X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(p, name)
		               : X509_VERIFY_PARAM_set1_host(p, name, 0);
		if (ok != 1) {
			ws_fail(c, "TLS: cannot check name '%s'", name);
			return;
		}
		SSL_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	}
	SSL_set_connect_state(c->ssl);
}

static void step_tls(struct ws_conn *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		start_upgrade(c);
		return;
	}
	int err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		c->ssl_want_write = err == SSL_ERROR_WANT_WRITE;
		return;
	}
	long vr = SSL_get_verify_result(c->ssl);
	if (vr != X509_V_OK) {
		ws_fail(c, "TLS: certificate verify failed: %s", X509_verify_cert_error_string(vr));
		return;
	}
	unsigned long ec = ERR_get_error();
	ws_fail(c, "TLS handshake failed: %s",
	        ec ? ERR_reason_error_string(ec) : "connection closed");
}

static void step_upgrade(struct ws_conn *c, unsigned events)
{
	char eb[160];
	while (c->hoff < c->hlen) {
		ssize_t n = ws_raw_write(c, c->hbuf + c->hoff, c->hlen - c->hoff, eb, sizeof(eb));
		if (n == -1)
			return;
		if (n < 0) {
			ws_fail(c, "%s", eb);
			return;
		}
		c->hoff += (size_t)n;
		if (c->hoff == c->hlen)
			c->hlen = c->hoff = 0; /* buffer now collects the answer */
		if (c->hlen == 0)
			break;
	}
	(void)events;
	for (;;) {
		if (c->hlen + 1 >= c->hcap) {
			if (c->hcap >= 32768) {
				ws_fail(c, "upgrade answer too long");
				return;
			}
			char *nb = realloc(c->hbuf, c->hcap * 2);
			if (!nb) {
				ws_fail(c, "out of memory");
				return;
			}
			c->hbuf = nb;
			c->hcap *= 2;
		}
		ssize_t n =
		        ws_raw_read(c, c->hbuf + c->hlen, c->hcap - c->hlen - 1, eb, sizeof(eb));
		if (n == -1)
			return;
		if (n == 0) {
			ws_fail(c, "connection closed during the upgrade");
			return;
		}
		if (n < 0) {
			ws_fail(c, "%s", eb);
			return;
		}
		c->hlen += (size_t)n;
		size_t used;
		int status;
		struct err e;
		int r = ws_parse_response(c->hbuf, c->hlen, c->accept, &used, &status, &e);
		if (r < 0) {
			ws_fail(c, "%s", e.msg);
			return;
		}
		if (r == 0)
			continue;
		if (ws_start_frames(c, c->hbuf + used, c->hlen - used) != 0) {
			ws_fail(c, "out of memory");
			return;
		}
		free(c->hbuf);
		c->hbuf = NULL;
		c->hlen = c->hcap = 0;
		c->state = WS_OPEN;
		c->last_rx = ev_now(c->loop);
		c->ping_out = false;
		if (c->h.on_open)
			c->h.on_open(c, c->arg);
		if (c->freed || c->state != WS_OPEN)
			return;
		/* Frames that came with the 101 answer, and anything on_open queued. */
		ws_pump(c, true);
		return;
	}
}

static void try_connect(struct ws_conn *c);

static void try_connect(struct ws_conn *c);

/* The connect to address ai - 1 failed (why): drop its socket and go on with the next,
 * or fail naming every address tried. */
static void next_address(struct ws_conn *c, const char *why)
{
	char addr[64];
	snprintf(c->last_why, sizeof(c->last_why), "%s", why);
	size_t used = strlen(c->tried);
	if (c->ai > 0 && used + 1 < sizeof(c->tried))
		snprintf(c->tried + used, sizeof(c->tried) - used, "%s%s: %s", used ? "; " : "",
		         rsv_addr_str(&c->addrs->addr[c->ai - 1], addr, sizeof(addr)), why);
	if (c->io_added) {
		ev_io_del(c->loop, c->fd);
		c->io_added = false;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	try_connect(c);
}

static void step_connect(struct ws_conn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		soerr = errno;
	if (soerr == EINPROGRESS || soerr == EALREADY)
		return;
	if (soerr != 0) {
		/* Next address of the name, as a browser would. */
		next_address(c, strerror(soerr));
		return;
	}
	if (c->tls) {
		start_tls(c);
		if (c->state == WS_TLS)
			step_tls(c);
	} else {
		start_upgrade(c);
	}
	if (c->state == WS_UPGRADE)
		step_upgrade(c, EV_WRITE);
}

static void on_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)fd;
	struct ws_conn *c = arg;
	ws_enter(c);
	switch (c->state) {
	case WS_CONNECT:
		step_connect(c);
		break;
	case WS_TLS:
		step_tls(c);
		if (c->state == WS_UPGRADE)
			step_upgrade(c, events);
		break;
	case WS_UPGRADE:
		step_upgrade(c, events);
		break;
	case WS_OPEN:
		flow_wakeup(&c->flow, &ws_limits);
		ws_pump(c, (events & (EV_READ | EV_ERROR)) != 0 || c->ssl_want_write);
		break;
	default:
		break;
	}
	if (!c->freed && c->state != WS_DONE && c->state != WS_OPEN)
		ws_update_io(c);
	ws_leave(c);
}

/* Connects to the next address that takes a socket; fails when none is left. */
static void try_connect(struct ws_conn *c)
{
	while (c->addrs && c->ai < c->addrs->n) {
		const struct rsv_addr *a = &c->addrs->addr[c->ai++];
		int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			next_address(c, strerror(errno));
			return;
		}
		c->fd = fd;
		c->state = WS_CONNECT;
		if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 ||
		    errno == EINPROGRESS) {
			/* The time left is shared among the addresses left, so one that
			 * swallows packets does not use it all (a second at least). */
			ev_ms now = ev_now(c->loop);
			ev_ms share = (c->open_deadline - now) / (ev_ms)(c->addrs->n - c->ai + 1);
			c->addr_deadline = now + (share > 1000 ? share : 1000);
			if (c->timer)
				(void)ev_timer_reset(c->loop, c->timer,
				                     (c->addr_deadline < c->open_deadline
				                              ? c->addr_deadline
				                              : c->open_deadline) -
				                             now);
			ws_update_io(c);
			return;
		}
		next_address(c, strerror(errno));
		return;
	}
	if (c->addrs && c->addrs->n > 1)
		ws_fail(c, "connect to %s:%u failed at every address: %s", c->host, c->port,
		        c->tried);
	else if (c->addrs && c->addrs->n == 1)
		ws_fail(c, "connect to %s:%u: %s", c->host, c->port, c->last_why);
	else
		ws_fail(c, "connect to %s:%u: no usable address", c->host, c->port);
}

/* The resolver answered (in the loop). */
static void on_resolved(struct rsv_result *res, int err, void *arg)
{
	struct ws_conn *c = arg;
	c->lookup = NULL;
	ws_enter(c);
	if (!res) {
		ws_fail(c, "cannot resolve %s: %s", c->host, rsv_strerror(err));
	} else if (c->state == WS_RESOLVE) {
		c->addrs = res;
		c->ai = 0;
		try_connect(c);
	} else {
		free(res);
	}
	ws_leave(c);
}

/* Timer: the open deadline, the deadline of the address being connected, the
 * heartbeat. */
ev_ms ws_on_timer(struct ev_loop *loop, void *arg)
{
	struct ws_conn *c = arg;
	ev_ms now = ev_now(loop);
	ev_ms next = EV_STOP;
	ws_enter(c);
	if (c->state != WS_OPEN && now >= c->open_deadline) {
		c->timer = 0; /* returning EV_STOP ends it; fail must not delete it */
		ws_fail(c, "timeout after %lld ms opening %s:%u", (long long)c->open_timeout,
		        c->host, c->port);
		ws_leave(c);
		return EV_STOP;
	}
	if (c->state == WS_CONNECT && now >= c->addr_deadline) {
		next_address(c, "no answer in time");
		if (c->freed || c->state == WS_DONE) {
			c->timer = 0;
			ws_leave(c);
			return EV_STOP;
		}
		/* try_connect re-armed the timer; keep that delay. */
		next = c->addr_deadline < c->open_deadline ? c->addr_deadline : c->open_deadline;
		next -= now;
	} else if (c->state == WS_CONNECT) {
		next = c->addr_deadline < c->open_deadline ? c->addr_deadline : c->open_deadline;
		next -= now;
	} else if (c->state == WS_OPEN) {
		if (!ws_check_flow(c)) {
			c->timer = 0; /* fail deleted it (safe inside its own callback) */
			ws_leave(c);
			return EV_STOP;
		}
		if (c->ping_out && now - c->ping_at >= c->pong_ms) {
			c->timer = 0;
			ws_fail(c, "no answer within %lld ms of a ping", (long long)c->pong_ms);
			ws_leave(c);
			return EV_STOP;
		}
		if (!c->ping_out && c->ping_ms > 0 && now - c->last_rx >= c->ping_ms) {
			struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
			if (wslay_event_queue_msg(c->wctx, &m) == 0) {
				c->ping_out = true;
				c->ping_at = now;
				ws_pump(c, false);
			}
		}
		if (c->state == WS_OPEN && !c->freed) {
			if (c->ping_out)
				next = c->ping_at + c->pong_ms - now;
			else if (c->ping_ms > 0)
				next = c->last_rx + c->ping_ms - now;
			else
				next = EV_STOP;
			ev_ms stall = flow_stall_in(&c->flow, &ws_limits, now);
			if (stall != EV_STOP && (next == EV_STOP || stall < next))
				next = stall;
			if (next != EV_STOP && next < 1)
				next = 1;
		}
	} else if (c->state != WS_DONE) {
		next = c->open_deadline - now;
	}
	if (next == EV_STOP)
		c->timer = 0;
	if (!ws_leave(c))
		return EV_STOP;
	return c->state == WS_DONE ? EV_STOP : next;
}

/* ---------------------------------------------------------------- public */

static int make_key(struct ws_conn *c, const struct ws_opts *o)
{
	if (o->fixed_key) {
		snprintf(c->key, sizeof(c->key), "%s", o->fixed_key);
	} else {
		unsigned char raw[16];
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			return -1;
		EVP_EncodeBlock((unsigned char *)c->key, raw, sizeof(raw));
	}
	return ws_accept_for_key(c->key, c->accept);
}

static struct ws_conn *conn_new(struct ev_loop *loop, const struct ws_opts *o,
                                const struct ws_handlers *h, void *arg, struct err *e)
{
	if (!o->host || !*o->host || strlen(o->host) >= sizeof(((struct ws_conn *)0)->host)) {
		err_set(e, "WebSocket: bad host");
		return NULL;
	}
	struct ws_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		err_set(e, "out of memory");
		return NULL;
	}
	c->loop = loop;
	c->h = *h;
	c->arg = arg;
	c->fd = -1;
	c->port = o->port;
	c->tls = o->tls;
	c->verify = o->verify;
	snprintf(c->host, sizeof(c->host), "%s", o->host);
	snprintf(c->path, sizeof(c->path), "%s", o->path && *o->path ? o->path : "/");
	snprintf(c->tls_name, sizeof(c->tls_name), "%s", o->tls_name ? o->tls_name : o->host);
	if (o->host_hdr) {
		snprintf(c->host_hdr, sizeof(c->host_hdr), "%s", o->host_hdr);
	} else {
		bool v6 = strchr(o->host, ':') != NULL;
		bool dflt = o->port == (o->tls ? 443 : 80);
		if (dflt)
			snprintf(c->host_hdr, sizeof(c->host_hdr), v6 ? "[%s]" : "%s", o->host);
		else
			snprintf(c->host_hdr, sizeof(c->host_hdr), v6 ? "[%s]:%u" : "%s:%u",
			         o->host, o->port);
	}
	if (o->ca_file) {
		snprintf(c->ca_file, sizeof(c->ca_file), "%s", o->ca_file);
		c->have_ca = true;
	}
	c->open_timeout = o->open_timeout_ms > 0 ? o->open_timeout_ms : 10000;
	c->ping_ms = o->ping_ms;
	c->pong_ms = o->pong_ms > 0 ? o->pong_ms : 15000;
	c->max_msg = o->max_msg ? o->max_msg : (size_t)1 << 20;
	if (make_key(c, o) != 0) {
		free(c);
		err_set(e, "WebSocket: cannot make a key");
		return NULL;
	}
	c->open_deadline = ev_now(loop) + c->open_timeout;
	return c;
}

static int setup_tls(struct ws_conn *c, struct err *e)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		return err_set(e, "TLS: cannot create a context");
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	if (c->verify) {
		int ok = c->have_ca ? SSL_CTX_load_verify_locations(c->ctx, c->ca_file, NULL)
		                    : SSL_CTX_set_default_verify_paths(c->ctx);
		if (ok != 1)
			return err_set(e, "TLS: cannot load CA certificates%s%s",
			               c->have_ca ? " from " : "", c->have_ca ? c->ca_file : "");
	}
	return 0;
}

struct ws_conn *ws_open(struct ev_loop *loop, const struct ws_opts *o, const struct ws_handlers *h,
                        void *arg, struct err *e)
{
	struct ws_conn *c = conn_new(loop, o, h, arg, e);
	if (!c)
		return NULL;
	if (c->tls && setup_tls(c, e) != 0) {
		ws_destroy(c);
		return NULL;
	}
	/* A literal address comes back on the next round without a thread; either way
	 * on_close never runs inside ws_open. */
	char port[8];
	snprintf(port, sizeof(port), "%u", c->port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
	struct rsv *svc = rsv_of(loop);
	c->state = WS_RESOLVE;
	c->lookup = svc ? rsv_resolve(svc, c->host, port, &hints, on_resolved, c) : NULL;
	if (!c->lookup) {
		err_set(e, "cannot resolve %s: %s", o->host, strerror(errno));
		ws_destroy(c);
		return NULL;
	}
	c->timer = ev_timer_add(loop, c->open_timeout, ws_on_timer, c);
	if (!c->timer) {
		ws_destroy(c);
		err_set(e, "out of memory");
		return NULL;
	}
	return c;
}

struct ws_conn *ws_open_fd(struct ev_loop *loop, int fd, const struct ws_opts *o,
                           const struct ws_handlers *h, void *arg, struct err *e)
{
	struct ws_opts lo = *o;
	if (!lo.host)
		lo.host = "localhost";
	lo.tls = false;
	struct ws_conn *c = conn_new(loop, &lo, h, arg, e);
	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	start_upgrade(c);
	if (c->state != WS_UPGRADE) {
		ws_destroy(c);
		err_set(e, "upgrade request does not fit");
		return NULL;
	}
	if (ev_io_add(loop, fd, EV_WRITE, on_io, c) == 0) {
		c->io_added = true;
		c->io_mask = EV_WRITE;
	}
	c->timer = ev_timer_add(loop, c->open_timeout, ws_on_timer, c);
	if (!c->io_added || !c->timer) {
		ws_destroy(c);
		err_set(e, "cannot watch the socket");
		return NULL;
	}
	return c;
}

int ws_send_text(struct ws_conn *c, const char *msg, size_t len)
{
	if (!c || c->state != WS_OPEN || c->freed)
		return -1;
	if (c->overrun)
		return -1;
	/* Past the hard cap the peer is not reading: refuse, and let the timer fail the
	 * connection from the loop (never inside this call). */
	if (wslay_event_get_queued_msg_length(c->wctx) + len > ws_limits.hard_bytes ||
	    wslay_event_get_queued_msg_count(c->wctx) + 1 > ws_limits.hard_msgs) {
		c->overrun = true;
		ws_kick_timer(c);
		return -1;
	}
	struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)msg, len};
	if (wslay_event_queue_msg(c->wctx, &m) != 0)
		return -1;
	/* Never write here: the loop calls back when the socket is writable, so a write
	 * error reaches the owner through on_close from the loop, not from inside this
	 * call. (Within a dispatch the pump that follows sends it anyway.) */
	unsigned want = EV_READ | EV_WRITE;
	if (c->io_added && c->io_mask != want && ev_io_mod(c->loop, c->fd, want) == 0)
		c->io_mask = want;
	return 0;
}

bool ws_is_open(const struct ws_conn *c)
{
	return c && c->state == WS_OPEN && !c->freed;
}
