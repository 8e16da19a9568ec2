/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CT002/CT003 emulator device: reads [CT002] (or [CT003]), owns one UDP socket in the
 * loop, and for each battery datagram runs decode -> CT_MAC -> dedupe -> consumer update ->
 * meter read -> response. A meter read that has to wait parks the request in a fixed pool
 * and the answer goes out when the powermeter core calls back (a reading, or NULL = hold),
 * so the loop never blocks on a meter. A 5 s timer evicts silent batteries. With
 * ACTIVE_CONTROL it owns the balancer (attached to the core, which calls it per request),
 * resets the powermeter filter chains when a probe handoff ends, and keeps the per-battery
 * controls in a state file. All protocol and control decisions live in ct002_codec.c /
 * ct002_core.c / src/balancer; this file is only I/O and config. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "astrameter/ct002.h"
#include "astrameter/dedupe.h"
#include "astrameter/emu.h"
#include "astrameter/filter.h"
#include "astrameter/log.h"
#include "astrameter/net.h"
#include "emulators/ct002_state.h"

#define COMP "ct002"
/* Requests waiting for a meter reading at once. A consumer has at most one (#542). */
#define CT002_PARKED (2 * CT002_MAX_CONSUMERS)
/* Parked requests of batteries without a history (seen once, or refused a slot in the
 * table) per source address: one host inventing ids gets no more than this. */
#define CT002_PARKED_PER_ADDR 8
/* ... and in all: the rest of the pool (one per table slot) stays for the established
 * batteries, so a flood from many addresses cannot leave a known battery without a slot.
 * A request over either bound gets the hold answer at once. */
#define CT002_PARKED_NEWCOMERS (CT002_PARKED - CT002_MAX_CONSUMERS)
/* Datagrams handled per wakeup before yielding to other fds (the fd stays readable, so the
 * level-triggered loop comes straight back). */
#define CT002_BURST 256

/* Longest STATE_FILE path (statefile_write appends ".tmp" in a 4 KiB buffer). */
#define CT002_STATE_PATH_MAX 1024

_Static_assert(DEDUPE_KEY_LEN > CT002_ID_MAX, "a consumer id must fit a dedupe key");

const char *const ct002_later_keys[] = {"cloud_reporting", "cloud_reporting_host",
                                        "cloud_reporting_interval", NULL};

struct ct002_emu;

struct ct002_parked {
	bool used;
	struct pm_waiter w;
	struct ct002_emu *emu;
	struct ct002_request req;
	char id[CT002_ID_MAX + 1];
	struct sockaddr_in peer;
	uint32_t ip;   /* host order */
	bool newcomer; /* its consumer had polled only once */
};

struct ct002_emu {
	struct emu_env env;
	char type[8];
	char dev_id[64];
	char section[8];
	struct ct002_core core;
	uint16_t port;
	double dedupe_s;
	struct dedupe dd;
	bool debug_status;
	struct balancer *bal; /* always present: ACTIVE_CONTROL can be switched on live */
	char state_path[CT002_STATE_PATH_MAX]; /* "" = controls not persisted */
	bool state_from_env;                   /* path derived from $STATE_DIRECTORY */
	uint64_t save_timer;                   /* a state-file write is pending */
	uint64_t saved_version;                /* bal_controls_version() in the file */
	int fd;
	uint64_t cleanup_timer;
	struct log_complain no_meter, meter_fail, table_full, addr_full, churn, busy;
	/* Last newcomer refused a slot / pushing out a sibling of its address / answered
	 * hold for want of a parked slot (for the releases). */
	ev_ms last_refused, last_addr_full, last_churn, last_busy;
	struct ct002_parked parked[CT002_PARKED];
	uint8_t in[CT002_MAX_FRAME + 1];
	uint8_t out[CT002_MAX_FRAME];
};

