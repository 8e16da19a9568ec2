/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Hampel stage: upstream's hampel_test.py vectors, the per-phase blow-up of #587 (phases
 * of a near-zero total are never scaled up more than 4x), a test pinning the raw window (a
 * sustained step passes after floor(w/2)+1 readings; upstream before 2.3.0: never),
 * fixed-seed property tests, and the HAMPEL_* config keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_filters_util.h"

#define RESET_MARK 1e300 /* a step that calls reset() instead of processing */

struct hstep {
	double in[3];
	unsigned n;
	double out[3];
};

struct hvec {
	const char *name;
	const char *keys; /* HAMPEL_* lines for the section */
	struct hstep steps[12];
	size_t nsteps;
};

#define S1(i, o)          \
	{                 \
		{i}, 1,   \
		{         \
			o \
		}         \
	}
#define S3(a, b, c, x, y, z)    \
	{                       \
		{a, b, c}, 3,   \
		{               \
			x, y, z \
		}               \
	}

static const struct hvec vectors[] = {
        {"warmup_passes_through",
         "HAMPEL_WINDOW = 5\nHAMPEL_N_SIGMA = 3.0\n",
         {S1(100, 100), S1(100, 100), S1(100, 100), S1(100, 100)},
         4},
        {"clean_signal_not_modified",
         "HAMPEL_WINDOW = 5\n",
         {S1(100, 100), S1(102, 102), S1(98, 98), S1(101, 101), S1(99, 99), S1(100.5, 100.5)},
         6},
        /* window [102,98,101,99,10000]: median 101 */
        {"single_spike_replaced_by_median",
         "HAMPEL_WINDOW = 5\n",
         {S1(100, 100), S1(102, 102), S1(98, 98), S1(101, 101), S1(99, 99), S1(10000, 101)},
         6},
        /* MAD = 0 and no floor: the spike passes, then 101 passes */
        {"roll_forward",
         "HAMPEL_WINDOW = 3\n",
         {S1(100, 100), S1(100, 100), S1(100, 100), S1(10000, 10000), S1(101, 101)},
         5},
        {"constant_signal_mad_zero_no_floor",
         "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 0\n",
         {S1(0, 0), S1(0, 0), S1(0, 0), S1(0, 0), S1(0, 0), S1(500, 500)},
         6},
        {"min_threshold_floor_catches_spike",
         "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S1(0, 0), S1(0, 0), S1(0, 0), S1(0, 0), S1(0, 0), S1(500, 0)},
         6},
        {"min_threshold_lets_small_changes_pass",
         "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S1(0, 0), S1(0, 0), S1(0, 0), S1(0, 0), S1(0, 0), S1(30, 30)},
         6},
        /* window [102,98,101,99,-10000]: median 99 */
        {"negative_outlier_symmetric",
         "HAMPEL_WINDOW = 5\n",
         {S1(100, 100), S1(102, 102), S1(98, 98), S1(101, 101), S1(99, 99), S1(-10000, 99)},
         6},
        {"phase_ratio_preserved",
         "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S3(60, 30, 10, 60, 30, 10), S3(50, 30, 20, 50, 30, 20), S3(40, 40, 20, 40, 40, 20),
          S3(70, 20, 10, 70, 20, 10), S3(55, 35, 10, 55, 35, 10), S3(600, 300, 100, 60, 30, 10)},
         6},
        {"raw_total_near_zero_equal_split",
         "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S3(100, 0, 0, 100, 0, 0), S3(100, 0, 0, 100, 0, 0), S3(100, 0, 0, 100, 0, 0),
          S3(100, 0, 0, 100, 0, 0), S3(100, 0, 0, 100, 0, 0),
          S3(1, -1, 0, 100.0 / 3, 100.0 / 3, 100.0 / 3)},
         6},
        /* #587: cancelling phases, total -0.5 W against a median of 1100 W. Scaling by
         * median / total made -9.68 MW / 4.84 MW / 4.84 MW of it; capped, the median is split
         * equally. */
        {"phase_blowup_587_equal_split",
         "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S3(400, 400, 300, 400, 400, 300), S3(400, 400, 300, 400, 400, 300),
          S3(400, 400, 300, 400, 400, 300), S3(400, 400, 300, 400, 400, 300),
          S3(400, 400, 300, 400, 400, 300),
          S3(4400, -2200, -2200.5, 1100.0 / 3, 1100.0 / 3, 1100.0 / 3)},
         6},
        /* a scale-up within the 4x cap keeps the phase proportions (ratio 2.75) */
        {"scale_up_within_cap_proportional",
         "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S3(400, 400, 300, 400, 400, 300), S3(400, 400, 300, 400, 400, 300),
          S3(400, 400, 300, 400, 400, 300), S3(400, 400, 300, 400, 400, 300),
          S3(400, 400, 300, 400, 400, 300), S3(300, 100, 0, 825, 275, 0)},
         6},
        /* exactly 4x is still a proportional scale; just past it is an equal split */
        {"scale_up_cap_boundary",
         "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S3(400, 400, 300, 400, 400, 300), S3(400, 400, 300, 400, 400, 300),
          S3(400, 400, 300, 400, 400, 300), S3(400, 400, 300, 400, 400, 300),
          S3(400, 400, 300, 400, 400, 300), S3(275, 0, 0, 1100, 0, 0),
          S3(274, 0, 0, 1100.0 / 3, 1100.0 / 3, 1100.0 / 3)},
         7},
        {"window_one_always_passthrough",
         "HAMPEL_WINDOW = 1\n",
         {S1(100, 100), S1(10000, 10000), S1(-50, -50), S1(0, 0)},
         4},
        /* window [102,98,101,10000]: median 101.5, MAD 2 */
        {"even_window",
         "HAMPEL_WINDOW = 4\n",
         {S1(100, 100), S1(102, 102), S1(98, 98), S1(101, 101), S1(10000, 101.5)},
         5},
        {"n_sigma_zero_relies_on_min_threshold",
         "HAMPEL_WINDOW = 5\nHAMPEL_N_SIGMA = 0\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S1(100, 100), S1(100, 100), S1(100, 100), S1(100, 100), S1(100, 100), S1(120, 120),
          S1(200, 100)},
         7},
        {"warmup_poisoning_recovers",
         "HAMPEL_WINDOW = 3\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S1(10000, 10000), S1(100, 100), S1(100, 100), S1(100, 100), S1(10000, 100)},
         5},
        {"reset_clears_window",
         "HAMPEL_WINDOW = 3\n",
         {S1(100, 100), S1(100, 100), S1(100, 100), S1(RESET_MARK, 0), S1(10000, 10000)},
         5},
        /* Upstream before 2.3.0 (#587) reported 100 for every 480 below (lock-out). */
        {"sustained_step_passes",
         "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S1(100, 100), S1(100, 100), S1(100, 100), S1(100, 100), S1(100, 100), S1(480, 100),
          S1(480, 100), S1(480, 480), S1(480, 480), S1(480, 480), S1(480, 480), S1(480, 480)},
         12},
        /* two spikes in a row are still a minority of a 5-window */
        {"double_spike_rejected",
         "HAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = 50\n",
         {S1(100, 100), S1(100, 100), S1(100, 100), S1(100, 100), S1(100, 100), S1(3000, 100),
          S1(3000, 100), S1(100, 100)},
         8},
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static const char *ini_for(const char *keys, char *buf, size_t len)
{
	snprintf(buf, len, "[GENERAL]\n[SHELLY_1]\n%s", keys);
	return buf;
}

