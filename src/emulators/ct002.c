/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CT002/CT003 emulator device: reads [CT002] (or [CT003]), owns one UDP socket in the
 * loop, and for each battery datagram runs decode -> CT_MAC -> dedupe -> consumer update ->
 * meter read -> response. A meter read that has to wait parks the request in a fixed pool
 * and the answer goes out when the powermeter core calls back (a reading, or NULL = hold),
 * so the loop never blocks on a meter. A 5 s timer evicts silent batteries. All protocol
 * decisions live in ct002_codec.c / ct002_core.c; this file is only I/O and config. */
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
#include "astrameter/log.h"
#include "astrameter/net.h"

#define COMP "ct002"
/* Requests waiting for a meter reading at once (a handful of batteries poll ~1/s and a
 * wait lasts at most 2 s, so this is generous). */
#define CT002_PARKED 64
/* Datagrams handled per wakeup before yielding to other fds (the fd stays readable, so the
 * level-triggered loop comes straight back). */
#define CT002_BURST 256

const char *const ct002_later_keys[] = {"fair_distribution",
                                        "balance_gain",
                                        "balance_deadband",
                                        "max_correction_per_step",
                                        "error_boost_threshold",
                                        "error_boost_max",
                                        "error_reduce_threshold",
                                        "max_target_step",
                                        "pace_base_step",
                                        "pace_max_step",
                                        "osc_damp_max",
                                        "osc_damp_alpha",
                                        "osc_damp_decay",
                                        "osc_damp_threshold",
                                        "grid_predict_trust",
                                        "concentrate_deadband",
                                        "import_trim_w",
                                        "min_dc_output",
                                        "saturation_detection",
                                        "saturation_alpha",
                                        "min_target_for_saturation",
                                        "saturation_grace_seconds",
                                        "saturation_stall_timeout_seconds",
                                        "saturation_decay_factor",
                                        "min_efficient_power",
                                        "probe_min_power",
                                        "efficiency_rotation_interval",
                                        "efficiency_fade_alpha",
                                        "efficiency_saturation_threshold",
                                        "efficiency_demand_alpha",
                                        "cloud_reporting",
                                        "cloud_reporting_host",
                                        "cloud_reporting_interval",
                                        NULL};

struct ct002_emu;

struct ct002_parked {
	bool used;
	struct pm_waiter w;
	struct ct002_emu *emu;
	struct ct002_request req;
	char id[CT002_ID_MAX + 1];
	struct sockaddr_in peer;
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
	bool active_control; /* asked for; relayed until the balancer is wired in */
	int fd;
	uint64_t cleanup_timer;
	struct log_complain no_meter, meter_fail;
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

/* Builds and sends the answer to one request. */
static void reply(struct ct002_emu *emu, const struct ct002_request *req, const char *id,
                  const struct sockaddr_in *peer, enum ct002_src src, const struct pm_reading *r)
{
	ev_ms now = ev_now(emu->env.loop);
	char addr[32];
	net_sockaddr_str(peer, addr, sizeof(addr));
	if (src == CT002_SRC_HOLD)
		log_complain(&emu->meter_fail, now, COMP,
		             "no powermeter reading for %s: sending a zero adjustment so the "
		             "battery holds its output",
		             addr);
	else if (src == CT002_SRC_METER)
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
	if (emu->debug_status)
		log_status(emu, &info, id, now);
	if (sendto(emu->fd, emu->out, (size_t)n, 0, (const struct sockaddr *)peer, sizeof(*peer)) <
	    0)
		log_debug(COMP, "sendto %s: %s", addr, strerror(errno));
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

static void log_update(const struct ct002_update *u, const char *id)
{
	switch (u->ev) {
	case CT002_UPD_PHASE_DETECTED:
		log_info(COMP, "consumer %s phase detected: %c", id, u->c->phase);
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
	if (u->replaced)
		log_warnx(COMP,
		          "consumer table full (%d): dropped the longest-silent battery for %s",
		          CT002_MAX_CONSUMERS, id);
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
	log_update(&upd, id);

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
	struct ct002_parked *p = parked_get(emu);
	if (!p) {
		/* Cannot park: answer hold at once rather than queue without bound. */
		reply(emu, &req, id, peer, CT002_SRC_HOLD, NULL);
		return;
	}
	/* Fill the slot before the read: the callback may run inside pm_meter_read if the
	 * fetch fails synchronously. */
	p->used = true;
	p->emu = emu;
	p->req = req;
	memcpy(p->id, id, sizeof(p->id));
	p->peer = *peer;
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
	unsigned n = ct002_core_expire(&emu->core, ev_now(loop));
	if (n)
		log_debug(COMP, "%u silent consumer(s) removed", n);
	return CT002_CLEANUP_MS;
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
	if (cfg_get_bool(s, "debug_status", false, &emu->debug_status, e) != 0)
		goto fail;
	const char *env_dbg = getenv("DEBUG_STATUS");
	if (env_dbg && (!strcasecmp(env_dbg, "1") || !strcasecmp(env_dbg, "true") ||
	                !strcasecmp(env_dbg, "yes")))
		emu->debug_status = true;
	if (cfg_get_bool(s, "active_control", true, &emu->active_control, e) != 0)
		goto fail;
	/* The balancer keys (ct002_later_keys) are deliberately not read here: the config
	 * schema reports each one present as "not supported yet". */

	emu->port = (uint16_t)port;
	emu->dedupe_s = win;
	dedupe_init(&emu->dd, win > 0 ? (ev_ms)(win * 1000.0) : 0);
	ct002_core_init(&emu->core, &cc);
	/* The active-control hook (emu->core.ctl) stays empty: relay mode. */
	return emu;
fail:
	free(emu);
	return NULL;
}

static int ct002_start(void *self, struct err *e)
{
	struct ct002_emu *emu = self;
	emu->fd = net_udp_bind(NULL, emu->port, e);
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
	if (emu->active_control)
		log_info(COMP,
		         "%s: ACTIVE_CONTROL is not available yet in this build; relaying meter "
		         "values (set ACTIVE_CONTROL = false in [%s] to silence this)",
		         emu->type, emu->section);
	log_info(COMP, "%s (%s) listening on udp/%u as %s", emu->type, emu->dev_id,
	         (unsigned)emu->port, emu->core.cfg.ct_type);
	return 0;
}

static void ct002_destroy(void *self)
{
	struct ct002_emu *emu = self;
	if (!emu)
		return;
	for (size_t i = 0; i < CT002_PARKED; i++) {
		if (emu->parked[i].used) {
			pm_waiter_cancel(&emu->parked[i].w);
			emu->parked[i].used = false;
		}
	}
	if (emu->cleanup_timer)
		ev_timer_del(emu->env.loop, emu->cleanup_timer);
	if (emu->fd >= 0) {
		ev_io_del(emu->env.loop, emu->fd);
		close(emu->fd);
	}
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
	snprintf(buf, len, "%s on udp/%u as %s, CT_MAC %s, relay%s, consumer TTL %s, dedupe %g s",
	         emu->type, (unsigned)emu->port, emu->core.cfg.ct_type,
	         emu->core.cfg.ct_mac[0] ? emu->core.cfg.ct_mac : "any",
	         emu->active_control ? " (ACTIVE_CONTROL not available yet)" : "", ttl,
	         emu->dedupe_s > 0 ? emu->dedupe_s : 0.0);
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

const struct emu_ops emu_ct002_ops = {
        .name = "ct002",
        .create = ct002_create,
        .start = ct002_start,
        .destroy = ct002_destroy,
        .describe = ct002_describe,
        .status = ct002_status,
};
