/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SMA_ENERGY_METER powermeter (push): listens for Speedwire telegrams on the multicast
 * group (default 239.12.255.254:9522) with SO_REUSEADDR/SO_REUSEPORT, so other listeners
 * on the host (SMA's own tools, Home Assistant) keep working, and joins the group on
 * INTERFACE (an IPv4 address; default any). Each telegram from the chosen meter becomes a
 * reading (pm_sma_parse_power). A meter sends about once a second; after SMA_STALE_MS
 * without a telegram the reading is dropped and requests get the hold answer until
 * telegrams return (upstream keeps serving the last values and only reports the stream
 * offline). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "astrameter/powermeter.h"
#include "astrameter/sma.h"

#define SMA_CHECK_MS 1000

struct sma {
	struct in_addr group, iface;
	int port;
	struct pm_sma_filter filter;
	int fd;
	uint64_t timer;
	ev_ms last_telegram;
	bool stale_reported;
	uint64_t ignored;
};

static void sma_read(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)events;
	struct pm_meter *m = arg;
	struct sma *s = m->priv;
	uint8_t buf[2048];
	/* Drain what is queued; publish the newest usable telegram once. */
	struct pm_reading best;
	bool have = false;
	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_debug(m->name, "recv: %s", strerror(errno));
			break;
		}
		struct pm_sma_header h;
		if (pm_sma_parse_header(buf, (size_t)n, &h) != 0) {
			s->ignored++;
			continue;
		}
		bool locked = false;
		if (!pm_sma_filter_accept(&s->filter, &h, &locked)) {
			s->ignored++;
			continue;
		}
		if (locked)
			log_info(m->name, "auto-detected %s with serial %u",
			         pm_sma_susy_name(h.susy_id), (unsigned)h.serial);
		struct pm_reading r;
		if (pm_sma_parse_power(buf, (size_t)n, &r) != 0)
			continue;
		best = r;
		have = true;
	}
	if (!have)
		return;
	s->last_telegram = ev_now(loop);
	s->stale_reported = false;
	pm_meter_publish(m, &best);
}

static ev_ms sma_check(struct ev_loop *loop, void *arg)
{
	struct pm_meter *m = arg;
	struct sma *s = m->priv;
	ev_ms now = ev_now(loop);
	if (m->have && !s->stale_reported && now - s->last_telegram >= SMA_STALE_MS) {
		s->stale_reported = true;
		pm_meter_fail(m, "no telegram for %lld s",
		              (long long)((now - s->last_telegram) / 1000));
	}
	return SMA_CHECK_MS;
}

static int sma_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct sma *s = m->priv;
	const char *group, *iface, *serial;
	long port;
	s->fd = -1;
	if (cfg_get_str(sec, "multicast_group", SMA_DEFAULT_GROUP, &group, e) != 0 ||
	    cfg_get_int(sec, "port", SMA_DEFAULT_PORT, 1, 65535, &port, e) != 0 ||
	    cfg_get_str(sec, "serial_number", "0", &serial, e) != 0 ||
	    cfg_get_str(sec, "interface", "", &iface, e) != 0)
		return -1;
	/* Serials use all 32 bits; a long is 32 bits on the Raspberry Pi, so parse here. */
	const char *p = serial;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '+')
		p++;
	char *end = NULL;
	errno = 0;
	unsigned long long sn = isdigit((unsigned char)*p) ? strtoull(p, &end, 10) : 0;
	while (end && isspace((unsigned char)*end))
		end++;
	if (!end || *end || errno || sn > 0xffffffffull)
		return err_set(e, "[%s] SERIAL_NUMBER: not a serial number (0 = auto) '%s'",
		               sec->name, serial);
	if (inet_pton(AF_INET, group, &s->group) != 1 || !IN_MULTICAST(ntohl(s->group.s_addr)))
		return err_set(e, "[%s] MULTICAST_GROUP: not an IPv4 multicast address '%s'",
		               sec->name, group);
	s->iface.s_addr = htonl(INADDR_ANY);
	if (*iface && inet_pton(AF_INET, iface, &s->iface) != 1)
		return err_set(e, "[%s] INTERFACE: not an IPv4 address '%s'", sec->name, iface);
	s->port = (int)port;
	s->filter.want = (uint32_t)sn;
	return 0;
}

static int sma_start(struct pm_meter *m, struct err *e)
{
	struct sma *s = m->priv;
	if (s->fd >= 0)
		return 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return err_set(e, "[%s] socket: %s", m->name, strerror(errno));
	int one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)s->port),
	                         .sin_addr.s_addr = htonl(INADDR_ANY)};
	struct ip_mreq mreq = {.imr_multiaddr = s->group, .imr_interface = s->iface};
	const char *what = NULL;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		what = "SO_REUSEADDR";
	/* Best effort, as upstream: SO_REUSEADDR alone is enough for multicast on Linux. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (!what && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		what = "bind";
	if (!what && setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0)
		what = "IP_ADD_MEMBERSHIP";
	if (what) {
		int err = errno;
		close(fd);
		return err_set(e, "[%s] %s on udp/%d: %s", m->name, what, s->port, strerror(err));
	}
	if (ev_io_add(m->ctx->loop, fd, EV_READ, sma_read, m) != 0) {
		int err = errno;
		close(fd);
		return err_set(e, "[%s] cannot watch the socket: %s", m->name, strerror(err));
	}
	s->fd = fd;
	s->timer = ev_timer_add(m->ctx->loop, SMA_CHECK_MS, sma_check, m);
	char g[INET_ADDRSTRLEN], i[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &s->group, g, sizeof(g));
	inet_ntop(AF_INET, &s->iface, i, sizeof(i));
	log_info(m->name,
	         "listening for SMA Speedwire telegrams on %s:%d (interface %s, serial %s)", g,
	         s->port, i, s->filter.want ? "configured" : "auto");
	return 0;
}

static void sma_stop(struct pm_meter *m)
{
	struct sma *s = m->priv;
	if (!s)
		return;
	if (s->fd >= 0) {
		ev_io_del(m->ctx->loop, s->fd);
		close(s->fd);
		s->fd = -1;
	}
	if (s->timer) {
		ev_timer_del(m->ctx->loop, s->timer);
		s->timer = 0;
	}
}

const struct pm_driver pm_sma_driver = {
        .name = "SMA_ENERGY_METER",
        .priv_size = sizeof(struct sma),
        .push = true,
        .configure = sma_configure,
        .start = sma_start,
        .stop = sma_stop,
        .poll = NULL,
        .keys = "MULTICAST_GROUP PORT SERIAL_NUMBER INTERFACE",
};