static void log_status(struct ct002_emu *emu, const struct ct002_resp_info *info, const char *id,
                       ev_ms now)
{
	struct ct002_bucket b[CT002_NBUCKETS];
	ct002_core_buckets(&emu->core, now, b);
	char cons[512];
	size_t k = 0;
	cons[0] = '\0';
	for (size_t i = 0; i < CT002_MAX_CONSUMERS && k < sizeof(cons); i++) {
		const struct ct002_consumer *c = &emu->core.c[i];
		if (!c->used)
			continue;
		int n = snprintf(cons + k, sizeof(cons) - k, "%s%.8s@%c:%ld", k ? " " : "", c->id,
		                 c->phase, c->power);
		if (n < 0)
			break;
		k += (size_t)n;
	}
	log_info(COMP,
	         "status: consumer %.16s | meter %.0fW | phases A:%.0fW B:%.0fW C:%.0fW | chrg "
	         "x:%lld "
	         "A:%lld B:%lld C:%lld ABC:%lld | dchrg x:%lld A:%lld B:%lld C:%lld ABC:%lld | "
	         "consumers %s",
	         id, info->meter[0] + info->meter[1] + info->meter[2], info->sent[0], info->sent[1],
	         info->sent[2], b[CT002_BX].chrg, b[CT002_BA].chrg, b[CT002_BB].chrg,
	         b[CT002_BC].chrg, b[CT002_BABC].chrg, b[CT002_BX].dchrg, b[CT002_BA].dchrg,
	         b[CT002_BB].dchrg, b[CT002_BC].dchrg, b[CT002_BABC].dchrg, k ? cons : "none");
}

/* What the balancer did on this step, in upstream's words (it logs them at info). */
static void log_events(const struct ct002_emu *emu, const char *id, unsigned ev)
{
	if (ev & BAL_EV_PROBE_BEGIN)
		log_info(COMP, "%s: efficiency probe started (request from %s)", emu->type, id);
	if (ev & BAL_EV_PROBE_COMMIT)
		log_info(COMP, "%s: efficiency probe committed", emu->type);
	if (ev & BAL_EV_PROBE_REJECT)
		log_info(COMP, "%s: efficiency probe rejected (candidate did not deliver)",
		         emu->type);
	if (ev & BAL_EV_FORCED_SWAP)
		log_info(COMP, "%s: saturated battery swapped with a parked one", emu->type);
	if (ev & BAL_EV_ROTATION)
		log_info(COMP, "%s: efficiency rotation", emu->type);
}

/* A probe handoff ended: every meter's Hampel window and EMA restart from the next reading,
 * so the transient of the handoff does not linger in them. Upstream resets all powermeters
 * (the pool may span meters routed by NETMASK), and so do we. */
static void reset_filters(struct ct002_emu *emu)
{
	if (!emu->env.meters)
		return;
	for (size_t i = 0; i < emu->env.meters->n; i++)
		flt_chain_reset(emu->env.meters->m[i]->chain);
	log_debug(COMP, "%s: powermeter filters reset after a probe handoff", emu->type);
}

/* Builds and sends the answer to one request. */
static void send_answer(struct ct002_emu *emu, const struct ct002_request *req, const char *id,
                        const struct sockaddr_in *peer, enum ct002_src src,
                        const struct pm_reading *r, bool meter_news)
{
	ev_ms now = ev_now(emu->env.loop);
	char addr[32];
	net_sockaddr_str(peer, addr, sizeof(addr));
	/* A hold for want of a slot says nothing about the meter (!meter_news). */
	if (meter_news && src == CT002_SRC_HOLD)
		log_complain(&emu->meter_fail, now, COMP,
		             "no powermeter reading for %s: sending a zero adjustment so the "
		             "battery holds its output",
		             addr);
	else if (meter_news && src == CT002_SRC_METER)
		log_release(&emu->meter_fail, COMP, "powermeter readings are back");
	if (r && src == CT002_SRC_METER)
		log_debug(COMP, "reading for %s is %lld ms old", addr, (long long)(now - r->at));
	struct ct002_resp_info info;
	int n = ct002_core_respond(&emu->core, req, id, src, r, now, emu->out, sizeof(emu->out),
	                           &info);
	if (n < 0) {
		log_warnx(COMP, "cannot build a response for %s (value out of range)", addr);
		return;
	}
	if (info.events)
		log_events(emu, id, info.events);
	if (info.reset_filters)
		reset_filters(emu);
	if (info.steered && log_enabled(LOG_LVL_DEBUG))
		log_debug(COMP, "%s: meter %.0f/%.0f/%.0f W -> target %.0f/%.0f/%.0f W", id,
		          info.meter[0], info.meter[1], info.meter[2], info.sent[0], info.sent[1],
		          info.sent[2]);
	if (emu->debug_status)
		log_status(emu, &info, id, now);
	if (sendto(emu->fd, emu->out, (size_t)n, 0, (const struct sockaddr *)peer, sizeof(*peer)) <
	    0)
		log_debug(COMP, "sendto %s: %s", addr, strerror(errno));
}

