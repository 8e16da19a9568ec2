/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PID stage: steers the reported grid power toward zero. error = -(sum of phases);
 * P = kp e, D = kd (e - e_prev) / dt, I accumulates e dt; the output, clamped to
 * ±PID_OUTPUT_MAX and split equally over the phases, is added to each phase (PID_MODE=bias)
 * or replaces it (PID_MODE=replace). dt comes from the injected clock (`now`, ms); the first
 * reading only initialises (dt = 0, no D kick, no integration). PID_KP > 0 enables it.
 *
 * Anti-windup as upstream: a tentative integral step is kept only if the unclamped output
 * stays within ±PID_OUTPUT_MAX, or if it unwinds the integral (I and e of opposite sign).
 * Deliberate difference: upstream keeps an unwinding step even when it overshoots zero deep
 * into the opposite saturation (one long dt can wind the integral up to e * dt at once,
 * after which the output sticks at the limit while the error is 0). Here a saturated
 * unwinding step stops at zero, so the integral never grows while the output is saturated.
 * The PID has no reset: the balancer's reset clears only Hampel and EMA (as upstream). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "astrameter/filter.h"
#include "astrameter/log.h"
#include "filters/flt_util.h"

enum pid_mode { PID_BIAS, PID_REPLACE };

struct pid_state {
	double kp, ki, kd, output_max;
	enum pid_mode mode;
	double integral, prev_error;
	ev_ms prev_time;
	bool have_prev;
};

/* "bias"/"replace" after trimming blanks, any case (upstream: .strip().lower()). */
static int parse_mode(const char *s, enum pid_mode *out)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 4 && strncasecmp(s, "bias", 4) == 0)
		*out = PID_BIAS;
	else if (n == 7 && strncasecmp(s, "replace", 7) == 0)
		*out = PID_REPLACE;
	else
		return -1;
	return 0;
}

static const char *const pid_dependent_keys[] = {"PID_KI", "PID_KD", "PID_OUTPUT_MAX", "PID_MODE"};

static int pid_configure(void *state, struct cfg_section *sec, struct cfg_section *general,
                         bool *enabled, struct err *e)
{
	struct pid_state *p = state;
	const char *mode;

	*enabled = false;
	if (flt_cfg_double(sec, general, "PID_KP", 0.0, &p->kp, e) < 0)
		return -1;
	if (!(p->kp > 0)) {
		/* Upstream parses the [GENERAL] numbers up front but only validates the mode and
		 * the limit when a PID is built, and never reads a disabled section's keys. */
		if (flt_cfg_double(NULL, general, "PID_KI", 0.0, &p->ki, e) < 0 ||
		    flt_cfg_double(NULL, general, "PID_KD", 0.0, &p->kd, e) < 0 ||
		    flt_cfg_double(NULL, general, "PID_OUTPUT_MAX", 800.0, &p->output_max, e) < 0)
			return -1;
		flt_cfg_touch(general, "PID_MODE");
		for (size_t i = 0; i < sizeof(pid_dependent_keys) / sizeof(pid_dependent_keys[0]);
		     i++)
			flt_cfg_touch(sec, pid_dependent_keys[i]);
		return 0;
	}
	if (flt_cfg_double(sec, general, "PID_KI", 0.0, &p->ki, e) < 0 ||
	    flt_cfg_double(sec, general, "PID_KD", 0.0, &p->kd, e) < 0 ||
	    flt_cfg_double(sec, general, "PID_OUTPUT_MAX", 800.0, &p->output_max, e) < 0)
		return -1;
	if (!(p->output_max > 0))
		return err_set(e, "[%s] PID_OUTPUT_MAX: must be positive '%s'",
		               flt_cfg_where(sec, general, "PID_OUTPUT_MAX"),
		               flt_cfg_raw(sec, general, "PID_OUTPUT_MAX"));
	mode = flt_cfg_raw(sec, general, "PID_MODE");
	p->mode = PID_BIAS;
	if (mode && parse_mode(mode, &p->mode) < 0)
		return err_set(e, "[%s] PID_MODE: must be 'bias' or 'replace' '%s'",
		               flt_cfg_where(sec, general, "PID_MODE"), mode);
	/* Mark the [GENERAL] mode read even when the section overrides it. */
	flt_cfg_touch(general, "PID_MODE");
	*enabled = true;
	log_info("filter",
	         "Applying %s PID controller (Kp=%g, Ki=%g, Kd=%g, max=%gW, mode=%s) to %s",
	         flt_cfg_origin(sec, "PID_KP"), p->kp, p->ki, p->kd, p->output_max,
	         p->mode == PID_BIAS ? "bias" : "replace", flt_sec_name(sec));
	return 0;
}

static enum flt_verdict pid_process(void *state, ev_ms now, struct pm_reading *io)
{
	struct pid_state *p = state;
	unsigned n = io->n < PM_MAX_VALUES ? io->n : PM_MAX_VALUES;
	double total, error, dt, pterm, dterm, out, per_phase;

	total = pm_reading_total(io);
	if (n == 0 || !isfinite(total))
		return FLT_PASS;
	error = -total;
	if (!p->have_prev) {
		p->have_prev = true;
		p->prev_error = error;
		p->prev_time = now;
		dt = 0.0;
	} else {
		dt = (double)(now - p->prev_time) / 1000.0;
		if (dt <= 0)
			dt = 0.0;
	}

	pterm = p->kp * error;
	dterm = dt > 0 ? p->kd * (error - p->prev_error) / dt : 0.0;
	if (dt > 0) {
		double tentative = p->integral + error * dt;
		double t_out = pterm + p->ki * tentative + dterm;

		if (fabs(t_out) <= p->output_max) {
			p->integral = tentative;
		} else if (p->integral != 0 && p->integral * error < 0) {
			/* Unwinding while saturated: move toward zero but not past it. */
			p->integral = tentative * p->integral < 0 ? 0.0 : tentative;
		}
	}
	p->prev_error = error;
	p->prev_time = now;

	out = pterm + p->ki * p->integral + dterm;
	out = fmax(-p->output_max, fmin(p->output_max, out));
	per_phase = out / n;
	for (unsigned i = 0; i < n; i++)
		io->w[i] = p->mode == PID_BIAS ? io->w[i] + per_phase : per_phase;
	return FLT_PASS;
}

const struct flt_ops flt_pid_ops = {
        .name = "pid",
        .state_size = sizeof(struct pid_state),
        .configure = pid_configure,
        .process = pid_process,
        .reset = NULL,
        .fini = NULL,
};
