/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The event loop: epoll for fds, an unsorted timer table scanned per round (we have tens of
 * timers, not thousands, so a heap would only add code), and an injected clock.
 *
 * Removal is lazy: ev_io_del/ev_timer_del only mark entries, and the table is compacted
 * between rounds, so a callback may delete itself or any other watcher while the loop is
 * iterating. An fd that was deleted and re-added in the same round gets a new generation,
 * and stale epoll events for the old watcher are ignored. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "astrameter/ev.h"

struct ev_io {
	int fd;
	unsigned events;
	ev_io_fn *fn;
	void *arg;
	uint32_t gen;
	int live;
};

struct ev_timer {
	uint64_t id;
	ev_ms due;
	ev_timer_fn *fn;
	void *arg;
	int live;
};

/* A module-owned object that lives as long as the loop (e.g. the name resolver). */
#define EV_MAX_SERVICES 4
struct ev_service {
	const void *key;
	void *obj;
	void (*fini)(void *obj);
};

struct ev_loop {
	int epfd;
	ev_clock_fn *clock;
	void *clock_arg;
	ev_ms now;
	int stop;
	uint32_t next_gen;

	struct ev_io *io; /* indexed by fd */
	size_t io_cap;

	struct ev_timer *timers;
	size_t n_timers, timer_cap;
	uint64_t next_timer_id;
	int dispatching_timers;

	struct ev_service services[EV_MAX_SERVICES];
	size_t n_services;
};

ev_ms ev_clock_monotonic(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ev_ms)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ev_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct ev_loop *ev_new(ev_clock_fn *clock, void *clock_arg)
{
	struct ev_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int saved = errno;
		free(l);
		errno = saved;
		return NULL;
	}
	l->clock = clock ? clock : ev_clock_monotonic;
	l->clock_arg = clock_arg;
	l->next_timer_id = 1;
	l->now = l->clock(l->clock_arg);
	return l;
}

void ev_free(struct ev_loop *l)
{
	if (!l)
		return;
	/* Services first, newest first: they may still delete their watchers. */
	while (l->n_services > 0) {
		struct ev_service *s = &l->services[--l->n_services];
		if (s->fini)
			s->fini(s->obj);
	}
	close(l->epfd);
	free(l->io);
	free(l->timers);
	free(l);
}

void *ev_service_get(const struct ev_loop *l, const void *key)
{
	for (size_t i = 0; i < l->n_services; i++)
		if (l->services[i].key == key)
			return l->services[i].obj;
	return NULL;
}

int ev_service_put(struct ev_loop *l, const void *key, void *obj, void (*fini)(void *obj))
{
	if (ev_service_get(l, key) || l->n_services >= EV_MAX_SERVICES) {
		errno = EEXIST;
		return -1;
	}
	l->services[l->n_services++] = (struct ev_service){key, obj, fini};
	return 0;
}

ev_ms ev_now(const struct ev_loop *l)
{
	return l->now;
}

ev_ms ev_update_now(struct ev_loop *l)
{
	l->now = l->clock(l->clock_arg);
	return l->now;
}

static uint32_t to_epoll(unsigned events)
{
	uint32_t e = 0;
	if (events & EV_READ)
		e |= EPOLLIN;
	if (events & EV_WRITE)
		e |= EPOLLOUT;
	return e;
}

int ev_io_add(struct ev_loop *l, int fd, unsigned events, ev_io_fn *fn, void *arg)
{
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if ((size_t)fd >= l->io_cap) {
		size_t cap = l->io_cap ? l->io_cap : 64;
		while (cap <= (size_t)fd)
			cap *= 2;
		struct ev_io *n = realloc(l->io, cap * sizeof(*n));
		if (!n)
			return -1;
		memset(n + l->io_cap, 0, (cap - l->io_cap) * sizeof(*n));
		l->io = n;
		l->io_cap = cap;
	}
	struct ev_io *w = &l->io[fd];
	if (w->live) {
		errno = EEXIST;
		return -1;
	}
	uint32_t gen = ++l->next_gen;
	struct epoll_event ee = {.events = to_epoll(events),
	                         .data.u64 = ((uint64_t)gen << 32) | (uint32_t)fd};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ee) != 0)
		return -1;
	*w = (struct ev_io){
	        .fd = fd, .events = events, .fn = fn, .arg = arg, .gen = gen, .live = 1};
	return 0;
}

int ev_io_mod(struct ev_loop *l, int fd, unsigned events)
{
	if (fd < 0 || (size_t)fd >= l->io_cap || !l->io[fd].live) {
		errno = ENOENT;
		return -1;
	}
	struct ev_io *w = &l->io[fd];
	if (w->events == events)
		return 0;
	struct epoll_event ee = {.events = to_epoll(events),
	                         .data.u64 = ((uint64_t)w->gen << 32) | (uint32_t)fd};
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ee) != 0)
		return -1;
	w->events = events;
	return 0;
}

