/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Per-battery controls (validation, survival across eviction), the state file
 * (serialise/parse round trip, refusal of broken files, atomic save/load) and the
 * [CT002] config reader (defaults, clamps, integer keys, error messages, warning). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "astrameter/config.h"
#include "astrameter/ct002.h"
#include "emulators/ct002_state.h"
#include "test_balancer_harness.h"

static struct balancer *mk(void)
{
	struct bal_config c;
	bal_config_defaults(&c);
	return bal_create(&c, 1000);
}

static void test_setters_validate(void **st)
{
	(void)st;
	struct balancer *b = mk();
	struct err e;
	assert_int_equal(bal_set_weight(b, "a", 10.5, &e), -1);
	assert_non_null(strstr(e.msg, "[0, 10]"));
	assert_int_equal(bal_set_weight(b, "a", NAN, &e), -1);
	assert_int_equal(bal_set_eff_window_weight(b, "a", 1.1, &e), -1);
	assert_int_equal(bal_set_min_dc_output(b, "a", -1, &e), -1);
	assert_int_equal(bal_set_manual_target(b, "a", INFINITY, &e), -1);
	assert_int_equal(bal_set_weight(b, "bad id", 1, &e), -1);
	assert_int_equal(bal_set_weight(b, "", 1, &e), -1);
	struct bal_controls c;
	bal_get_controls(b, "a", &c);
	assert_true(c.active && c.auto_target && c.weight == 1.0 && !c.has_min_dc_output);
	/* Full table. */
	char id[16];
	for (int i = 0; i < BAL_MAX_CONTROLS; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		assert_int_equal(bal_set_weight(b, id, 2, &e), 0);
	}
	assert_int_equal(bal_set_weight(b, "one-more", 2, &e), -1);
	bal_destroy(b);
}

static void test_controls_survive_eviction(void **st)
{
	(void)st;
	struct balancer *b = mk();
	assert_int_equal(bal_set_manual_target(b, "aa", 123, NULL), 0);
	assert_int_equal(bal_set_auto_target(b, "aa", false, 2000, NULL), 0);
	assert_int_equal(bal_set_weight(b, "aa", 2.5, NULL), 0);
	assert_int_equal(bal_set_min_dc_output(b, "aa", 40, NULL), 0);
	bal_remove_consumer(b, "aa");
	struct bal_controls c;
	bal_get_controls(b, "aa", &c);
	assert_false(c.auto_target);
	assert_true(c.manual_target == 123 && c.weight == 2.5);
	assert_true(c.has_min_dc_output && c.min_dc_output == 40);
	/* Back after eviction: the manual target is applied at once. */
	struct bal_report r = {.id = "aa",
	                       .device_type = "HMG-50",
	                       .phase = 'A',
	                       .power = 23,
	                       .participates = true};
	struct bal_input in = {.reports = &r,
	                       .n = 1,
	                       .grid = {500, 0, 0},
	                       .sample_id = 1,
	                       .meter_ok = true,
	                       .now = 5000};
	struct bal_output out;
	assert_int_equal(bal_step(b, &in, &out), 0);
	assert_true(out.value[0] == 100);
	bal_destroy(b);
}

static void test_min_dc_floor(void **st)
{
	(void)st;
	struct bal_config cfg;
	bal_config_defaults(&cfg);
	cfg.min_dc_output = 50;
	cfg.pace_base_step = 0;
	struct balancer *b = bal_create(&cfg, 1000);
	struct bal_report r = {.id = "b2500",
	                       .device_type = "HMA-1",
	                       .phase = 'B',
	                       .power = 0,
	                       .participates = true};
	struct bal_input in = {.reports = &r,
	                       .n = 1,
	                       .grid = {-300, 0, 0},
	                       .sample_id = 1,
	                       .meter_ok = true,
	                       .now = 5000};
	struct bal_output out;
	assert_int_equal(bal_step(b, &in, &out), 0);
	assert_true(out.value[1] == 50 && out.value[0] == 0); /* floor, own phase */
	/* Venus: no floor unless set per device. */
	r.device_type = "HMG-50";
	r.id = "venus";
	in.now += 1000;
	assert_int_equal(bal_step(b, &in, &out), 0);
	assert_true(out.value[0] + out.value[1] + out.value[2] < 0);
	assert_int_equal(bal_set_min_dc_output(b, "venus", 30, NULL), 0);
	in.now += 1000;
	assert_int_equal(bal_step(b, &in, &out), 0);
	assert_true(out.value[1] == 30);
	bal_destroy(b);
}

