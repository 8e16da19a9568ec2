/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Nonblocking socket helpers (after Redis' anet.c): errors go into a caller's struct err;
 * the caller decides whether to log. */
#ifndef ASTRAMETER_NET_H
#define ASTRAMETER_NET_H

#include <stdint.h>
#include <netinet/in.h>
#include "astrameter/err.h"

/* Binds a nonblocking, close-on-exec UDP socket to addr:port (addr NULL = 0.0.0.0) with
 * SO_REUSEADDR. Returns the fd or -1. Socket activation: if systemd passed a UDP socket
 * already bound to exactly addr:port (LISTEN_PID/LISTEN_FDS), returns a nonblocking
 * close-on-exec duplicate of it instead (the caller closes it as usual). */
int net_udp_bind(const char *addr, uint16_t port, struct err *e);
/* Like net_udp_bind for a listening TCP socket (SO_REUSEADDR, listen(backlog)); an
 * inherited listening socket on addr:port is duplicated the same way. Returns fd or -1. */
int net_tcp_listen(const char *addr, uint16_t port, int backlog, struct err *e);
/* How many sockets the service manager passed to this process (LISTEN_FDS when
 * LISTEN_PID is our pid; fds start at 3), 0 if none. */
int net_listen_fds(void);
/* Formats "a.b.c.d:port". */
void net_sockaddr_str(const struct sockaddr_in *sa, char *buf, size_t len);

#endif
