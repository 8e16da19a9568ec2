/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The name-resolution service: literal addresses without a thread, every address of a name
 * in order, cancelling and freeing without waiting on a stuck lookup (a fake lookup that
 * blocks until the test opens its gate), the thread and request bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "astrameter/ev.h"
#include "astrameter/resolve.h"

/* ---------------------------------------------------------------- a fake lookup */

struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
	atomic_int entered;  /* lookups started */
	atomic_int returned; /* lookups finished */
};

static struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0};

static void gate_reset(bool open)
{
	pthread_mutex_lock(&gate.mu);
	gate.open = open;
	pthread_mutex_unlock(&gate.mu);
	atomic_store(&gate.entered, 0);
	atomic_store(&gate.returned, 0);
}

static void gate_open(void)
{
	pthread_mutex_lock(&gate.mu);
	gate.open = true;
	pthread_cond_broadcast(&gate.cv);
	pthread_mutex_unlock(&gate.mu);
}

static void add_addr(struct rsv_result *r, int family, const char *ip, const char *port)
{
	struct rsv_addr *a = &r->addr[r->n++];
	a->family = family;
	a->socktype = SOCK_STREAM;
	uint16_t p = htons((uint16_t)(port ? atoi(port) : 0));
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = p;
		assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
		a->len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
		in->sin_family = AF_INET;
		in->sin_port = p;
		assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
		a->len = sizeof(*in);
	}
}

/* "dual.test" -> ::1 then 127.0.0.1; "none.test" -> EAI_NONAME; anything else blocks until
 * the gate opens, then fails with EAI_AGAIN. */
static int fake_lookup(const char *host, const char *port, const struct addrinfo *hints,
                       struct rsv_result **out, void *arg)
{
	(void)hints;
	(void)arg;
	atomic_fetch_add(&gate.entered, 1);
	int rc = EAI_AGAIN;
	if (strcmp(host, "dual.test") == 0) {
		struct rsv_result *r = calloc(1, sizeof(*r) + 2 * sizeof(r->addr[0]));
		add_addr(r, AF_INET6, "::1", port);
		add_addr(r, AF_INET, "127.0.0.1", port);
		*out = r;
		rc = 0;
	} else if (strcmp(host, "none.test") == 0) {
		rc = EAI_NONAME;
	} else {
		pthread_mutex_lock(&gate.mu);
		while (!gate.open)
			pthread_cond_wait(&gate.cv, &gate.mu);
		pthread_mutex_unlock(&gate.mu);
	}
	atomic_fetch_add(&gate.returned, 1);
	return rc;
}

static const struct rsv_opts fake_opts = {
        .max_threads = 2, .max_requests = 5, .lookup = fake_lookup};

static void wait_returned(int n)
{
	for (int i = 0; i < 2000 && atomic_load(&gate.returned) < n; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&gate.returned), n);
}

static void wait_entered(int n)
{
	for (int i = 0; i < 2000 && atomic_load(&gate.entered) < n; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&gate.entered), n);
}

/* ---------------------------------------------------------------- a result sink */

struct sink {
	int calls;
	int err;
	struct rsv_result *res;
};

static void sink_cb(struct rsv_result *res, int err, void *arg)
{
	struct sink *k = arg;
	k->calls++;
	k->err = err;
	free(k->res);
	k->res = res;
}

/* Runs the loop until k has been called (at most ~2 s). */
static void run_until(struct ev_loop *loop, struct sink *k)
{
	for (int i = 0; i < 200 && k->calls == 0; i++)
		(void)ev_run_once(loop, 10);
}

static int elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (int)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* ---------------------------------------------------------------- tests */

