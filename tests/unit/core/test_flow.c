/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Flow control bookkeeping (astrameter/flow.h): the per-wakeup read budget, the soft cap
 * that pauses reading, the hard cap and the stall deadline that fail a connection, and
 * the "anything queued" mode a transport that cannot count its queue uses. */
#include "pm_test_util.h"
#include "astrameter/flow.h"

static const struct flow_limits L = {
        .read_bytes = 1000,
        .read_msgs = 3,
        .soft_bytes = 500,
        .soft_msgs = 10,
        .hard_bytes = 5000,
        .hard_msgs = 100,
        .stall_ms = 2000,
};

static void test_budget(void **state)
{
	(void)state;
	struct flow f;
	flow_init(&f);
	assert_false(flow_budget_left(&f)); /* nothing before the first wakeup */
	flow_wakeup(&f, &L);
	assert_true(flow_budget_left(&f));
	flow_took(&f, 999, 0);
	assert_true(flow_budget_left(&f));
	assert_int_equal(f.bytes_left, 1);
	flow_took(&f, 50, 0); /* a read may overshoot: saturates */
	assert_int_equal(f.bytes_left, 0);
	assert_false(flow_budget_left(&f));
	flow_wakeup(&f, &L);
	flow_took(&f, 0, 2);
	assert_true(flow_budget_left(&f));
	flow_took(&f, 0, 1);
	assert_false(flow_budget_left(&f)); /* the message budget alone ends it */
	flow_took(&f, 0, 5);
	assert_int_equal(f.msgs_left, 0);
}

static void test_soft_cap_pause_and_resume(void **state)
{
	(void)state;
	struct flow f;
	flow_init(&f);
	assert_false(flow_over_soft(&L, 500, 10)); /* at the cap is still fine */
	assert_true(flow_over_soft(&L, 501, 0));
	assert_true(flow_over_soft(&L, 0, 11));
	assert_int_equal(flow_update(&f, &L, 100, 2, 1000), FLOW_OK);
	assert_false(f.paused);
	assert_int_equal(flow_stall_in(&f, &L, 1000), EV_STOP);
	assert_int_equal(flow_update(&f, &L, 600, 2, 1000), FLOW_PAUSE);
	assert_true(f.paused);
	assert_int_equal(flow_stall_in(&f, &L, 1500), 1500);
	/* staying above keeps the first pause time */
	assert_int_equal(flow_update(&f, &L, 700, 2, 1900), FLOW_PAUSE);
	assert_int_equal(f.paused_since, 1000);
	/* draining below resumes, and a later pause starts its own clock */
	assert_int_equal(flow_update(&f, &L, 400, 2, 2500), FLOW_OK);
	assert_false(f.paused);
	assert_int_equal(flow_update(&f, &L, 0, 11, 2600), FLOW_PAUSE);
	assert_int_equal(flow_update(&f, &L, 0, 11, 4599), FLOW_PAUSE);
	assert_int_equal(flow_stall_in(&f, &L, 4599), 1);
}

static void test_stall_and_overrun(void **state)
{
	(void)state;
	struct flow f;
	flow_init(&f);
	assert_int_equal(flow_update(&f, &L, 501, 0, 0), FLOW_PAUSE);
	assert_int_equal(flow_update(&f, &L, 501, 0, 1999), FLOW_PAUSE);
	assert_int_equal(flow_update(&f, &L, 501, 0, 2000), FLOW_STALLED);
	assert_int_equal(flow_stall_in(&f, &L, 2500), 0);
	/* the hard cap fails at once, paused or not */
	flow_init(&f);
	assert_int_equal(flow_update(&f, &L, 5000, 100, 0), FLOW_PAUSE);
	assert_int_equal(flow_update(&f, &L, 5001, 0, 0), FLOW_OVERRUN);
	assert_int_equal(flow_update(&f, &L, 0, 101, 0), FLOW_OVERRUN);
	/* stall_ms 0: a pause has no time bound */
	struct flow_limits nl = L;
	nl.stall_ms = 0;
	flow_init(&f);
	assert_int_equal(flow_update(&f, &nl, 501, 0, 0), FLOW_PAUSE);
	assert_int_equal(flow_update(&f, &nl, 501, 0, 1000000), FLOW_PAUSE);
	assert_int_equal(flow_stall_in(&f, &nl, 1000000), EV_STOP);
}

static void test_anything_queued_mode(void **state)
{
	(void)state;
	/* A transport that only knows "something waits to go out" (libmosquitto's
	 * want_write): soft 0, reports 0 or 1 message. */
	const struct flow_limits m = {.read_bytes = (size_t)-1,
	                              .read_msgs = 1,
	                              .soft_bytes = (size_t)-1,
	                              .soft_msgs = 0,
	                              .hard_bytes = (size_t)-1,
	                              .hard_msgs = (size_t)-1,
	                              .stall_ms = 10000};
	struct flow f;
	flow_init(&f);
	assert_int_equal(flow_update(&f, &m, 0, 0, 0), FLOW_OK);
	assert_int_equal(flow_update(&f, &m, 0, 1, 100), FLOW_PAUSE);
	assert_int_equal(flow_update(&f, &m, 0, 1, 10099), FLOW_PAUSE);
	assert_int_equal(flow_update(&f, &m, 0, 1, 10100), FLOW_STALLED);
	flow_wakeup(&f, &m);
	flow_took(&f, 0, 1);
	assert_false(flow_budget_left(&f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_budget),
	        cmocka_unit_test(test_soft_cap_pause_and_resume),
	        cmocka_unit_test(test_stall_and_overrun),
	        cmocka_unit_test(test_anything_queued_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
