/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The powermeter core with a scripted fake driver and a fake clock: fresh-cache answers,
 * parking and coalescing, the 2 s deadline, failures (hold), back-off after a failure,
 * push meters with WAIT_FOR_NEXT_MESSAGE, NETMASK parsing and routing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>
#include "astrameter/config.h"
#include "astrameter/pm_parsers.h"
#include "astrameter/powermeter.h"

static ev_ms fake_now;
static ev_ms fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

struct fake {
	int polls;
};

static int fake_poll(struct pm_meter *m, ev_ms now)
{
	(void)now;
	struct fake *f = m->priv;
	f->polls++;
	return 0; /* completes when the test says so */
}

static const struct pm_driver fake_pull = {
        .name = "FAKE", .priv_size = sizeof(struct fake), .poll = fake_poll};
static const struct pm_driver fake_push = {
        .name = "FAKEPUSH", .priv_size = sizeof(struct fake), .push = true};

struct got {
	int calls;
	bool ok;
	double w0;
};

static void got_cb(struct pm_waiter *w, const struct pm_reading *r, void *arg)
{
	(void)w;
	struct got *g = arg;
	g->calls++;
	g->ok = r != NULL;
	g->w0 = r ? r->w[0] : 0.0;
}

struct env {
	struct ev_loop *loop;
	struct pm_ctx ctx;
	struct cfg cfg;
};

static struct pm_meter *make(struct env *env, const struct pm_driver *drv, const char *ini)
{
	fake_now = 100000;
	env->loop = ev_new(fake_clock, NULL);
	env->ctx.loop = env->loop;
	memset(&env->cfg, 0, sizeof(env->cfg));
	struct err e;
	assert_int_equal(cfg_load_string(&env->cfg, ini, &e), 0);
	struct pm_meter *m = pm_meter_new(drv, &env->cfg.sec[env->cfg.n - 1],
	                                  cfg_find(&env->cfg, "GENERAL"), &env->ctx, &e);
	assert_non_null(m);
	return m;
}

static void done(struct env *env, struct pm_meter *m)
{
	pm_meter_free(m);
	cfg_free(&env->cfg);
	ev_free(env->loop);
}

static struct pm_reading one(double w)
{
	struct pm_reading r = {.n = 1};
	r.w[0] = w;
	return r;
}

static void advance(struct env *env, ev_ms ms)
{
	fake_now += ms;
	ev_run_once(env->loop, 0);
}

static void parks_coalesces_then_serves_from_cache(void **state)
{
	(void)state;
	struct env env;
	struct pm_meter *m = make(&env, &fake_pull, "[FAKE]\nTHROTTLE_INTERVAL = 1\n");
	struct fake *f = m->priv;
	assert_int_equal(m->throttle_ms, 1000);
	struct pm_waiter w1 = {0}, w2 = {0};
	struct got g1 = {0}, g2 = {0};
	struct pm_reading out;
	assert_int_equal(pm_meter_read(m, fake_now, &w1, got_cb, &g1, &out), 0);
	assert_int_equal(pm_meter_read(m, fake_now, &w2, got_cb, &g2, &out), 0);
	assert_int_equal(f->polls, 1); /* one fetch for both */
	ev_update_now(env.loop);
	struct pm_reading r = one(321.0);
	pm_meter_publish(m, &r);
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g2.calls, 1);
	assert_true(g1.ok && g2.ok);
	assert_true(g1.w0 == 321.0);
	/* Within THROTTLE_INTERVAL: answered from the cache, no new fetch. */
	fake_now += 999;
	assert_int_equal(pm_meter_read(m, fake_now, &w1, got_cb, &g1, &out), 1);
	assert_true(out.w[0] == 321.0);
	assert_int_equal(f->polls, 1);
	/* Older than that: a new fetch. */
	fake_now += 1;
	assert_int_equal(pm_meter_read(m, fake_now, &w1, got_cb, &g1, &out), 0);
	assert_int_equal(f->polls, 2);
	pm_waiter_cancel(&w1);
	done(&env, m);
	assert_int_equal(g1.calls, 1); /* cancelled waiters are never called */
}