static void test_vectors(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct hvec *v = &vectors[i];
		struct stage_fx f;
		char ini[256];

		assert_int_equal(stage_open(&f, &flt_hampel_ops, ini_for(v->keys, ini, sizeof(ini)),
		                            "SHELLY_1"),
		                 0);
		assert_true(f.enabled);
		for (size_t s = 0; s < v->nsteps; s++) {
			const struct hstep *h = &v->steps[s];
			if (h->in[0] == RESET_MARK) {
				f.ops->reset(f.state);
				continue;
			}
			struct pm_reading r = stage_run(&f, (ev_ms)s * 1000, h->in, h->n);
			for (unsigned j = 0; j < h->n; j++)
				if (fabs(r.w[j] - h->out[j]) > TOL)
					fail_msg("%s step %zu phase %u: got %.12g want %.12g",
					         v->name, s, j, r.w[j], h->out[j]);
		}
		stage_close(&f);
	}
}

static void test_empty_reading(void **st)
{
	(void)st;
	struct stage_fx f;
	struct pm_reading r;

	assert_int_equal(stage_open(&f, &flt_hampel_ops, "[S]\nHAMPEL_WINDOW = 5\n", "S"), 0);
	memset(&r, 0, sizeof(r));
	f.ops->process(f.state, 0, &r);
	assert_int_equal(r.n, 0);
	stage_close(&f);
}

