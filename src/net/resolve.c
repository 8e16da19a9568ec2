/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The asynchronous name-resolution service (see resolve.h). One detached thread per lookup,
 * at most max_threads at a time; lookups are rare (a connect or a reconnect), so a thread
 * pool would only add a lifecycle to get wrong.
 *
 * Ownership. The loop side (struct rsv) holds the queue of requests not started yet. What
 * the threads touch lives in a "box": a mutex, the eventfd, the list of results ready for
 * the loop and the count of running threads. The box is reference counted (the service
 * and each running thread hold one) and freed, eventfd included, by the last one to let
 * go, so a thread finishing after the service is gone never writes to a reused
 * descriptor. A running request belongs to its thread: the loop only marks it cancelled
 * (under the box mutex), and the thread frees it and its result when it comes back. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "astrameter/resolve.h"

enum rsv_where { RQ_PENDING, RQ_RUNNING, RQ_READY };

struct rsv_box {
	pthread_mutex_t mu;
	int refs;
	int efd;
	unsigned running; /* threads inside a lookup, abandoned ones included */
	bool closed;      /* the service is gone: drop every result */
	struct rsv_req *ready, *ready_tail;
};

struct rsv_req {
	struct rsv_req *next, *prev; /* in the pending queue (loop) or the ready list (box) */
	struct rsv *svc;
	struct rsv_box *box;
	enum rsv_where where; /* RUNNING -> READY under box->mu */
	bool cancelled;       /* under box->mu */
	rsv_done_fn *cb;
	void *arg;
	rsv_lookup_fn *lookup;
	void *lookup_arg;
	char *host, *port;
	struct addrinfo hints;
	struct rsv_result *res;
	int err;
};

struct rsv {
	struct ev_loop *loop;
	struct rsv_box *box;
	struct rsv_req *pend, *pend_tail;
	unsigned live; /* requests whose callback has not run and that were not cancelled */
	unsigned max_threads, max_requests;
	rsv_lookup_fn *lookup;
	void *lookup_arg;
};

/* The key of the loop's shared service (its address is what counts). */
static const char rsv_key = 'r';

/* ---------------------------------------------------------------- helpers */

bool rsv_is_literal(const char *host)
{
	unsigned char buf[16];
	return host && (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1);
}

const char *rsv_strerror(int err)
{
	return gai_strerror(err);
}

const char *rsv_addr_str(const struct rsv_addr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (a->family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
		(void)inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(buf, cap, "%s:%u", ip, port);
	} else if (a->family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
		(void)inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(buf, cap, "[%s]:%u", ip, port);
	} else {
		snprintf(buf, cap, "(family %d)", a->family);
	}
	return buf;
}

const char *rsv_list_str(const struct rsv_result *r, char *buf, size_t cap)
{
	if (cap == 0)
		return buf;
	buf[0] = '\0';
	size_t used = 0;
	for (size_t i = 0; r && i < r->n; i++) {
		char one[64];
		rsv_addr_str(&r->addr[i], one, sizeof(one));
		int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", one);
		if (n < 0 || (size_t)n >= cap - used) {
			if (cap >= 4)
				memcpy(buf + cap - 4, "...", 4);
			break;
		}
		used += (size_t)n;
	}
	return buf;
}

/* getaddrinfo's answer as one allocation, internet addresses only. */
static int to_result(const struct addrinfo *ai, struct rsv_result **out)
{
	size_t n = 0;
	for (const struct addrinfo *p = ai; p; p = p->ai_next)
		if ((p->ai_family == AF_INET || p->ai_family == AF_INET6) &&
		    p->ai_addrlen <= sizeof(struct sockaddr_storage))
			n++;
	if (n == 0)
		return EAI_NONAME;
	struct rsv_result *r = calloc(1, sizeof(*r) + n * sizeof(r->addr[0]));
	if (!r)
		return EAI_MEMORY;
	for (const struct addrinfo *p = ai; p; p = p->ai_next) {
		if ((p->ai_family != AF_INET && p->ai_family != AF_INET6) ||
		    p->ai_addrlen > sizeof(struct sockaddr_storage))
			continue;
		struct rsv_addr *a = &r->addr[r->n++];
		memcpy(&a->ss, p->ai_addr, p->ai_addrlen);
		a->len = p->ai_addrlen;
		a->family = p->ai_family;
		a->socktype = p->ai_socktype;
		a->protocol = p->ai_protocol;
	}
	*out = r;
	return 0;
}

static int lookup_gai(const char *host, const char *port, const struct addrinfo *hints,
                      struct rsv_result **out, void *arg)
{
	(void)arg;
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, port, hints, &ai);
	if (rc != 0)
		return rc;
	rc = to_result(ai, out);
	freeaddrinfo(ai);
	return rc;
}