static void deadline_gives_hold_after_2s(void **state)
{
	(void)state;
	struct env env;
	struct pm_meter *m = make(&env, &fake_pull, "[FAKE]\n");
	assert_int_equal(m->throttle_ms, 0);
	struct pm_waiter w = {0};
	struct got g = {0};
	struct pm_reading out;
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	advance(&env, 1999);
	assert_int_equal(g.calls, 0);
	advance(&env, 1);
	assert_int_equal(g.calls, 1);
	assert_false(g.ok);
	/* A late reading still lands in the cache for the next request. */
	struct pm_reading r = one(5.0);
	pm_meter_publish(m, &r);
	assert_int_equal(g.calls, 1);
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 1);
	done(&env, m);
}

static void failure_holds_and_backs_off(void **state)
{
	(void)state;
	struct env env;
	struct pm_meter *m = make(&env, &fake_pull, "[FAKE]\n");
	struct fake *f = m->priv;
	struct pm_waiter w = {0};
	struct got g = {0};
	struct pm_reading out;
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	pm_meter_fail(m, "HTTP %d", 503);
	assert_int_equal(g.calls, 1);
	assert_false(g.ok);
	assert_string_equal(m->last_error, "HTTP 503");
	/* Right after a failure: hold at once, no new fetch (no hammering). */
	assert_int_equal(pm_meter_read(m, fake_now + 10, &w, got_cb, &g, &out), -1);
	assert_int_equal(f->polls, 1);
	/* After the freshness bound a new attempt is made. */
	assert_int_equal(pm_meter_read(m, fake_now + PM_DEFAULT_FRESH_MS, &w, got_cb, &g, &out), 0);
	assert_int_equal(f->polls, 2);
	pm_waiter_cancel(&w);
	done(&env, m);
}

static void push_meter_waits_for_next_message(void **state)
{
	(void)state;
	struct env env;
	struct pm_meter *m = make(&env, &fake_push, "[FAKEPUSH]\n");
	assert_true(m->wait_for_next);
	struct pm_waiter w = {0};
	struct got g = {0};
	struct pm_reading out;
	struct pm_reading r = one(10.0);
	ev_update_now(env.loop);
	pm_meter_publish(m, &r);
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	r = one(11.0);
	pm_meter_publish(m, &r);
	assert_int_equal(g.calls, 1);
	assert_true(g.w0 == 11.0);
	/* No push within 2 s: the cached value is used (upstream swallows the timeout). */
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	advance(&env, 2000);
	assert_int_equal(g.calls, 2);
	assert_true(g.ok && g.w0 == 11.0);
	done(&env, m);

	m = make(&env, &fake_push, "[GENERAL]\nWAIT_FOR_NEXT_MESSAGE = false\n[FAKEPUSH]\n");
	assert_false(m->wait_for_next);
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), -1); /* nothing yet */
	ev_update_now(env.loop);
	pm_meter_publish(m, &r);
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 1);
	done(&env, m);
}

/* A battery whose answer arrives and who polls again at once: the callback parks a new
 * request on the same meter from inside the wake-up. */
struct repark {
	struct pm_meter *m;
	struct pm_waiter again;
	struct got first, second;
	int rc;
};

static void repark_cb(struct pm_waiter *w, const struct pm_reading *r, void *arg)
{
	struct repark *rp = arg;
	got_cb(w, r, &rp->first);
	struct pm_reading out;
	/* Past the freshness bound of the reading that woke us: must park. */
	fake_now += PM_DEFAULT_FRESH_MS;
	rp->rc = pm_meter_read(rp->m, fake_now, &rp->again, got_cb, &rp->second, &out);
}

static void repark_inside_wakeup_keeps_deadline(void **state)
{
	(void)state;
	struct env env;
	struct pm_meter *m = make(&env, &fake_pull, "[FAKE]\n");
	struct fake *f = m->priv;
	struct repark rp = {.m = m};
	struct pm_waiter w = {0};
	struct pm_reading out;
	assert_int_equal(pm_meter_read(m, fake_now, &w, repark_cb, &rp, &out), 0);
	ev_update_now(env.loop);
	struct pm_reading r = one(42.0);
	pm_meter_publish(m, &r);
	assert_int_equal(rp.first.calls, 1);
	assert_int_equal(rp.rc, 0); /* re-parked, and a new fetch started for it */
	assert_int_equal(f->polls, 2);
	/* That fetch never completes: the re-parked request still gets its hold answer at
	 * its 2 s deadline (it used to wait forever: wake_all deleted the deadline timer
	 * after the callback, so the new request was parked with no timer at all). */
	ev_update_now(env.loop);
	advance(&env, PM_WAIT_MS - 1);
	assert_int_equal(rp.second.calls, 0);
	advance(&env, 1);
	assert_int_equal(rp.second.calls, 1);
	assert_false(rp.second.ok);
	done(&env, m);
}