static void test_serialize_roundtrip(void **st)
{
	(void)st;
	struct balancer *b = mk();
	bal_set_active(b, "aabbccddeeff", false, 2000, NULL);
	bal_set_weight(b, "aabbccddeeff", 0.3333333333333333, NULL);
	bal_set_eff_window_weight(b, "10.0.0.5:22222", 0.25, NULL);
	bal_set_min_dc_output(b, "10.0.0.5:22222", 80, NULL);
	bal_set_manual_target(b, "cafe", -250.5, NULL);
	bal_set_auto_target(b, "cafe", false, 2000, NULL);
	bal_set_active_control(b, false);
	char buf[8192];
	long n = bal_controls_serialize(b, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(bal_controls_serialize(b, buf, 10), -1);
	n = bal_controls_serialize(b, buf, sizeof(buf));

	struct balancer *b2 = mk();
	struct err e;
	assert_int_equal(bal_controls_parse(b2, buf, (size_t)n, &e), 0);
	assert_false(bal_active_control(b2));
	struct bal_controls c;
	bal_get_controls(b2, "aabbccddeeff", &c);
	assert_false(c.active);
	assert_true(c.weight == 0.3333333333333333);
	bal_get_controls(b2, "10.0.0.5:22222", &c);
	assert_true(c.eff_window_weight == 0.25 && c.has_min_dc_output && c.min_dc_output == 80);
	bal_get_controls(b2, "cafe", &c);
	assert_false(c.auto_target);
	assert_true(c.manual_target == -250.5);
	char buf2[8192];
	long n2 = bal_controls_serialize(b2, buf2, sizeof(buf2));
	assert_int_equal(n, n2);
	assert_memory_equal(buf, buf2, (size_t)n);
	bal_destroy(b);
	bal_destroy(b2);
}

static void test_parse_rejects_broken(void **st)
{
	(void)st;
	static const char *bad[] = {
	        "",
	        "hello\n",
	        "astrameter-controls 2\n",
	        "astrameter-controls 1\nconsumer aa weight=11\n",
	        "astrameter-controls 1\nconsumer aa weight=abc\n",
	        "astrameter-controls 1\nconsumer aa eff_weight=-0.1\n",
	        "astrameter-controls 1\nconsumer aa active=2\n",
	        "astrameter-controls 1\nconsumer aa manual=nan\n",
	        "astrameter-controls 1\nconsumer aa min_dc=-5\n",
	        "astrameter-controls 1\nconsumer aa weight\n",
	        "astrameter-controls 1\nconsumer\n",
	        "astrameter-controls 1\nactive_control yes\n",
	        "astrameter-controls 1\nbogus line\n",
	};
	struct balancer *b = mk();
	bal_set_weight(b, "keep", 3, NULL);
	struct err e;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bal_controls_parse(b, bad[i], strlen(bad[i]), &e) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
	struct bal_controls c;
	bal_get_controls(b, "keep", &c); /* unchanged by failed parses */
	assert_true(c.weight == 3);
	const char ok[] =
	        "# saved\r\nastrameter-controls 1\r\n\r\n  consumer aa weight=2 future=1\n"
	        "consumer aa weight=4\n";
	assert_int_equal(bal_controls_parse(b, ok, strlen(ok), &e), 0);
	bal_get_controls(b, "aa", &c);
	assert_true(c.weight == 4);
	bal_get_controls(b, "keep", &c); /* replaced wholesale */
	assert_true(c.weight == 1);
	bal_destroy(b);
}

static void test_save_load_file(void **st)
{
	(void)st;
	char dir[] = "/tmp/am_balXXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/controls.state", dir);
	struct balancer *b = mk();
	struct err e;
	assert_int_equal(ct002_state_load(b, path, &e), 0); /* missing: fine */
	uint64_t v = bal_controls_version(b);
	bal_set_weight(b, "aa", 7, NULL);
	assert_true(bal_controls_version(b) != v); /* a change to persist */
	v = bal_controls_version(b);
	assert_int_equal(bal_set_weight(b, "aa", 11, NULL), -1);
	assert_true(bal_controls_version(b) == v); /* a refused value changes nothing */
	bal_set_active_control(b, false);
	assert_true(bal_controls_version(b) != v);
	bal_set_active_control(b, true);
	assert_int_equal(ct002_state_save(b, path, &e), 0);
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1); /* renamed away */
	struct balancer *b2 = mk();
	v = bal_controls_version(b2);
	assert_int_equal(ct002_state_load(b2, path, &e), 0);
	assert_true(bal_controls_version(b2) != v);
	struct bal_controls c;
	bal_get_controls(b2, "aa", &c);
	assert_true(c.weight == 7);
	FILE *f = fopen(path, "w");
	fputs("garbage\n", f);
	fclose(f);
	assert_int_equal(ct002_state_load(b2, path, &e), -1);
	assert_non_null(strstr(e.msg, path));
	char nodir[300];
	snprintf(nodir, sizeof(nodir), "%s/missing/x", dir);
	assert_int_equal(ct002_state_save(b, nodir, &e), -1);
	unlink(path);
	rmdir(dir);
	bal_destroy(b);
	bal_destroy(b2);
}