/* ---------------------------------------------------------------- box and requests */

static void box_unref(struct rsv_box *b)
{
	pthread_mutex_lock(&b->mu);
	int left = --b->refs;
	pthread_mutex_unlock(&b->mu);
	if (left > 0)
		return;
	close(b->efd);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

static void req_free(struct rsv_req *r)
{
	free(r->res);
	free(r->host);
	free(r->port);
	free(r);
}

/* Appends r to the ready list and wakes the loop. Caller holds b->mu. */
static void box_push_ready(struct rsv_box *b, struct rsv_req *r)
{
	r->where = RQ_READY;
	r->next = NULL;
	r->prev = b->ready_tail;
	if (b->ready_tail)
		b->ready_tail->next = r;
	else
		b->ready = r;
	b->ready_tail = r;
	uint64_t one = 1;
	(void)!write(b->efd, &one, sizeof(one));
}

static void box_unlink_ready(struct rsv_box *b, struct rsv_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		b->ready = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		b->ready_tail = r->prev;
	r->next = r->prev = NULL;
}

static void *worker(void *arg)
{
	struct rsv_req *r = arg;
	struct rsv_box *b = r->box;
	struct rsv_result *res = NULL;
	int err = r->lookup(r->host, r->port, &r->hints, &res, r->lookup_arg);
	if (err != 0) {
		free(res);
		res = NULL;
	}
	pthread_mutex_lock(&b->mu);
	b->running--;
	bool drop = r->cancelled || b->closed;
	if (!drop) {
		r->res = res;
		r->err = err;
		res = NULL;
		box_push_ready(b, r);
	} else if (!b->closed) {
		/* Nothing to deliver, but a thread slot came free for the queue. */
		uint64_t one = 1;
		(void)!write(b->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&b->mu);
	if (drop) {
		free(res);
		req_free(r);
	}
	box_unref(b);
	return NULL;
}

static void pend_unlink(struct rsv *s, struct rsv_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		s->pend = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		s->pend_tail = r->prev;
	r->next = r->prev = NULL;
}

/* Starts queued lookups while thread slots are free. A thread that cannot be created
 * fails its request (delivered like any result). */
static void start_pending(struct rsv *s)
{
	struct rsv_box *b = s->box;
	while (s->pend) {
		pthread_mutex_lock(&b->mu);
		bool slot = b->running < s->max_threads;
		if (slot) {
			b->running++;
			b->refs++;
		}
		pthread_mutex_unlock(&b->mu);
		if (!slot)
			return;
		struct rsv_req *r = s->pend;
		pend_unlink(s, r);
		r->where = RQ_RUNNING;
		/* The thread must not take signals meant for the loop's signalfd. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pthread_attr_t attr;
		pthread_t tid;
		int prc = pthread_attr_init(&attr);
		if (prc == 0) {
			(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			prc = pthread_create(&tid, &attr, worker, r);
			pthread_attr_destroy(&attr);
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (prc != 0) {
			pthread_mutex_lock(&b->mu);
			b->running--;
			b->refs--; /* the service still holds one */
			r->err = EAI_AGAIN;
			box_push_ready(b, r);
			pthread_mutex_unlock(&b->mu);
		}
	}
}

/* The eventfd fired: deliver what is ready (only what was there at the start, so a
 * callback resolving a literal again does not keep us here), then fill free slots. */
static void on_ready(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)events;
	struct rsv *s = arg;
	uint64_t v;
	(void)!read(fd, &v, sizeof(v));
	struct rsv_box *b = s->box;
	size_t todo = 0;
	pthread_mutex_lock(&b->mu);
	for (struct rsv_req *r = b->ready; r; r = r->next)
		todo++;
	pthread_mutex_unlock(&b->mu);
	while (todo-- > 0) {
		pthread_mutex_lock(&b->mu);
		struct rsv_req *r = b->ready;
		if (r)
			box_unlink_ready(b, r);
		pthread_mutex_unlock(&b->mu);
		if (!r)
			break;
		s->live--;
		struct rsv_result *res = r->res;
		r->res = NULL;
		rsv_done_fn *cb = r->cb;
		void *cb_arg = r->arg;
		int err = r->err;
		req_free(r);
		cb(res, err, cb_arg);
	}
	start_pending(s);
}

/* ---------------------------------------------------------------- public */

