/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Event loop: fd watchers, timers driven by an injected fake clock, deletion from inside
 * callbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "astrameter/ev.h"

static ev_ms fake_now;
static ev_ms fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

struct counter {
	int runs;
	ev_ms every;
	int stop_after;
	uint64_t other; /* timer to delete when run */
	ev_ms last_now;
};

static ev_ms count_cb(struct ev_loop *loop, void *arg)
{
	struct counter *c = arg;
	c->runs++;
	c->last_now = ev_now(loop);
	if (c->other)
		ev_timer_del(loop, c->other);
	if (c->stop_after && c->runs >= c->stop_after)
		return EV_STOP;
	return c->every;
}

static void timers_fire_on_fake_clock(void **state)
{
	(void)state;
	fake_now = 1000;
	struct ev_loop *l = ev_new(fake_clock, NULL);
	assert_non_null(l);
	struct counter c = {.every = 100, .stop_after = 3};
	assert_true(ev_timer_add(l, 50, count_cb, &c) > 0);
	ev_run_once(l, 0);
	assert_int_equal(c.runs, 0); /* not due yet */
	fake_now = 1050;
	ev_run_once(l, 0);
	assert_int_equal(c.runs, 1);
	assert_int_equal(c.last_now, 1050);
	fake_now = 1149;
	ev_run_once(l, 0);
	assert_int_equal(c.runs, 1);
	fake_now = 1150;
	ev_run_once(l, 0);
	assert_int_equal(c.runs, 2);
	fake_now = 1250;
	ev_run_once(l, 0);
	assert_int_equal(c.runs, 3); /* returns EV_STOP now */
	fake_now = 5000;
	ev_run_once(l, 0);
	assert_int_equal(c.runs, 3);
	ev_free(l);
}

static void timer_deletes_another_and_itself(void **state)
{
	(void)state;
	fake_now = 0;
	struct ev_loop *l = ev_new(fake_clock, NULL);
	struct counter victim = {.every = 10};
	struct counter killer = {.every = 10};
	uint64_t v = ev_timer_add(l, 10, count_cb, &victim);
	killer.other = v;
	uint64_t k = ev_timer_add(l, 5, count_cb, &killer);
	assert_true(k > 0);
	fake_now = 5;
	ev_run_once(l, 0);
	assert_int_equal(killer.runs, 1);
	fake_now = 100;
	ev_run_once(l, 0);
	assert_int_equal(victim.runs, 0); /* deleted before it was due */
	ev_timer_del(l, k);
	ev_timer_del(l, k); /* twice is harmless */
	ev_timer_del(l, 0);
	fake_now = 200;
	assert_int_equal(ev_run_once(l, 0), 0);
	ev_free(l);
}

static void timer_reset_moves_deadline(void **state)
{
	(void)state;
	fake_now = 0;
	struct ev_loop *l = ev_new(fake_clock, NULL);
	struct counter c = {.stop_after = 1};
	uint64_t id = ev_timer_add(l, 10, count_cb, &c);
	assert_int_equal(ev_timer_reset(l, id, 500), 0);
	fake_now = 100;
	ev_run_once(l, 0);
	assert_int_equal(c.runs, 0);
	fake_now = 500;
	ev_run_once(l, 0);
	assert_int_equal(c.runs, 1);
	assert_int_equal(ev_timer_reset(l, id, 5), -1); /* gone */
	ev_free(l);
}

struct io_state {
	int reads;
	int del_fd; /* fd to delete when called */
	int own_fd;
};

static void on_read(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct io_state *s = arg;
	assert_true(events & EV_READ);
	char buf[16];
	ssize_t n = read(fd, buf, sizeof(buf));
	assert_true(n > 0);
	s->reads++;
	if (s->del_fd >= 0)
		ev_io_del(loop, s->del_fd);
}

static void io_dispatch_and_delete_in_callback(void **state)
{
	(void)state;
	struct ev_loop *l = ev_new(NULL, NULL);
	int a[2], b[2];
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	struct io_state sa = {.del_fd = b[0]}, sb = {.del_fd = -1};
	assert_int_equal(ev_io_add(l, a[0], EV_READ, on_read, &sa), 0);
	assert_int_equal(ev_io_add(l, b[0], EV_READ, on_read, &sb), 0);
	assert_int_equal(ev_io_add(l, b[0], EV_READ, on_read, &sb), -1); /* one per fd */
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "y", 1), 1);
	ev_run_once(l, 100);
	/* Either a ran first and removed b (b not dispatched), or b ran first. Never both
	 * b after its deletion. */
	assert_int_equal(sa.reads, 1);
	assert_true(sb.reads <= 1);
	int before = sb.reads;
	assert_int_equal(write(b[1], "z", 1), 1);
	ev_run_once(l, 50);
	assert_int_equal(sb.reads, before); /* b is no longer watched */
	ev_io_del(l, a[0]);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
	ev_free(l);
}

static void run_once_waits_for_next_timer(void **state)
{
	(void)state;
	struct ev_loop *l = ev_new(NULL, NULL);
	struct counter c = {.stop_after = 1};
	ev_update_now(l);
	ev_ms t0 = ev_clock_monotonic(NULL);
	ev_timer_add(l, 30, count_cb, &c);
	while (c.runs == 0)
		ev_run_once(l, -1);
	ev_ms waited = ev_clock_monotonic(NULL) - t0;
	assert_true(waited >= 29);
	assert_true(waited < 1000);
	ev_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(timers_fire_on_fake_clock),
	        cmocka_unit_test(timer_deletes_another_and_itself),
	        cmocka_unit_test(timer_reset_moves_deadline),
	        cmocka_unit_test(io_dispatch_and_delete_in_callback),
	        cmocka_unit_test(run_once_waits_for_next_timer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
