/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Powermeters: one driver per meter kind in a const table (after chrony's refclocks), one
 * pm_meter per config section, owned by the core. The core schedules fetches, coalesces
 * concurrent requests into one in-flight fetch, parks battery requests until a reading
 * lands (or 2 s pass), runs the filter chain once per fresh reading and keeps the cache.
 *
 * Driver contract:
 *  - configure() reads its keys from the section (typed cfg getters: bad value = error
 *    naming section/key/value) into m->priv (priv_size bytes, zeroed, freed by the core).
 *  - start() acquires resources without blocking; stop() releases them and is idempotent.
 *  - poll() starts one fetch and returns at once (0, or -1 if it could not even start);
 *    the driver later calls pm_meter_publish() or pm_meter_fail() exactly once per poll.
 *    Push drivers leave poll NULL and call pm_meter_publish() whenever data arrives. */
#ifndef ASTRAMETER_POWERMETER_H
#define ASTRAMETER_POWERMETER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "astrameter/cfg_schema.h"
#include "astrameter/config.h"
#include "astrameter/err.h"
#include "astrameter/ev.h"
#include "astrameter/log.h"
#include "astrameter/reading.h"

struct pm_meter;
struct http_client;
struct flt_chain;

/* Shared resources handed to drivers at start(). */
struct pm_ctx {
	struct ev_loop *loop;
	struct http_client *http;
};

struct pm_driver {
	const char *name; /* section prefix and log component, e.g. "JSON_HTTP" */
	/* The keys configure() reads, besides the common powermeter keys: upper-case names
	 * separated by one space, "+" after a key upstream does not know (ours only), e.g.
	 * "IP USER PASS TIMEOUT+". The config schema warns about any other key in the
	 * driver's sections; a key's value is secret if cfg_key_is_secret() says so. */
	const char *keys;
	size_t priv_size;
	bool push; /* readings arrive unasked (MQTT, HA, SMA...) */
	int (*configure)(struct pm_meter *m, struct cfg_section *sec, struct err *e);
	int (*start)(struct pm_meter *m, struct err *e);
	void (*stop)(struct pm_meter *m);
	int (*poll)(struct pm_meter *m, ev_ms now);
};

/* Default freshness bound for pull meters when THROTTLE_INTERVAL is 0: a cached reading
 * younger than this answers a battery request at once. */
#define PM_DEFAULT_FRESH_MS 250
/* How long a parked battery request waits for a reading. */
#define PM_WAIT_MS      2000
#define PM_MAX_NETMASKS 16
/* Default bound after which an in-flight fetch is considered lost (a driver bug or a wedged
 * peer): the next request may start a new one. Drivers time out well before. */
#define PM_STUCK_MS 10000

struct pm_netmask {
	uint32_t addr, mask; /* host byte order */
};

/* A parked battery request. The owner embeds it and keeps it alive until fn runs or it
 * cancels it. fn runs exactly once: with a reading, or with NULL (fetch failed, or no
 * reading by the deadline: the caller then sends its "hold" answer). */
struct pm_waiter;
typedef void pm_waiter_fn(struct pm_waiter *w, const struct pm_reading *r, void *arg);
struct pm_waiter {
	struct pm_waiter *next, **pprev;
	struct pm_meter *meter;
	pm_waiter_fn *fn;
	void *arg;
	ev_ms deadline;
};

struct pm_meter {
	char name[64]; /* section name, e.g. "JSON_HTTP_2" */
	const struct pm_driver *drv;
	void *priv;
	struct pm_ctx *ctx;
	struct pm_netmask netmask[PM_MAX_NETMASKS];
	size_t n_netmask;
	struct flt_chain *chain;

	ev_ms throttle_ms; /* THROTTLE_INTERVAL; 0 = PM_DEFAULT_FRESH_MS */
	bool wait_for_next;

	/* cache */
	struct pm_reading raw;      /* last source values, before any filter */
	struct pm_reading filtered; /* last output of the chain */
	bool have;                  /* a valid reading is cached */
	bool failed;                /* the last fetch failed */
	ev_ms last_attempt, last_success;
	uint64_t seq; /* increments with every fresh reading */
	uint64_t fetches, failures;
	char last_error[160];

	bool in_flight;
	ev_ms fetch_started;
	/* A fetch older than this is considered lost (default PM_STUCK_MS); a driver with a
	 * longer timeout of its own (SCRIPT) raises it in configure(). */
	ev_ms stuck_ms;
	struct pm_waiter *waiters;
	uint64_t deadline_timer;
	struct log_complain complain;
};

/* Looks up a driver by section name prefix (upstream's prefix order). NULL if none. */
const struct pm_driver *pm_driver_for_section(const char *section);
/* Whether the section names a powermeter kind that exists upstream but is not built here
 * yet (then *kind is set). */
bool pm_section_is_known_unsupported(const char *section, const char **kind);
/* The config schema's powermeter kinds, one per row of the driver table (keys from each
 * driver), in upstream's prefix order: hand them to cfg_schema_set_meter_kinds(). */
const struct cfg_schema_kind *pm_schema_kinds(size_t *n);

/* Parses NETMASK (comma list of IPv4 CIDRs, "a.b.c.d" = /32). 0/-1. */
int pm_netmask_parse(const char *list, struct pm_netmask *out, size_t *n, size_t cap,
                     struct err *e);
bool pm_netmask_match(const struct pm_netmask *nm, size_t n, uint32_t ip);

/* Creates a meter from a powermeter section (driver configure, common keys, chain). The
 * general section supplies defaults. Returns NULL with e set on any bad value. */
struct pm_meter *pm_meter_new(const struct pm_driver *drv, struct cfg_section *sec,
                              struct cfg_section *general, struct pm_ctx *ctx, struct err *e);
int pm_meter_start(struct pm_meter *m, struct err *e);
/* Stops the driver, fails every waiter with NULL, frees everything. */
void pm_meter_free(struct pm_meter *m);

/* For a battery request at now:
 *  1: *out holds a reading fresh enough to answer at once;
 *  0: w was parked; fn will run later;
 * -1: no reading can be had (the caller sends its hold answer). */
int pm_meter_read(struct pm_meter *m, ev_ms now, struct pm_waiter *w, pm_waiter_fn *fn, void *arg,
                  struct pm_reading *out);
/* Removes a parked waiter without calling it (no-op if not parked). */
void pm_waiter_cancel(struct pm_waiter *w);
/* Ends a parked waiter's wait now (no-op if not parked): fn runs at once with the meter's
 * current reading if one may still be served (a push meter's last value, a pull meter's
 * reading inside its freshness bound), else with NULL (hold). The deadline does this; an
 * emulator being torn down (reload, shutdown) does it so no parked request goes
 * unanswered. */
void pm_waiter_settle(struct pm_waiter *w, ev_ms now);
/* Starts a fetch now unless one is in flight (push meters: no-op). */
void pm_meter_kick(struct pm_meter *m, ev_ms now);

/* Driver callbacks. publish: r holds raw source values; the core runs the chain, caches,
 * and wakes waiters. fail: the fetch failed (why is logged, rate-limited). */
void pm_meter_publish(struct pm_meter *m, const struct pm_reading *r);
void pm_meter_fail(struct pm_meter *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Meter list in config file order, and NETMASK routing: first match wins. */
struct pm_set {
	struct pm_meter **m;
	size_t n;
};
struct pm_meter *pm_route(const struct pm_set *set, uint32_t ip);

#endif
