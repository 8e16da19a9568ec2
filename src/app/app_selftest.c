/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The startup self-test: asks every meter for a reading through the same path a battery
 * request takes (pm_meter_read with a waiter), retrying as upstream does, while the loop
 * runs and signals are still handled. */
#include <stdlib.h>

#include "app/app_selftest.h"
#include "astrameter/log.h"

#define COMP "main"

/* Self-test as upstream: each meter gets up to 4 attempts 5 s apart. */
#define SELFTEST_ATTEMPTS     4
#define SELFTEST_RETRY_MS     5000
#define SELFTEST_PUSH_WAIT_MS 30000

struct selftest {
	struct pm_waiter w;
	struct pm_meter *m;
	int attempts;
	bool waiting, ok, failed;
	ev_ms next_try;
};

static void selftest_result(struct selftest *t, const struct pm_reading *r)
{
	t->waiting = false;
	if (r) {
		t->ok = true;
		log_info(COMP, "powermeter [%s] self-test OK", t->m->name);
		return;
	}
	log_warnx(COMP, "powermeter [%s] self-test attempt %d of %d failed: %s", t->m->name,
	          t->attempts, SELFTEST_ATTEMPTS,
	          t->m->last_error[0] ? t->m->last_error : "no reading in time");
	if (t->attempts >= SELFTEST_ATTEMPTS)
		t->failed = true;
}

static void selftest_cb(struct pm_waiter *w, const struct pm_reading *r, void *arg)
{
	(void)w;
	selftest_result(arg, r);
}

/* Tests every meter as upstream does (up to 4 attempts 5 s apart; push meters wait up to
 * 30 s for a message). Returns 0 if all produced a reading, -1 if one failed for good, 1
 * if SIGTERM/SIGINT interrupted it. The loop keeps running meanwhile. A reload asked for
 * meanwhile is left in app->next: it runs once the devices are up. */
int app_selftest(struct app *app)
{
	size_t n = app->meters.n;
	struct selftest *st = calloc(n, sizeof(*st));
	if (!st)
		return -1;
	for (size_t i = 0; i < n; i++)
		st[i].m = app->meters.m[i];
	int rc = 0;
	for (;;) {
		ev_ms now = ev_update_now(app->loop);
		bool all_ok = true;
		for (size_t i = 0; i < n; i++) {
			struct selftest *t = &st[i];
			if (t->failed) {
				log_error(COMP, "powermeter [%s] failed its self-test", t->m->name);
				rc = -1;
				goto out;
			}
			if (t->ok)
				continue;
			all_ok = false;
			if (t->waiting || now < t->next_try)
				continue;
			t->attempts++;
			t->next_try = now + SELFTEST_RETRY_MS;
			struct pm_reading r;
			t->waiting = true;
			int got = pm_meter_read(t->m, now, &t->w, selftest_cb, t, &r);
			if (got == 0 && t->m->drv->push)
				t->w.deadline = now + SELFTEST_PUSH_WAIT_MS;
			else if (got != 0)
				selftest_result(t, got == 1 ? &r : NULL);
		}
		if (all_ok)
			break;
		if (ev_run_once(app->loop, 200) < 0) {
			rc = -1;
			break;
		}
		if (app->next == RUN_EXIT) {
			rc = 1;
			break;
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		pm_waiter_cancel(&st[i].w);
	free(st);
	return rc;
}