/* Clean data (noise +-10 on a slowly drifting base, floor 50) passes bit for bit. */
static void test_prop_clean_unchanged(void **st)
{
	(void)st;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	for (int trial = 0; trial < 50; trial++) {
		struct stage_fx f;
		char ini[128];
		int w = 3 + (int)(prng_next(&seed) % 13);
		double base = prng_uniform(&seed, -2000, 2000);

		snprintf(ini, sizeof(ini), "[S]\nHAMPEL_WINDOW = %d\nHAMPEL_MIN_THRESHOLD = 50\n",
		         w);
		assert_int_equal(stage_open(&f, &flt_hampel_ops, ini, "S"), 0);
		for (int k = 0; k < 400; k++) {
			double in[3];
			base += prng_uniform(&seed, -0.5, 0.5);
			for (int j = 0; j < 3; j++)
				in[j] = base / 3 + prng_uniform(&seed, -10.0 / 3, 10.0 / 3);
			struct pm_reading r = stage_run(&f, k, in, 3);
			for (int j = 0; j < 3; j++)
				assert_true(r.w[j] == in[j]);
		}
		stage_close(&f);
	}
}

/* A lone spike beyond the threshold never reaches the output: what comes out is the window
 * median, inside the clean band. */
static void test_prop_single_spike_rejected(void **st)
{
	(void)st;
	uint64_t seed = 42;
	int spikes = 0;

	for (int trial = 0; trial < 50; trial++) {
		struct stage_fx f;
		char ini[160];
		int w = 3 + (int)(prng_next(&seed) % 13);
		double n_sigma = prng_uniform(&seed, 0, 5);
		double base = prng_uniform(&seed, -2000, 2000);
		int next_spike = w + (int)(prng_next(&seed) % (unsigned)w);

		snprintf(ini, sizeof(ini),
		         "[S]\nHAMPEL_WINDOW = %d\nHAMPEL_N_SIGMA = %.6f\n"
		         "HAMPEL_MIN_THRESHOLD = 50\n",
		         w, n_sigma);
		assert_int_equal(stage_open(&f, &flt_hampel_ops, ini, "S"), 0);
		for (int k = 0; k < 400; k++) {
			double clean = base + prng_uniform(&seed, -10, 10);
			double in = clean;
			bool spike = k == next_spike;
			if (spike) {
				/* worst case threshold: max(n_sigma*1.4826*MAD, 50) with MAD <= 20
				 */
				double thr = fmax(n_sigma * 1.4826 * 20, 50);
				double mag = prng_uniform(&seed, thr + 30, 20000);
				in = clean + (prng_next(&seed) & 1 ? mag : -mag);
				next_spike = k + w + (int)(prng_next(&seed) % (unsigned)w);
				spikes++;
			}
			double out = stage_run1(&f, k, in);
			if (spike) {
				assert_true(out != in);
				assert_true(fabs(out - base) <= 10 + 1e-9);
			}
		}
		stage_close(&f);
	}
	assert_true(spikes > 500);
}

/* A sustained step larger than the threshold passes after at most floor(w/2)+1 readings
 * and keeps passing (upstream: never). */
static void test_prop_sustained_step_passes(void **st)
{
	(void)st;
	uint64_t seed = 7;
	for (int trial = 0; trial < 200; trial++) {
		struct stage_fx f;
		char ini[128];
		int w = 2 + (int)(prng_next(&seed) % 20);
		double base = prng_uniform(&seed, -2000, 2000);
		double step = prng_uniform(&seed, 100, 3000) * (prng_next(&seed) & 1 ? 1 : -1);
		int first_pass = -1;

		snprintf(ini, sizeof(ini), "[S]\nHAMPEL_WINDOW = %d\nHAMPEL_MIN_THRESHOLD = 50\n",
		         w);
		assert_int_equal(stage_open(&f, &flt_hampel_ops, ini, "S"), 0);
		for (int k = 0; k < 3 * w; k++)
			(void)stage_run1(&f, k, base + prng_uniform(&seed, -10, 10));
		for (int k = 0; k < 3 * w; k++) {
			double in = base + step + prng_uniform(&seed, -10, 10);
			double out = stage_run1(&f, k, in);
			if (out == in && first_pass < 0)
				first_pass = k;
			if (first_pass >= 0)
				assert_true(out == in);
		}
		assert_true(first_pass >= 0);
		if (first_pass > w / 2)
			fail_msg("window %d: step passed only at reading %d", w, first_pass + 1);
		stage_close(&f);
	}
}