/* The answer from a meter's outcome (a reading, none routed, or a failure: logged). */
static void reply(struct ct002_emu *emu, const struct ct002_request *req, const char *id,
                  const struct sockaddr_in *peer, enum ct002_src src, const struct pm_reading *r)
{
	send_answer(emu, req, id, peer, src, r, true);
}

/* The hold answer to a request that gets no meter read (refused in active control, or no
 * parked slot for it): the meter is fine, so its failure log is left alone (else every
 * such answer and the next reading would log a complaint and a recovery). */
static void reply_hold(struct ct002_emu *emu, const struct ct002_request *req, const char *id,
                       const struct sockaddr_in *peer)
{
	send_answer(emu, req, id, peer, CT002_SRC_HOLD, NULL, false);
}

static void parked_free(struct ct002_parked *p)
{
	p->used = false;
}

static void on_reading(struct pm_waiter *w, const struct pm_reading *r, void *arg)
{
	(void)w;
	struct ct002_parked *p = arg;
	struct ct002_emu *emu = p->emu;
	reply(emu, &p->req, p->id, &p->peer, r ? CT002_SRC_METER : CT002_SRC_HOLD, r);
	parked_free(p);
}

static struct ct002_parked *parked_get(struct ct002_emu *emu)
{
	for (size_t i = 0; i < CT002_PARKED; i++)
		if (!emu->parked[i].used)
			return &emu->parked[i];
	return NULL;
}

/* The request of consumer id that waits for a reading, or NULL. */
static struct ct002_parked *parked_find(struct ct002_emu *emu, const char *id)
{
	for (size_t i = 0; i < CT002_PARKED; i++)
		if (emu->parked[i].used && strcmp(emu->parked[i].id, id) == 0)
			return &emu->parked[i];
	return NULL;
}

/* Parked requests of newcomers: from source address ip (*from_ip), and in all (*all). */
static void parked_newcomers(const struct ct002_emu *emu, uint32_t ip, unsigned *from_ip,
                             unsigned *all)
{
	*from_ip = *all = 0;
	for (size_t i = 0; i < CT002_PARKED; i++) {
		if (emu->parked[i].used && emu->parked[i].newcomer) {
			(*all)++;
			if (emu->parked[i].ip == ip)
				(*from_ip)++;
		}
	}
}

/* Logs (rate-limited) how a newcomer was admitted, when that says something about a flood. */
static void log_admit(struct ct002_emu *emu, const struct ct002_update *u, const char *id,
                      const struct sockaddr_in *peer, ev_ms now)
{
	char addr[32];
	switch (u->admit) {
	case CT002_REFUSED_FULL:
		net_sockaddr_str(peer, addr, sizeof(addr));
		emu->last_refused = now;
		log_complain(&emu->table_full, now, COMP,
		             "consumer table full (%d live batteries): new consumer %s from %s "
		             "gets no slot (answered as if it were alone)",
		             CT002_MAX_CONSUMERS, id, addr);
		break;
	case CT002_REFUSED_ADDR:
		net_sockaddr_str(peer, addr, sizeof(addr));
		emu->last_addr_full = now;
		log_complain(
		        &emu->addr_full, now, COMP,
		        "%s already holds %u established batteries (MAX_CONSUMERS_PER_ADDRESS): "
		        "new consumer %s gets no slot (answered as if it were alone)",
		        addr, ct002_core_per_addr_max(&emu->core), id);
		break;
	case CT002_ADMIT_OWN_ONCE:
		net_sockaddr_str(peer, addr, sizeof(addr));
		emu->last_churn = now;
		log_complain(&emu->churn, now, COMP,
		             "%s invents battery ids (%u slots, MAX_CONSUMERS_PER_ADDRESS): new "
		             "consumer %s replaces its oldest one seen once",
		             addr, ct002_core_per_addr_max(&emu->core), id);
		break;
	case CT002_ADMIT_ONCE:
		/* A many-address flood, or a busy table: not news per consumer. */
		log_debug(COMP, "consumer table full: new consumer %s replaces one seen once", id);
		break;
	case CT002_ADMIT_KNOWN:
	case CT002_ADMIT_FREE:
	case CT002_ADMIT_EXPIRED:
		break;
	}
}

