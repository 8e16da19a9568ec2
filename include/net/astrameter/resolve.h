/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Asynchronous name resolution for the event loop: one service per loop that every client
 * connecting by name (MQTT, WebSocket meters) shares. A request (host, port, hints) runs
 * getaddrinfo on a short worker thread; the result comes back through an eventfd to a
 * callback in the loop, with ALL addresses in getaddrinfo's order, so that the caller can
 * try each in turn (as libcurl does) instead of only the first.
 *
 * Nothing here ever waits: cancelling a request in flight abandons its thread (the late
 * result is dropped and freed by whichever side finishes last), and freeing the service
 * with lookups still running leaves the detached threads to clean up after themselves.
 * The number of threads (abandoned ones included) and of outstanding requests is bounded;
 * requests beyond the thread limit queue in the loop. A literal IPv4/IPv6 address resolves
 * synchronously (AI_NUMERICHOST, no thread) and is delivered on the next loop round. */
#ifndef ASTRAMETER_RESOLVE_H
#define ASTRAMETER_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <netdb.h>
#include <sys/socket.h>
#include "astrameter/ev.h"

struct rsv;
struct rsv_req;

struct rsv_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	int family, socktype, protocol;
};

/* A lookup's addresses, in the resolver's order. One allocation: free() it. */
struct rsv_result {
	size_t n;
	struct rsv_addr addr[];
};

/* Called in the loop when a lookup ends: res (n >= 1, owned by the callee from now on) and
 * err 0, or res NULL and err an EAI_* code (rsv_strerror). The request is gone when this
 * runs: do not cancel it. May start or cancel other requests. */
typedef void rsv_done_fn(struct rsv_result *res, int err, void *arg);

/* getaddrinfo's job, on a worker thread: 0 with *out set (n >= 1), or an EAI_* code.
 * Replaceable for tests. */
typedef int rsv_lookup_fn(const char *host, const char *port, const struct addrinfo *hints,
                          struct rsv_result **out, void *arg);

struct rsv_opts {
	unsigned max_threads;  /* lookups running at once, abandoned ones included; 0 = 4 */
	unsigned max_requests; /* outstanding requests (queued, running, ready); 0 = 64 */
	rsv_lookup_fn *lookup; /* NULL = getaddrinfo */
	void *lookup_arg;
};

/* A service for loop (o may be NULL). NULL with errno set on failure. Usually not called
 * directly: rsv_of() creates the loop's shared one on first use. */
struct rsv *rsv_new(struct ev_loop *loop, const struct rsv_opts *o);
/* Drops every request (no callback runs) and frees the service without waiting for
 * threads still inside getaddrinfo. NULL is ignored. */
void rsv_free(struct rsv *s);

/* The loop's shared service, created with default options on first use and freed by
 * ev_free. NULL with errno set if it cannot be created. */
struct rsv *rsv_of(struct ev_loop *loop);
/* Creates the loop's shared service with options o (tests: a fake lookup). 0, or -1 if
 * one exists already or it cannot be created. */
int rsv_attach(struct ev_loop *loop, const struct rsv_opts *o);

/* Starts resolving host (a name or a literal address) and port (a number, may be NULL)
 * with hints (NULL = any family, SOCK_STREAM). cb runs later in the loop, never from
 * inside this call. Returns the request handle (valid until cb runs or rsv_cancel), or
 * NULL with errno set: EAGAIN when max_requests are outstanding, ENOMEM. */
struct rsv_req *rsv_resolve(struct rsv *s, const char *host, const char *port,
                            const struct addrinfo *hints, rsv_done_fn *cb, void *arg);
/* Forgets a request: its callback will not run. Never waits. NULL is ignored. */
void rsv_cancel(struct rsv_req *r);

/* Whether host is a literal IPv4 or IPv6 address (needs no lookup). */
bool rsv_is_literal(const char *host);
/* Text for an EAI_* code. */
const char *rsv_strerror(int err);
/* "192.0.2.1:1883" or "[2001:db8::1]:1883" into buf; returns buf. */
const char *rsv_addr_str(const struct rsv_addr *a, char *buf, size_t cap);
/* The addresses of r, ", "-separated (truncated with "..." if they do not fit); returns
 * buf. */
const char *rsv_list_str(const struct rsv_result *r, char *buf, size_t cap);

#endif