static void literal_needs_no_thread_and_comes_next_round(void **state)
{
	(void)state;
	gate_reset(false);
	struct ev_loop *loop = ev_new(NULL, NULL);
	struct rsv *s = rsv_new(loop, &fake_opts);
	assert_non_null(s);
	struct sink k4 = {0}, k6 = {0};
	assert_non_null(rsv_resolve(s, "127.0.0.1", "1883", NULL, sink_cb, &k4));
	assert_non_null(rsv_resolve(s, "::1", "80", NULL, sink_cb, &k6));
	assert_int_equal(k4.calls, 0); /* never from inside rsv_resolve */
	(void)ev_run_once(loop, 100);
	assert_int_equal(k4.calls, 1);
	assert_int_equal(k6.calls, 1);
	assert_int_equal(atomic_load(&gate.entered), 0); /* the lookup was not used */
	char buf[64];
	assert_int_equal(k4.res->n, 1);
	assert_string_equal(rsv_addr_str(&k4.res->addr[0], buf, sizeof(buf)), "127.0.0.1:1883");
	assert_string_equal(rsv_addr_str(&k6.res->addr[0], buf, sizeof(buf)), "[::1]:80");
	free(k4.res);
	free(k6.res);
	rsv_free(s);
	ev_free(loop);
}

static void every_address_in_order(void **state)
{
	(void)state;
	gate_reset(false);
	struct ev_loop *loop = ev_new(NULL, NULL);
	struct rsv *s = rsv_new(loop, &fake_opts);
	struct sink k = {0};
	assert_non_null(rsv_resolve(s, "dual.test", "1883", NULL, sink_cb, &k));
	run_until(loop, &k);
	assert_int_equal(k.calls, 1);
	assert_int_equal(k.err, 0);
	assert_int_equal(k.res->n, 2);
	char buf[128];
	assert_string_equal(rsv_list_str(k.res, buf, sizeof(buf)), "[::1]:1883, 127.0.0.1:1883");
	assert_string_equal(rsv_list_str(k.res, buf, 16), "[::1]:1883, ...");
	free(k.res);
	rsv_free(s);
	ev_free(loop);
}

static void failure_is_reported(void **state)
{
	(void)state;
	gate_reset(false);
	struct ev_loop *loop = ev_new(NULL, NULL);
	struct rsv *s = rsv_new(loop, &fake_opts);
	struct sink k = {0};
	assert_non_null(rsv_resolve(s, "none.test", NULL, NULL, sink_cb, &k));
	run_until(loop, &k);
	assert_int_equal(k.calls, 1);
	assert_int_equal(k.err, EAI_NONAME);
	assert_null(k.res);
	assert_non_null(rsv_strerror(k.err));
	rsv_free(s);
	ev_free(loop);
}

static void real_getaddrinfo_on_a_thread(void **state)
{
	(void)state;
	struct ev_loop *loop = ev_new(NULL, NULL);
	struct rsv *s = rsv_of(loop); /* the default service: getaddrinfo */
	assert_non_null(s);
	assert_ptr_equal(rsv_of(loop), s);
	struct sink k = {0};
	assert_non_null(rsv_resolve(s, "localhost", "8080", NULL, sink_cb, &k));
	run_until(loop, &k);
	assert_int_equal(k.calls, 1);
	assert_int_equal(k.err, 0);
	assert_true(k.res->n >= 1);
	free(k.res);
	ev_free(loop); /* frees the service */
}

/* A lookup that never returns: cancelling it returns at once, its callback never runs,
 * and the late result is freed by the thread (ASan would see a leak or a use after free). */
static void cancel_never_waits(void **state)
{
	(void)state;
	gate_reset(false);
	struct ev_loop *loop = ev_new(NULL, NULL);
	struct rsv *s = rsv_new(loop, &fake_opts);
	struct sink k = {0};
	struct rsv_req *r = rsv_resolve(s, "stuck.test", "1", NULL, sink_cb, &k);
	assert_non_null(r);
	wait_entered(1);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rsv_cancel(r);
	assert_true(elapsed_ms(&t0) < 50);
	gate_open();
	wait_returned(1);
	for (int i = 0; i < 10; i++)
		(void)ev_run_once(loop, 10);
	assert_int_equal(k.calls, 0);
	rsv_free(s);
	ev_free(loop);
}

