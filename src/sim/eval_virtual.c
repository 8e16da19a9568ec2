/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The evaluation's virtual engine (see eval.h): one scenario in-process under a virtual
 * clock, in the shape of the reference's closed-loop harness (its evaluation.py
 * run_scenario). The batteries are the simulator's pure sim_battery; their CT002 requests
 * are answered by our own CT002 core (ct002_core_update + ct002_core_respond) with a
 * balancer made from the same [CT002] lines the daemon engine writes, at a virtual "now";
 * the powermeter filter chain the daemon would build for its [JSON_HTTP] meter is built
 * too (it is empty with the evaluation's config) and reset after a probe handoff like the
 * daemon does. What is left out is what only exists in the daemon: sockets and transport
 * delay, the meter poller and its HTTP round trip, the real clock and its jitter. So a run
 * costs milliseconds and is deterministic for a seed. */
#include "sim/eval_virtual.h"
#include "sim/eval_world.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "astrameter/balancer.h"
#include "astrameter/config.h"
#include "astrameter/ct002.h"
#include "astrameter/filter.h"
#include "astrameter/reading.h"
#include "sim/sim_ct.h"

/* Virtual time 0 in ms: large and positive, because the balancer's timers take now > 0 to
 * mean "set" (the reference's mock clock also starts at a large epoch). */
#define VIRT_EPOCH_MS 1000000000LL
/* The reference's harness never evicts a consumer (mock time spans hours). */
#define VIRT_CONSUMER_TTL_S 10000000L
/* The reference's staggered first polls: battery i first polls at 0.5 + i * 0.131 s. */
#define VIRT_FIRST_POLL_S 0.5
#define VIRT_STAGGER_S    0.131

/* The true grid as recorded at each poll, for the delayed meter read. */
struct hist {
	struct {
		double t, g[3];
	} * v;
	size_t head, n, cap; /* live entries are v[head .. n) */
};

struct vrun {
	const struct eval_opts *o;
	struct eval_world w;
	struct sim_config cfg;
	struct sim_house house;
	struct sim_rng rng;
	struct sim_battery bat[EVAL_MAX_BAT];
	double next_poll[EVAL_MAX_BAT];
	unsigned timeouts[EVAL_MAX_BAT];
	struct cfg ini;
	struct balancer *bal;
	struct flt_chain *chain;
	struct ct002_core core;
	struct hist hist;
	double meter_read_at;
	double meter_cache[3];
	double latency, interval;  /* the meter's, after --timing */
	struct sim_rng timing_rng; /* poll jitter and stale refreshes (not the house's draws) */
	double last_poll[EVAL_MAX_BAT];
};

static int hist_push(struct hist *h, double t, const double g[3])
{
	if (h->head > 0 && h->head * 2 >= h->n) {
		/* Compact: the pruned front is at least half of the array. */
		memmove(h->v, h->v + h->head, (h->n - h->head) * sizeof(*h->v));
		h->n -= h->head;
		h->head = 0;
	}
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		void *nv = realloc(h->v, cap * sizeof(*h->v));
		if (!nv)
			return -1;
		h->v = nv;
		h->cap = cap;
	}
	h->v[h->n].t = t;
	memcpy(h->v[h->n].g, g, sizeof(h->v[h->n].g));
	h->n++;
	return 0;
}

/* The reference's before_send: one house draw per poll gives the true grid (recorded in
 * the history and the sample); the controller's reading refreshes once meter_interval has
 * passed since the last refresh, with the newest history entry at or before now - latency
 * (the oldest kept one if none is that old), and is the cached refresh otherwise. Fills
 * the sample's grid and consumption; *fresh tells whether the reading was refreshed. */
static int meter_sample(struct vrun *v, double t, struct eval_sample *s, bool *fresh)
{
	double cons[3], bat[3] = {0, 0, 0}, grid[3];
	sim_house_contribution(&v->house, &v->rng, t, cons);
	for (size_t i = 0; i < v->w.nbat; i++)
		bat[v->bat[i].cfg.phase - 'A'] += v->bat[i].power;
	sim_grid(cons, bat, grid);
	if (hist_push(&v->hist, t, grid) < 0)
		return -1;
	struct hist *h = &v->hist;
	double horizon = t - v->latency - v->interval - 1.0;
	while (h->n - h->head > 1 && h->v[h->head].t < horizon)
		h->head++;
	*fresh = false;
	bool due = t - v->meter_read_at >= v->interval;
	if (due && v->o->timing.stale > 0 &&
	    sim_rng_uniform(&v->timing_rng, 0.0, 1.0) < v->o->timing.stale)
		due = false; /* this refresh is missed: the reading stays stale */
	if (due) {
		double target = t - v->latency;
		size_t pick = h->head;
		for (size_t k = h->head; k < h->n && h->v[k].t <= target; k++)
			pick = k;
		memcpy(v->meter_cache, h->v[pick].g, sizeof(v->meter_cache));
		v->meter_read_at = t;
		*fresh = true;
	}
	s->t = t;
	s->grid = grid[0] + grid[1] + grid[2];
	s->consumption = cons[0] + cons[1] + cons[2];
	return 0;
}

