/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The powermeter core: per-meter cache, fetch scheduling, parked requests and routing.
 *
 * Upstream reads the meter inside every battery request, so a slow meter stalls every
 * reply. Here a request is answered at once from a cached reading younger than the
 * freshness bound (THROTTLE_INTERVAL, or PM_DEFAULT_FRESH_MS), and otherwise parked while
 * one fetch runs on behalf of every parked request (coalescing). A parked request is
 * answered when the reading lands, or with NULL ("hold") when the fetch fails or 2 s pass.
 * The filter chain runs once per fresh reading, never per request. */
#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/filter.h"
#include "astrameter/pm_parsers.h"
#include "astrameter/powermeter.h"
#include "astrameter/text.h"

int pm_netmask_parse(const char *list, struct pm_netmask *out, size_t *n, size_t cap, struct err *e)
{
	*n = 0;
	if (!*list)
		return err_set(e, "empty list");
	struct txt_split it;
	struct txt_item item;
	txt_split_init(&it, list, strlen(list), ',');
	while (txt_split_next(&it, &item)) {
		const char *p = item.s;
		size_t len = item.len;
		if (item.last && item.raw_len == 0 && it.p != list)
			return err_set(e, "trailing comma");
		if (len == 0 || len >= 32)
			return err_set(e, "invalid CIDR '%.*s'", (int)(len < 40 ? len : 40), p);
		char cidr[32];
		memcpy(cidr, p, len);
		cidr[len] = '\0';
		unsigned bits = 32;
		char *slash = strchr(cidr, '/');
		if (slash) {
			*slash = '\0';
			char *endp;
			unsigned long b = strtoul(slash + 1, &endp, 10);
			if (slash[1] == '\0' || *endp || b > 32)
				return err_set(e, "invalid prefix length in '%.*s'", (int)len, p);
			bits = (unsigned)b;
		}
		struct in_addr a;
		if (inet_pton(AF_INET, cidr, &a) != 1)
			return err_set(e, "invalid IPv4 address in '%.*s'", (int)len, p);
		if (*n >= cap)
			return err_set(e, "too many CIDRs (at most %zu)", cap);
		uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
		/* Like Python's ip_network(strict=False): host bits are masked off. */
		out[*n].mask = mask;
		out[*n].addr = ntohl(a.s_addr) & mask;
		(*n)++;
	}
	if (*n == 0)
		return err_set(e, "empty list");
	return 0;
}

bool pm_netmask_match(const struct pm_netmask *nm, size_t n, uint32_t ip)
{
	for (size_t i = 0; i < n; i++)
		if ((ip & nm[i].mask) == nm[i].addr)
			return true;
	return false;
}

struct pm_meter *pm_route(const struct pm_set *set, uint32_t ip)
{
	for (size_t i = 0; i < set->n; i++)
		if (pm_netmask_match(set->m[i]->netmask, set->m[i]->n_netmask, ip))
			return set->m[i];
	return NULL;
}

struct pm_meter *pm_meter_new(const struct pm_driver *drv, struct cfg_section *sec,
                              struct cfg_section *general, struct pm_ctx *ctx, struct err *e)
{
	struct pm_meter *m = calloc(1, sizeof(*m));
	if (!m) {
		err_set(e, "out of memory");
		return NULL;
	}
	snprintf(m->name, sizeof(m->name), "%s", sec->name);
	m->drv = drv;
	m->ctx = ctx;
	m->stuck_ms = PM_STUCK_MS;
	if (drv->priv_size) {
		m->priv = calloc(1, drv->priv_size);
		if (!m->priv) {
			err_set(e, "out of memory");
			goto fail;
		}
	}

	const char *netmask;
	if (cfg_get_str(sec, "netmask", "0.0.0.0/0", &netmask, e) != 0)
		goto fail;
	struct err ne;
	if (pm_netmask_parse(netmask, m->netmask, &m->n_netmask, PM_MAX_NETMASKS, &ne) != 0) {
		err_set(e, "[%s] NETMASK: %s in '%s'", sec->name, ne.msg, netmask);
		goto fail;
	}
	double throttle;
	if (cfg_get_double(cfg_pick(sec, general, "throttle_interval"), "throttle_interval", 0.0,
	                   0.0, 86400.0, &throttle, e) != 0)
		goto fail;
	m->throttle_ms = (ev_ms)llround(throttle * 1000.0);
	if (cfg_get_bool(cfg_pick(sec, general, "wait_for_next_message"), "wait_for_next_message",
	                 true, &m->wait_for_next, e) != 0)
		goto fail;

