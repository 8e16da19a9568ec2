/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The WebSocket client's transport (see ws.c for the connection's life): reads and writes
 * on the socket or the TLS session, wslay's callbacks, and the pump that moves frames
 * within one wakeup's budget and the peer's flow limits (flow.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <wslay/wslay.h>

#include "net/ws_int.h"

/* Our peers (Home Assistant, HomeWizard) send a few small messages a second and take our
 * few small ones at once; these limits only ever bite a broken or hostile peer. A TLS
 * record (16 KiB) already decrypted is read to its end even past them, since epoll
 * cannot see it; that and wslay's 4 KiB buffer are the overshoot the hard cap allows. */
const struct flow_limits ws_limits = {
        .read_bytes = 64 * 1024,
        .read_msgs = 64,
        .soft_bytes = 256 * 1024,
        .soft_msgs = 256,
        .hard_bytes = 4 * 1024 * 1024,
        .hard_msgs = 16384,
        .stall_ms = 5000,
};

/* ---------------------------------------------------------------- raw I/O */

/* Reads from the socket or the TLS session. >0 bytes, 0 = EOF, -1 = would block (errno
 * EAGAIN), -2 = error (why in c's caller via errbuf). */
ssize_t ws_raw_read(struct ws_conn *c, void *buf, size_t len, char *errbuf, size_t errlen)
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

ssize_t ws_raw_write(struct ws_conn *c, const void *buf, size_t len, char *errbuf, size_t errlen)
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
	                     flow_over_soft(&ws_limits, wslay_event_get_queued_msg_length(ctx),
	                                    wslay_event_get_queued_msg_count(ctx)))) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (!tls_pending && len > c->flow.bytes_left)
		len = c->flow.bytes_left;
	char eb[160];
	ssize_t n = ws_raw_read(c, buf, len, eb, sizeof(eb));
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
	ssize_t n = ws_raw_write(c, data, len, eb, sizeof(eb));
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

/* Has on_timer look at the connection on the next round (it computes its own next
 * delay from the state, so an early run is harmless). */
void ws_kick_timer(struct ws_conn *c)
{
	if (c->timer)
		(void)ev_timer_reset(c->loop, c->timer, 0);
	else
		c->timer = ev_timer_add(c->loop, 0, ws_on_timer, c);
}

/* After a round of I/O, and from the timer: pauses reading while the queue for the peer
 * is above the soft cap, and gives the peer up when it lets the queue overrun or stall
 * (flow.h). false when the connection was failed. */
bool ws_check_flow(struct ws_conn *c)
{
	size_t qb = wslay_event_get_queued_msg_length(c->wctx);
	size_t qm = wslay_event_get_queued_msg_count(c->wctx);
	ev_ms now = ev_now(c->loop);
	bool was_paused = c->flow.paused;
	enum flow_verdict v = flow_update(&c->flow, &ws_limits, qb, qm, now);
	if (c->overrun || v == FLOW_OVERRUN) {
		ws_fail(c,
		        "peer is not reading: send queue over the limit (%zu messages, %zu bytes)",
		        qm, qb);
		return false;
	}
	if (v == FLOW_STALLED) {
		ws_fail(c, "peer is not reading: %zu messages (%zu bytes) unsent for %lld ms", qm,
		        qb, (long long)(now - c->flow.paused_since));
		return false;
	}
	if (v == FLOW_PAUSE && !was_paused)
		ws_kick_timer(c); /* the timer now also watches the stall deadline */
	return true;
}

/* Runs wslay's reader and writer and decides whether the connection lives on. */
void ws_pump(struct ws_conn *c, bool readable)
{
	if (readable && wslay_event_want_read(c->wctx)) {
		int r = wslay_event_recv(c->wctx);
		if (c->freed || c->state != WS_OPEN)
			return;
		if (wslay_event_get_close_received(c->wctx)) {
			/* Answer the close (best effort) and report the peer's code. */
			(void)wslay_event_send(c->wctx);
			ws_fail(c, "closed by peer (%u)",
			        wslay_event_get_status_code_received(c->wctx));
			return;
		}
		if (r != 0 && !c->eof) {
			ws_fail(c, "WebSocket receive failed (%d)", r);
			return;
		}
		if (c->eof) {
			ws_fail(c, "connection closed by peer");
			return;
		}
	}
	if (wslay_event_want_write(c->wctx)) {
		if (wslay_event_send(c->wctx) != 0) {
			ws_fail(c, "WebSocket send failed");
			return;
		}
	}
	if (c->eof) {
		ws_fail(c, "connection closed by peer");
		return;
	}
	if (wslay_event_get_close_received(c->wctx) || wslay_event_get_close_sent(c->wctx)) {
		/* Close handshake: done once our close frame is out (or cannot go out). */
		if (!wslay_event_want_write(c->wctx)) {
			unsigned code = wslay_event_get_status_code_received(c->wctx);
			if (wslay_event_get_close_received(c->wctx))
				ws_fail(c, "closed by peer (%u)", code);
			else
				ws_fail(c, "closed (protocol error or message too big, %u)",
				        wslay_event_get_status_code_sent(c->wctx));
			return;
		}
	}
	if (!ws_check_flow(c))
		return;
	ws_update_io(c);
}

int ws_start_frames(struct ws_conn *c, const char *rest, size_t n)
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
	flow_wakeup(&c->flow, &ws_limits); /* the wakeup that opened it may read frames too */
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