static void settle_answers_parked_now(void **state)
{
	(void)state;
	struct env env;
	/* Pull meter, no fresh reading: hold. */
	struct pm_meter *m = make(&env, &fake_pull, "[FAKE]\n");
	struct pm_waiter w = {0};
	struct got g = {0};
	struct pm_reading out;
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	pm_waiter_settle(&w, fake_now);
	assert_int_equal(g.calls, 1);
	assert_false(g.ok);
	pm_waiter_settle(&w, fake_now); /* not parked any more: no-op */
	assert_int_equal(g.calls, 1);
	advance(&env, PM_WAIT_MS); /* and the deadline does not call it again */
	assert_int_equal(g.calls, 1);
	done(&env, m);

	/* Push meter waiting for the next message: its current value. */
	m = make(&env, &fake_push, "[FAKEPUSH]\n");
	struct pm_reading r = one(7.0);
	ev_update_now(env.loop);
	pm_meter_publish(m, &r);
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	pm_waiter_settle(&w, fake_now);
	assert_int_equal(g.calls, 2);
	assert_true(g.ok && g.w0 == 7.0);
	done(&env, m);
}

static struct pm_reading three(double a, double b, double c)
{
	struct pm_reading r = {.n = 3};
	r.w[0] = a;
	r.w[1] = b;
	r.w[2] = c;
	return r;
}

/* #550: a NaN, an infinity or an absurd magnitude in any phase is an unavailable meter, not
 * a reading: the parked request gets the hold answer, so does the next one, /health sees
 * the failure, and the next good reading is served as usual. */
static void invalid_values_are_an_unavailable_meter(void **state)
{
	(void)state;
	const double bad[] = {1e300, -2e9, 1e9 + 1, NAN, -NAN, INFINITY, -INFINITY};
	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
		for (unsigned phase = 0; phase < 3; phase++) {
			struct env env;
			struct pm_meter *m = make(&env, &fake_pull, "[FAKE]\n");
			struct fake *f = m->priv;
			struct pm_waiter w = {0};
			struct got g = {0};
			struct pm_reading out, r = three(100, 200, 300);
			r.w[phase] = bad[b];
			/* a good reading first: the bad one must not be answered from it */
			assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
			ev_update_now(env.loop);
			struct pm_reading good = three(1, 2, 3);
			pm_meter_publish(m, &good);
			assert_true(g.ok);
			fake_now += PM_DEFAULT_FRESH_MS;
			assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
			ev_update_now(env.loop);
			pm_meter_publish(m, &r);
			if (g.calls != 2 || g.ok)
				fail_msg("value %g in phase %u: calls %d, answered with a reading",
				         bad[b], phase, g.calls);
			assert_true(m->failed);
			assert_int_equal(m->failures, 1);
			assert_non_null(strstr(m->last_error, "invalid value"));
			/* the cached good reading is not served meanwhile */
			assert_int_equal(pm_meter_read(m, fake_now + 10, &w, got_cb, &g, &out), -1);
			/* recovery */
			fake_now += PM_DEFAULT_FRESH_MS;
			assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
			assert_int_equal(f->polls, 3);
			ev_update_now(env.loop);
			good = three(-50, 0, 0);
			pm_meter_publish(m, &good);
			assert_int_equal(g.calls, 3);
			assert_true(g.ok && g.w0 == -50);
			assert_false(m->failed);
			done(&env, m);
		}
	}
}

/* A push meter that sends garbage has no reading: neither a waiting request nor one that
 * does not wait is answered with the value before the garbage. */
