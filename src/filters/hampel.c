/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Hampel stage: rolling-median outlier rejection on the sum of phases. The last
 * HAMPEL_WINDOW totals are kept; until the window is full readings pass. Then, with m the
 * window median and MAD the median absolute deviation from m, a total further than
 * max(HAMPEL_N_SIGMA * 1.4826 * MAD, HAMPEL_MIN_THRESHOLD) from m is replaced by m, the phases
 * scaled by m / total, or m split equally across the phases when the total is ~0 or that
 * would scale them up more than 4x (as upstream since #587).
 *
 * The window always holds the raw totals (the textbook, non-recursive Hampel identifier),
 * so a lone spike is still outvoted by the median while a sustained step becomes the median
 * and passes after floor(window / 2) + 1 readings. Upstream before 2.3.0 wrote m back into
 * the window in place of a rejected sample, which locked the filter on the old level after
 * any lasting change; #587 moved it to the raw window too. */
#include <math.h>
#include <stdlib.h>

#include "astrameter/filter.h"
#include "astrameter/log.h"
#include "filters/flt_util.h"

#define HAMPEL_MAD_SCALE 1.4826
/* Largest factor a rejected reading's phases are scaled up by (upstream #587). */
#define HAMPEL_MAX_SCALE_UP 4.0
/* A window bigger than this is a typo, not a filter (upstream has no bound). */
#define HAMPEL_WINDOW_MAX 10000L

struct hampel_state {
	double *win;     /* ring of the last size totals */
	double *scratch; /* sort buffer, allocated once so process() never allocates */
	size_t size, len, head;
	double n_sigma, min_threshold;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v); mean of the middle two for even n, like Python. */
static double median_sorted(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	if (n % 2)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static int hampel_configure(void *state, struct cfg_section *sec, struct cfg_section *general,
                            bool *enabled, struct err *e)
{
	struct hampel_state *h = state;
	long window;

	*enabled = false;
	if (flt_cfg_long(sec, general, "HAMPEL_WINDOW", 0, &window, e) < 0)
		return -1;
	if (window <= 0) {
		/* Upstream reads the other two from [GENERAL] always, from the section only when
		 * enabled. */
		if (flt_cfg_double(NULL, general, "HAMPEL_N_SIGMA", 3.0, &h->n_sigma, e) < 0 ||
		    flt_cfg_double(NULL, general, "HAMPEL_MIN_THRESHOLD", 0.0, &h->min_threshold,
		                   e) < 0)
			return -1;
		flt_cfg_touch(sec, "HAMPEL_N_SIGMA");
		flt_cfg_touch(sec, "HAMPEL_MIN_THRESHOLD");
		return 0;
	}
	if (window > HAMPEL_WINDOW_MAX)
		return err_set(e, "[%s] HAMPEL_WINDOW: must be at most %ld '%s'",
		               flt_cfg_where(sec, general, "HAMPEL_WINDOW"), HAMPEL_WINDOW_MAX,
		               flt_cfg_raw(sec, general, "HAMPEL_WINDOW"));
	if (flt_cfg_double(sec, general, "HAMPEL_N_SIGMA", 3.0, &h->n_sigma, e) < 0 ||
	    flt_cfg_double(sec, general, "HAMPEL_MIN_THRESHOLD", 0.0, &h->min_threshold, e) < 0)
		return -1;
	if (h->n_sigma < 0)
		return err_set(e, "[%s] HAMPEL_N_SIGMA: must be >= 0 '%s'",
		               flt_cfg_where(sec, general, "HAMPEL_N_SIGMA"),
		               flt_cfg_raw(sec, general, "HAMPEL_N_SIGMA"));
	if (h->min_threshold < 0)
		return err_set(e, "[%s] HAMPEL_MIN_THRESHOLD: must be >= 0 '%s'",
		               flt_cfg_where(sec, general, "HAMPEL_MIN_THRESHOLD"),
		               flt_cfg_raw(sec, general, "HAMPEL_MIN_THRESHOLD"));
	h->size = (size_t)window;
	h->win = calloc(h->size, sizeof(*h->win));
	h->scratch = calloc(h->size, sizeof(*h->scratch));
	if (!h->win || !h->scratch) {
		free(h->win);
		free(h->scratch);
		h->win = h->scratch = NULL;
		return err_set(e, "[%s] HAMPEL_WINDOW: out of memory for %ld samples",
		               flt_sec_name(sec), window);
	}
	*enabled = true;
	log_info(
	        "filter",
	        "Applying %s Hampel outlier filter (window=%zu, n_sigma=%.2f, min_threshold=%.0fW) "
	        "to %s",
	        flt_cfg_origin(sec, "HAMPEL_WINDOW"), h->size, h->n_sigma, h->min_threshold,
	        flt_sec_name(sec));
	return 0;
}

static enum flt_verdict hampel_process(void *state, ev_ms now, struct pm_reading *io)
{
	struct hampel_state *h = state;
	unsigned n = io->n < PM_MAX_VALUES ? io->n : PM_MAX_VALUES;
	double total, median, mad, threshold;

	(void)now;
	if (n == 0 || !h->win)
		return FLT_PASS;
	total = pm_reading_total(io);
	/* A non-finite total would sit in the window and break the ordering the median needs;
	 * no stage after this one can do anything sensible with it either. */
	if (!isfinite(total))
		return FLT_PASS;

	h->win[h->head] = total;
	h->head = (h->head + 1) % h->size;
	if (h->len < h->size)
		h->len++;
	if (h->len < h->size)
		return FLT_PASS;

	for (size_t i = 0; i < h->len; i++)
		h->scratch[i] = h->win[i];
	median = median_sorted(h->scratch, h->len);
	for (size_t i = 0; i < h->len; i++)
		h->scratch[i] = fabs(h->win[i] - median);
	mad = median_sorted(h->scratch, h->len);
	threshold = fmax(h->n_sigma * HAMPEL_MAD_SCALE * mad, h->min_threshold);

	if (threshold <= 0 || fabs(total - median) <= threshold)
		return FLT_PASS;

	/* Rejected. The raw total stays in the window (see the file comment). Scaling the
	 * phases by median / total keeps their proportions, but a total near zero from
	 * cancelling phases would blow them up without bound (#587: 4400 / -2200 / -2200.5 W
	 * against a median of 1100 W gave -9.68 MW on one phase). A spike only ever needs
	 * scaling down, so a scale-up beyond HAMPEL_MAX_SCALE_UP means the proportions carry
	 * no information: split the median equally instead. */
	if (fabs(total) < 1e-9 || fabs(total) * HAMPEL_MAX_SCALE_UP < fabs(median)) {
		for (unsigned i = 0; i < n; i++)
			io->w[i] = median / n;
	} else {
		double ratio = median / total;
		for (unsigned i = 0; i < n; i++)
			io->w[i] *= ratio;
	}
	return FLT_PASS;
}

static void hampel_reset(void *state)
{
	struct hampel_state *h = state;

	h->len = 0;
	h->head = 0;
}

static void hampel_fini(void *state)
{
	struct hampel_state *h = state;

	free(h->win);
	free(h->scratch);
	h->win = h->scratch = NULL;
}

const struct flt_ops flt_hampel_ops = {
        .name = "hampel",
        .state_size = sizeof(struct hampel_state),
        .configure = hampel_configure,
        .process = hampel_process,
        .reset = hampel_reset,
        .fini = hampel_fini,
};