static void log_update(const struct ct002_emu *emu, const struct ct002_update *u, const char *id)
{
	switch (u->ev) {
	case CT002_UPD_PHASE_DETECTED:
		/* During a flood of made-up ids their phases are not news. */
		if (ct002_consumer_counts(&emu->core, u->c))
			log_info(COMP, "consumer %s phase detected: %c", id, u->c->phase);
		else
			log_debug(COMP, "consumer %s phase detected: %c", id, u->c->phase);
		break;
	case CT002_UPD_PHASE_CHANGED:
		log_info(COMP, "consumer %s phase changed: %c -> %c", id, u->old_phase,
		         u->c->phase);
		break;
	case CT002_UPD_NEW:
		log_debug(COMP, "consumer %s seen (phase not assigned yet)", id);
		break;
	case CT002_UPD_NONE:
		break;
	}
}

static void handle(struct ct002_emu *emu, const uint8_t *buf, size_t len,
                   const struct sockaddr_in *peer)
{
	ev_ms now = ev_now(emu->env.loop);
	struct ct002_request req;
	int rc = ct002_request_parse(buf, len, &req);
	if (rc != CT002_OK) {
		if (log_enabled(LOG_LVL_DEBUG)) {
			char addr[32];
			net_sockaddr_str(peer, addr, sizeof(addr));
			log_debug(COMP, "dropped datagram from %s: %s", addr, ct002_strerror(rc));
		}
		return;
	}
	if (!ct002_core_mac_ok(&emu->core, &req)) {
		log_debug(COMP, "ignoring request for CT MAC '%s' (configured %s)", req.f[3],
		          emu->core.cfg.ct_mac);
		return;
	}
	uint32_t ip = ntohl(peer->sin_addr.s_addr);
	uint16_t port = ntohs(peer->sin_port);
	char id[CT002_ID_MAX + 1];
	ct002_consumer_id(&req, ip, port, id, sizeof(id));
	if (!dedupe_accept(&emu->dd, id, now)) {
		log_debug(COMP, "ignoring request from %s inside the dedupe window", id);
		return;
	}
	struct ct002_update upd;
	ct002_core_update(&emu->core, &req, id, ip, port, now, &upd);
	log_admit(emu, &upd, id, peer, now);
	if (upd.refused && ct002_core_active(&emu->core)) {
		/* No slot, never an eviction of a live battery; but it is answered: the hold
		 * answer, touching no one else's reply or the balancer. */
		reply_hold(emu, &req, id, peer);
		return;
	}
	if (!upd.refused)
		log_update(emu, &upd, id);
	/* One reply per reading (#542): the battery's report and liveness are updated above,
	 * but while its request waits for a reading a repeated poll gets no reply of its own
	 * (a reply is a delta the battery adds: N replies would wind it up N times). */
	if (parked_find(emu, id)) {
		log_debug(COMP,
		          "%s polled again while its request waits for a reading: no extra reply",
		          id);
		return;
	}

	struct pm_meter *m = emu->env.meters ? pm_route(emu->env.meters, ip) : NULL;
	if (!m) {
		char addr[32];
		net_sockaddr_str(peer, addr, sizeof(addr));
		log_complain(&emu->no_meter, now, COMP,
		             "no powermeter NETMASK matches %s: answering with its last values",
		             addr);
		reply(emu, &req, id, peer, CT002_SRC_NO_METER, NULL);
		return;
	}
	log_release(&emu->no_meter, COMP, "a powermeter matches again");
	bool newcomer = upd.refused || !upd.c->have_poll;
	unsigned from_ip = 0, all = 0;
	if (newcomer)
		parked_newcomers(emu, ip, &from_ip, &all);
	if (newcomer && (from_ip >= CT002_PARKED_PER_ADDR || all >= CT002_PARKED_NEWCOMERS)) {
		char addr[32];
		net_sockaddr_str(peer, addr, sizeof(addr));
		emu->last_busy = now;
		log_complain(&emu->busy, now, COMP,
		             "%u requests of new consumers (%u from %s) already wait for a "
		             "reading: answering more with a hold",
		             all, from_ip, addr);
		reply_hold(emu, &req, id, peer);
		return;
	}
	struct ct002_parked *p = parked_get(emu);
	if (!p) {
		/* Cannot park: answer hold at once rather than queue without bound. */
		reply_hold(emu, &req, id, peer);
		return;
	}
	/* Fill the slot before the read: the callback may run inside pm_meter_read if the
	 * fetch fails synchronously. */
	p->used = true;
	p->emu = emu;
	p->req = req;
	memcpy(p->id, id, sizeof(p->id));
	p->peer = *peer;
	p->ip = ip;
	p->newcomer = newcomer;
	struct pm_reading r;
	rc = pm_meter_read(m, now, &p->w, on_reading, p, &r);
	if (rc == 0)
		return; /* parked (and possibly already answered) */
	parked_free(p);
	if (rc > 0)
		reply(emu, &req, id, peer, CT002_SRC_METER, &r);
	else
		reply(emu, &req, id, peer, CT002_SRC_HOLD, NULL);
}