/* The daemon's config for the CT and its meter, as text through our own parser, so the
 * balancer and the filter chain see exactly the keys the daemon engine's config.ini holds
 * (the meter's URL aside). */
static int setup_ct(struct vrun *v, struct err *e)
{
	char lines[1536], text[2048];
	if (eval_ct002_lines(v->w.sc, v->o, lines, sizeof(lines)) < 0)
		return err_set(e, "[CT002] lines too long");
	int n = snprintf(text, sizeof(text),
	                 "[GENERAL]\nDEVICE_TYPE = ct002\nSKIP_POWERMETER_TEST = True\n"
	                 "ENABLE_WEB_SERVER = False\n\n[CT002]\n%s\n[JSON_HTTP]\n"
	                 "JSON_PATHS = $.phase_a,$.phase_b,$.phase_c\n",
	                 lines);
	if (n < 0 || (size_t)n >= sizeof(text))
		return err_set(e, "config too long");
	if (cfg_load_string(&v->ini, text, e) < 0)
		return -1;
	struct cfg_section *ct = cfg_find(&v->ini, "CT002");
	struct cfg_section *meter = cfg_find(&v->ini, "JSON_HTTP");
	struct cfg_section *general = cfg_find(&v->ini, "GENERAL");
	struct bal_config bc;
	if (ct002_bal_config_load(&bc, ct, e) < 0)
		return -1;
	if (flt_chain_new(&v->chain, meter, general, e) < 0)
		return -1;
	v->bal = bal_create(&bc, VIRT_EPOCH_MS);
	if (!v->bal)
		return err_set(e, "out of memory");
	struct ct002_core_cfg cc;
	memset(&cc, 0, sizeof(cc));
	snprintf(cc.ct_type, sizeof(cc.ct_type), "HME-4");
	cc.wifi_rssi = -50;
	cc.consumer_ttl = VIRT_CONSUMER_TTL_S;
	/* Every simulated battery polls from 127.0.0.1 (see below), unlike real ones. */
	cc.per_addr_max = CT002_MAX_CONSUMERS;
	ct002_core_init(&v->core, &cc);
	ct002_core_set_balancer(&v->core, v->bal);
	return 0;
}

/* What the daemon's CT002 emulator does with one datagram and a meter reading, minus the
 * socket and dedupe (off in the harness): parse, CT_MAC, consumer update, respond, and a
 * filter reset after a probe handoff. Returns the response length, 0 if dropped. */
static int ct_answer(struct vrun *v, size_t i, const char *req, size_t len,
                     const struct pm_reading *r, ev_ms now, uint8_t *out, size_t cap)
{
	struct ct002_request q;
	if (ct002_request_parse((const uint8_t *)req, len, &q) != CT002_OK ||
	    !ct002_core_mac_ok(&v->core, &q))
		return 0;
	uint32_t ip = 0x7f000001u;
	uint16_t port = (uint16_t)(40000u + i);
	char id[CT002_ID_MAX + 1];
	ct002_consumer_id(&q, ip, port, id, sizeof(id));
	ct002_core_update(&v->core, &q, id, ip, port, now, NULL);
	struct ct002_resp_info info;
	int n = ct002_core_respond(&v->core, &q, id, CT002_SRC_METER, r, now, out, cap, &info);
	if (n > 0 && info.reset_filters)
		flt_chain_reset(v->chain);
	return n < 0 ? 0 : n;
}

