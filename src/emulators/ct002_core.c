/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CT002/CT003 logic without sockets or clocks: the consumer table (one record per polling
 * battery), its poll-interval EMA and TTL, the per-phase buckets a real CT forwards, the
 * 24-field response and, in active mode, the call into the balancer for every answer. Every
 * function takes "now" from the caller, so the tests drive it with a fake clock and replay recorded
 * upstream exchanges byte for byte.
 *
 * Times inside are seconds as doubles (now_ms / 1000.0) on purpose: upstream keeps wall-time
 * seconds, rounds the poll EMA to 0.1 s and compares TTLs in floating point, and doing the
 * same arithmetic keeps borderline cases (an interval of exactly x.x5 s) identical. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "astrameter/ct002.h"

static double secs(ev_ms now)
{
	return (double)now / 1000.0;
}

static unsigned char lower(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + ('a' - 'A')) : ch;
}

void ct002_core_init(struct ct002_core *core, const struct ct002_core_cfg *cfg)
{
	memset(core, 0, sizeof(*core));
	core->cfg = *cfg;
	core->cfg.ct_type[sizeof(core->cfg.ct_type) - 1] = '\0';
	core->cfg.ct_mac[sizeof(core->cfg.ct_mac) - 1] = '\0';
}

void ct002_core_set_balancer(struct ct002_core *core, struct balancer *bal)
{
	core->bal = bal;
}

bool ct002_core_active(const struct ct002_core *core)
{
	return core->bal && bal_active_control(core->bal);
}

/* A consumer leaves the table: its controller state goes (upstream remove_consumer), its
 * user controls stay in the balancer for when it returns. */
static void forget(struct ct002_core *core, struct ct002_consumer *c)
{
	if (core->bal && c->used)
		bal_remove_consumer(core->bal, c->id);
	memset(c, 0, sizeof(*c));
}

bool ct002_core_mac_ok(const struct ct002_core *core, const struct ct002_request *req)
{
	size_t n = strlen(core->cfg.ct_mac);
	if (n == 0)
		return true;
	if (req->n_fields < 4 || req->len[3] != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)req->f[3][i]) != lower((unsigned char)core->cfg.ct_mac[i]))
			return false;
	return true;
}