static void on_readable(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)events;
	struct ct002_emu *emu = arg;
	for (int i = 0; i < CT002_BURST; i++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		/* MSG_TRUNC returns the real size, so an oversized datagram is recognised
		 * instead of being decoded from its truncated head. */
		ssize_t n = recvfrom(fd, emu->in, sizeof(emu->in), MSG_TRUNC,
		                     (struct sockaddr *)&peer, &plen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_debug(COMP, "recvfrom: %s", strerror(errno));
			if (errno == EINTR)
				continue;
			return;
		}
		if (plen < sizeof(peer) || peer.sin_family != AF_INET)
			continue;
		if ((size_t)n > CT002_MAX_FRAME)
			continue;
		handle(emu, emu->in, (size_t)n, &peer);
	}
}

static ev_ms on_cleanup(struct ev_loop *loop, void *arg)
{
	struct ct002_emu *emu = arg;
	/* Also drops the evicted batteries' balancer state (their controls stay). */
	ev_ms now = ev_now(loop);
	unsigned n = ct002_core_expire(&emu->core, now);
	if (n)
		log_debug(COMP, "%u silent consumer(s) removed", n);
	/* A flood is over once a whole period passed without a refusal: releasing on the
	 * next success instead would log twice per reading while it goes on. */
	if (now - emu->last_refused > CT002_CLEANUP_MS)
		log_release(&emu->table_full, COMP, "no new consumer refused for %d s",
		            CT002_CLEANUP_MS / 1000);
	if (now - emu->last_addr_full > CT002_CLEANUP_MS)
		log_release(&emu->addr_full, COMP,
		            "no new consumer refused for its address for %d s",
		            CT002_CLEANUP_MS / 1000);
	if (now - emu->last_churn > CT002_CLEANUP_MS)
		log_release(&emu->churn, COMP, "no address invented battery ids for %d s",
		            CT002_CLEANUP_MS / 1000);
	if (now - emu->last_busy > CT002_CLEANUP_MS)
		log_release(&emu->busy, COMP, "no new consumer's request answered hold for %d s",
		            CT002_CLEANUP_MS / 1000);
	return CT002_CLEANUP_MS;
}

/* STATE_FILE: the key if present ("" = off), else $STATE_DIRECTORY/ct002-<port>.state
 * (systemd's StateDirectory=; its first entry if it lists several), else off. */
