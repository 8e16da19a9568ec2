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
 * reads at most WS_LIMITS.read_bytes / read_msgs, then yields; while the messages queued
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

enum ws_state { WS_RESOLVE, WS_CONNECT, WS_TLS, WS_UPGRADE, WS_OPEN, WS_DONE };

/* Our peers (Home Assistant, HomeWizard) send a few small messages a second and take our
 * few small ones at once; these limits only ever bite a broken or hostile peer. A TLS
 * record (16 KiB) already decrypted is read to its end even past them, since epoll
 * cannot see it; that and wslay's 4 KiB buffer are the overshoot the hard cap allows. */
static const struct flow_limits WS_LIMITS = {
        .read_bytes = 64 * 1024,
        .read_msgs = 64,
        .soft_bytes = 256 * 1024,
        .soft_msgs = 256,
        .hard_bytes = 4 * 1024 * 1024,
        .hard_msgs = 16384,
        .stall_ms = 5000,
};

struct ws_conn {
	struct ev_loop *loop;
	struct ws_handlers h;
	void *arg;
	enum ws_state state;

	char host[256], path[512], host_hdr[300], tls_name[256], ca_file[512];
	uint16_t port;
	bool tls, verify, have_ca;
	ev_ms open_timeout, ping_ms, pong_ms;
	size_t max_msg;
	char key[32], accept[29];

	struct rsv_req *lookup;   /* in WS_RESOLVE */
	struct rsv_result *addrs; /* the addresses of the name */
	size_t ai;                /* the next one to try */
	ev_ms addr_deadline;      /* give up on the address being connected */
	char tried[320];          /* "addr: why; ..." for the final complaint */
	char last_why[128];       /* why the last address failed */
	int fd;
	bool io_added;
	unsigned io_mask;
	uint64_t timer;
	ev_ms open_deadline;

	SSL_CTX *ctx;
	SSL *ssl;
	bool ssl_want_write; /* the last SSL call needs the socket writable */

	char *hbuf; /* upgrade request, then the answer */
	size_t hlen, hoff, hcap;
	char *pre; /* bytes that came after the 101 header: the first frames */
	size_t pre_len, pre_off;

	wslay_event_context_ptr wctx;
	ev_ms last_rx, ping_at;
	bool ping_out;
	bool eof;
	struct flow flow;
	bool overrun; /* ws_send_text went past the hard cap; on_timer fails it */

	int depth; /* callbacks of ours on the stack */
	bool freed;
};

static void ws_destroy(struct ws_conn *c);
static void ws_update_io(struct ws_conn *c);

/* ---------------------------------------------------------------- teardown */

/* keep_frames: we are inside wslay (a user callback freed the connection), so its context
 * must outlive this call; ws_destroy frees it later. */
static void close_transport(struct ws_conn *c, bool keep_frames)
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
	close_transport(c, false);
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
		close_transport(c, true);
		return;
	}
	ws_destroy(c);
}

/* Every entry from the loop goes through enter/leave so that ws_free() inside a user
 * callback is deferred until nothing of ours is on the stack. leave() returns false if
 * the object is gone. */
static void enter(struct ws_conn *c)
{
	c->depth++;
}

static bool leave(struct ws_conn *c)
{
	if (--c->depth == 0 && c->freed) {
		ws_destroy(c);
		return false;
	}
	return !c->freed;
}

