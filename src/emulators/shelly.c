/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Shelly emulator: UDP listeners that answer a battery's EM.GetStatus /
 * EM1.GetStatus with the grid power of the powermeter its IP routes to (NETMASK). Each
 * port behaves like one upstream Shelly instance: its own request dedupe (by source IP,
 * any source port) and its own battery tracking (detected / inactive after 120 s /
 * reconnected logs). A request the meter cannot answer at once is parked in a fixed pool
 * of slots and answered when the reading lands; like the reference, a failed read or a
 * missing meter gets no reply at all (the battery then keeps its last value). The codec
 * is in shelly_codec.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "astrameter/dedupe.h"
#include "astrameter/log.h"
#include "astrameter/net.h"
#include "astrameter/shelly.h"

#define COMP "shelly"
/* Datagrams handled per wakeup; the loop is level-triggered, so the rest wait a round
 * rather than starve other sockets under a flood. */
#define SHELLY_BURST 64

struct shelly_emu;

struct shelly_battery {
	uint32_t ip; /* network byte order */
	bool used, inactive;
	ev_ms last_seen;
};

struct shelly_port {
	struct shelly_emu *emu;
	uint16_t want; /* configured port (0 = any) */
	uint16_t bound;
	int fd;
	struct dedupe dd;
	struct shelly_battery bat[SHELLY_MAX_BATTERIES];
	uint64_t inactive_timer;
	bool bind_failed;
	/* Detection lines: at most SHELLY_DETECT_LOGS per SHELLY_DETECT_WINDOW_MS at INFO, so
	 * a flood of (possibly spoofed) source addresses cannot flood the log. */
	ev_ms detect_window;
	unsigned detect_logged;
	struct log_complain c_table;
};

struct shelly_slot {
	struct pm_waiter w; /* first: the core links it into the meter's list */
	struct shelly_emu *emu;
	struct shelly_port *port;
	struct sockaddr_in peer;
	struct shelly_request req;
	bool used;
};

struct shelly_emu {
	struct emu_env env; /* a copy: the caller's may live on its stack */
	char type[32];
	char id[SHELLY_MAX_DEVID + 1];
	ev_ms dedupe_ms;
	size_t n_ports;
	struct shelly_port port[SHELLY_MAX_PORTS];
	struct shelly_slot slot[SHELLY_SLOTS];
	struct log_complain c_json, c_route, c_full, c_send, c_recv;
	uint64_t replies, dropped;
};

size_t shelly_type_ports(const char *t, uint16_t ports[SHELLY_MAX_PORTS])
{
	const struct emu_type *et = emu_type_find(t);
	if (!et || et->ops != &emu_shelly_ops)
		return 0;
	for (size_t i = 0; i < et->n_ports && i < SHELLY_MAX_PORTS; i++)
		ports[i] = et->ports[i];
	return et->n_ports;
}