	if (drv->configure && drv->configure(m, sec, e) != 0)
		goto fail;
	if (flt_chain_new(&m->chain, sec, general, e) != 0)
		goto fail;
	return m;
fail:
	pm_meter_free(m);
	return NULL;
}

int pm_meter_start(struct pm_meter *m, struct err *e)
{
	if (m->drv->start)
		return m->drv->start(m, e);
	return 0;
}

static void wake_all(struct pm_meter *m, const struct pm_reading *r)
{
	/* The deadline timer goes before any callback runs: a callback that parks a new
	 * request arms a fresh one for it (deleting it afterwards left that request without
	 * a deadline, waiting for a reading that might never come). */
	if (m->deadline_timer) {
		ev_timer_del(m->ctx->loop, m->deadline_timer);
		m->deadline_timer = 0;
	}
	/* Detach first: a callback may park a new request or cancel another. */
	struct pm_waiter *list = m->waiters;
	m->waiters = NULL;
	if (list)
		list->pprev = &list;
	while (list) {
		struct pm_waiter *w = list;
		list = w->next;
		if (list)
			list->pprev = &list;
		w->next = NULL;
		w->pprev = NULL;
		w->meter = NULL;
		w->fn(w, r, w->arg);
	}
}

void pm_meter_free(struct pm_meter *m)
{
	if (!m)
		return;
	if (m->drv && m->drv->stop)
		m->drv->stop(m);
	if (m->ctx && m->ctx->loop)
		wake_all(m, NULL);
	flt_chain_free(m->chain);
	free(m->priv);
	free(m);
}

void pm_waiter_cancel(struct pm_waiter *w)
{
	if (!w->pprev)
		return;
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
	w->next = NULL;
	w->pprev = NULL;
	w->meter = NULL;
}

/* What a waiter gets when its wait ends without a new reading (deadline, teardown): a push
 * meter answers with what it has (upstream swallows the wait timeout and reads the current
 * values); a pull meter with a reading still inside its freshness bound; else NULL (hold). */
static const struct pm_reading *current(const struct pm_meter *m, ev_ms now)
{
	if (!m->have || m->failed)
		return NULL;
	if (m->drv->push)
		return &m->filtered;
	ev_ms fresh = m->throttle_ms > 0 ? m->throttle_ms : PM_DEFAULT_FRESH_MS;
	return now - m->filtered.at < fresh ? &m->filtered : NULL;
}

void pm_waiter_settle(struct pm_waiter *w, ev_ms now)
{
	struct pm_meter *m = w->meter;
	if (!w->pprev || !m)
		return;
	pm_waiter_cancel(w);
	w->fn(w, current(m, now), w->arg);
}

static ev_ms deadline_cb(struct ev_loop *loop, void *arg)
{
	struct pm_meter *m = arg;
	ev_ms now = ev_now(loop);
	ev_ms next = -1;
	/* Expire due waiters one at a time: each callback may change the list. */
	for (;;) {
		struct pm_waiter *due = NULL;
		next = -1;
		for (struct pm_waiter *w = m->waiters; w; w = w->next) {
			if (w->deadline <= now) {
				due = w;
				break;
			}
			if (next < 0 || w->deadline - now < next)
				next = w->deadline - now;
		}
		if (!due)
			break;
		pm_waiter_settle(due, now);
	}
	if (next < 0) {
		m->deadline_timer = 0;
		return EV_STOP;
	}
	return next;
}

void pm_meter_kick(struct pm_meter *m, ev_ms now)
{
	if (!m->drv->poll)
		return;
	if (m->in_flight) {
		if (now - m->fetch_started < m->stuck_ms)
			return;
		log_warnx(m->name, "fetch started %lld ms ago never completed; starting a new one",
		          (long long)(now - m->fetch_started));
	}
	m->in_flight = true;
	m->fetch_started = now;
	m->last_attempt = now;
	m->fetches++;
	if (m->drv->poll(m, now) != 0 && m->in_flight) {
		/* The driver could not even start (and did not call fail itself). */
		pm_meter_fail(m, "could not start a fetch");
	}
}