/* One poll of battery i at t: physics over its poll interval, then request and reply. */
static int poll_battery(struct vrun *v, size_t i, double t)
{
	struct sim_battery *b = &v->bat[i];
	/* With poll jitter, the physics runs over the real time since the last poll. */
	double dt = b->cfg.poll_interval;
	if (v->o->timing.jitter > 0 && v->last_poll[i] >= 0)
		dt = t - v->last_poll[i];
	v->last_poll[i] = t;
	sim_bat_tick(b, dt);
	char req[SIM_CT_MAX_FRAME];
	bool inspection = false;
	int qn = sim_bat_request(b, req, sizeof(req), &inspection);
	if (qn <= 0) {
		v->timeouts[i]++;
		return 0;
	}
	ev_ms now = VIRT_EPOCH_MS + (ev_ms)llround(t * 1000.0);
	struct eval_sample s;
	memset(&s, 0, sizeof(s));
	bool fresh;
	if (meter_sample(v, t, &s, &fresh) < 0)
		return -1;
	struct pm_reading r;
	memset(&r, 0, sizeof(r));
	r.n = 3;
	r.at = now;
	memcpy(r.w, v->meter_cache, sizeof(v->meter_cache));
	if (fresh) {
		/* The daemon filters each fresh meter reading and serves the filtered one. */
		flt_chain_process(v->chain, now, &r);
		memcpy(v->meter_cache, r.w, sizeof(v->meter_cache));
	}
	for (size_t k = 0; k < v->w.nbat; k++) {
		s.power[k] = v->bat[k].power;
		s.soc[k] = v->bat[k].soc;
		s.dc_input += v->bat[k].dc_input;
	}
	s.poll = true;
	if (eval_record_add(&v->w.rec, &s) < 0)
		return -1;
	uint8_t resp[CT002_MAX_FRAME];
	int rn = ct_answer(v, i, req, (size_t)qn, &r, now, resp, sizeof(resp));
	struct sim_ct_fields f;
	if (rn <= 0 || sim_ct_decode(resp, (size_t)rn, &f) < 0) {
		v->timeouts[i]++;
		return 0;
	}
	sim_bat_response(b, &f, inspection);
	return 0;
}

static double mono_s(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_loop(struct vrun *v)
{
	size_t nb = v->w.nbat;
	if (nb == 0)
		return 0;
	for (;;) {
		size_t i = 0;
		for (size_t k = 1; k < nb; k++)
			if (v->next_poll[k] < v->next_poll[i])
				i = k;
		double t = v->next_poll[i];
		if (t > v->w.duration)
			return 0;
		if (eval_world_advance(&v->w, t) < 0 || poll_battery(v, i, t) < 0)
			return -1;
		double next = v->bat[i].cfg.poll_interval;
		double j = v->o->timing.jitter;
		if (j > 0)
			next = fmax(0.05, next + sim_rng_uniform(&v->timing_rng, -j, j));
		v->next_poll[i] = t + next;
	}
}

void *eval_virtual_run(const struct eval_scenario *sc, const struct eval_opts *o, struct err *e)
{
	if (sc->nbat > EVAL_MAX_BAT) {
		err_set(e, "%s: more than %d batteries", sc->name, EVAL_MAX_BAT);
		return NULL;
	}
	struct vrun *v = calloc(1, sizeof(*v));
	if (!v) {
		err_set(e, "out of memory");
		return NULL;
	}
	v->o = o;
	v->meter_read_at = -INFINITY;
	void *out = NULL;
	double wall0 = mono_s();
	if (eval_world_init(&v->w, sc, o, e) < 0)
		goto done;
	eval_sim_config(sc, o, 0, &v->cfg);
	if (sim_config_validate(&v->cfg, e) < 0 || setup_ct(v, e) < 0)
		goto done;
	/* The daemon engine's generator, seeded the same way: it draws the house noise. */
	sim_rng_seed(&v->rng, o->seed);
	sim_rng_seed(&v->timing_rng, o->seed ^ 0x7431d0c5u);
	v->latency = o->timing.latency >= 0 ? o->timing.latency : sc->meter_latency;
	v->interval = o->timing.interval >= 0 ? o->timing.interval : sc->meter_interval;
	v->house = v->cfg.house;
	v->w.house = &v->house;
	v->w.nbat = v->cfg.nbat;
	for (size_t i = 0; i < v->cfg.nbat; i++) {
		struct sim_bat_cfg bc = v->cfg.bat[i];
		snprintf(bc.ct_mac, sizeof(bc.ct_mac), "%s", v->cfg.ct_mac);
		if (o->timing.ramp > 0)
			bc.ramp_rate = o->timing.ramp;
		v->last_poll[i] = -1.0;
		sim_bat_init(&v->bat[i], &bc);
		v->w.bat[i] = &v->bat[i];
		v->next_poll[i] = VIRT_FIRST_POLL_S + (double)i * VIRT_STAGGER_S;
	}
	if (run_loop(v) < 0) {
		err_set(e, "out of memory");
		goto done;
	}
	out = eval_world_result(&v->w, o, 0.0, mono_s() - wall0, v->timeouts, e);
done:
	bal_destroy(v->bal);
	flt_chain_free(v->chain);
	cfg_free(&v->ini);
	free(v->hist.v);
	eval_world_free(&v->w);
	free(v);
	return out;
}
