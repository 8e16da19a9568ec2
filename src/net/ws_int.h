/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Internals shared by the WebSocket client's connection state machine (ws.c) and its
 * transport (ws_io.c: socket/TLS reads and writes, the wslay glue, the flow-controlled
 * pump). Not a contract: astrameter/ws.h is. */
#ifndef ASTRAMETER_NET_WS_INT_H
#define ASTRAMETER_NET_WS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <openssl/ssl.h>
#include <wslay/wslay.h>

#include "astrameter/flow.h"
#include "astrameter/resolve.h"
#include "astrameter/ws.h"

/* How much of the loop and of memory one peer may take (ws_io.c). */
extern const struct flow_limits ws_limits;

enum ws_state { WS_RESOLVE, WS_CONNECT, WS_TLS, WS_UPGRADE, WS_OPEN, WS_DONE };

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

/* --- ws.c --- */
/* keep_frames: inside wslay (a user callback freed the connection), so its context must
 * outlive this call. */
void ws_close_transport(struct ws_conn *c, bool keep_frames);
/* Every entry from the loop goes through enter/leave so that ws_free() inside a user
 * callback is deferred; leave returns false if the object is gone. */
void ws_enter(struct ws_conn *c);
bool ws_leave(struct ws_conn *c);
/* Ends the connection and reports why, once. */
void ws_fail(struct ws_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Watches the socket for what the current state needs. */
void ws_update_io(struct ws_conn *c);
/* The one timer: open deadline, then heartbeat and flow checks. */
ev_ms ws_on_timer(struct ev_loop *loop, void *arg);

/* --- ws_io.c --- */
/* Socket or TLS read/write: >0 bytes, 0 = EOF (read), -1 = would block (errno EAGAIN),
 * -2 = error (errbuf says why). */
ssize_t ws_raw_read(struct ws_conn *c, void *buf, size_t len, char *errbuf, size_t errlen);
ssize_t ws_raw_write(struct ws_conn *c, const void *buf, size_t len, char *errbuf, size_t errlen);
/* Has ws_on_timer look at the connection on the next round. */
void ws_kick_timer(struct ws_conn *c);
/* Pauses reading above the soft cap, gives up a peer that overruns or stalls; false when
 * the connection was failed. */
bool ws_check_flow(struct ws_conn *c);
/* Runs wslay's reader and writer within this wakeup's budget. */
void ws_pump(struct ws_conn *c, bool readable);
/* Starts wslay on the open connection; rest[0..n) came after the 101 answer. 0/-1. */
int ws_start_frames(struct ws_conn *c, const char *rest, size_t n);

#endif