/* Ends the connection and reports why, once. */
static void fail(struct ws_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct ws_conn *c, const char *fmt, ...)
{
	if (c->state == WS_DONE || c->freed)
		return;
	char why[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->state = WS_DONE;
	close_transport(c, false);
	enter(c);
	if (c->h.on_close)
		c->h.on_close(c, why, c->arg);
	leave(c);
}

/* ---------------------------------------------------------------- raw I/O */

/* Reads from the socket or the TLS session. >0 bytes, 0 = EOF, -1 = would block (errno
 * EAGAIN), -2 = error (why in c's caller via errbuf). */
static ssize_t raw_read(struct ws_conn *c, void *buf, size_t len, char *errbuf, size_t errlen)
{
	if (!c->ssl) {
		ssize_t n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return -1;
		snprintf(errbuf, errlen, "read: %s", strerror(errno));
		return -2;
	}
	ERR_clear_error();
	int n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0) {
		c->ssl_want_write = false;
		return n;
	}
	int err = SSL_get_error(c->ssl, n);
	switch (err) {
	case SSL_ERROR_WANT_READ:
		c->ssl_want_write = false;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		c->ssl_want_write = true;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			/* EOF without close_notify: the peer went away. */
			return 0;
		}
		break;
	default:
		break;
	}
	unsigned long ec = ERR_get_error();
	snprintf(errbuf, errlen, "TLS read: %s", ec ? ERR_reason_error_string(ec) : "error");
	return -2;
}

static ssize_t raw_write(struct ws_conn *c, const void *buf, size_t len, char *errbuf,
                         size_t errlen)
{
	if (!c->ssl) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return -1;
		snprintf(errbuf, errlen, "write: %s", strerror(errno));
		return -2;
	}
	ERR_clear_error();
	int n = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0) {
		c->ssl_want_write = false;
		return n;
	}
	int err = SSL_get_error(c->ssl, n);
	if (err == SSL_ERROR_WANT_WRITE) {
		c->ssl_want_write = true;
		return -1;
	}
	if (err == SSL_ERROR_WANT_READ) {
		c->ssl_want_write = false;
		return -1;
	}
	unsigned long ec = ERR_get_error();
	snprintf(errbuf, errlen, "TLS write: %s", ec ? ERR_reason_error_string(ec) : "error");
	return -2;
}

/* ---------------------------------------------------------------- wslay glue */

static ssize_t wsl_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                        void *user)
{
	(void)flags;
	struct ws_conn *c = user;
	if (c->pre_off < c->pre_len) {
		size_t n = c->pre_len - c->pre_off;
		if (n > len)
			n = len;
		memcpy(buf, c->pre + c->pre_off, n);
		c->pre_off += n;
		return (ssize_t)n;
	}
	if (c->eof || c->fd < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	/* Yield when this wakeup's budget is spent or the peer is not taking what we queued
	 * for it. wslay asks for bytes only when its buffer holds no complete header or
	 * payload piece, so nothing parsable is left behind; the socket stays readable and
	 * the loop comes back. Plaintext OpenSSL has already decrypted is not visible to
	 * epoll, so that is read to the end of its record first. */
	bool tls_pending = c->ssl && SSL_pending(c->ssl) > 0;
	if (!tls_pending && (!flow_budget_left(&c->flow) ||
	                     flow_over_soft(&WS_LIMITS, wslay_event_get_queued_msg_length(ctx),
	                                    wslay_event_get_queued_msg_count(ctx)))) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (!tls_pending && len > c->flow.bytes_left)
		len = c->flow.bytes_left;
	char eb[160];
	ssize_t n = raw_read(c, buf, len, eb, sizeof(eb));
	if (n > 0) {
		flow_took(&c->flow, (size_t)n, 0);
		c->last_rx = ev_now(c->loop);
		c->ping_out = false;
		return n;
	}
	if (n == -1) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	c->eof = true;
	wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static ssize_t wsl_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                        void *user)
{
	(void)flags;
	struct ws_conn *c = user;
	char eb[160];
	ssize_t n = raw_write(c, data, len, eb, sizeof(eb));
	if (n >= 0)
		return n;
	wslay_event_set_error(ctx, n == -1 ? WSLAY_ERR_WOULDBLOCK : WSLAY_ERR_CALLBACK_FAILURE);
	return -1;
}

static int wsl_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	(void)user;
	if (RAND_bytes(buf, (int)len) != 1) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return 0;
}

