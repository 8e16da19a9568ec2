/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Nonblocking socket helpers, with systemd socket activation: when the service manager
 * passed sockets (LISTEN_PID = our pid, LISTEN_FDS = n, fds 3 .. 3+n-1), a request to bind
 * a port that one of them is already bound to gets a duplicate of that socket instead of
 * a new bind. No privilege is then needed for ports below 1024, and a reload can "rebind"
 * as often as it likes: the inherited socket itself stays open for the life of the
 * process (we only ever hand out and close duplicates). The protocol is read directly
 * (it is three environment variables and a fixed fd range), so it works with or without
 * libsystemd.
 *
 * UDP sockets are bound without SO_REUSEADDR: with it, any local user could bind the
 * same port (setting it too) and receive a share of the batteries' requests, and a second
 * daemon would start without error and split the batteries. A busy port is an error.
 * The same trick that serves socket activation serves reloads: a net_ports table binds
 * each port once and hands out duplicates, so a reload's new devices take over the very
 * socket the old ones used (nothing queued is lost, and no one can grab the port between
 * the old close and the new bind). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "astrameter/net.h"

/* The first fd systemd passes (SD_LISTEN_FDS_START). */
#define NET_LISTEN_FDS_START 3
/* Sanity bound: nobody passes us thousands of sockets. */
#define NET_LISTEN_FDS_MAX 256

int net_listen_fds(void)
{
	const char *pid = getenv("LISTEN_PID");
	const char *n = getenv("LISTEN_FDS");
	if (!pid || !n)
		return 0;
	char *end;
	errno = 0;
	long p = strtol(pid, &end, 10);
	if (errno || *end || p != (long)getpid())
		return 0; /* meant for another process (we are a child of the receiver) */
	errno = 0;
	long k = strtol(n, &end, 10);
	if (errno || *end || k <= 0 || k > NET_LISTEN_FDS_MAX)
		return 0;
	return (int)k;
}

/* An inherited socket of this type bound to addr:port, or -1. addr INADDR_ANY matches
 * only a socket bound to the wildcard too: a socket on one interface would not see the
 * batteries' broadcasts on the others. */
static int inherited(int type, const struct sockaddr_in *want)
{
	int n = net_listen_fds();
	for (int fd = NET_LISTEN_FDS_START; fd < NET_LISTEN_FDS_START + n; fd++) {
		int t = 0;
		socklen_t tl = sizeof(t);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &tl) != 0 || t != type)
			continue;
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		memset(&sa, 0, sizeof(sa));
		if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0 || sa.sin_family != AF_INET)
			continue;
		if (sa.sin_port != want->sin_port || sa.sin_addr.s_addr != want->sin_addr.s_addr)
			continue;
		/* The inherited fd must not leak into script meters' children. */
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
	return -1;
}

/* A nonblocking close-on-exec duplicate of an inherited socket. */
static int dup_inherited(int fd, struct err *e)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, NET_LISTEN_FDS_START);
	if (d < 0)
		return err_set(e, "dup of inherited socket %d: %s", fd, strerror(errno));
	int fl = fcntl(d, F_GETFL);
	if (fl < 0 || fcntl(d, F_SETFL, fl | O_NONBLOCK) != 0) {
		err_set(e, "fcntl(O_NONBLOCK): %s", strerror(errno));
		close(d);
		return -1;
	}
	return d;
}

static int make_addr(const char *addr, uint16_t port, struct sockaddr_in *sa, struct err *e)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (!addr || !*addr)
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
		return err_set(e, "invalid IPv4 address '%s'", addr);
	return 0;
}

static int bind_error(int fd, const char *proto, uint16_t port, struct err *e)
{
	int saved = errno;
	err_set(e, "bind %s/%u: %s%s", proto, (unsigned)port, strerror(saved),
	        saved == EACCES && port < 1024
	                ? " (ports below 1024 need root, CAP_NET_BIND_SERVICE or socket "
	                  "activation)"
	        : saved == EADDRINUSE ? " (another program holds the port: is another "
	                                "astrameter running?)"
	                              : "");
	close(fd);
	return -1;
}

