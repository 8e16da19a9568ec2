/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libmicrohttpd driven by our epoll loop (contract in astrameter/httpd.h). MHD's epoll fd
 * becomes readable whenever a listening or connection socket needs work; a timer covers
 * MHD's own connection timeouts and a missed wakeup. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "astrameter/httpd.h"
#include "astrameter/log.h"
#include "astrameter/net.h"

/* Upper bound between two MHD_run() calls when MHD asks for none (cheap; keeps us safe
 * against a missed wakeup). */
#define HTTPD_IDLE_TICK_MS 5000

struct httpd {
	struct ev_loop *loop;
	struct MHD_Daemon *mhd;
	int epfd, listen_fd;
	uint64_t timer;
	const char *log_comp;
};

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	const char *comp = cls;
	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	char buf[256];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	log_debug(comp, "%s", buf);
}

/* Runs MHD once and returns how long until it must run again. */
static ev_ms drive(struct httpd *h)
{
	(void)MHD_run(h->mhd);
	MHD_UNSIGNED_LONG_LONG t = 0;
	if (MHD_get_timeout(h->mhd, &t) != MHD_YES || t > HTTPD_IDLE_TICK_MS)
		return HTTPD_IDLE_TICK_MS;
	return (ev_ms)t;
}

void httpd_kick(struct httpd *h)
{
	ev_ms next = drive(h);
	if (h->timer)
		(void)ev_timer_reset(h->loop, h->timer, next);
}

static void on_epoll(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	httpd_kick(arg);
}

static ev_ms on_timer(struct ev_loop *loop, void *arg)
{
	(void)loop;
	return drive(arg);
}

struct httpd *httpd_new(struct ev_loop *loop, const struct httpd_opts *o, struct err *e)
{
	struct httpd *h = calloc(1, sizeof(*h));
	if (!h) {
		err_set(e, "out of memory");
		return NULL;
	}
	h->loop = loop;
	h->epfd = -1;
	h->log_comp = o->log_comp ? o->log_comp : "httpd";
	int fd = net_tcp_listen(o->addr, o->port, 16, e);
	if (fd < 0)
		goto fail;
	/* MHD owns fd from here on: MHD_stop_daemon closes it. The logger goes first so that
	 * MHD never writes to stderr on its own. */
	h->mhd = MHD_start_daemon(
	        MHD_USE_EPOLL | MHD_USE_ERROR_LOG | o->flags, 0, NULL, NULL, o->handler, o->cls,
	        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *)h->log_comp,
	        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, o->max_conns,
	        MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	        o->conn_memory ? o->conn_memory : (size_t)32768, MHD_OPTION_CONNECTION_TIMEOUT,
	        o->conn_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, o->completed, o->cls,
	        MHD_OPTION_END);
	if (!h->mhd) {
		close(fd);
		err_set(e, "cannot start the HTTP server on tcp/%u", (unsigned)o->port);
		goto fail;
	}
	h->listen_fd = fd;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		err_set(e, "libmicrohttpd has no epoll fd");
		goto fail;
	}
	h->epfd = info->epoll_fd;
	if (ev_io_add(loop, h->epfd, EV_READ, on_epoll, h) != 0) {
		err_set(e, "cannot watch the HTTP server: %s", strerror(errno));
		h->epfd = -1;
		goto fail;
	}
	h->timer = ev_timer_add(loop, HTTPD_IDLE_TICK_MS, on_timer, h);
	if (!h->timer) {
		err_set(e, "out of memory");
		goto fail;
	}
	return h;
fail:
	httpd_free(h);
	return NULL;
}

struct MHD_Daemon *httpd_mhd(struct httpd *h)
{
	return h->mhd;
}

int httpd_listen_fd(const struct httpd *h)
{
	return h->listen_fd;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	if (h->timer)
		ev_timer_del(h->loop, h->timer);
	if (h->epfd >= 0)
		ev_io_del(h->loop, h->epfd);
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	free(h);
}