/* Two thread slots: a third lookup queues until one comes free, and an abandoned lookup
 * keeps its slot until getaddrinfo returns (so cancel-and-retry cannot pile up threads). */
static void threads_are_bounded(void **state)
{
	(void)state;
	gate_reset(false);
	struct ev_loop *loop = ev_new(NULL, NULL);
	struct rsv *s = rsv_new(loop, &fake_opts);
	struct sink k1 = {0}, k2 = {0}, k3 = {0};
	struct rsv_req *r1 = rsv_resolve(s, "a.test", NULL, NULL, sink_cb, &k1);
	assert_non_null(rsv_resolve(s, "b.test", NULL, NULL, sink_cb, &k2));
	assert_non_null(r1);
	wait_entered(2);
	rsv_cancel(r1); /* its thread still holds a slot */
	assert_non_null(rsv_resolve(s, "dual.test", NULL, NULL, sink_cb, &k3));
	for (int i = 0; i < 10; i++)
		(void)ev_run_once(loop, 5);
	assert_int_equal(atomic_load(&gate.entered), 2); /* queued, not started */
	assert_int_equal(k3.calls, 0);
	gate_open();
	run_until(loop, &k3);
	run_until(loop, &k2);
	assert_int_equal(k1.calls, 0);
	assert_int_equal(k2.calls, 1);
	assert_int_equal(k2.err, EAI_AGAIN);
	assert_int_equal(k3.calls, 1);
	assert_int_equal(k3.res->n, 2);
	free(k3.res);
	wait_returned(3);
	rsv_free(s);
	ev_free(loop);
}

static void requests_are_bounded(void **state)
{
	(void)state;
	gate_reset(false);
	struct ev_loop *loop = ev_new(NULL, NULL);
	struct rsv *s = rsv_new(loop, &fake_opts);
	struct sink k = {0};
	struct rsv_req *r[5];
	for (int i = 0; i < 5; i++)
		assert_non_null(r[i] = rsv_resolve(s, "x.test", NULL, NULL, sink_cb, &k));
	errno = 0;
	assert_null(rsv_resolve(s, "127.0.0.1", NULL, NULL, sink_cb, &k));
	assert_int_equal(errno, EAGAIN);
	rsv_cancel(r[4]); /* a queued one: freed at once */
	assert_non_null(rsv_resolve(s, "127.0.0.1", NULL, NULL, sink_cb, &k));
	wait_entered(2);
	/* Freed with two lookups stuck inside the fake getaddrinfo, two queued and one
	 * ready: returns at once, no callback. */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rsv_free(s);
	assert_true(elapsed_ms(&t0) < 50);
	gate_open();
	wait_returned(2);
	(void)ev_run_once(loop, 10);
	assert_int_equal(k.calls, 0);
	ev_free(loop);
}

/* The loop's shared service is freed by ev_free even with a lookup in flight. */
static void loop_free_with_lookup_in_flight(void **state)
{
	(void)state;
	gate_reset(false);
	struct ev_loop *loop = ev_new(NULL, NULL);
	assert_int_equal(rsv_attach(loop, &fake_opts), 0);
	assert_int_equal(rsv_attach(loop, &fake_opts), -1);
	struct sink k = {0};
	assert_non_null(rsv_resolve(rsv_of(loop), "slow.test", NULL, NULL, sink_cb, &k));
	wait_entered(1);
	ev_free(loop);
	gate_open();
	wait_returned(1);
	assert_int_equal(k.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(literal_needs_no_thread_and_comes_next_round),
	        cmocka_unit_test(every_address_in_order),
	        cmocka_unit_test(failure_is_reported),
	        cmocka_unit_test(real_getaddrinfo_on_a_thread),
	        cmocka_unit_test(cancel_never_waits),
	        cmocka_unit_test(threads_are_bounded),
	        cmocka_unit_test(requests_are_bounded),
	        cmocka_unit_test(loop_free_with_lookup_in_flight),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	/* Let abandoned threads finish freeing before LeakSanitizer looks. */
	usleep(100 * 1000);
	return rc;
}