static int state_path(struct ct002_emu *emu, struct cfg_section *s, const char *secname, long port,
                      struct err *e)
{
	const char *p;
	int n = 0;
	if (cfg_has(s, "state_file")) {
		if (cfg_get_str(s, "state_file", "", &p, e) != 0)
			return -1;
		n = snprintf(emu->state_path, sizeof(emu->state_path), "%s", p);
	} else if ((p = getenv("STATE_DIRECTORY")) && *p && *p != ':') {
		size_t dl = strcspn(p, ":");
		n = snprintf(emu->state_path, sizeof(emu->state_path), "%.*s/ct002-%ld.state",
		             (int)(dl < 4096 ? dl : 4096), p, port);
		emu->state_from_env = true;
	}
	if (n < 0 || (size_t)n >= sizeof(emu->state_path))
		return err_set(e, "[%s] STATE_FILE: path longer than %d characters", secname,
		               CT002_STATE_PATH_MAX - 1);
	return 0;
}

static void *ct002_create(const struct emu_env *env, const char *device_type, const char *device_id,
                          struct err *e)
{
	bool ct003 = strcmp(device_type, "ct003") == 0;
	struct cfg_section *s = NULL;
	const char *secname = "CT002";
	if (ct003 && cfg_find(env->cfg, "CT003")) {
		s = cfg_find(env->cfg, "CT003");
		secname = "CT003";
	} else {
		s = cfg_find(env->cfg, "CT002");
	}
	struct ct002_emu *emu = calloc(1, sizeof(*emu));
	if (!emu) {
		err_set(e, "out of memory");
		return NULL;
	}
	emu->env = *env;
	emu->fd = -1;
	snprintf(emu->type, sizeof(emu->type), "%s", ct003 ? "ct003" : "ct002");
	snprintf(emu->dev_id, sizeof(emu->dev_id), "%s", device_id ? device_id : "");
	snprintf(emu->section, sizeof(emu->section), "%s", secname);

	struct ct002_core_cfg cc;
	memset(&cc, 0, sizeof(cc));
	snprintf(cc.ct_type, sizeof(cc.ct_type), "%s", ct003 ? "HME-3" : "HME-4");
	const char *mac;
	long port, rssi, ttl = -1;
	double gwin, win;
	if (cfg_get_str(s, "ct_mac", "", &mac, e) != 0)
		goto fail;
	if (strlen(mac) > CT002_FIELD_MAX) {
		err_set(e, "[%s] CT_MAC: longer than %d characters '%.80s'", secname,
		        CT002_FIELD_MAX, mac);
		goto fail;
	}
	snprintf(cc.ct_mac, sizeof(cc.ct_mac), "%s", mac);
	if (cfg_get_int(s, "udp_port", 12345, 1, 65535, &port, e) != 0)
		goto fail;
	if (cfg_get_int(s, "wifi_rssi", -50, -2147483647L, 2147483647L, &rssi, e) != 0)
		goto fail;
	cc.wifi_rssi = rssi;
	if (cfg_get_double(env->general, "dedupe_time_window", 0.0, -1e9, 1e9, &gwin, e) != 0)
		goto fail;
	if (cfg_get_double(s, "dedupe_time_window", gwin, -1e9, 1e9, &win, e) != 0)
		goto fail;
	if (cfg_has(s, "consumer_ttl") &&
	    cfg_get_int(s, "consumer_ttl", 0, 0, 100000000L, &ttl, e) != 0)
		goto fail;
	cc.consumer_ttl = ttl;
	long per_addr;
	if (cfg_get_int(s, "max_consumers_per_address", CT002_PER_ADDR_DEFAULT, 1,
	                CT002_MAX_CONSUMERS, &per_addr, e) != 0)
		goto fail;
	cc.per_addr_max = (unsigned)per_addr;
	if (cfg_get_bool(s, "debug_status", false, &emu->debug_status, e) != 0)
		goto fail;
	const char *env_dbg = getenv("DEBUG_STATUS");
	if (env_dbg && (!strcasecmp(env_dbg, "1") || !strcasecmp(env_dbg, "true") ||
	                !strcasecmp(env_dbg, "yes")))
		emu->debug_status = true;
	struct bal_config bc;
	if (ct002_bal_config_load(&bc, s, e) != 0)
		goto fail;
	if (bc.warning[0])
		log_warnx(COMP, "[%s] %s", secname, bc.warning);
	if (state_path(emu, s, secname, port, e) != 0)
		goto fail;