static void ip_str(uint32_t ip_be, char *buf, size_t len)
{
	struct in_addr a = {.s_addr = ip_be};
	if (!inet_ntop(AF_INET, &a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* --- battery tracking ------------------------------------------------------------- */

static ev_ms inactive_cb(struct ev_loop *loop, void *arg);

#define SHELLY_DETECT_LOGS      8
#define SHELLY_DETECT_WINDOW_MS 60000

/* Whether a "battery detected" line may go out at INFO now (else it goes to DEBUG). */
static bool detect_log_allowed(struct shelly_port *p, ev_ms now)
{
	if (p->detect_logged == 0 || now - p->detect_window >= SHELLY_DETECT_WINDOW_MS) {
		p->detect_window = now;
		p->detect_logged = 0;
	}
	if (p->detect_logged < SHELLY_DETECT_LOGS) {
		p->detect_logged++;
		return true;
	}
	return false;
}

/* Every datagram counts as a sign of life, before dedupe and parsing, as upstream. Returns
 * whether the battery was already tracked (a known battery, not a stranger). */
static bool track_battery(struct shelly_port *p, uint32_t ip, ev_ms now)
{
	struct shelly_battery *b = NULL, *victim = NULL;
	for (size_t i = 0; i < SHELLY_MAX_BATTERIES; i++) {
		struct shelly_battery *c = &p->bat[i];
		if (c->used && c->ip == ip) {
			b = c;
			break;
		}
		/* Reuse a free entry, else the longest-silent one (inactive first; a live one is
		 * never taken, see below). */
		if (!c->used) {
			if (!victim || victim->used)
				victim = c;
			continue;
		}
		if (victim && !victim->used)
			continue;
		if (!victim || (c->inactive && !victim->inactive) ||
		    (c->inactive == victim->inactive && c->last_seen < victim->last_seen))
			victim = c;
	}
	char ipbuf[INET_ADDRSTRLEN];
	ip_str(ip, ipbuf, sizeof(ipbuf));
	bool known = b != NULL;
	if (!b) {
		if (victim->used && !victim->inactive) {
			/* Every entry holds a live battery: a newcomer (perhaps one of many spoofed
			 * addresses) never evicts one, or the real battery would lose its reserved
			 * parked slot. It is served, just not tracked. */
			log_complain(&p->c_table, now, COMP,
			             "Shelly UDP port %u: %d batteries active, not tracking %s",
			             (unsigned)p->bound, SHELLY_MAX_BATTERIES, ipbuf);
			return false;
		}
		b = victim;
		*b = (struct shelly_battery){.ip = ip, .used = true, .last_seen = now};
		if (detect_log_allowed(p, now))
			log_info(COMP, "battery detected on Shelly UDP port %u: %s",
			         (unsigned)p->bound, ipbuf);
		else
			log_debug(COMP, "battery detected on Shelly UDP port %u: %s",
			          (unsigned)p->bound, ipbuf);
	} else {
		b->last_seen = now;
		if (b->inactive) {
			b->inactive = false;
			log_info(COMP,
			         "battery reconnected on Shelly UDP port %u after inactivity: %s",
			         (unsigned)p->bound, ipbuf);
		}
	}
	if (!p->inactive_timer)
		p->inactive_timer =
		        ev_timer_add(p->emu->env.loop, SHELLY_INACTIVE_MS, inactive_cb, p);
	return known;
}

/* Fires at the earliest moment a battery can have gone silent for the timeout; marks
 * those that did and re-arms for the next one, or stops when none is active. */
static ev_ms inactive_cb(struct ev_loop *loop, void *arg)
{
	struct shelly_port *p = arg;
	ev_ms now = ev_now(loop), next = -1;
	for (size_t i = 0; i < SHELLY_MAX_BATTERIES; i++) {
		struct shelly_battery *b = &p->bat[i];
		if (!b->used || b->inactive)
			continue;
		ev_ms left = b->last_seen + SHELLY_INACTIVE_MS - now;
		if (left <= 0) {
			char ipbuf[INET_ADDRSTRLEN];
			ip_str(b->ip, ipbuf, sizeof(ipbuf));
			b->inactive = true;
			log_info(COMP, "battery inactive on Shelly UDP port %u for >= %d s: %s",
			         (unsigned)p->bound, SHELLY_INACTIVE_MS / 1000, ipbuf);
			continue;
		}
		if (next < 0 || left < next)
			next = left;
	}
	if (next < 0) {
		p->inactive_timer = 0;
		return EV_STOP;
	}
	return next;
}

/* --- replies ------------------------------------------------------------------------ */

static void send_reply(struct shelly_emu *s, struct shelly_port *p, const struct sockaddr_in *to,
                       const struct shelly_request *req, const struct pm_reading *r)
{
	char buf[SHELLY_REPLY_MAX];
	char peer[32];
	ev_ms now = ev_now(s->env.loop);
	net_sockaddr_str(to, peer, sizeof(peer));
	int n = shelly_format_reply(req, s->id, r->w, r->n, buf, sizeof(buf));
	if (n < 0) {
		/* Only a non-finite value can get here; upstream raises and sends nothing. */
		log_complain(&s->c_send, now, COMP, "cannot format a reply for %s (%u values)",
		             peer, r->n);
		s->dropped++;
		return;
	}
	if (sendto(p->fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof(*to)) < 0) {
		log_complain(&s->c_send, now, COMP, "sendto %s: %s", peer, strerror(errno));
		s->dropped++;
		return;
	}
	log_release(&s->c_send, COMP, "replies are sent again");
	s->replies++;
	log_debug(COMP, "udp/%u -> %s: %s", (unsigned)p->bound, peer, buf);
}

static void slot_done(struct pm_waiter *w, const struct pm_reading *r, void *arg)
{
	struct shelly_slot *sl = arg;
	(void)w;
	if (r) {
		send_reply(sl->emu, sl->port, &sl->peer, &sl->req, r);
	} else {
		char peer[32];
		net_sockaddr_str(&sl->peer, peer, sizeof(peer));
		log_debug(COMP, "no meter reading for %s: no reply", peer);
		sl->emu->dropped++;
	}
	sl->used = false;
}

/* A free slot. A stranger (an address not tracked before) gets one only while more than
 * SHELLY_SLOTS_KNOWN stay free, so strangers can never take the slots known batteries need
 * (each has at most one parked request per port, and a port tracks at most
 * SHELLY_MAX_BATTERIES of them). */
static struct shelly_slot *slot_get(struct shelly_emu *s, bool known)
{
	struct shelly_slot *first = NULL;
	size_t nfree = 0;
	for (size_t i = 0; i < SHELLY_SLOTS; i++) {
		if (!s->slot[i].used) {
			if (!first)
				first = &s->slot[i];
			nfree++;
		}
	}
	if (!known && nfree <= SHELLY_SLOTS_KNOWN)
		return NULL;
	return first;
}

/* The parked request of source address ip on port p, or NULL. */
static struct shelly_slot *slot_find(struct shelly_emu *s, const struct shelly_port *p, uint32_t ip)
{
	for (size_t i = 0; i < SHELLY_SLOTS; i++)
		if (s->slot[i].used && s->slot[i].port == p &&
		    s->slot[i].peer.sin_addr.s_addr == ip)
			return &s->slot[i];
	return NULL;
}

/* --- requests ----------------------------------------------------------------------- */

static void handle_datagram(struct shelly_port *p, const char *data, size_t len,
                            const struct sockaddr_in *peer, ev_ms now)
{
	struct shelly_emu *s = p->emu;
	char ipbuf[INET_ADDRSTRLEN];
	ip_str(peer->sin_addr.s_addr, ipbuf, sizeof(ipbuf));

	bool known = track_battery(p, peer->sin_addr.s_addr, now);
	/* Upstream dedupes before it even decodes the datagram. */
	if (!dedupe_accept(&p->dd, ipbuf, now)) {
		log_debug(COMP, "udp/%u: dropping request from %s (dedupe window)",
		          (unsigned)p->bound, ipbuf);
		return;
	}

	struct shelly_request req;
	enum shelly_verdict v = shelly_parse_request(data, len, &req);
	if (v == SHELLY_REQ_BAD_JSON) {
		log_complain(&s->c_json, now, COMP, "udp/%u: invalid JSON from %s (%zu bytes)",
		             (unsigned)p->bound, ipbuf, len);
		return;
	}
	if (v != SHELLY_REQ_OK) {
		log_debug(COMP, "udp/%u: ignoring datagram from %s: %s", (unsigned)p->bound, ipbuf,
		          shelly_verdict_str(v));
		return;
	}
	log_debug(COMP, "udp/%u: %s from %s, id %s", (unsigned)p->bound,
	          req.method == SHELLY_EM_GET_STATUS ? "EM.GetStatus" : "EM1.GetStatus", ipbuf,
	          req.id);

	struct pm_meter *m =
	        s->env.meters ? pm_route(s->env.meters, ntohl(peer->sin_addr.s_addr)) : NULL;
	if (!m) {
		log_complain(&s->c_route, now, COMP, "no powermeter found for client %s", ipbuf);
		return;
	}
	/* One reply per reading (#542, keyed by source address like the reference): the
	 * battery integrates our values in its own loop, so answering each of its repeated
	 * polls when one reading lands would over-correct. Its liveness is tracked above. */
	if (slot_find(s, p, peer->sin_addr.s_addr)) {
		log_debug(COMP, "udp/%u: %s polled again while its request waits: no extra reply",
		          (unsigned)p->bound, ipbuf);
		return;
	}
	struct shelly_slot *sl = slot_get(s, known);
	if (!sl) {
		log_complain(&s->c_full, now, COMP,
		             "no free slot for a request waiting for a meter reading; dropping one "
		             "from %s",
		             ipbuf);
		s->dropped++;
		return;
	}
	log_release(&s->c_full, COMP, "requests are queued again");
	/* Claim the slot before asking: the core may call slot_done() from inside
	 * pm_meter_read() when the fetch completes (or fails) synchronously. */
	sl->used = true;
	sl->emu = s;
	sl->port = p;
	sl->peer = *peer;
	sl->req = req;
	struct pm_reading r;
	int rc = pm_meter_read(m, now, &sl->w, slot_done, sl, &r);
	if (rc == 0)
		return; /* parked (or already answered) */
	sl->used = false;
	if (rc > 0) {
		send_reply(s, p, peer, &req, &r);
	} else {
		log_debug(COMP, "%s: no reading for %s: no reply", m->name, ipbuf);
		s->dropped++;
	}
}

static void on_readable(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct shelly_port *p = arg;
	struct shelly_emu *s = p->emu;
	(void)events;
	for (int i = 0; i < SHELLY_BURST; i++) {
		/* One byte more than we accept, so an over-long datagram is recognised. */
		char buf[SHELLY_MAX_DATAGRAM + 1];
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_complain(&s->c_recv, ev_now(loop), COMP, "recvfrom udp/%u: %s",
				             (unsigned)p->bound, strerror(errno));
			return;
		}
		if (plen < sizeof(peer) || peer.sin_family != AF_INET)
			continue;
		handle_datagram(p, buf, (size_t)n, &peer, ev_now(loop));
	}
}

/* --- emu_ops ------------------------------------------------------------------------ */

void *shelly_emu_create_ports(const struct emu_env *env, const char *device_type,
                              const char *device_id, const uint16_t *ports, size_t n, struct err *e)
{
	char esc[SHELLY_MAX_DEVID_JSON];
	if (n == 0 || n > SHELLY_MAX_PORTS) {
		err_set(e, "device type '%s': bad port count", device_type);
		return NULL;
	}
	if (strlen(device_id) == 0 || strlen(device_id) > SHELLY_MAX_DEVID ||
	    shelly_json_string(device_id, esc, sizeof(esc)) < 0) {
		err_set(e,
		        "[GENERAL] DEVICE_IDS: '%s' is not a usable Shelly device id (1..%d "
		        "UTF-8 bytes)",
		        device_id, SHELLY_MAX_DEVID);
		return NULL;
	}
	double win;
	if (cfg_get_double(env->general, "dedupe_time_window", 0.0, -1e9, 1e9, &win, e) != 0)
		return NULL;
	struct shelly_emu *s = calloc(1, sizeof(*s));
	if (!s) {
		err_set(e, "out of memory");
		return NULL;
	}
	s->env = *env;
	snprintf(s->type, sizeof(s->type), "%s", device_type);
	snprintf(s->id, sizeof(s->id), "%s", device_id);
	/* upstream: max(0, window) */
	s->dedupe_ms = win > 0 ? (ev_ms)llround(win * 1000.0) : 0;
	s->n_ports = n;
	for (size_t i = 0; i < n; i++) {
		struct shelly_port *p = &s->port[i];
		p->emu = s;
		p->want = ports[i];
		p->fd = -1;
		dedupe_init(&p->dd, s->dedupe_ms);
	}
	return s;
}

static void *shelly_create(const struct emu_env *env, const char *device_type,
                           const char *device_id, struct err *e)
{
	uint16_t ports[SHELLY_MAX_PORTS];
	size_t n = shelly_type_ports(device_type, ports);
	if (n == 0) {
		err_set(e, "'%s' is not a Shelly device type", device_type);
		return NULL;
	}
	return shelly_emu_create_ports(env, device_type, device_id, ports, n, e);
}

static int shelly_start(void *self, struct err *e)
{
	struct shelly_emu *s = self;
	size_t ok = 0;
	char why[SHELLY_MAX_PORTS * (sizeof(struct err) + 2)] = "";
	for (size_t i = 0; i < s->n_ports; i++) {
		struct shelly_port *p = &s->port[i];
		if (p->fd >= 0) {
			ok++;
			continue;
		}
		struct err be = {{0}};
		int fd = net_ports_udp(s->env.ports, NULL, p->want, &be);
		if (fd >= 0) {
			struct sockaddr_in sa;
			socklen_t sl = sizeof(sa);
			if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
				err_set(&be, "getsockname: %s", strerror(errno));
				close(fd);
				fd = -1;
			} else if (ev_io_add(s->env.loop, fd, EV_READ, on_readable, p) != 0) {
				err_set(&be, "cannot watch udp/%u: %s", (unsigned)p->want,
				        strerror(errno));
				close(fd);
				fd = -1;
			} else {
				p->bound = ntohs(sa.sin_port);
			}
		}
		if (fd < 0) {
			p->bind_failed = true;
			size_t l = strlen(why);
			snprintf(why + l, sizeof(why) - l, "%s%s", l ? "; " : "", be.msg);
			continue;
		}
		p->fd = fd;
		p->bind_failed = false;
		log_info(COMP, "%s (%s) listening on UDP port %u", s->type, s->id,
		         (unsigned)p->bound);
		ok++;
	}
	if (ok == 0)
		return err_set(e, "%s", why);
	/* As upstream (one instance per port): a port that fails does not stop the other. */
	if (why[0])
		log_error(COMP, "%s (%s): %s", s->type, s->id, why);
	return 0;
}

static void shelly_destroy(void *self)
{
	struct shelly_emu *s = self;
	if (!s)
		return;
	/* Parked requests get the current reading if one may still be served (no reply
	 * otherwise, as on a failed read), while the sockets are still open. */
	ev_ms now = ev_now(s->env.loop);
	for (size_t i = 0; i < SHELLY_SLOTS; i++) {
		if (s->slot[i].used) {
			pm_waiter_settle(&s->slot[i].w, now);
			s->slot[i].used = false;
		}
	}
	for (size_t i = 0; i < s->n_ports; i++) {
		struct shelly_port *p = &s->port[i];
		if (p->inactive_timer)
			ev_timer_del(s->env.loop, p->inactive_timer);
		if (p->fd >= 0) {
			ev_io_del(s->env.loop, p->fd);
			close(p->fd);
		}
	}
	free(s);
}

static void shelly_describe(void *self, char *buf, size_t len)
{
	struct shelly_emu *s = self;
	size_t o = 0;
	int r = snprintf(buf, len, "%s (%s) on udp/", s->type, s->id);
	if (r < 0 || (size_t)r >= len)
		return;
	o = (size_t)r;
	for (size_t i = 0; i < s->n_ports && o < len; i++) {
		const struct shelly_port *p = &s->port[i];
		r = snprintf(buf + o, len - o, "%s%u%s", i ? "," : "",
		             (unsigned)(p->bound ? p->bound : p->want),
		             p->bind_failed ? " (not bound)" : "");
		if (r < 0 || (size_t)r >= len - o)
			return;
		o += (size_t)r;
	}
	if (s->dedupe_ms > 0 && o < len)
		snprintf(buf + o, len - o, ", dedupe %lld ms", (long long)s->dedupe_ms);
}

uint16_t shelly_emu_bound_port(const void *self, size_t i)
{
	const struct shelly_emu *s = self;
	return i < s->n_ports ? s->port[i].bound : 0;
}

/* For the health endpoint: batteries heard from and not yet marked inactive. */
static void shelly_status(void *self, struct emu_status *st)
{
	const struct shelly_emu *emu = self;
	st->consumers = 0;
	for (size_t k = 0; k < emu->n_ports; k++)
		for (size_t i = 0; i < SHELLY_MAX_BATTERIES; i++)
			if (emu->port[k].bat[i].used && !emu->port[k].bat[i].inactive)
				st->consumers++;
}

const struct emu_ops emu_shelly_ops = {
        .name = "shelly",
        .create = shelly_create,
        .start = shelly_start,
        .destroy = shelly_destroy,
        .describe = shelly_describe,
        .status = shelly_status,
};