size_t ct002_consumer_id(const struct ct002_request *req, uint32_t ip, uint16_t port, char *out,
                         size_t cap)
{
	if (cap == 0)
		return 0;
	if (req->n_fields > 1 && req->len[1] > 0) {
		size_t n = req->len[1] < cap - 1 ? req->len[1] : cap - 1;
		for (size_t i = 0; i < n; i++)
			out[i] = (char)lower((unsigned char)req->f[1][i]);
		out[n] = '\0';
		return strlen(out); /* an embedded NUL ends the id */
	}
	int n = snprintf(out, cap, "%u.%u.%u.%u:%u", (unsigned)(ip >> 24) & 0xffu,
	                 (unsigned)(ip >> 16) & 0xffu, (unsigned)(ip >> 8) & 0xffu,
	                 (unsigned)ip & 0xffu, (unsigned)port);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

struct ct002_consumer *ct002_core_find(struct ct002_core *core, const char *id)
{
	for (size_t i = 0; i < CT002_MAX_CONSUMERS; i++)
		if (core->c[i].used && strcmp(core->c[i].id, id) == 0)
			return &core->c[i];
	return NULL;
}

double ct002_consumer_ttl(const struct ct002_core *core, const struct ct002_consumer *c)
{
	if (core->cfg.consumer_ttl >= 0)
		return (double)core->cfg.consumer_ttl;
	if (!c->have_poll)
		return CT002_TTL_FALLBACK_S;
	double t = CT002_TTL_POLL_MULT * c->poll_interval;
	return t > CT002_TTL_MIN_S ? t : CT002_TTL_MIN_S;
}

bool ct002_consumer_expired(const struct ct002_core *core, const struct ct002_consumer *c,
                            ev_ms now)
{
	return c->used && secs(now) - c->ts > ct002_consumer_ttl(core, c);
}

unsigned ct002_core_per_addr_max(const struct ct002_core *core)
{
	return core->cfg.per_addr_max ? core->cfg.per_addr_max : CT002_PER_ADDR_DEFAULT;
}

/* a is a better victim than b (NULL = none yet): silent longer, then older. */
static bool older(const struct ct002_consumer *a, const struct ct002_consumer *b)
{
	return !b || a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

/* A slot for a new consumer from ip, and how it was found (*how).
 * A live established battery is never evicted for a newcomer: with a fixed table, evicting
 * the stalest let a flood of made-up MACs push every real battery out (and its controller
 * state with it). But a table that only takes free slots fills with a flood's made-up ids
 * and then refuses every real battery that comes later, so:
 *  - one address holds at most per_addr_max slots (each real battery has its own IP); at
 *    its cap a newcomer replaces the address's own expired or oldest once-seen consumer,
 *    so a one-host flood churns among its own few slots;
 *  - otherwise a free slot, an expired one, and last the oldest once-seen consumer of any
 *    address, so a flood from many (spoofed) addresses churns among once-seen entries and
 *    a real battery, which polls again within a second or two, still gets in. */
static struct ct002_consumer *new_slot(struct ct002_core *core, uint32_t ip, ev_ms now,
                                       enum ct002_admit *how)
{
	struct ct002_consumer *free_c = NULL, *expired = NULL, *once = NULL;
	struct ct002_consumer *own_expired = NULL, *own_once = NULL;
	unsigned own = 0;
	for (size_t i = 0; i < CT002_MAX_CONSUMERS; i++) {
		struct ct002_consumer *c = &core->c[i];
		if (!c->used) {
			if (!free_c)
				free_c = c;
			continue;
		}
		bool exp = ct002_consumer_expired(core, c, now);
		if (exp && older(c, expired))
			expired = c;
		if (!exp && !c->have_poll && older(c, once))
			once = c;
		if (c->ip != ip)
			continue;
		own++;
		if (exp && older(c, own_expired))
			own_expired = c;
		if (!exp && !c->have_poll && older(c, own_once))
			own_once = c;
	}
	if (own >= ct002_core_per_addr_max(core)) {
		*how = own_expired ? CT002_ADMIT_EXPIRED
		       : own_once  ? CT002_ADMIT_OWN_ONCE
		                   : CT002_REFUSED_ADDR;
		return own_expired ? own_expired : own_once;
	}
	*how = free_c    ? CT002_ADMIT_FREE
	       : expired ? CT002_ADMIT_EXPIRED
	       : once    ? CT002_ADMIT_ONCE
	                 : CT002_REFUSED_FULL;
	return free_c ? free_c : expired ? expired : once;
}

/* More than CT002_NEWCOMERS_MAX consumers that have polled only once: a flood of made-up
 * ids (a real battery polls every second or so and has a history after its second poll).
 * Upstream counts a newcomer at once, and so do we for a handful of them. */
static bool newcomer_flood(const struct ct002_core *core)
{
	unsigned n = 0;
	for (size_t i = 0; i < CT002_MAX_CONSUMERS; i++)
		if (core->c[i].used && !core->c[i].have_poll)
			n++;
	return n > CT002_NEWCOMERS_MAX;
}

/* Address ip invents ids: one of its once-seen consumers got its slot by pushing out a
 * sibling at the per-address cap. */
static bool addr_churns(const struct ct002_core *core, uint32_t ip)
{
	for (size_t i = 0; i < CT002_MAX_CONSUMERS; i++) {
		const struct ct002_consumer *c = &core->c[i];
		if (c->used && c->ip == ip && !c->have_poll && c->churn)
			return true;
	}
	return false;
}

/* counts() with newcomer_flood() computed once by the caller. */
static bool counts(const struct ct002_core *core, const struct ct002_consumer *c, bool flood)
{
	if (!c->used)
		return false;
	if (c->have_poll)
		return true;
	return !flood && !addr_churns(core, c->ip);
}

bool ct002_consumer_counts(const struct ct002_core *core, const struct ct002_consumer *c)
{
	return counts(core, c, newcomer_flood(core));
}

static bool real_phase(char p)
{
	return p == 'A' || p == 'B' || p == 'C' || p == 'D';
}

void ct002_core_update(struct ct002_core *core, const struct ct002_request *req, const char *id,
                       uint32_t ip, uint16_t port, ev_ms now, struct ct002_update *upd)
{
	struct ct002_update u = {.ev = CT002_UPD_NONE};
	double now_s = secs(now);
	struct ct002_consumer *c = ct002_core_find(core, id);
	bool fresh = false;
	if (!c) {
		c = new_slot(core, ip, now, &u.admit);
		if (!c) {
			u.refused = true;
			if (upd)
				*upd = u;
			return;
		}
		forget(core, c);
		c->used = true;
		snprintf(c->id, sizeof(c->id), "%s", id);
		c->seq = ++core->next_seq;
		c->churn = u.admit == CT002_ADMIT_OWN_ONCE;
		fresh = true;
	} else {
		double raw = now_s - c->ts;
		/* First interval taken raw, then an EMA; both rounded to 0.1 s like upstream
		 * (the rounding feeds the adaptive TTL, so it must match). */
		if (!c->have_poll)
			c->poll_interval = ct002_round1(raw);
		else
			c->poll_interval =
			        ct002_round1(CT002_POLL_EMA_ALPHA * raw +
			                     (1.0 - CT002_POLL_EMA_ALPHA) * c->poll_interval);
		c->have_poll = true;
	}
	char prev = fresh ? 0 : c->phase;
	c->phase = req->phase;
	c->power = req->power;
	c->ts = now_s;
	snprintf(c->dev_type, sizeof(c->dev_type), "%s", req->f[0]);
	c->participates = req->participates;
	c->ip = ip;
	c->port = port;

	if (real_phase(c->phase) && prev != c->phase) {
		u.ev = real_phase(prev) ? CT002_UPD_PHASE_CHANGED : CT002_UPD_PHASE_DETECTED;
		u.old_phase = prev;
	} else if (fresh) {
		u.ev = CT002_UPD_NEW;
	}
	u.c = c;
	if (upd)
		*upd = u;
}

static enum ct002_bucket_idx bucket_of(char phase)
{
	switch (phase) {
	case 'A':
		return CT002_BA;
	case 'B':
		return CT002_BB;
	case 'C':
		return CT002_BC;
	case 'D':
		return CT002_BABC;
	default:
		return CT002_BX;
	}
}

/* The buckets as the consumer self (NULL: nobody in particular) is told them: consumers
 * that do not count (a newcomer flood, an address inventing ids) are left out, except
 * self. */
static void buckets(const struct ct002_core *core, ev_ms now, const struct ct002_consumer *self,
                    struct ct002_bucket out[CT002_NBUCKETS])
{
	memset(out, 0, sizeof(out[0]) * CT002_NBUCKETS);
	bool active = ct002_core_active(core);
	bool flood = newcomer_flood(core);
	for (size_t i = 0; i < CT002_MAX_CONSUMERS; i++) {
		const struct ct002_consumer *c = &core->c[i];
		/* Opted-out (participate = 0) and silent batteries are left out at once,
		 * before the cleanup timer removes them, like the real CT (#462). */
		if (!c->used || !c->participates || ct002_consumer_expired(core, c, now))
			continue;
		if (c != self && !counts(core, c, flood))
			continue;
		enum ct002_bucket_idx b = bucket_of(c->phase);
		/* Counted whatever its power: relay batteries divide by this count. */
		out[b].count++;
		long long p;
		if (active && b != CT002_BX) {
			/* Active control: the net power we instructed, filtered by the
			 * balancer's intent so PV pass-through does not look like discharge
			 * (#376). Inspection batteries are never instructed. The filter
			 * only looks at signs, so pass the sign (no long overflow on
			 * 32-bit builds). */
			double r = ct002_round_half_even(c->last_instructed);
			p = isfinite(r) && fabs(r) < 1e15 ? (long long)r : 0;
			double intent = 0;
			bool has = bal_last_intent(core->bal, c->id, &intent);
			if (bal_bucket_power(p > 0 ? 1 : p < 0 ? -1 : 0, has, intent) == 0)
				p = 0;
		} else {
			/* Relay: the battery's reported power, like the real CT (#457). */
			p = c->power;
		}
		if (p == 0)
			continue;
		out[b].active = true;
		if (p < 0)
			out[b].chrg += p;
		else
			out[b].dchrg += p;
	}
}

void ct002_core_buckets(const struct ct002_core *core, ev_ms now,
                        struct ct002_bucket out[CT002_NBUCKETS])
{
	buckets(core, now, NULL, out);
}

/* The buckets of a battery that is not in the table, as if it were alone: its own report
 * only (reported power: it was never instructed). */
static void buckets_alone(const struct ct002_request *req, struct ct002_bucket out[CT002_NBUCKETS])
{
	memset(out, 0, sizeof(out[0]) * CT002_NBUCKETS);
	if (!req->participates)
		return;
	struct ct002_bucket *b = &out[bucket_of(req->phase)];
	b->count = 1;
	if (req->power == 0)
		return;
	b->active = true;
	if (req->power < 0)
		b->chrg = req->power;
	else
		b->dchrg = req->power;
}

static void set_num(struct ct002_fields *o, size_t i, long long v)
{
	snprintf(o->num[i], sizeof(o->num[i]), "%lld", v);
	o->f[i].p = o->num[i];
	o->f[i].len = strlen(o->num[i]);
}

static int set_round(struct ct002_fields *o, size_t i, double v)
{
	int n = ct002_format_round(v, o->num[i], sizeof(o->num[i]));
	if (n < 0)
		return -1;
	o->f[i].p = o->num[i];
	o->f[i].len = (size_t)n;
	return 0;
}

/* The 24 fields; self is the requester's record, or NULL for a battery not in the table
 * (alone: buckets of its own report only). */
static int fields(const struct ct002_core *core, const struct ct002_request *req,
                  const double values[3], ev_ms now, const struct ct002_consumer *self, bool alone,
                  struct ct002_fields *o)
{
	bool active = ct002_core_active(core);
	double total = values[0] + values[1] + values[2];

	/* Identity is CT first, then the battery: the reverse of the request. */
	o->f[0].p = core->cfg.ct_type;
	o->f[0].len = strlen(core->cfg.ct_type);
	if (core->cfg.ct_mac[0]) {
		o->f[1].p = core->cfg.ct_mac;
		o->f[1].len = strlen(core->cfg.ct_mac);
	} else {
		o->f[1].p = req->f[3];
		o->f[1].len = req->len[3];
	}
	o->f[2].p = req->f[0];
	o->f[2].len = req->len[0];
	o->f[3].p = req->f[1];
	o->f[3].len = req->len[1];
	for (size_t i = 0; i < 3; i++)
		if (set_round(o, 4 + i, values[i]) < 0)
			return -1;
	if (set_round(o, 7, total) < 0)
		return -1;
	set_num(o, 12, core->cfg.wifi_rssi);
	set_num(o, 13, core->info_idx);

	struct ct002_bucket b[CT002_NBUCKETS];
	if (alone)
		buckets_alone(req, b);
	else
		buckets(core, now, self, b);
	for (size_t i = 0; i < 3; i++) {
		const struct ct002_bucket *pb = &b[CT002_BA + i];
		/* Active control already split the demand per battery, so the count must be
		 * 1 or the battery divides its own target again (#459). Relay forwards the
		 * real count so each battery takes its 1/N share. */
		if (active)
			set_num(o, 8 + i, (pb->active || values[i] != 0) ? 1 : 0);
		else
			set_num(o, 8 + i, pb->count);
		set_num(o, 15 + i, pb->chrg);
		set_num(o, 20 + i, pb->dchrg);
	}
	if (active)
		set_num(o, 11, (b[CT002_BABC].active || (req->phase == 'D' && total != 0)) ? 1 : 0);
	else
		set_num(o, 11, b[CT002_BABC].count);
	set_num(o, 14, b[CT002_BX].chrg);
	set_num(o, 19, b[CT002_BX].dchrg);
	set_num(o, 18, b[CT002_BABC].chrg);
	set_num(o, 23, b[CT002_BABC].dchrg);
	return 0;
}

int ct002_core_fields(const struct ct002_core *core, const struct ct002_request *req,
                      const double values[3], ev_ms now, struct ct002_fields *o)
{
	return fields(core, req, values, now, NULL, false, o);
}

int ct002_core_respond(struct ct002_core *core, const struct ct002_request *req, const char *id,
                       enum ct002_src src, const struct pm_reading *r, ev_ms now, uint8_t *out,
                       size_t cap, struct ct002_resp_info *info)
{
	struct ct002_consumer *c = ct002_core_find(core, id);
	double meter[3] = {0, 0, 0};
	switch (src) {
	case CT002_SRC_METER:
		if (r) {
			/* Pad or truncate to three phases. */
			for (unsigned i = 0; i < 3 && i < r->n && i < PM_MAX_VALUES; i++)
				meter[i] = r->w[i];
		}
		if (c) {
			memcpy(c->values, meter, sizeof(meter));
			c->have_values = true;
		}
		break;
	case CT002_SRC_NO_METER:
		/* Not a failure: serve what this battery got last time (upstream). */
		if (c && c->have_values)
			memcpy(meter, c->values, sizeof(meter));
		break;
	case CT002_SRC_HOLD:
		/* The meter failed: an explicit zero delta, never a delta rebuilt from
		 * stale data (#403). The cached values stay for later "no meter" answers. */
		break;
	}
	double values[3];
	memcpy(values, meter, sizeof(values));
	bool inspection =
	        req->phase != 'A' && req->phase != 'B' && req->phase != 'C' && req->phase != 'D';
	struct bal_output bo;
	memset(&bo, 0, sizeof(bo));
	if (ct002_core_active(core) && !c) {
		/* Not in the table (refused, or its slot went while it waited): the hold
		 * answer; the balancer never hears of it. */
		memset(values, 0, sizeof(values));
	} else if (ct002_core_active(core) && !ct002_consumer_counts(core, c)) {
		/* A newcomer during a newcomer flood: not steered (the balancer neither
		 * hears of it nor steps for it) and told to hold until it polls again. */
		memset(values, 0, sizeof(values));
	} else if (ct002_core_active(core) && c) {
		/* Every request goes through the balancer: it steers A/B/C/D, hands an
		 * inspection battery the raw values it needs to find its phase, and on a
		 * failed meter returns the explicit zero delta without running the
		 * controller (the zeros are a sentinel, not a sample: #403). */
		struct bal_report rep[CT002_MAX_CONSUMERS];
		struct bal_input in;
		memset(&in, 0, sizeof(in));
		in.reports = rep;
		in.n = ct002_core_reports(core, rep, id, &in.self);
		memcpy(in.grid, meter, sizeof(in.grid));
		in.sample_id = bal_sample_id(meter);
		in.meter_ok = src != CT002_SRC_HOLD;
		in.now = now;
		if (bal_step(core->bal, &in, &bo) == 0) {
			memcpy(values, bo.value, sizeof(values));
		} else {
			memset(values, 0, sizeof(values)); /* malformed input: hold */
			memset(&bo, 0, sizeof(bo));
		}
	}
	if (c && !inspection) {
		/* The battery computes new_output = own_output + delta; remember where we
		 * expect it to land (the active-mode buckets carry it). Phase D reads the
		 * total field. */
		double delta = c->phase == 'D' ? values[0] + values[1] + values[2]
		                               : values[c->phase == 'B'   ? 1
		                                        : c->phase == 'C' ? 2
		                                                          : 0];
		c->last_instructed = (double)req->power + delta;
	}
	struct ct002_fields f;
	if (fields(core, req, values, now, c, !c, &f) < 0)
		return -1;
	int n = ct002_encode(f.f, CT002_RESP_FIELDS, out, cap);
	if (n < 0)
		return -1;
	if (info) {
		memcpy(info->meter, meter, sizeof(meter));
		memcpy(info->sent, values, sizeof(values));
		info->info_idx = core->info_idx;
		info->steered = bo.steered;
		info->reset_filters = bo.reset_filters;
		info->events = bo.events;
		info->alone = !c;
	}
	core->info_idx = (core->info_idx + 1) % 256;
	return n;
}

unsigned ct002_core_expire(struct ct002_core *core, ev_ms now)
{
	unsigned n = 0;
	for (size_t i = 0; i < CT002_MAX_CONSUMERS; i++) {
		if (ct002_consumer_expired(core, &core->c[i], now)) {
			forget(core, &core->c[i]);
			n++;
		}
	}
	return n;
}

int ct002_core_handle(struct ct002_core *core, const uint8_t *buf, size_t len, uint32_t ip,
                      uint16_t port, enum ct002_src src, const struct pm_reading *r, ev_ms now,
                      uint8_t *out, size_t cap)
{
	struct ct002_request req;
	if (ct002_request_parse(buf, len, &req) != CT002_OK)
		return 0;
	if (!ct002_core_mac_ok(core, &req))
		return 0;
	char id[CT002_ID_MAX + 1];
	ct002_consumer_id(&req, ip, port, id, sizeof(id));
	struct ct002_update upd;
	/* A refused newcomer is answered all the same, as if it were alone. */
	ct002_core_update(core, &req, id, ip, port, now, &upd);
	return ct002_core_respond(core, &req, id, src, r, now, out, cap, NULL);
}

size_t ct002_core_reports(const struct ct002_core *core, struct bal_report *out,
                          const char *self_id, size_t *self)
{
	const struct ct002_consumer *order[CT002_MAX_CONSUMERS];
	size_t n = 0;
	bool flood = newcomer_flood(core);
	/* Insertion sort by creation: upstream iterates a dict in insertion order, and
	 * the efficiency priority and tie-breaks follow it. */
	for (size_t i = 0; i < CT002_MAX_CONSUMERS; i++) {
		const struct ct002_consumer *c = &core->c[i];
		if (!c->used)
			continue;
		/* Made-up ids of a flood get no share of the demand. */
		if (!counts(core, c, flood) && !(self_id && strcmp(c->id, self_id) == 0))
			continue;
		size_t k = n++;
		while (k > 0 && order[k - 1]->seq > c->seq) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = c;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ct002_consumer *c = order[i];
		out[i].id = c->id;
		out[i].device_type = c->dev_type;
		out[i].phase = c->phase;
		/* Reported power is already bounded by CT002_POWER_LIMIT. */
		out[i].power = (int)c->power;
		out[i].participates = c->participates;
		if (self_id && self && strcmp(c->id, self_id) == 0)
			*self = i;
	}
	return n;
}

const char *ct002_ctl_name(enum ct002_ctl what)
{
	switch (what) {
	case CT002_CTL_ACTIVE:
		return "active";
	case CT002_CTL_AUTO_TARGET:
		return "auto_target";
	case CT002_CTL_MANUAL_TARGET:
		return "manual_target";
	case CT002_CTL_WEIGHT:
		return "distribution_weight";
	case CT002_CTL_EFF_WEIGHT:
		return "efficiency_window_weight";
	case CT002_CTL_MIN_DC_OUTPUT:
		return "min_dc_output";
	case CT002_CTL_FORCE_ROTATION:
		return "force_rotation";
	case CT002_CTL_ACTIVE_CONTROL:
		return "active_control";
	}
	return "?";
}

int ct002_core_control(struct ct002_core *core, const char *consumer_id, enum ct002_ctl what,
                       double value, ev_ms now, struct err *e)
{
	if (!core->bal)
		return err_set(e, "no balancer");
	if (!isfinite(value))
		return err_set(e, "%s: value must be finite", ct002_ctl_name(what));
	struct bal_report rep[CT002_MAX_CONSUMERS];
	switch (what) {
	case CT002_CTL_FORCE_ROTATION: {
		size_t n = ct002_core_reports(core, rep, NULL, NULL);
		bal_force_rotation(core->bal, rep, n, now);
		return 0;
	}
	case CT002_CTL_ACTIVE_CONTROL:
		bal_set_active_control(core->bal, value != 0);
		return 0;
	case CT002_CTL_ACTIVE:
		return bal_set_active(core->bal, consumer_id, value != 0, now, e);
	case CT002_CTL_AUTO_TARGET:
		return bal_set_auto_target(core->bal, consumer_id, value != 0, now, e);
	case CT002_CTL_MANUAL_TARGET:
		return bal_set_manual_target(core->bal, consumer_id, value, e);
	case CT002_CTL_WEIGHT:
		return bal_set_weight(core->bal, consumer_id, value, e);
	case CT002_CTL_EFF_WEIGHT:
		return bal_set_eff_window_weight(core->bal, consumer_id, value, e);
	case CT002_CTL_MIN_DC_OUTPUT:
		return bal_set_min_dc_output(core->bal, consumer_id, value, e);
	}
	return err_set(e, "unknown control %d", (int)what);
}
