/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for the CT002 emulator's parked-request accounting on loopback: a real event loop,
 * the real UDP socket and a fake powermeter driver whose fetch completes when the test says
 * so. One parked request per consumer (#542: a repeated poll gets no reply of its own),
 * newcomers' parked requests bounded per source address while a known battery always
 * parks (the newcomers over the bound get the hold answer), a battery refused a slot
 * answered with the reading, and teardown answering every parked request. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "astrameter/config.h"
#include "astrameter/ct002.h"
#include "astrameter/emu.h"
#include "astrameter/ev.h"
#include "astrameter/log.h"
#include "astrameter/powermeter.h"

struct fake {
	int polls;
};

static int fake_poll(struct pm_meter *m, ev_ms now)
{
	(void)now;
	((struct fake *)m->priv)->polls++;
	return 0; /* completes when the test publishes */
}

static const struct pm_driver fake_drv = {
        .name = "FAKE", .priv_size = sizeof(struct fake), .poll = fake_poll};

struct t {
	struct cfg cfg;
	struct ev_loop *loop;
	struct pm_ctx ctx;
	struct pm_meter *m;
	struct pm_meter *list[1];
	struct pm_set set;
	void *emu;
	uint16_t port;
};

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void setup(struct t *t)
{
	struct err e = {{0}};
	char ini[256];
	memset(t, 0, sizeof(*t));
	log_set_level(LOG_LVL_CRIT);
	t->port = free_port();
	snprintf(ini, sizeof(ini),
	         "[GENERAL]\n[CT002]\nUDP_PORT = %u\nACTIVE_CONTROL = False\n[FAKE]\n",
	         (unsigned)t->port);
	if (cfg_load_string(&t->cfg, ini, &e) != 0)
		fail_msg("config: %s", e.msg);
	t->loop = ev_new(NULL, NULL);
	ev_update_now(t->loop);
	t->ctx.loop = t->loop;
	t->m = pm_meter_new(&fake_drv, cfg_find(&t->cfg, "FAKE"), cfg_find(&t->cfg, "GENERAL"),
	                    &t->ctx, &e);
	assert_non_null(t->m);
	t->list[0] = t->m;
	t->set.m = t->list;
	t->set.n = 1;
	struct emu_env env = {.loop = t->loop,
	                      .meters = &t->set,
	                      .cfg = &t->cfg,
	                      .general = cfg_find(&t->cfg, "GENERAL")};
	t->emu = emu_ct002_ops.create(&env, "ct002", "", &e);
	if (!t->emu)
		fail_msg("create: %s", e.msg);
	if (emu_ct002_ops.start(t->emu, &e) != 0)
		fail_msg("start: %s", e.msg);
}

static void teardown(struct t *t)
{
	if (t->emu)
		emu_ct002_ops.destroy(t->emu);
	pm_meter_free(t->m);
	ev_free(t->loop);
	cfg_free(&t->cfg);
	log_set_level(LOG_LVL_WARN);
}

static int client(const char *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void poll_ct(struct t *t, int fd, const char *mac)
{
	const char *f[] = {"HMG-50", mac, "HME-4", "112233445566", "A", "0"};
	struct ct002_str s[6];
	for (size_t i = 0; i < 6; i++) {
		s[i].p = f[i];
		s[i].len = strlen(f[i]);
	}
	uint8_t buf[CT002_MAX_FRAME];
	int n = ct002_encode(s, 6, buf, sizeof(buf));
	struct sockaddr_in to = {.sin_family = AF_INET,
	                         .sin_port = htons(t->port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)), n);
}

/* Runs the loop for wait_ms, then counts the replies waiting on fd; *w0 gets field 4 of
 * the last one. */
static int replies(struct t *t, int fd, int wait_ms, char *w0, size_t cap)
{
	for (int i = 0; i < wait_ms / 10; i++)
		ev_run_once(t->loop, 10);
	int n = 0;
	uint8_t buf[CT002_MAX_FRAME];
	for (;;) {
		ssize_t k = recv(fd, buf, sizeof(buf), 0);
		if (k < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			return n;
		}
		struct ct002_frame fr;
		assert_int_equal(ct002_decode(buf, (size_t)k, &fr), CT002_OK);
		if (w0)
			snprintf(w0, cap, "%.*s", (int)fr.f[4].len,
			         (const char *)buf + fr.f[4].off);
		n++;
	}
}

static void publish(struct t *t, double w)
{
	ev_update_now(t->loop);
	struct pm_reading r = {.n = 1, .w = {w}};
	pm_meter_publish(t->m, &r);
}

static void test_one_parked_request_per_consumer(void **state)
{
	(void)state;
	struct t t;
	setup(&t);
	int fd = client("127.0.0.2");
	char w0[32];
	for (int k = 0; k < 5; k++)
		poll_ct(&t, fd, "aabbccddee01");
	assert_int_equal(replies(&t, fd, 100, NULL, 0), 0);
	assert_int_equal(((struct fake *)t.m->priv)->polls, 1);
	publish(&t, 321);
	/* One reading, one reply: the repeats updated the report only (#542). */
	assert_int_equal(replies(&t, fd, 50, w0, sizeof(w0)), 1);
	assert_string_equal(w0, "321");
	/* The repeats did count as polls: the battery has a history now. */
	const struct ct002_consumer *c =
	        ct002_core_find((struct ct002_core *)ct002_emu_core(t.emu), "aabbccddee01");
	assert_non_null(c);
	assert_true(c->have_poll);
	close(fd);
	teardown(&t);
}

static void test_newcomers_bounded_per_address_known_always_parks(void **state)
{
	(void)state;
	struct t t;
	setup(&t);
	int real = client("127.0.0.2"), bad = client("127.0.0.1");
	char w0[32];
	/* The real battery polls twice: known. */
	poll_ct(&t, real, "aabbccddee01");
	poll_ct(&t, real, "aabbccddee01");
	assert_int_equal(replies(&t, real, 50, NULL, 0), 0);
	publish(&t, 1);
	assert_int_equal(replies(&t, real, 50, NULL, 0), 1);
	usleep((PM_DEFAULT_FRESH_MS + 50) * 1000); /* the cached reading is stale again */
	/* One host invents 20 batteries: 8 of them park (CT002_PARKED_PER_ADDR), the rest
	 * get the hold answer at once (answered, not dropped). */
	char mac[16];
	for (int i = 0; i < 20; i++) {
		snprintf(mac, sizeof(mac), "ffff0000%04x", i);
		poll_ct(&t, bad, mac);
	}
	assert_int_equal(replies(&t, bad, 50, w0, sizeof(w0)), 12);
	assert_string_equal(w0, "0");
	/* The known battery still parks and gets the reading, not a hold. */
	poll_ct(&t, real, "aabbccddee01");
	assert_int_equal(replies(&t, real, 50, NULL, 0), 0);
	publish(&t, 444);
	assert_int_equal(replies(&t, real, 50, w0, sizeof(w0)), 1);
	assert_string_equal(w0, "444");
	assert_int_equal(replies(&t, bad, 50, NULL, 0), 8);
	close(real);
	close(bad);
	teardown(&t);
}

/* A battery refused a slot (its address holds its cap of established batteries) is still
 * answered, with the reading (relay), and one reply per reading like everyone. */
static void test_refused_newcomer_gets_reading(void **state)
{
	(void)state;
	struct t t;
	setup(&t);
	int nat = client("127.0.0.7");
	char w0[32], mac[16];
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < CT002_PER_ADDR_DEFAULT; i++) {
			snprintf(mac, sizeof(mac), "aabbccdd00%02x", i);
			poll_ct(&t, nat, mac);
		}
		int n = replies(&t, nat, 50, NULL, 0);
		publish(&t, 7);
		assert_int_equal(n + replies(&t, nat, 50, NULL, 0), CT002_PER_ADDR_DEFAULT);
	}
	usleep((PM_DEFAULT_FRESH_MS + 50) * 1000);
	poll_ct(&t, nat, "aabbccdd0099");
	poll_ct(&t, nat, "aabbccdd0099");
	assert_int_equal(replies(&t, nat, 50, NULL, 0), 0);
	assert_null(ct002_core_find((struct ct002_core *)ct002_emu_core(t.emu), "aabbccdd0099"));
	publish(&t, 555);
	assert_int_equal(replies(&t, nat, 50, w0, sizeof(w0)), 1);
	assert_string_equal(w0, "555");
	close(nat);
	teardown(&t);
}

static void test_teardown_answers_parked(void **state)
{
	(void)state;
	struct t t;
	setup(&t);
	int fd[3];
	char w0[32], mac[16];
	for (int i = 0; i < 3; i++) {
		char addr[16];
		snprintf(addr, sizeof(addr), "127.0.0.%d", 20 + i);
		fd[i] = client(addr);
		snprintf(mac, sizeof(mac), "aabbccdd00%02x", i);
		poll_ct(&t, fd[i], mac);
	}
	assert_int_equal(replies(&t, fd[0], 100, NULL, 0), 0);
	/* Reload or shutdown: every waiting battery is told to hold, none left silent. */
	emu_ct002_ops.destroy(t.emu);
	t.emu = NULL;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(replies(&t, fd[i], 0, w0, sizeof(w0)), 1);
		assert_string_equal(w0, "0");
		close(fd[i]);
	}
	teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_one_parked_request_per_consumer),
	        cmocka_unit_test(test_newcomers_bounded_per_address_known_always_parks),
	        cmocka_unit_test(test_refused_newcomer_gets_reading),
	        cmocka_unit_test(test_teardown_answers_parked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