static void invalid_push_value_drops_the_cached_reading(void **state)
{
	(void)state;
	struct env env;
	struct pm_meter *m = make(&env, &fake_push, "[FAKEPUSH]\n");
	struct pm_waiter w = {0};
	struct got g = {0};
	struct pm_reading out, r = three(10, 20, 30);
	ev_update_now(env.loop);
	pm_meter_publish(m, &r);
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	r = three(10, NAN, 30);
	pm_meter_publish(m, &r);
	assert_int_equal(g.calls, 1);
	assert_false(g.ok);
	/* no push by the deadline: hold, not the stale 10/20/30 */
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	advance(&env, PM_WAIT_MS);
	assert_int_equal(g.calls, 2);
	assert_false(g.ok);
	done(&env, m);

	m = make(&env, &fake_push, "[GENERAL]\nWAIT_FOR_NEXT_MESSAGE = false\n[FAKEPUSH]\n");
	ev_update_now(env.loop);
	r = three(10, 20, 30);
	pm_meter_publish(m, &r);
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 1);
	r = three(INFINITY, 20, 30);
	pm_meter_publish(m, &r);
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), -1);
	r = three(11, 20, 30);
	pm_meter_publish(m, &r);
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 1);
	assert_true(out.w[0] == 11);
	done(&env, m);
}

/* The filters can make garbage of a good reading (a kW meter with POWER_MULTIPLIER = 1000
 * sending a glitch of 1e7): that output is no reading either, and the chain restarts, so
 * the EMA that swallowed the glitch does not keep the meter unavailable. */
static void invalid_chain_output_is_an_unavailable_meter(void **state)
{
	(void)state;
	struct env env;
	struct pm_meter *m = make(&env, &fake_pull,
	                          "[FAKE]\nPOWER_MULTIPLIER = 1000\nSMOOTH_TARGET_ALPHA = 0.5\n");
	struct pm_waiter w = {0};
	struct got g = {0};
	struct pm_reading out, r = one(1);
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	ev_update_now(env.loop);
	pm_meter_publish(m, &r);
	assert_true(g.ok && g.w0 == 1000);
	fake_now += PM_DEFAULT_FRESH_MS;
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	ev_update_now(env.loop);
	r = one(1e7); /* 1e10 W after the multiplier */
	pm_meter_publish(m, &r);
	assert_int_equal(g.calls, 2);
	assert_false(g.ok);
	assert_true(m->failed);
	assert_non_null(strstr(m->last_error, "filters"));
	fake_now += PM_DEFAULT_FRESH_MS;
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	ev_update_now(env.loop);
	r = one(2);
	pm_meter_publish(m, &r);
	assert_int_equal(g.calls, 3);
	if (!g.ok || g.w0 != 2000)
		fail_msg("after the glitch: ok %d, %g W (want 2000: the EMA restarted)", g.ok,
		         g.w0);
	done(&env, m);

	/* an overflow to infinity, per phase */
	m = make(&env, &fake_pull, "[FAKE]\nPOWER_MULTIPLIER = 1e300\n");
	assert_int_equal(pm_meter_read(m, fake_now, &w, got_cb, &g, &out), 0);
	ev_update_now(env.loop);
	r = three(0, 0, 1e9);
	pm_meter_publish(m, &r);
	assert_int_equal(g.calls, 4);
	assert_false(g.ok);
	done(&env, m);
}

static void rejects_bad_common_keys(void **state)
{
	(void)state;
	struct cfg cfg = {0};
	struct err e;
	struct pm_ctx ctx = {0};
	assert_int_equal(cfg_load_string(&cfg, "[FAKE]\nNETMASK = 10.0.0.0/33\n", &e), 0);
	assert_null(pm_meter_new(&fake_pull, &cfg.sec[0], NULL, &ctx, &e));
	assert_non_null(strstr(e.msg, "[FAKE] NETMASK"));
	assert_non_null(strstr(e.msg, "10.0.0.0/33"));
	cfg_free(&cfg);
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(cfg_load_string(&cfg, "[FAKE]\nTHROTTLE_INTERVAL = soon\n", &e), 0);
	assert_null(pm_meter_new(&fake_pull, &cfg.sec[0], NULL, &ctx, &e));
	assert_non_null(strstr(e.msg, "THROTTLE_INTERVAL"));
	assert_non_null(strstr(e.msg, "soon"));
	cfg_free(&cfg);
}