static void wsl_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                    void *user)
{
	(void)ctx;
	struct ws_conn *c = user;
	flow_took(&c->flow, 0, 1);
	if (c->freed || c->state != WS_OPEN)
		return;
	if (a->opcode == WSLAY_TEXT_FRAME && c->h.on_text)
		c->h.on_text(c, (const char *)a->msg, a->msg_length, c->arg);
}

static ev_ms on_timer(struct ev_loop *loop, void *arg);

/* Has on_timer look at the connection on the next round (it computes its own next
 * delay from the state, so an early run is harmless). */
static void kick_timer(struct ws_conn *c)
{
	if (c->timer)
		(void)ev_timer_reset(c->loop, c->timer, 0);
	else
		c->timer = ev_timer_add(c->loop, 0, on_timer, c);
}

/* After a round of I/O, and from the timer: pauses reading while the queue for the peer
 * is above the soft cap, and gives the peer up when it lets the queue overrun or stall
 * (flow.h). false when the connection was failed. */
static bool check_flow(struct ws_conn *c)
{
	size_t qb = wslay_event_get_queued_msg_length(c->wctx);
	size_t qm = wslay_event_get_queued_msg_count(c->wctx);
	ev_ms now = ev_now(c->loop);
	bool was_paused = c->flow.paused;
	enum flow_verdict v = flow_update(&c->flow, &WS_LIMITS, qb, qm, now);
	if (c->overrun || v == FLOW_OVERRUN) {
		fail(c, "peer is not reading: send queue over the limit (%zu messages, %zu bytes)",
		     qm, qb);
		return false;
	}
	if (v == FLOW_STALLED) {
		fail(c, "peer is not reading: %zu messages (%zu bytes) unsent for %lld ms", qm, qb,
		     (long long)(now - c->flow.paused_since));
		return false;
	}
	if (v == FLOW_PAUSE && !was_paused)
		kick_timer(c); /* the timer now also watches the stall deadline */
	return true;
}

/* Runs wslay's reader and writer and decides whether the connection lives on. */
static void pump(struct ws_conn *c, bool readable)
{
	if (readable && wslay_event_want_read(c->wctx)) {
		int r = wslay_event_recv(c->wctx);
		if (c->freed || c->state != WS_OPEN)
			return;
		if (wslay_event_get_close_received(c->wctx)) {
			/* Answer the close (best effort) and report the peer's code. */
			(void)wslay_event_send(c->wctx);
			fail(c, "closed by peer (%u)",
			     wslay_event_get_status_code_received(c->wctx));
			return;
		}
		if (r != 0 && !c->eof) {
			fail(c, "WebSocket receive failed (%d)", r);
			return;
		}
		if (c->eof) {
			fail(c, "connection closed by peer");
			return;
		}
	}
	if (wslay_event_want_write(c->wctx)) {
		if (wslay_event_send(c->wctx) != 0) {
			fail(c, "WebSocket send failed");
			return;
		}
	}
	if (c->eof) {
		fail(c, "connection closed by peer");
		return;
	}
	if (wslay_event_get_close_received(c->wctx) || wslay_event_get_close_sent(c->wctx)) {
		/* Close handshake: done once our close frame is out (or cannot go out). */
		if (!wslay_event_want_write(c->wctx)) {
			unsigned code = wslay_event_get_status_code_received(c->wctx);
			if (wslay_event_get_close_received(c->wctx))
				fail(c, "closed by peer (%u)", code);
			else
				fail(c, "closed (protocol error or message too big, %u)",
				     wslay_event_get_status_code_sent(c->wctx));
			return;
		}
	}
	if (!check_flow(c))
		return;
	ws_update_io(c);
}

/* ---------------------------------------------------------------- state machine */

static void on_io(struct ev_loop *loop, int fd, unsigned events, void *arg);