int pm_meter_read(struct pm_meter *m, ev_ms now, struct pm_waiter *w, pm_waiter_fn *fn, void *arg,
                  struct pm_reading *out)
{
	if (m->drv->push) {
		if (!m->wait_for_next) {
			if (!m->have || m->failed)
				return -1;
			*out = m->filtered;
			return 1;
		}
	} else {
		ev_ms fresh = m->throttle_ms > 0 ? m->throttle_ms : PM_DEFAULT_FRESH_MS;
		if (m->have && !m->failed && now - m->filtered.at < fresh) {
			*out = m->filtered;
			return 1;
		}
		/* After a failure, do not hammer the meter: until the freshness bound has
		 * passed, requests get the hold answer without a new fetch. */
		if (m->failed && !m->in_flight && now - m->last_attempt < fresh)
			return -1;
	}
	w->fn = fn;
	w->arg = arg;
	w->meter = m;
	w->deadline = now + PM_WAIT_MS;
	w->next = m->waiters;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = &m->waiters;
	m->waiters = w;
	if (!m->deadline_timer)
		m->deadline_timer = ev_timer_add(m->ctx->loop, PM_WAIT_MS, deadline_cb, m);
	pm_meter_kick(m, now);
	return 0;
}

/* Index of the first value of r that is not a finite number of at most PM_PARSE_MAX_W
 * watts, or -1. Such a value is garbage, never a grid reading (#550: one NaN poisoned the
 * controller for good): the meter counts as unavailable for that reading. */
static int bad_value(const struct pm_reading *r)
{
	for (unsigned i = 0; i < r->n; i++)
		if (!isfinite(r->w[i]) || fabs(r->w[i]) > PM_PARSE_MAX_W)
			return (int)i;
	return -1;
}

void pm_meter_publish(struct pm_meter *m, const struct pm_reading *r)
{
	ev_ms now = ev_now(m->ctx->loop);
	struct pm_reading v = *r;
	int bad;
	if (v.n == 0 || v.n > PM_MAX_VALUES) {
		pm_meter_fail(m, "source produced %u values", v.n);
		return;
	}
	/* The one gate every driver's reading passes (parsers reject most garbage already,
	 * but not all of them can see every case). */
	if ((bad = bad_value(&v)) >= 0) {
		pm_meter_fail(m, "source produced an invalid value %g (value %d of %u)", v.w[bad],
		              bad + 1, v.n);
		return;
	}
	if (v.at == 0)
		v.at = now;
	m->raw = v;
	flt_chain_process(m->chain, now, &v);
	/* A stage can still overflow (POWER_MULTIPLIER): the result is no reading either, and
	 * whatever stage state it left behind is restarted. */
	if ((bad = bad_value(&v)) >= 0) {
		flt_chain_reset(m->chain);
		pm_meter_fail(m,
		              "filters turned the reading into an invalid value %g (value %d "
		              "of %u)",
		              v.w[bad], bad + 1, v.n);
		return;
	}
	m->filtered = v;
	m->have = true;
	m->failed = false;
	m->in_flight = false;
	m->last_success = now;
	m->seq++;
	log_release(&m->complain, m->name, "reading again after %llu failed fetches",
	            (unsigned long long)m->failures);
	if (log_enabled(LOG_LVL_DEBUG)) {
		char buf[160];
		int n = 0;
		for (unsigned i = 0; i < v.n && n < (int)sizeof(buf) - 16; i++)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s%.1f", i ? "," : "",
			              v.w[i]);
		log_debug(m->name, "reading [%s] W", buf);
	}
	wake_all(m, &m->filtered);
}

void pm_meter_fail(struct pm_meter *m, const char *fmt, ...)
{
	ev_ms now = ev_now(m->ctx->loop);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->last_error, sizeof(m->last_error), fmt, ap);
	va_end(ap);
	m->failed = true;
	m->in_flight = false;
	m->failures++;
	if (m->drv->push)
		m->have = false;
	log_complain(&m->complain, now, m->name, "%s", m->last_error);
	wake_all(m, NULL);
}