	emu->port = (uint16_t)port;
	emu->dedupe_s = win;
	dedupe_init(&emu->dd, win > 0 ? (ev_ms)(win * 1000.0) : 0);
	ct002_core_init(&emu->core, &cc);
	/* Created even with ACTIVE_CONTROL = false: the switch can be turned on live. */
	emu->bal = bal_create(&bc, ev_now(env->loop));
	if (!emu->bal) {
		err_set(e, "out of memory");
		goto fail;
	}
	ct002_core_set_balancer(&emu->core, emu->bal);
	struct err le;
	if (emu->state_path[0] && ct002_state_load(emu->bal, emu->state_path, &le) != 0)
		/* A broken file must not keep the meter from working: start with defaults;
		 * the next change rewrites it. */
		log_warnx(COMP, "%s: ignoring the state file: %s", emu->type, le.msg);
	emu->saved_version = bal_controls_version(emu->bal);
	return emu;
fail:
	free(emu);
	return NULL;
}

static int ct002_start(void *self, struct err *e)
{
	struct ct002_emu *emu = self;
	emu->fd = net_ports_udp(emu->env.ports, NULL, emu->port, e);
	if (emu->fd < 0)
		return -1;
	if (ev_io_add(emu->env.loop, emu->fd, EV_READ, on_readable, emu) != 0) {
		err_set(e, "%s: cannot watch the UDP socket: %s", emu->type, strerror(errno));
		close(emu->fd);
		emu->fd = -1;
		return -1;
	}
	emu->cleanup_timer = ev_timer_add(emu->env.loop, CT002_CLEANUP_MS, on_cleanup, emu);
	if (!emu->cleanup_timer) {
		err_set(e, "%s: cannot add the cleanup timer", emu->type);
		ev_io_del(emu->env.loop, emu->fd);
		close(emu->fd);
		emu->fd = -1;
		return -1;
	}
	if (!emu->state_path[0])
		log_info(COMP,
		         "%s: per-battery controls are not persisted (set STATE_FILE in [%s] "
		         "or run with STATE_DIRECTORY)",
		         emu->type, emu->section);
	else
		log_info(COMP, "%s: per-battery controls kept in %s", emu->type, emu->state_path);
	if (bal_active_control(emu->bal)) {
		const struct bal_config *bc = bal_get_config(emu->bal);
		log_info(COMP, "%s: active control: load split%s%s%s", emu->type,
		         bc->fair_distribution ? " + fair distribution" : "",
		         bc->saturation_detection ? " + saturation detection" : "",
		         bal_efficiency_enabled(emu->bal) ? " + efficiency optimization" : "");
	} else {
		log_info(COMP, "%s: relay mode (ACTIVE_CONTROL off)", emu->type);
	}
	log_info(COMP, "%s (%s) listening on udp/%u as %s", emu->type, emu->dev_id,
	         (unsigned)emu->port, emu->core.cfg.ct_type);
	return 0;
}

/* Writes the controls if they changed since the last write (a failure is logged; the next
 * change tries again). */
static void save_state(struct ct002_emu *emu)
{
	uint64_t v = bal_controls_version(emu->bal);
	if (!emu->state_path[0] || v == emu->saved_version)
		return;
	struct err se;
	if (ct002_state_save(emu->bal, emu->state_path, &se) != 0)
		log_warnx(COMP, "%s: cannot save the per-battery controls: %s", emu->type, se.msg);
	else
		emu->saved_version = v;
}

/* The deferred state-file write: one loop round after a control changed something, so
 * the file I/O (fsync) never runs inside the caller or a battery's reply. */
static ev_ms on_save(struct ev_loop *loop, void *arg)
{
	(void)loop;
	struct ct002_emu *emu = arg;
	emu->save_timer = 0;
	save_state(emu);
	return EV_STOP;
}

