/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Nonblocking socket helpers (after Redis' anet.c): errors go into a caller's struct err;
 * the caller decides whether to log. */
#ifndef ASTRAMETER_NET_H
#define ASTRAMETER_NET_H

#include <stdint.h>
#include <netinet/in.h>
#include "astrameter/err.h"

/* Binds a nonblocking, close-on-exec UDP socket to addr:port (addr NULL = 0.0.0.0) with
 * SO_REUSEADDR. Returns the fd or -1. */
int net_udp_bind(const char *addr, uint16_t port, struct err *e);
/* Formats "a.b.c.d:port". */
void net_sockaddr_str(const struct sockaddr_in *sa, char *buf, size_t len);

#endif