static void ws_update_io(struct ws_conn *c)
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
			fail(c, "cannot watch socket: %s", strerror(errno));
			return;
		}
		c->io_added = true;
		c->io_mask = want;
	} else if (want != c->io_mask) {
		if (ev_io_mod(c->loop, c->fd, want) != 0) {
			fail(c, "cannot watch socket: %s", strerror(errno));
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
		fail(c, "out of memory");
		return;
	}
	int n = ws_build_request(c->hbuf, c->hcap, c->path, c->host_hdr, c->key);
	if (n < 0) {
		fail(c, "upgrade request does not fit");
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
		fail(c, "TLS setup failed");
		return;
	}
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	const char *name = c->tls_name;
	struct in6_addr a6;
	struct in_addr a4;
	bool is_ip = inet_pton(AF_INET, name, &a4) == 1 || inet_pton(AF_INET6, name, &a6) == 1;
	/* SNI carries names only (RFC 6066), as Python's ssl does. */
	if (!is_ip && SSL_set_tlsext_host_name(c->ssl, name) != 1) {
		fail(c, "TLS: bad server name");
		return;
	}
	if (c->verify) {
		X509_VERIFY_PARAM *p = SSL_get0_param(c->ssl);
		X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(p, name)
		               : X509_VERIFY_PARAM_set1_host(p, name, 0);
		if (ok != 1) {
			fail(c, "TLS: cannot check name '%s'", name);
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
		fail(c, "TLS: certificate verify failed: %s", X509_verify_cert_error_string(vr));
		return;
	}
	unsigned long ec = ERR_get_error();
	fail(c, "TLS handshake failed: %s", ec ? ERR_reason_error_string(ec) : "connection closed");
}

static int start_frames(struct ws_conn *c, const char *rest, size_t n)
{
	static const struct wslay_event_callbacks cbs = {
	        .recv_callback = wsl_recv,
	        .send_callback = wsl_send,
	        .genmask_callback = wsl_genmask,
	        .on_msg_recv_callback = wsl_msg,
	};
	if (wslay_event_context_client_init(&c->wctx, &cbs, c) != 0)
		return -1;
	flow_init(&c->flow);
	flow_wakeup(&c->flow, &WS_LIMITS); /* the wakeup that opened it may read frames too */
	wslay_event_config_set_max_recv_msg_length(c->wctx, c->max_msg);
	if (n) {
		c->pre = malloc(n);
		if (!c->pre)
			return -1;
		memcpy(c->pre, rest, n);
		c->pre_len = n;
		c->pre_off = 0;
	}
	return 0;
}

static void step_upgrade(struct ws_conn *c, unsigned events)
{
	char eb[160];
	while (c->hoff < c->hlen) {
		ssize_t n = raw_write(c, c->hbuf + c->hoff, c->hlen - c->hoff, eb, sizeof(eb));
		if (n == -1)
			return;
		if (n < 0) {
			fail(c, "%s", eb);
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
				fail(c, "upgrade answer too long");
				return;
			}
			char *nb = realloc(c->hbuf, c->hcap * 2);
			if (!nb) {
				fail(c, "out of memory");
				return;
			}
			c->hbuf = nb;
			c->hcap *= 2;
		}
		ssize_t n = raw_read(c, c->hbuf + c->hlen, c->hcap - c->hlen - 1, eb, sizeof(eb));
		if (n == -1)
			return;
		if (n == 0) {
			fail(c, "connection closed during the upgrade");
			return;
		}
		if (n < 0) {
			fail(c, "%s", eb);
			return;
		}
		c->hlen += (size_t)n;
		size_t used;
		int status;
		struct err e;
		int r = ws_parse_response(c->hbuf, c->hlen, c->accept, &used, &status, &e);
		if (r < 0) {
			fail(c, "%s", e.msg);
			return;
		}
		if (r == 0)
			continue;
		if (start_frames(c, c->hbuf + used, c->hlen - used) != 0) {
			fail(c, "out of memory");
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
		pump(c, true);
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
	enter(c);
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
		flow_wakeup(&c->flow, &WS_LIMITS);
		pump(c, (events & (EV_READ | EV_ERROR)) != 0 || c->ssl_want_write);
		break;
	default:
		break;
	}
	if (!c->freed && c->state != WS_DONE && c->state != WS_OPEN)
		ws_update_io(c);
	leave(c);
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
		fail(c, "connect to %s:%u failed at every address: %s", c->host, c->port, c->tried);
	else if (c->addrs && c->addrs->n == 1)
		fail(c, "connect to %s:%u: %s", c->host, c->port, c->last_why);
	else
		fail(c, "connect to %s:%u: no usable address", c->host, c->port);
}

/* The resolver answered (in the loop). */
static void on_resolved(struct rsv_result *res, int err, void *arg)
{
	struct ws_conn *c = arg;
	c->lookup = NULL;
	enter(c);
	if (!res) {
		fail(c, "cannot resolve %s: %s", c->host, rsv_strerror(err));
	} else if (c->state == WS_RESOLVE) {
		c->addrs = res;
		c->ai = 0;
		try_connect(c);
	} else {
		free(res);
	}
	leave(c);
}

/* Timer: the open deadline, the deadline of the address being connected, the
 * heartbeat. */
static ev_ms on_timer(struct ev_loop *loop, void *arg)
{
	struct ws_conn *c = arg;
	ev_ms now = ev_now(loop);
	ev_ms next = EV_STOP;
	enter(c);
	if (c->state != WS_OPEN && now >= c->open_deadline) {
		c->timer = 0; /* returning EV_STOP ends it; fail must not delete it */
		fail(c, "timeout after %lld ms opening %s:%u", (long long)c->open_timeout, c->host,
		     c->port);
		leave(c);
		return EV_STOP;
	}
	if (c->state == WS_CONNECT && now >= c->addr_deadline) {
		next_address(c, "no answer in time");
		if (c->freed || c->state == WS_DONE) {
			c->timer = 0;
			leave(c);
			return EV_STOP;
		}
		/* try_connect re-armed the timer; keep that delay. */
		next = c->addr_deadline < c->open_deadline ? c->addr_deadline : c->open_deadline;
		next -= now;
	} else if (c->state == WS_CONNECT) {
		next = c->addr_deadline < c->open_deadline ? c->addr_deadline : c->open_deadline;
		next -= now;
	} else if (c->state == WS_OPEN) {
		if (!check_flow(c)) {
			c->timer = 0; /* fail deleted it (safe inside its own callback) */
			leave(c);
			return EV_STOP;
		}
		if (c->ping_out && now - c->ping_at >= c->pong_ms) {
			c->timer = 0;
			fail(c, "no answer within %lld ms of a ping", (long long)c->pong_ms);
			leave(c);
			return EV_STOP;
		}
		if (!c->ping_out && c->ping_ms > 0 && now - c->last_rx >= c->ping_ms) {
			struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
			if (wslay_event_queue_msg(c->wctx, &m) == 0) {
				c->ping_out = true;
				c->ping_at = now;
				pump(c, false);
			}
		}
		if (c->state == WS_OPEN && !c->freed) {
			if (c->ping_out)
				next = c->ping_at + c->pong_ms - now;
			else if (c->ping_ms > 0)
				next = c->last_rx + c->ping_ms - now;
			else
				next = EV_STOP;
			ev_ms stall = flow_stall_in(&c->flow, &WS_LIMITS, now);
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
	if (!leave(c))
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
	c->timer = ev_timer_add(loop, c->open_timeout, on_timer, c);
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
	c->timer = ev_timer_add(loop, c->open_timeout, on_timer, c);
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
	if (wslay_event_get_queued_msg_length(c->wctx) + len > WS_LIMITS.hard_bytes ||
	    wslay_event_get_queued_msg_count(c->wctx) + 1 > WS_LIMITS.hard_msgs) {
		c->overrun = true;
		kick_timer(c);
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