static void ct002_destroy(void *self)
{
	struct ct002_emu *emu = self;
	if (!emu)
		return;
	if (emu->save_timer) { /* a change not written yet: now, before it is lost */
		ev_timer_del(emu->env.loop, emu->save_timer);
		emu->save_timer = 0;
		save_state(emu);
	}
	/* Parked requests are answered, not dropped: with the current reading if one may
	 * still be served, else the hold answer, while the socket is still open (a reload
	 * used to leave every waiting battery without a reply). */
	ev_ms now = ev_now(emu->env.loop);
	for (size_t i = 0; i < CT002_PARKED; i++) {
		if (emu->parked[i].used) {
			pm_waiter_settle(&emu->parked[i].w, now);
			emu->parked[i].used = false;
		}
	}
	if (emu->cleanup_timer)
		ev_timer_del(emu->env.loop, emu->cleanup_timer);
	if (emu->fd >= 0) {
		ev_io_del(emu->env.loop, emu->fd);
		close(emu->fd);
	}
	bal_destroy(emu->bal);
	free(emu);
}

static void ct002_describe(void *self, char *buf, size_t len)
{
	const struct ct002_emu *emu = self;
	char ttl[32];
	if (emu->core.cfg.consumer_ttl >= 0)
		snprintf(ttl, sizeof(ttl), "%ld s", emu->core.cfg.consumer_ttl);
	else
		snprintf(ttl, sizeof(ttl), "adaptive");
	snprintf(buf, len,
	         "%s on udp/%u as %s, CT_MAC %s, %s, consumer TTL %s, dedupe %g s, state file %s",
	         emu->type, (unsigned)emu->port, emu->core.cfg.ct_type,
	         emu->core.cfg.ct_mac[0] ? emu->core.cfg.ct_mac : "any",
	         bal_active_control(emu->bal) ? "active control" : "relay", ttl,
	         emu->dedupe_s > 0 ? emu->dedupe_s : 0.0,
	         emu->state_path[0] ? emu->state_path : "none");
}

/* For the health endpoint: batteries in the consumer table. */
static void ct002_status(void *self, struct emu_status *st)
{
	const struct ct002_emu *emu = self;
	st->consumers = 0;
	for (size_t i = 0; i < CT002_MAX_CONSUMERS; i++)
		if (emu->core.c[i].used)
			st->consumers++;
}

int ct002_emu_control(struct ct002_emu *emu, const char *consumer_id, enum ct002_ctl what,
                      double value, struct err *e)
{
	bool was = bal_active_control(emu->bal);
	if (ct002_core_control(&emu->core, consumer_id, what, value, ev_now(emu->env.loop), e) != 0)
		return -1;
	if (what == CT002_CTL_ACTIVE_CONTROL) {
		if (was != bal_active_control(emu->bal))
			log_info(COMP, "%s: active control %s", emu->type,
			         was ? "disabled (relay mode)" : "enabled");
	} else if (what != CT002_CTL_FORCE_ROTATION) {
		log_info(COMP, "%s: consumer %s: %s = %g", emu->type, consumer_id,
		         ct002_ctl_name(what), value);
	} else {
		log_info(COMP, "%s: efficiency rotation forced", emu->type);
	}
	/* Rotation is controller state, not a setting: it does not change the version. */
	if (emu->state_path[0] && !emu->save_timer &&
	    bal_controls_version(emu->bal) != emu->saved_version) {
		emu->save_timer = ev_timer_add(emu->env.loop, 0, on_save, emu);
		if (!emu->save_timer)
			save_state(emu); /* no timer (ENOMEM): write now rather than never */
	}
	return 0;
}

const struct balancer *ct002_emu_balancer(const struct ct002_emu *emu)
{
	return emu->bal;
}

const struct ct002_core *ct002_emu_core(const struct ct002_emu *emu)
{
	return &emu->core;
}

const char *ct002_emu_state_file(const struct ct002_emu *emu)
{
	return emu->state_path;
}

const struct emu_ops emu_ct002_ops = {
        .name = "ct002",
        .create = ct002_create,
        .start = ct002_start,
        .destroy = ct002_destroy,
        .describe = ct002_describe,
        .status = ct002_status,
};