struct rsv *rsv_new(struct ev_loop *loop, const struct rsv_opts *o)
{
	struct rsv *s = calloc(1, sizeof(*s));
	struct rsv_box *b = calloc(1, sizeof(*b));
	if (!s || !b) {
		free(s);
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->efd < 0 || pthread_mutex_init(&b->mu, NULL) != 0) {
		int saved = b->efd < 0 ? errno : ENOMEM;
		if (b->efd >= 0)
			close(b->efd);
		free(b);
		free(s);
		errno = saved;
		return NULL;
	}
	b->refs = 1;
	s->box = b;
	s->loop = loop;
	s->max_threads = o && o->max_threads ? o->max_threads : 4;
	s->max_requests = o && o->max_requests ? o->max_requests : 64;
	s->lookup = o && o->lookup ? o->lookup : lookup_gai;
	s->lookup_arg = o ? o->lookup_arg : NULL;
	if (ev_io_add(loop, b->efd, EV_READ, on_ready, s) != 0) {
		int saved = errno;
		box_unref(b);
		free(s);
		errno = saved;
		return NULL;
	}
	return s;
}

void rsv_free(struct rsv *s)
{
	if (!s)
		return;
	struct rsv_box *b = s->box;
	ev_io_del(s->loop, b->efd);
	pthread_mutex_lock(&b->mu);
	b->closed = true; /* running threads drop their results and free their requests */
	struct rsv_req *ready = b->ready;
	b->ready = b->ready_tail = NULL;
	pthread_mutex_unlock(&b->mu);
	while (ready) {
		struct rsv_req *next = ready->next;
		req_free(ready);
		ready = next;
	}
	while (s->pend) {
		struct rsv_req *r = s->pend;
		pend_unlink(s, r);
		req_free(r);
	}
	box_unref(b);
	free(s);
}

static void rsv_fini(void *obj)
{
	rsv_free(obj);
}

int rsv_attach(struct ev_loop *loop, const struct rsv_opts *o)
{
	if (ev_service_get(loop, &rsv_key)) {
		errno = EEXIST;
		return -1;
	}
	struct rsv *s = rsv_new(loop, o);
	if (!s)
		return -1;
	if (ev_service_put(loop, &rsv_key, s, rsv_fini) != 0) {
		int saved = errno;
		rsv_free(s);
		errno = saved;
		return -1;
	}
	return 0;
}

struct rsv *rsv_of(struct ev_loop *loop)
{
	struct rsv *s = ev_service_get(loop, &rsv_key);
	if (s)
		return s;
	if (rsv_attach(loop, NULL) != 0)
		return NULL;
	return ev_service_get(loop, &rsv_key);
}

struct rsv_req *rsv_resolve(struct rsv *s, const char *host, const char *port,
                            const struct addrinfo *hints, rsv_done_fn *cb, void *arg)
{
	if (!host || !cb) {
		errno = EINVAL;
		return NULL;
	}
	if (s->live >= s->max_requests) {
		errno = EAGAIN;
		return NULL;
	}
	struct rsv_req *r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	r->host = strdup(host);
	r->port = port ? strdup(port) : NULL;
	if (!r->host || (port && !r->port)) {
		req_free(r);
		errno = ENOMEM;
		return NULL;
	}
	if (hints) {
		r->hints.ai_flags = hints->ai_flags;
		r->hints.ai_family = hints->ai_family;
		r->hints.ai_socktype = hints->ai_socktype;
		r->hints.ai_protocol = hints->ai_protocol;
	} else {
		r->hints.ai_family = AF_UNSPEC;
		r->hints.ai_socktype = SOCK_STREAM;
	}
	r->svc = s;
	r->box = s->box;
	r->cb = cb;
	r->arg = arg;
	r->lookup = s->lookup;
	r->lookup_arg = s->lookup_arg;
	s->live++;
	if (rsv_is_literal(host)) {
		/* No lookup: answered here, delivered on the next round. */
		struct addrinfo h = r->hints;
		h.ai_flags |= AI_NUMERICHOST;
		h.ai_flags &= ~AI_ADDRCONFIG; /* an address given is an address meant */
		r->err = lookup_gai(host, port, &h, &r->res, NULL);
		pthread_mutex_lock(&s->box->mu);
		box_push_ready(s->box, r);
		pthread_mutex_unlock(&s->box->mu);
		return r;
	}
	r->where = RQ_PENDING;
	r->prev = s->pend_tail;
	if (s->pend_tail)
		s->pend_tail->next = r;
	else
		s->pend = r;
	s->pend_tail = r;
	start_pending(s);
	return r;
}

void rsv_cancel(struct rsv_req *r)
{
	if (!r)
		return;
	struct rsv *s = r->svc;
	struct rsv_box *b = s->box;
	s->live--;
	pthread_mutex_lock(&b->mu);
	enum rsv_where where = r->where;
	if (where == RQ_READY)
		box_unlink_ready(b, r);
	else if (where == RQ_RUNNING)
		r->cancelled = true; /* its thread frees it when getaddrinfo returns */
	pthread_mutex_unlock(&b->mu);
	if (where == RQ_PENDING)
		pend_unlink(s, r);
	if (where != RQ_RUNNING)
		req_free(r);
}