static uint32_t ip(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

static void netmask_parse_and_match(void **state)
{
	(void)state;
	struct pm_netmask nm[4];
	size_t n;
	struct err e;
	assert_int_equal(pm_netmask_parse("192.168.1.0/24, 10.0.0.5", nm, &n, 4, &e), 0);
	assert_int_equal(n, 2);
	assert_true(pm_netmask_match(nm, n, ip("192.168.1.77")));
	assert_false(pm_netmask_match(nm, n, ip("192.168.2.1")));
	assert_true(pm_netmask_match(nm, n, ip("10.0.0.5")));
	assert_false(pm_netmask_match(nm, n, ip("10.0.0.6")));
	/* Host bits are ignored like Python's ip_network(strict=False). */
	assert_int_equal(pm_netmask_parse("192.168.1.9/24", nm, &n, 4, &e), 0);
	assert_true(pm_netmask_match(nm, n, ip("192.168.1.200")));
	assert_int_equal(pm_netmask_parse("0.0.0.0/0", nm, &n, 4, &e), 0);
	assert_true(pm_netmask_match(nm, n, ip("8.8.8.8")));
	const char *bad[] = {"",
	                     "1.2.3.4/",
	                     "1.2.3/24",
	                     "1.2.3.4/40",
	                     "a.b.c.d",
	                     "1.2.3.4,",
	                     "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5",
	                     "::1/128"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pm_netmask_parse(bad[i], nm, &n, 4, &e), -1);
}

static void route_first_match_in_file_order(void **state)
{
	(void)state;
	struct pm_meter a = {0}, b = {0};
	struct err e;
	assert_int_equal(pm_netmask_parse("192.168.1.0/24", a.netmask, &a.n_netmask, 4, &e), 0);
	assert_int_equal(pm_netmask_parse("0.0.0.0/0", b.netmask, &b.n_netmask, 4, &e), 0);
	struct pm_meter *list[] = {&a, &b};
	struct pm_set set = {list, 2};
	assert_ptr_equal(pm_route(&set, ip("192.168.1.3")), &a);
	assert_ptr_equal(pm_route(&set, ip("192.168.7.3")), &b);
	set.n = 1;
	assert_null(pm_route(&set, ip("192.168.7.3")));
}

/* A numeric string in a meter payload is read with Python's float()/int(), like the
 * reference (and like JSONPath and the config): "1_000" is a number (issue 13). */
static void payload_numbers_follow_python(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int frc, irc;
		double v;
	} cases[] = {
	        {"1_000", 0, 0, 1000}, {" 5 ", 0, 0, 5},   {"+.5", 0, -1, 0.5},
	        {"5.", 0, -1, 5},      {"_1", -1, -1, 0},  {"1__0", -1, -1, 0},
	        {"0x10", -1, -1, 0},   {"inf", -1, -1, 0}, {"nan", -1, -1, 0},
	        {"1e999", -1, -1, 0},  {"2e9", -1, -1, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = cJSON_CreateString(cases[i].s);
		struct err e = {0};
		double f = -1, n = -1;
		if (pmj_float(j, "power", &f, &e) != cases[i].frc)
			fail_msg("float('%s') rc want %d (%s)", cases[i].s, cases[i].frc, e.msg);
		if (cases[i].frc == 0 && f != cases[i].v)
			fail_msg("float('%s') = %g", cases[i].s, f);
		if (pmj_int(j, "power", &n, &e) != cases[i].irc)
			fail_msg("int('%s') rc want %d", cases[i].s, cases[i].irc);
		if (cases[i].irc == 0 && n != cases[i].v)
			fail_msg("int('%s') = %g", cases[i].s, n);
		cJSON_Delete(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(parks_coalesces_then_serves_from_cache),
	        cmocka_unit_test(deadline_gives_hold_after_2s),
	        cmocka_unit_test(failure_holds_and_backs_off),
	        cmocka_unit_test(push_meter_waits_for_next_message),
	        cmocka_unit_test(repark_inside_wakeup_keeps_deadline),
	        cmocka_unit_test(settle_answers_parked_now),
	        cmocka_unit_test(invalid_values_are_an_unavailable_meter),
	        cmocka_unit_test(invalid_push_value_drops_the_cached_reading),
	        cmocka_unit_test(invalid_chain_output_is_an_unavailable_meter),
	        cmocka_unit_test(rejects_bad_common_keys),
	        cmocka_unit_test(netmask_parse_and_match),
	        cmocka_unit_test(route_first_match_in_file_order),
	        cmocka_unit_test(payload_numbers_follow_python),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