void ev_io_del(struct ev_loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->io_cap || !l->io[fd].live)
		return;
	/* The fd may already be closed by the caller; ignore the error. */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->io[fd].live = 0;
	l->io[fd].gen = 0;
}

uint64_t ev_timer_add(struct ev_loop *l, ev_ms delay, ev_timer_fn *fn, void *arg)
{
	if (l->n_timers == l->timer_cap) {
		size_t cap = l->timer_cap ? l->timer_cap * 2 : 16;
		struct ev_timer *n = realloc(l->timers, cap * sizeof(*n));
		if (!n)
			return 0;
		l->timers = n;
		l->timer_cap = cap;
	}
	uint64_t id = l->next_timer_id++;
	l->timers[l->n_timers++] = (struct ev_timer){
	        .id = id, .due = l->now + (delay < 0 ? 0 : delay), .fn = fn, .arg = arg, .live = 1};
	return id;
}

static struct ev_timer *find_timer(struct ev_loop *l, uint64_t id)
{
	if (!id)
		return NULL;
	for (size_t i = 0; i < l->n_timers; i++)
		if (l->timers[i].id == id && l->timers[i].live)
			return &l->timers[i];
	return NULL;
}

void ev_timer_del(struct ev_loop *l, uint64_t id)
{
	struct ev_timer *t = find_timer(l, id);
	if (t)
		t->live = 0;
}

int ev_timer_reset(struct ev_loop *l, uint64_t id, ev_ms delay)
{
	struct ev_timer *t = find_timer(l, id);
	if (!t)
		return -1;
	t->due = l->now + (delay < 0 ? 0 : delay);
	return 0;
}

static void compact_timers(struct ev_loop *l)
{
	size_t j = 0;
	for (size_t i = 0; i < l->n_timers; i++)
		if (l->timers[i].live)
			l->timers[j++] = l->timers[i];
	l->n_timers = j;
}

/* Milliseconds until the earliest live timer, or -1 if none. */
static ev_ms next_timeout(const struct ev_loop *l)
{
	ev_ms best = -1;
	for (size_t i = 0; i < l->n_timers; i++) {
		const struct ev_timer *t = &l->timers[i];
		if (!t->live)
			continue;
		ev_ms d = t->due - l->now;
		if (d < 0)
			d = 0;
		if (best < 0 || d < best)
			best = d;
	}
	return best;
}

static int run_timers(struct ev_loop *l)
{
	int ran = 0;
	/* Only timers that exist at the start of the round run in it; timers added by
	 * callbacks (even with delay 0) run next round, so a 0-delay timer cannot starve
	 * the fds. */
	size_t n = l->n_timers;
	for (size_t i = 0; i < n; i++) {
		if (!l->timers[i].live || l->timers[i].due > l->now)
			continue;
		uint64_t id = l->timers[i].id;
		ev_timer_fn *fn = l->timers[i].fn;
		void *arg = l->timers[i].arg;
		ev_ms next = fn(l, arg);
		ran++;
		/* The table may have been reallocated by the callback: look up again. */
		struct ev_timer *t = find_timer(l, id);
		if (!t)
			continue;
		if (next == EV_STOP)
			t->live = 0;
		else if (t->due <= l->now) /* not reset by the callback itself */
			t->due = l->now + (next < 0 ? 0 : next);
	}
	compact_timers(l);
	return ran;
}

int ev_run_once(struct ev_loop *l, ev_ms max_wait)
{
	struct epoll_event evs[64];
	ev_ms timeout = next_timeout(l);
	if (max_wait >= 0 && (timeout < 0 || max_wait < timeout))
		timeout = max_wait;
	if (timeout > 86400000)
		timeout = 86400000;
	int n = epoll_wait(l->epfd, evs, 64, (int)timeout);
	if (n < 0) {
		if (errno != EINTR)
			return -1;
		n = 0;
	}
	l->now = l->clock(l->clock_arg);
	int ran = 0;
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		if ((size_t)fd >= l->io_cap)
			continue;
		struct ev_io *w = &l->io[fd];
		if (!w->live || w->gen != gen)
			continue; /* deleted (or replaced) earlier in this round */
		unsigned ev = 0;
		if (evs[i].events & EPOLLIN)
			ev |= EV_READ;
		if (evs[i].events & EPOLLOUT)
			ev |= EV_WRITE;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			ev |= EV_ERROR;
		w->fn(l, fd, ev, w->arg);
		ran++;
	}
	ran += run_timers(l);
	return ran;
}

int ev_run(struct ev_loop *l)
{
	l->stop = 0;
	ev_update_now(l);
	while (!l->stop) {
		if (ev_run_once(l, -1) < 0)
			return -1;
	}
	return 0;
}

void ev_stop(struct ev_loop *l)
{
	l->stop = 1;
}
