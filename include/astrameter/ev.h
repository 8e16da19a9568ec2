/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The event loop: one epoll instance, fd watchers and timers, one thread.
 *
 * Time is injected: the loop reads "now" through a clock function given at creation and
 * samples it once per wakeup; every callback in that round sees the same ev_now(). Timer
 * callbacks return the delay until their next run (or EV_STOP), so periodic work never
 * re-arms itself by hand. Deleting a timer or an fd watcher from inside any callback,
 * including its own, is safe. */
#ifndef ASTRAMETER_EV_H
#define ASTRAMETER_EV_H

#include <stdbool.h>
#include <stdint.h>

typedef int64_t ev_ms; /* monotonic milliseconds */

#define EV_STOP  ((ev_ms)-1)
#define EV_READ  0x1u
#define EV_WRITE 0x2u
#define EV_ERROR 0x4u /* EPOLLERR/EPOLLHUP; delivered whatever was asked */

struct ev_loop;
typedef void ev_io_fn(struct ev_loop *loop, int fd, unsigned events, void *arg);
typedef ev_ms ev_timer_fn(struct ev_loop *loop, void *arg);
typedef ev_ms ev_clock_fn(void *arg);

/* Monotonic milliseconds from CLOCK_MONOTONIC (the default clock). */
ev_ms ev_clock_monotonic(void *arg);
/* Wall-clock milliseconds since the epoch (for timestamps in payloads only). */
int64_t ev_wall_ms(void);

/* Creates a loop. clock NULL = ev_clock_monotonic. Returns NULL on failure (errno set). */
struct ev_loop *ev_new(ev_clock_fn *clock, void *clock_arg);
/* Frees the loop; does not close watched fds. */
void ev_free(struct ev_loop *loop);

/* Watches fd for events (EV_READ|EV_WRITE). One watcher per fd. 0/-1 (errno). */
int ev_io_add(struct ev_loop *loop, int fd, unsigned events, ev_io_fn *fn, void *arg);
/* Changes the event mask of a watched fd. 0/-1. */
int ev_io_mod(struct ev_loop *loop, int fd, unsigned events);
/* Stops watching fd (safe inside callbacks; ignores unknown fds). */
void ev_io_del(struct ev_loop *loop, int fd);

/* Runs fn after delay ms (0 = next round). Returns a timer id > 0, or 0 on allocation
 * failure. The callback's return value re-arms it (delay from now) or EV_STOP ends it. */
uint64_t ev_timer_add(struct ev_loop *loop, ev_ms delay, ev_timer_fn *fn, void *arg);
/* Cancels a timer (safe inside callbacks, unknown/0 ids ignored). */
void ev_timer_del(struct ev_loop *loop, uint64_t id);
/* Re-arms an existing timer to fire after delay ms from now. 0/-1 if unknown. */
int ev_timer_reset(struct ev_loop *loop, uint64_t id, ev_ms delay);

/* Per-loop services: an object a module creates once per loop and shares among its users
 * (the name resolver, resolve.h). key is the address of a const object of that module.
 * ev_free runs fini on every service, newest first, before it frees the loop. */
/* The service stored under key, or NULL. */
void *ev_service_get(const struct ev_loop *loop, const void *key);
/* Stores obj under key (the loop then owns it through fini). 0, or -1 if key is taken or
 * the (small) table is full. */
int ev_service_put(struct ev_loop *loop, const void *key, void *obj, void (*fini)(void *obj));

/* The time sampled at the start of the current round. */
ev_ms ev_now(const struct ev_loop *loop);
/* Re-samples the clock (for use outside callbacks, e.g. before ev_run). */
ev_ms ev_update_now(struct ev_loop *loop);

/* Runs one round: waits at most max_wait ms (-1 = until the next timer/event), then
 * dispatches. Returns the number of callbacks run, or -1 on epoll failure. */
int ev_run_once(struct ev_loop *loop, ev_ms max_wait);
/* Runs until ev_stop(). Returns 0, or -1 on epoll failure. */
int ev_run(struct ev_loop *loop);
void ev_stop(struct ev_loop *loop);

#endif
