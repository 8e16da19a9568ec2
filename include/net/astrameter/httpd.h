/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libmicrohttpd inside our event loop: MHD runs in external-loop epoll mode, so it owns one
 * epoll fd that the loop watches, and MHD_run() is called when that fd is readable or when
 * MHD_get_timeout() says a connection timeout is due. MHD never blocks and never starts a
 * thread. The caller supplies the request handler (MHD's access-handler callback) and the
 * limits; everything HTTP (parsing, keep-alive, chunking, timeouts) is the library's. */
#ifndef ASTRAMETER_HTTPD_H
#define ASTRAMETER_HTTPD_H

#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>

#include "astrameter/err.h"
#include "astrameter/ev.h"

struct httpd_opts {
	const char *addr; /* IPv4 literal to listen on */
	uint16_t port;    /* 0 = any free port */
	unsigned max_conns;
	unsigned per_ip;         /* connections per client address, 0 = no limit */
	size_t conn_memory;      /* MHD's per-connection memory, 0 = its default (32 KiB) */
	unsigned conn_timeout_s; /* idle connections are dropped after this, 0 = never */
	unsigned flags;          /* extra MHD_FLAG bits, e.g. MHD_ALLOW_SUSPEND_RESUME */
	MHD_AccessHandlerCallback handler;
	MHD_RequestCompletedCallback completed; /* may be NULL */
	void *cls;                              /* passed to handler and completed */
	const char *log_comp; /* log component for MHD's own messages (debug level) */
};

struct httpd;

/* Listens on addr:port and registers with loop. NULL with e on failure. */
struct httpd *httpd_new(struct ev_loop *loop, const struct httpd_opts *o, struct err *e);
/* The MHD daemon (to resume suspended connections). */
struct MHD_Daemon *httpd_mhd(struct httpd *h);
/* The listening socket (owned by MHD: never close it), e.g. for getsockname(). */
int httpd_listen_fd(const struct httpd *h);
/* Runs MHD now: after resuming a suspended connection, so its data goes out in this pass
 * rather than at the next timeout. */
void httpd_kick(struct httpd *h);
/* Stops the server, closes every connection and the listening socket. NULL is fine. */
void httpd_free(struct httpd *h);

#endif