/* ---- config ---------------------------------------------------------------------------- */

static int load(const char *text, struct bal_config *c, struct err *e)
{
	struct cfg cfg = {0};
	if (cfg_load_string(&cfg, text, e) < 0)
		return -2;
	int rc = ct002_bal_config_load(c, cfg_find(&cfg, "CT002"), e);
	cfg_free(&cfg);
	return rc;
}

static void test_config(void **st)
{
	(void)st;
	struct bal_config c;
	struct err e;
	assert_int_equal(load("[GENERAL]\n", &c, &e), 0);
	/* Issue 14: the file's default is upstream's controller, with its pacing. */
	assert_true(c.active_control && c.balance_gain == 0.2 && c.pace_max_step == 100);
	assert_true(c.predictor == BAL_PRED_UPSTREAM && c.inflight_comp);
	assert_int_equal(load("[CT002]\nGRID_PREDICTOR = deadtime\n", &c, &e), 0);
	assert_true(c.predictor == BAL_PRED_DEADTIME && c.pace_max_step == 400);
	assert_int_equal(
	        load("[CT002]\nGRID_PREDICTOR = deadtime\nINFLIGHT_COMPENSATION = no\n", &c, &e),
	        0);
	assert_false(c.inflight_comp);
	assert_true(c.balance_deadband == 25 && c.min_target_for_saturation == 20);
	assert_true(c.warning[0] == '\0');
	assert_int_equal(load("[CT002]\nACTIVE_CONTROL = false\nBALANCE_GAIN = 3\n"
	                      "PACE_BASE_STEP = 80\nPACE_MAX_STEP = 10\nSATURATION_ALPHA = 0\n"
	                      "EFFICIENCY_ROTATION_INTERVAL = 0\nGRID_PREDICT_TRUST=-1\n"
	                      "MIN_TARGET_FOR_SATURATION = 0\nFAIR_DISTRIBUTION=no\n",
	                      &c, &e),
	                 0);
	assert_false(c.active_control);
	assert_false(c.fair_distribution);
	assert_true(c.balance_gain == 1.0);               /* [0,1] */
	assert_true(c.pace_max_step == 80);               /* >= base */
	assert_true(c.saturation_alpha == 0.01);          /* [0.01,1] */
	assert_true(c.efficiency_rotation_interval == 1); /* >= 1 */
	assert_true(c.grid_predict_trust == 0);           /* [0,1] */
	assert_true(c.min_target_for_saturation == 1);    /* >= 1 */
	assert_int_equal(load("[CT002]\nBALANCE_DEADBAND = 12.5\n", &c, &e), -1);
	assert_non_null(strstr(e.msg, "BALANCE_DEADBAND"));
	assert_non_null(strstr(e.msg, "12.5"));
	assert_int_equal(load("[CT002]\nBALANCE_GAIN = lots\n", &c, &e), -1);
	assert_non_null(strstr(e.msg, "lots"));
	assert_int_equal(load("[CT002]\nSATURATION_DETECTION = maybe\n", &c, &e), -1);
	assert_int_equal(load("[CT002]\nMIN_DC_OUTPUT = 10\n", &c, &e), 0);
	assert_non_null(strstr(c.warning, "MIN_DC_OUTPUT"));
	assert_int_equal(ct002_bal_config_load(&c, NULL, &e), 0);
	assert_true(c.import_trim_w == 15);
	/* GRID_PREDICTOR = upstream restores upstream's pacing default too, unless set. */
	assert_int_equal(load("[CT002]\nGRID_PREDICTOR = Upstream\n", &c, &e), 0);
	assert_true(c.predictor == BAL_PRED_UPSTREAM && c.pace_max_step == 100);
	assert_int_equal(load("[CT002]\nGRID_PREDICTOR = upstream\nPACE_MAX_STEP = 250\n", &c, &e),
	                 0);
	assert_true(c.predictor == BAL_PRED_UPSTREAM && c.pace_max_step == 250);
	assert_int_equal(load("[CT002]\nGRID_PREDICTOR = kalman\n", &c, &e), -1);
	assert_non_null(strstr(e.msg, "[CT002] GRID_PREDICTOR"));
	assert_non_null(strstr(e.msg, "kalman"));
	struct bal_config u;
	bal_config_upstream(&u);
	assert_true(u.predictor == BAL_PRED_UPSTREAM && u.pace_max_step == 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_setters_validate),
	        cmocka_unit_test(test_controls_survive_eviction),
	        cmocka_unit_test(test_min_dc_floor),
	        cmocka_unit_test(test_serialize_roundtrip),
	        cmocka_unit_test(test_parse_rejects_broken),
	        cmocka_unit_test(test_save_load_file),
	        cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
