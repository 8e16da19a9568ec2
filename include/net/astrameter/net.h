/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Nonblocking socket helpers (after Redis' anet.c): errors go into a caller's struct err;
 * the caller decides whether to log. */
#ifndef ASTRAMETER_NET_H
#define ASTRAMETER_NET_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "astrameter/err.h"

/* Binds a nonblocking, close-on-exec UDP socket to addr:port (addr NULL = 0.0.0.0),
 * without SO_REUSEADDR: a port that another socket holds is an error (EADDRINUSE), so
 * nobody can bind beside us and take a share of the datagrams. Returns the fd or -1. Socket
 * activation: if systemd passed a UDP socket already bound to exactly addr:port
 * (LISTEN_PID/LISTEN_FDS), returns a nonblocking close-on-exec duplicate of it instead (the caller
 * closes it as usual). */
int net_udp_bind(const char *addr, uint16_t port, struct err *e);
/* Like net_udp_bind for a listening TCP socket (SO_REUSEADDR, listen(backlog)); an
 * inherited listening socket on addr:port is duplicated the same way. Returns fd or -1. */
int net_tcp_listen(const char *addr, uint16_t port, int backlog, struct err *e);
/* How many sockets the service manager passed to this process (LISTEN_FDS when
 * LISTEN_PID is our pid; fds start at 3), 0 if none. */
int net_listen_fds(void);
/* UDP ports held across reloads. Each (addr, port) is bound once (net_udp_bind) and
 * kept open by the table; callers get duplicates that they own and close as usual. A
 * reload brackets the start of its new devices with begin and commit (or abort): commit
 * closes the held sockets the new devices did not ask for, abort those that only they
 * asked for. A device set that asks for an unchanged port so gets the very socket its
 * predecessor used: no datagram is lost and no other program can take the port in
 * between. Single-threaded; not for port 0 (an ephemeral port is bound plainly). */
struct net_ports;
struct net_ports *net_ports_new(void);
/* Closes every held socket (duplicates handed out stay valid). NULL is a no-op. */
void net_ports_free(struct net_ports *p);
/* Like net_udp_bind, through the table: a duplicate of the held socket for addr:port,
 * binding it first if nobody held it. p NULL or port 0: plain net_udp_bind. */
int net_ports_udp(struct net_ports *p, const char *addr, uint16_t port, struct err *e);
/* A new set of devices is about to claim its ports (ports claimed outside begin/commit
 * belong to the running set at once). */
void net_ports_begin(struct net_ports *p);
/* The new set runs: keep exactly the ports it claimed, close the others. */
void net_ports_commit(struct net_ports *p);
/* The new set was dropped: keep the running set's ports, close the ones only it bound. */
void net_ports_abort(struct net_ports *p);
/* How many sockets the table holds (for tests). */
size_t net_ports_count(const struct net_ports *p);
/* Formats "a.b.c.d:port". */
void net_sockaddr_str(const struct sockaddr_in *sa, char *buf, size_t len);

#endif
