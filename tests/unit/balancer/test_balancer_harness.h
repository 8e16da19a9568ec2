/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Test harness for the balancer unit tests: a fake clock, a small consumer table and
 * one-call helpers that build the bal_input for a request the way the CT layer will. */
#ifndef TEST_BALANCER_HARNESS_H
#define TEST_BALANCER_HARNESS_H

#include <stdio.h>
#include <string.h>

#include "astrameter/balancer.h"
#include "balancer/bal_internal.h"

#define H_MAX 8

struct h {
	struct balancer *b;
	ev_ms now;
	size_t n;
	char ids[H_MAX][BAL_ID_LEN];
	char dts[H_MAX][16];
	struct bal_report r[H_MAX];
	struct bal_output out;
};

static inline void h_init(struct h *h, const struct bal_config *cfg)
{
	memset(h, 0, sizeof(*h));
	h->now = 1000000;
	h->b = bal_create(cfg, h->now);
}

static inline void h_free(struct h *h)
{
	bal_destroy(h->b);
	h->b = NULL;
}

/* Adds (or updates) a consumer; returns its index. */
static inline size_t h_put(struct h *h, const char *id, char phase, int power, const char *dt)
{
	size_t i;
	for (i = 0; i < h->n; i++)
		if (strcmp(h->ids[i], id) == 0)
			break;
	if (i == h->n) {
		snprintf(h->ids[i], BAL_ID_LEN, "%.*s", BAL_ID_LEN - 1, id);
		h->n++;
	}
	snprintf(h->dts[i], sizeof(h->dts[i]), "%s", dt ? dt : "HMG-50");
	h->r[i] = (struct bal_report){.id = h->ids[i],
	                              .device_type = h->dts[i],
	                              .phase = phase,
	                              .power = power,
	                              .participates = true};
	return i;
}

static inline size_t h_idx(struct h *h, const char *id)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->ids[i], id) == 0)
			return i;
	return SIZE_MAX;
}

static inline void h_power(struct h *h, const char *id, int power)
{
	h->r[h_idx(h, id)].power = power;
}

/* One request from id with the meter total on phase A. */
static inline const double *h_step3(struct h *h, const char *id, const double grid[3],
                                    uint64_t sample)
{
	/* Re-point the strings: struct h is returned by value by some helpers. */
	for (size_t i = 0; i < h->n; i++) {
		h->r[i].id = h->ids[i];
		h->r[i].device_type = h->dts[i];
	}
	struct bal_input in = {.reports = h->r,
	                       .n = h->n,
	                       .self = h_idx(h, id),
	                       .grid = {grid[0], grid[1], grid[2]},
	                       .sample_id = sample,
	                       .meter_ok = true,
	                       .now = h->now};
	if (bal_step(h->b, &in, &h->out) != 0)
		memset(&h->out, 0, sizeof(h->out));
	return h->out.value;
}

static inline const double *h_step(struct h *h, const char *id, double grid, uint64_t sample)
{
	double g[3] = {grid, 0, 0};
	return h_step3(h, id, g, sample);
}

#endif