/* Random 3-phase readings, many with cancelling phases (total within a few watts of zero)
 * and spikes: every output is either the input untouched or a reading whose total is the
 * window median, and no output phase exceeds 4x the larger of this reading's absolute phase
 * sum and the largest absolute total in the window. Before the #587 cap a near-zero total
 * multiplied the phases by median / total, i.e. by up to 1e9 here. */
static void test_prop_phases_bounded(void **st)
{
	(void)st;
	uint64_t seed = 587;
	int rejected = 0, near_zero = 0;

	for (int trial = 0; trial < 100; trial++) {
		struct stage_fx f;
		char ini[128];
		int w = 3 + (int)(prng_next(&seed) % 9);
		double hist[16];
		int len = 0;

		snprintf(ini, sizeof(ini), "[S]\nHAMPEL_WINDOW = %d\nHAMPEL_MIN_THRESHOLD = 50\n",
		         w);
		assert_int_equal(stage_open(&f, &flt_hampel_ops, ini, "S"), 0);
		for (int k = 0; k < 200; k++) {
			double in[3], abs_sum = 0, total, bound, win_max = 0, sorted[16], median;
			unsigned kind = (unsigned)(prng_next(&seed) % 4);

			in[0] = prng_uniform(&seed, -5000, 5000);
			in[1] = prng_uniform(&seed, -5000, 5000);
			if (kind == 0) /* cancelling phases, total in [-1, 1] W or exactly 0 */
				in[2] = -(in[0] + in[1]) +
				        (prng_next(&seed) & 1 ? prng_uniform(&seed, -1, 1) : 0);
			else if (kind == 1) /* a tiny total */
				in[2] = -(in[0] + in[1]) + prng_uniform(&seed, -1e-6, 1e-6);
			else
				in[2] = prng_uniform(&seed, -5000, 5000);
			for (int j = 0; j < 3; j++)
				abs_sum += fabs(in[j]);
			total = in[0] + in[1] + in[2];
			if (fabs(total) < 1)
				near_zero++;
			/* the stage's own window: the last w raw totals, this one included */
			if (len == w) {
				memmove(hist, hist + 1, (size_t)(w - 1) * sizeof(*hist));
				len--;
			}
			hist[len++] = total;
			for (int i = 0; i < len; i++)
				win_max = fmax(win_max, fabs(hist[i]));
			bound = 4 * fmax(abs_sum, win_max) + 1e-6;

			struct pm_reading r = stage_run(&f, k, in, 3);
			bool same = r.w[0] == in[0] && r.w[1] == in[1] && r.w[2] == in[2];
			for (int j = 0; j < 3; j++)
				if (!isfinite(r.w[j]) || fabs(r.w[j]) > bound)
					fail_msg("trial %d step %d: in %.9g/%.9g/%.9g (total %.9g) "
					         "-> "
					         "phase %d = %.9g beyond %.9g",
					         trial, k, in[0], in[1], in[2], total, j, r.w[j],
					         bound);
			if (same)
				continue;
			assert_int_equal(len, w);
			memcpy(sorted, hist, (size_t)len * sizeof(*hist));
			qsort(sorted, (size_t)len, sizeof(*sorted), cmp_double);
			median = len % 2 ? sorted[len / 2]
			                 : (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0;
			if (fabs(r.w[0] + r.w[1] + r.w[2] - median) > 1e-6 * fmax(1, fabs(median)))
				fail_msg("trial %d step %d: rejected reading sums to %.9g, median "
				         "%.9g",
				         trial, k, r.w[0] + r.w[1] + r.w[2], median);
			rejected++;
		}
		stage_close(&f);
	}
	assert_true(rejected > 1000);
	assert_true(near_zero > 1000);
}

static void expect_ok(const char *ini, bool enabled)
{
	struct stage_fx f;

	if (stage_open(&f, &flt_hampel_ops, ini, "SHELLY_1") != 0)
		fail_msg("unexpected error: %s", f.err.msg);
	assert_int_equal(f.enabled, enabled);
	stage_close(&f);
}

static void expect_err(const char *ini, const char *sec, const char *key, const char *val)
{
	struct stage_fx f;
	char want[64];

	assert_int_equal(stage_open(&f, &flt_hampel_ops, ini, "SHELLY_1"), -1);
	snprintf(want, sizeof(want), "[%s]", sec);
	if (!strstr(f.err.msg, want) || !strstr(f.err.msg, key) || !strstr(f.err.msg, val))
		fail_msg("message '%s' should name %s, %s and %s", f.err.msg, want, key, val);
	stage_close(&f);
}

static void test_config(void **st)
{
	(void)st;
	expect_ok("[SHELLY_1]\nTYPE = 1PM\n", false);
	expect_ok("[SHELLY_1]\nHAMPEL_WINDOW = 0\n", false);
	expect_ok("[SHELLY_1]\nHAMPEL_WINDOW = -3\n", false);
	expect_ok("[GENERAL]\nHAMPEL_WINDOW = 5\n[SHELLY_1]\n", true);
	expect_ok("[GENERAL]\nHAMPEL_WINDOW = 5\n[SHELLY_1]\nHAMPEL_WINDOW = 0\n", false);
	expect_ok("[GENERAL]\n[SHELLY_1]\nHAMPEL_WINDOW = +7 \n", true);
	/* upstream ignores a disabled section's dependent keys */
	expect_ok("[SHELLY_1]\nHAMPEL_N_SIGMA = junk\nHAMPEL_MIN_THRESHOLD = -5\n", false);

	expect_err("[SHELLY_1]\nHAMPEL_WINDOW = abc\n", "SHELLY_1", "HAMPEL_WINDOW", "abc");
	expect_err("[SHELLY_1]\nHAMPEL_WINDOW = 5.0\n", "SHELLY_1", "HAMPEL_WINDOW", "5.0");
	expect_err("[GENERAL]\nHAMPEL_WINDOW = x\n[SHELLY_1]\nHAMPEL_WINDOW = 5\n", "GENERAL",
	           "HAMPEL_WINDOW", "x");
	expect_err("[SHELLY_1]\nHAMPEL_WINDOW = 10001\n", "SHELLY_1", "HAMPEL_WINDOW", "10001");
	expect_err("[SHELLY_1]\nHAMPEL_WINDOW = 5\nHAMPEL_N_SIGMA = -1\n", "SHELLY_1",
	           "HAMPEL_N_SIGMA", "-1");
	expect_err("[SHELLY_1]\nHAMPEL_WINDOW = 5\nHAMPEL_N_SIGMA = abc\n", "SHELLY_1",
	           "HAMPEL_N_SIGMA", "abc");
	expect_err("[SHELLY_1]\nHAMPEL_WINDOW = 5\nHAMPEL_MIN_THRESHOLD = -0.5\n", "SHELLY_1",
	           "HAMPEL_MIN_THRESHOLD", "-0.5");
	expect_err("[GENERAL]\nHAMPEL_MIN_THRESHOLD = -2\n[SHELLY_1]\nHAMPEL_WINDOW = 5\n",
	           "GENERAL", "HAMPEL_MIN_THRESHOLD", "-2");
	/* [GENERAL] numbers are parsed even when the stage is off (as upstream) */
	expect_err("[GENERAL]\nHAMPEL_N_SIGMA = z\n[SHELLY_1]\n", "GENERAL", "HAMPEL_N_SIGMA", "z");
}

/* [GENERAL] supplies defaults, the section overrides one key at a time. */
static void test_general_fallback_and_override(void **st)
{
	(void)st;
	struct stage_fx f;

	/* general floor 50 catches the spike on a constant signal */
	assert_int_equal(stage_open(&f, &flt_hampel_ops,
	                            "[GENERAL]\nHAMPEL_WINDOW = 3\nHAMPEL_MIN_THRESHOLD = 50\n"
	                            "[SHELLY_1]\n",
	                            "SHELLY_1"),
	                 0);
	for (int k = 0; k < 3; k++)
		(void)stage_run1(&f, k, 0);
	assert_true(stage_run1(&f, 3, 60) == 0);
	stage_close(&f);

	/* section floor 100 overrides: 60 passes */
	assert_int_equal(stage_open(&f, &flt_hampel_ops,
	                            "[GENERAL]\nHAMPEL_WINDOW = 3\nHAMPEL_MIN_THRESHOLD = 50\n"
	                            "[SHELLY_1]\nHAMPEL_MIN_THRESHOLD = 100\n",
	                            "SHELLY_1"),
	                 0);
	for (int k = 0; k < 3; k++)
		(void)stage_run1(&f, k, 0);
	assert_true(stage_run1(&f, 3, 60) == 60);
	stage_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),
	        cmocka_unit_test(test_empty_reading),
	        cmocka_unit_test(test_prop_clean_unchanged),
	        cmocka_unit_test(test_prop_single_spike_rejected),
	        cmocka_unit_test(test_prop_sustained_step_passes),
	        cmocka_unit_test(test_prop_phases_bounded),
	        cmocka_unit_test(test_config),
	        cmocka_unit_test(test_general_fallback_and_override),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
