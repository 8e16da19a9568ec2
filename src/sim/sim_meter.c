/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Household load model, trace replay and the delayed grid meter (see sim_meter.h). */
#include "sim/sim_meter.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
	r->s = seed;
}

uint64_t sim_rng_next(struct sim_rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

double sim_rng_uniform(struct sim_rng *r, double lo, double hi)
{
	/* 53 random bits -> [0, 1) */
	double u = (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	return lo + (hi - lo) * u;
}

/* ---- traces -------------------------------------------------------------------------- */

void sim_trace_free(struct sim_trace *t)
{
	free(t->t);
	free(t->load);
	free(t->pv);
	memset(t, 0, sizeof(*t));
}

static int parse_num(const char **p, const char *end, double *out)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	char tmp[64];
	size_t n = 0;
	while (*p < end && **p != ',' && **p != '\n' && **p != '\r' && n + 1 < sizeof(tmp))
		tmp[n++] = *(*p)++;
	while (n > 0 && (tmp[n - 1] == ' ' || tmp[n - 1] == '\t'))
		n--;
	tmp[n] = '\0';
	if (n == 0)
		return -1;
	char *e;
	errno = 0;
	double v = strtod(tmp, &e);
	if (errno != 0 || *e != '\0' || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

struct row {
	double t, load, pv;
};

static int cmp_row(const void *a, const void *b)
{
	double x = ((const struct row *)a)->t, y = ((const struct row *)b)->t;
	return (x > y) - (x < y);
}

int sim_trace_parse(const char *text, size_t len, bool want_pv, struct sim_trace *out,
                    struct err *e)
{
	memset(out, 0, sizeof(*out));
	struct row *rows = NULL;
	size_t n = 0, cap = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *q = p;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (q < eol && *q != '#' && *q != '\r') {
			struct row r = {0, 0, 0};
			const char *c = q;
			int ok = parse_num(&c, eol, &r.t) == 0 && c < eol && *c == ',';
			if (ok) {
				c++;
				ok = parse_num(&c, eol, &r.load) == 0;
			}
			if (ok && want_pv) {
				ok = c < eol && *c == ',';
				if (ok) {
					c++;
					ok = parse_num(&c, eol, &r.pv) == 0;
				}
			}
			if (ok) {
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 256;
					struct row *nr = realloc(rows, nc * sizeof(*rows));
					if (!nr) {
						free(rows);
						return err_set(e, "trace: out of memory");
					}
					rows = nr;
					cap = nc;
				}
				rows[n++] = r;
			}
		}
		p = eol + (eol < end);
	}
	if (n == 0) {
		free(rows);
		return err_set(e, "trace: no valid samples (expected %s)",
		               want_pv ? "t_s,load_w,pv_w" : "t_s,watts");
	}
	qsort(rows, n, sizeof(*rows), cmp_row);
	out->t = malloc(n * sizeof(double));
	out->load = malloc(n * sizeof(double));
	out->pv = malloc(n * sizeof(double));
	if (!out->t || !out->load || !out->pv) {
		free(rows);
		sim_trace_free(out);
		return err_set(e, "trace: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		out->t[i] = rows[i].t;
		out->load[i] = rows[i].load;
		out->pv[i] = rows[i].pv;
	}
	out->n = n;
	out->has_pv = want_pv;
	free(rows);
	return 0;
}

int sim_trace_load(const char *path, bool want_pv, struct sim_trace *out, struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, "trace %s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 4096) {
			size_t nc = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, nc);
			if (!nb) {
				free(buf);
				(void)fclose(f);
				return err_set(e, "trace %s: out of memory", path);
			}
			buf = nb;
			cap = nc;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	(void)fclose(f);
	if (bad) {
		free(buf);
		return err_set(e, "trace %s: read error", path);
	}
	int rc = sim_trace_parse(buf, len, want_pv, out, e);
	free(buf);
	return rc;
}

void sim_trace_at(const struct sim_trace *t, double at, double *load, double *pv)
{
	if (t->n == 0) {
		*load = *pv = 0;
		return;
	}
	/* binary search: last sample with time <= at */
	size_t lo = 0, hi = t->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->t[mid] <= at)
			lo = mid;
		else
			hi = mid;
	}
	*load = t->load[lo];
	*pv = t->pv[lo];
}