int net_udp_bind(const char *addr, uint16_t port, struct err *e)
{
	struct sockaddr_in sa;
	if (make_addr(addr, port, &sa, e) != 0)
		return -1;
	int one = 1;
	if (port != 0) {
		int fd = inherited(SOCK_DGRAM, &sa);
		if (fd >= 0) {
			int d = dup_inherited(fd, e);
			/* Harmless if the unit forgot Broadcast=yes: we answer broadcasts. */
			if (d >= 0)
				(void)setsockopt(d, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
			return d;
		}
	}
	/* No SO_REUSEADDR (see the top of this file): the port is ours alone. */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, "socket: %s", strerror(errno));
	/* Batteries discover the meter by broadcast; allow answering on such sockets. */
	(void)setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return bind_error(fd, "udp", port, e);
	return fd;
}

int net_tcp_listen(const char *addr, uint16_t port, int backlog, struct err *e)
{
	struct sockaddr_in sa;
	if (make_addr(addr, port, &sa, e) != 0)
		return -1;
	if (port != 0) {
		int fd = inherited(SOCK_STREAM, &sa);
		if (fd >= 0) {
			int d = dup_inherited(fd, e);
			/* systemd already listens; listen() again only adjusts the backlog. */
			if (d >= 0 && listen(d, backlog) != 0) {
				err_set(e, "listen tcp/%u: %s", (unsigned)port, strerror(errno));
				close(d);
				return -1;
			}
			return d;
		}
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, "socket: %s", strerror(errno));
	/* For TCP, SO_REUSEADDR only lets us rebind while old connections sit in TIME_WAIT;
	 * on Linux it never allows a second socket to bind a port that one listens on. */
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
		err_set(e, "setsockopt(SO_REUSEADDR): %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return bind_error(fd, "tcp", port, e);
	if (listen(fd, backlog) != 0) {
		err_set(e, "listen tcp/%u: %s", (unsigned)port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void net_sockaddr_str(const struct sockaddr_in *sa, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN] = "?";
	inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(sa->sin_port));
}

/* --- ports held across reloads --------------------------------------------------- */

struct net_held {
	struct sockaddr_in sa;
	int fd;
	bool used;    /* claimed by the running set of devices */
	bool claimed; /* claimed by the set being started (between begin and commit/abort) */
};

struct net_ports {
	struct net_held *h;
	size_t n, cap;
	bool starting; /* between net_ports_begin and commit/abort */
};

struct net_ports *net_ports_new(void)
{
	return calloc(1, sizeof(struct net_ports));
}

static void drop_unused(struct net_ports *p)
{
	size_t k = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (p->h[i].used)
			p->h[k++] = p->h[i];
		else
			close(p->h[i].fd);
	}
	p->n = k;
}

void net_ports_free(struct net_ports *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		close(p->h[i].fd);
	free(p->h);
	free(p);
}

void net_ports_begin(struct net_ports *p)
{
	for (size_t i = 0; i < p->n; i++)
		p->h[i].claimed = false;
	p->starting = true;
}

void net_ports_commit(struct net_ports *p)
{
	for (size_t i = 0; i < p->n; i++)
		p->h[i].used = p->h[i].claimed;
	p->starting = false;
	drop_unused(p);
}

void net_ports_abort(struct net_ports *p)
{
	p->starting = false;
	drop_unused(p);
}

size_t net_ports_count(const struct net_ports *p)
{
	return p->n;
}

int net_ports_udp(struct net_ports *p, const char *addr, uint16_t port, struct err *e)
{
	if (!p || port == 0)
		return net_udp_bind(addr, port, e);
	struct sockaddr_in sa;
	if (make_addr(addr, port, &sa, e) != 0)
		return -1;
	struct net_held *h = NULL;
	for (size_t i = 0; i < p->n && !h; i++)
		if (p->h[i].sa.sin_port == sa.sin_port &&
		    p->h[i].sa.sin_addr.s_addr == sa.sin_addr.s_addr)
			h = &p->h[i];
	if (!h) {
		if (p->n == p->cap) {
			size_t cap = p->cap ? 2 * p->cap : 8;
			struct net_held *nh = realloc(p->h, cap * sizeof(*nh));
			if (!nh)
				return err_set(e, "out of memory");
			p->h = nh;
			p->cap = cap;
		}
		int fd = net_udp_bind(addr, port, e);
		if (fd < 0)
			return -1;
		h = &p->h[p->n++];
		*h = (struct net_held){.sa = sa, .fd = fd, .used = !p->starting};
	}
	int d = fcntl(h->fd, F_DUPFD_CLOEXEC, NET_LISTEN_FDS_START);
	if (d < 0)
		return err_set(e, "dup of the socket on udp/%u: %s", (unsigned)port,
		               strerror(errno));
	h->claimed = true;
	return d;
}