/* ---- house ---------------------------------------------------------------------------- */

void sim_house_defaults(struct sim_house *h)
{
	memset(h, 0, sizeof(*h));
	h->base[0] = h->base[1] = h->base[2] = 100.0;
	h->noise = 20.0;
	h->solar_max = 2000.0;
	h->solar_on[0] = true;
	h->auto_lo = 10.0;
	h->auto_hi = 30.0;
	h->trace_scale = 1.0;
}

void sim_house_contribution(const struct sim_house *h, struct sim_rng *r, double t, double out[3])
{
	double base[3] = {h->base[0], h->base[1], h->base[2]};
	double solar = h->solar;
	if (h->trace) {
		double ld, pv;
		sim_trace_at(h->trace, t, &ld, &pv);
		base[h->trace_phase] = ld * h->trace_scale;
		if (h->trace->has_pv)
			solar = pv * h->trace_scale;
	}
	int nsolar = (int)h->solar_on[0] + (int)h->solar_on[1] + (int)h->solar_on[2];
	for (int p = 0; p < 3; p++) {
		double loads = 0;
		for (size_t i = 0; i < h->nloads; i++)
			if (h->loads[i].active && h->loads[i].phase == p)
				loads += h->loads[i].power;
		double sol = (nsolar > 0 && h->solar_on[p]) ? solar / nsolar : 0.0;
		/* Noise only where something draws power, so an empty phase reads 0. */
		double noise =
		        (base[p] > 0 || loads > 0) ? sim_rng_uniform(r, -h->noise, h->noise) : 0.0;
		out[p] = base[p] + noise + loads - sol;
	}
}

int sim_house_toggle(struct sim_house *h, int index1)
{
	if (index1 < 1 || (size_t)index1 > h->nloads)
		return -1;
	h->loads[index1 - 1].active = !h->loads[index1 - 1].active;
	return 0;
}

void sim_house_set_solar(struct sim_house *h, double watts)
{
	if (!(watts > 0))
		watts = 0;
	h->solar = watts > h->solar_max ? h->solar_max : watts;
}

void sim_house_auto_step(struct sim_house *h, struct sim_rng *r)
{
	for (size_t i = 0; i < h->nloads; i++)
		if (sim_rng_uniform(r, 0, 1) < 0.3)
			h->loads[i].active = !h->loads[i].active;
	h->solar = sim_rng_uniform(r, 0, h->solar_max);
}

/* ---- meter ---------------------------------------------------------------------------- */

void sim_meter_init(struct sim_meter *m, double interval, double latency)
{
	memset(m, 0, sizeof(*m));
	m->interval = interval < 0 ? 0 : interval;
	m->latency = latency < 0 ? 0 : latency;
	m->read_at = -INFINITY;
}

void sim_meter_record(struct sim_meter *m, double t, const double g[3])
{
	size_t idx = (m->head + m->count) % SIM_METER_HIST;
	if (m->count == SIM_METER_HIST) {
		/* Full: overwrite the oldest. */
		idx = m->head;
		m->head = (m->head + 1) % SIM_METER_HIST;
	} else {
		m->count++;
	}
	m->hist[idx].t = t;
	memcpy(m->hist[idx].g, g, sizeof(m->hist[idx].g));
}

void sim_meter_read(struct sim_meter *m, double t, double out[3])
{
	if (m->count == 0) {
		out[0] = out[1] = out[2] = 0;
		return;
	}
	if (!m->have || t - m->read_at >= m->interval) {
		double target = t - m->latency;
		size_t pick = m->head; /* oldest if nothing is old enough */
		for (size_t i = 0; i < m->count; i++) {
			size_t k = (m->head + i) % SIM_METER_HIST;
			if (m->hist[k].t <= target)
				pick = k;
			else
				break;
		}
		memcpy(m->cache, m->hist[pick].g, sizeof(m->cache));
		m->read_at = t;
		m->have = true;
	}
	memcpy(out, m->cache, sizeof(m->cache));
}

void sim_grid(const double contribution[3], const double battery[3], double grid[3])
{
	for (int p = 0; p < 3; p++)
		grid[p] = round((contribution[p] - battery[p]) * 10.0) / 10.0;
}
