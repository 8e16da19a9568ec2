/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests for the Shelly emulator glue on loopback: a real event loop, real UDP sockets on
 * ephemeral ports and a fake powermeter driver that answers at once, later, or fails.
 * Covers immediate, cached and parked replies, silence on failure / no route / bad
 * requests, dedupe by source IP across source ports, two ports with one device id,
 * teardown with parked requests in either order, and the type -> port table. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "astrameter/config.h"
#include "astrameter/ev.h"
#include "astrameter/powermeter.h"
#include "astrameter/emu.h"
#include "astrameter/shelly.h"

enum fake_mode { FAKE_SYNC, FAKE_DEFER, FAKE_FAIL };

struct fake {
	enum fake_mode mode;
	double w[3];
	unsigned n;
	int polls;
	bool pending;
};

static int fake_poll(struct pm_meter *m, ev_ms now)
{
	struct fake *f = m->priv;
	(void)now;
	f->polls++;
	if (f->mode == FAKE_FAIL) {
		pm_meter_fail(m, "fake failure");
		return 0;
	}
	if (f->mode == FAKE_DEFER) {
		f->pending = true;
		return 0;
	}
	struct pm_reading r = {.n = f->n};
	memcpy(r.w, f->w, sizeof(f->w));
	pm_meter_publish(m, &r);
	return 0;
}

static const struct pm_driver fake_drv = {
        .name = "FAKE",
        .priv_size = sizeof(struct fake),
        .poll = fake_poll,
};

struct t {
	struct cfg cfg;
	struct ev_loop *loop;
	struct pm_ctx ctx;
	struct pm_meter *m;
	struct pm_meter *list[1];
	struct pm_set set;
	void *emu;
	int client;
};

static struct fake *fake_of(struct t *t)
{
	return t->m->priv;
}

static void setup(struct t *t, const char *ini, const uint16_t *ports, size_t n)
{
	struct err e = {{0}};
	memset(t, 0, sizeof(*t));
	if (cfg_load_string(&t->cfg, ini, &e) != 0)
		fail_msg("config: %s", e.msg);
	t->loop = ev_new(NULL, NULL);
	assert_non_null(t->loop);
	ev_update_now(t->loop);
	t->ctx.loop = t->loop;
	t->m = pm_meter_new(&fake_drv, cfg_find(&t->cfg, "FAKE"), cfg_find(&t->cfg, "GENERAL"),
	                    &t->ctx, &e);
	if (!t->m)
		fail_msg("meter: %s", e.msg);
	fake_of(t)->n = 3;
	fake_of(t)->w[0] = 100;
	fake_of(t)->w[1] = 0;
	fake_of(t)->w[2] = -50.26;
	t->list[0] = t->m;
	t->set.m = t->list;
	t->set.n = 1;
	struct emu_env env = {.loop = t->loop,
	                      .meters = &t->set,
	                      .cfg = &t->cfg,
	                      .general = cfg_find(&t->cfg, "GENERAL")};
	t->emu = shelly_emu_create_ports(&env, "shellypro3em", "shellypro3em-ec4609c439c1", ports,
	                                 n, &e);
	if (!t->emu)
		fail_msg("create: %s", e.msg);
	if (emu_shelly_ops.start(t->emu, &e) != 0)
		fail_msg("start: %s", e.msg);
	t->client = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(t->client >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(t->client, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void teardown(struct t *t, bool meters_first)
{
	if (meters_first) {
		pm_meter_free(t->m);
		emu_shelly_ops.destroy(t->emu);
	} else {
		emu_shelly_ops.destroy(t->emu);
		pm_meter_free(t->m);
	}
	close(t->client);
	ev_free(t->loop);
	cfg_free(&t->cfg);
}

/* A new client socket (another source port on the same IP). */
static void new_client(struct t *t)
{
	close(t->client);
	t->client = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(t->client >= 0);
}

static void send_to(struct t *t, size_t port_idx, const void *req, size_t len)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
	                         .sin_port = htons(shelly_emu_bound_port(t->emu, port_idx)),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_true(to.sin_port != 0);
	assert_int_equal(sendto(t->client, req, len, 0, (struct sockaddr *)&to, sizeof(to)),
	                 (ssize_t)len);
}

/* Runs the loop for up to wait_ms; returns the reply length, or -1 if none came. */
static int pump(struct t *t, char *out, size_t cap, int wait_ms)
{
	for (int i = 0; i < wait_ms / 10; i++) {
		ev_run_once(t->loop, 10);
		ssize_t n = recv(t->client, out, cap - 1, 0);
		if (n >= 0) {
			out[n] = '\0';
			return (int)n;
		}
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	}
	return -1;
}

static int ask(struct t *t, size_t port_idx, const char *req, char *out, size_t cap, int wait_ms)
{
	send_to(t, port_idx, req, strlen(req));
	return pump(t, out, cap, wait_ms);
}

#define REQ_EM(id) \
	"{\"id\":" id ",\"src\":\"cli\",\"method\":\"EM.GetStatus\",\"params\":{\"id\":0}}"
#define REQ_EM1(id) \
	"{\"id\":" id ",\"src\":\"cli\",\"method\":\"EM1.GetStatus\",\"params\":{\"id\":0}}"

static const char want7[] = "{\"id\":7,\"src\":\"shellypro3em-ec4609c439c1\",\"dst\":\"unknown\","
                            "\"result\":{\"a_act_power\":100.0,\"b_act_power\":0.001,"
                            "\"c_act_power\":-50.3,\"total_act_power\":49.74}}";

static const char ini_plain[] = "[GENERAL]\n[FAKE]\n";

static void test_reply_sync_and_cached(void **state)
{
	(void)state;
	struct t t;
	uint16_t ports[] = {0, 0};
	char buf[2048];
	setup(&t, ini_plain, ports, 2);
	/* The fetch completes inside pm_meter_read: answered from the parked slot. */
	assert_int_equal(ask(&t, 0, REQ_EM("7"), buf, sizeof(buf), 500), (int)strlen(want7));
	assert_string_equal(buf, want7);
	assert_int_equal(fake_of(&t)->polls, 1);
	/* Within the freshness bound the cache answers, on the other port, same id. */
	assert_true(ask(&t, 1, REQ_EM1("\"x\""), buf, sizeof(buf), 500) > 0);
	assert_string_equal(buf, "{\"id\":\"x\",\"src\":\"shellypro3em-ec4609c439c1\","
	                         "\"dst\":\"unknown\",\"result\":{\"act_power\":49.74}}");
	assert_int_equal(fake_of(&t)->polls, 1);

	char desc[256];
	emu_shelly_ops.describe(t.emu, desc, sizeof(desc));
	char want[256];
	snprintf(want, sizeof(want), "shellypro3em (shellypro3em-ec4609c439c1) on udp/%u,%u",
	         (unsigned)shelly_emu_bound_port(t.emu, 0),
	         (unsigned)shelly_emu_bound_port(t.emu, 1));
	assert_string_equal(desc, want);
	char tiny[12];
	emu_shelly_ops.describe(t.emu, tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
	teardown(&t, false);
}

/* A second client on another loopback address. */
static int client_at(const char *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void test_reply_parked_until_reading(void **state)
{
	(void)state;
	struct t t;
	uint16_t ports[] = {0};
	char buf[2048];
	setup(&t, ini_plain, ports, 1);
	fake_of(&t)->mode = FAKE_DEFER;
	int other = client_at("127.0.0.2");
	struct sockaddr_in to = {.sin_family = AF_INET,
	                         .sin_port = htons(shelly_emu_bound_port(t.emu, 0)),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	/* One battery polls three times while the fetch runs, another once. */
	send_to(&t, 0, REQ_EM("1"), strlen(REQ_EM("1")));
	send_to(&t, 0, REQ_EM("2"), strlen(REQ_EM("2")));
	assert_int_equal(sendto(other, REQ_EM("5"), strlen(REQ_EM("5")), 0, (struct sockaddr *)&to,
	                        sizeof(to)),
	                 (ssize_t)strlen(REQ_EM("5")));
	send_to(&t, 0, REQ_EM("3"), strlen(REQ_EM("3")));
	assert_int_equal(pump(&t, buf, sizeof(buf), 100), -1);
	assert_true(fake_of(&t)->pending);
	assert_int_equal(fake_of(&t)->polls, 1); /* coalesced into one fetch */
	struct pm_reading r = {.n = 1, .w = {300}};
	pm_meter_publish(t.m, &r);
	/* One reply per reading per battery (#542): the first poll's, nothing for the
	 * repeats (they would make the battery over-correct). */
	assert_true(pump(&t, buf, sizeof(buf), 300) > 0);
	assert_non_null(strstr(buf, "\"a_act_power\":300.0,\"b_act_power\":0.001,"
	                            "\"c_act_power\":0.001,\"total_act_power\":300.001}}"));
	assert_int_equal(strncmp(buf, "{\"id\":1,", 7), 0);
	assert_int_equal(pump(&t, buf, sizeof(buf), 200), -1);
	/* The other battery got its own. */
	ssize_t n = recv(other, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(strncmp(buf, "{\"id\":5,", 7), 0);
	close(other);
	teardown(&t, false);
}

static void test_silence_on_failure_route_and_junk(void **state)
{
	(void)state;
	struct t t;
	uint16_t ports[] = {0};
	char buf[2048];
	setup(&t, ini_plain, ports, 1);
	fake_of(&t)->mode = FAKE_FAIL;
	assert_int_equal(ask(&t, 0, REQ_EM("1"), buf, sizeof(buf), 200), -1);
	assert_int_equal(fake_of(&t)->polls, 1);
	/* Junk and requests that are not ours: silence, and the meter is not even asked. */
	fake_of(&t)->mode = FAKE_SYNC;
	static const char *const junk[] = {
	        "",
	        "{",
	        "null",
	        "[]",
	        "\xff\xfe{}",
	        "{\"id\":1,\"method\":\"EM.GetStatus\",\"params\":{\"id\":\"0\"}}",
	        "{\"id\":1,\"method\":\"Sys.Reboot\",\"params\":{\"id\":0}}",
	        "{\"method\":\"EM.GetStatus\",\"params\":{\"id\":0}}",
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_int_equal(ask(&t, 0, junk[i], buf, sizeof(buf), 50), -1);
	char big[SHELLY_MAX_DATAGRAM + 100];
	memset(big, ' ', sizeof(big));
	memcpy(big, REQ_EM("1"), strlen(REQ_EM("1")));
	send_to(&t, 0, big, sizeof(big));
	assert_int_equal(pump(&t, buf, sizeof(buf), 50), -1);
	assert_int_equal(fake_of(&t)->polls, 1);
	/* Still alive and answering; the failure bound has passed by now or soon. */
	int n = -1;
	for (int k = 0; k < 10 && n < 0; k++)
		n = ask(&t, 0, REQ_EM("9"), buf, sizeof(buf), 100);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\"total_act_power\":49.74}}"));
	teardown(&t, false);
}

static void test_no_route(void **state)
{
	(void)state;
	struct t t;
	uint16_t ports[] = {0};
	char buf[2048];
	setup(&t, "[GENERAL]\n[FAKE]\nNETMASK = 10.0.0.0/8\n", ports, 1);
	assert_int_equal(ask(&t, 0, REQ_EM("1"), buf, sizeof(buf), 150), -1);
	assert_int_equal(fake_of(&t)->polls, 0);
	teardown(&t, false);
}

static void test_dedupe_by_ip(void **state)
{
	(void)state;
	struct t t;
	uint16_t ports[] = {0};
	char buf[2048];
	setup(&t, "[GENERAL]\nDEDUPE_TIME_WINDOW = 10\n[FAKE]\n", ports, 1);
	assert_true(ask(&t, 0, REQ_EM("1"), buf, sizeof(buf), 300) > 0);
	/* Same IP, other source port, inside the window: dropped. */
	new_client(&t);
	assert_int_equal(ask(&t, 0, REQ_EM("2"), buf, sizeof(buf), 100), -1);
	char desc[256];
	emu_shelly_ops.describe(t.emu, desc, sizeof(desc));
	assert_non_null(strstr(desc, ", dedupe 10000 ms"));
	teardown(&t, false);

	/* A negative window is upstream's max(0, w): disabled. */
	setup(&t, "[GENERAL]\nDEDUPE_TIME_WINDOW = -3\n[FAKE]\n", ports, 1);
	assert_true(ask(&t, 0, REQ_EM("1"), buf, sizeof(buf), 300) > 0);
	assert_true(ask(&t, 0, REQ_EM("2"), buf, sizeof(buf), 300) > 0);
	teardown(&t, false);
}

static void test_teardown_with_parked(void **state)
{
	(void)state;
	struct t t;
	uint16_t ports[] = {0};
	char buf[2048];
	for (int order = 0; order < 2; order++) {
		setup(&t, ini_plain, ports, 1);
		fake_of(&t)->mode = FAKE_DEFER;
		/* Many polls from one battery: one parked request, nothing overflows. */
		for (int k = 0; k < SHELLY_SLOTS + 5; k++)
			send_to(&t, 0, REQ_EM("1"), strlen(REQ_EM("1")));
		assert_int_equal(pump(&t, buf, sizeof(buf), 100), -1);
		teardown(&t, order == 0); /* ASan: no waiter left dangling */
	}
}

/* Torn down (reload, shutdown) with a request parked: it is answered with the reading
 * that landed meanwhile in the cache if still fresh, not dropped. Here: a push-style
 * WAIT_FOR_NEXT_MESSAGE wait is simulated by a pull meter whose reading is fresh. */
static void test_teardown_answers_parked(void **state)
{
	(void)state;
	struct t t;
	uint16_t ports[] = {0};
	char buf[2048];
	setup(&t, "[GENERAL]\n[FAKE]\nTHROTTLE_INTERVAL = 60\n", ports, 1);
	fake_of(&t)->mode = FAKE_DEFER;
	send_to(&t, 0, REQ_EM("4"), strlen(REQ_EM("4")));
	assert_int_equal(pump(&t, buf, sizeof(buf), 100), -1);
	/* A reading lands in the cache without waking the parked request (as if it came
	 * for another meter path); then the emulator goes. */
	struct pm_waiter *parked = t.m->waiters;
	assert_non_null(parked);
	t.m->waiters = NULL;
	parked->pprev = &t.m->waiters;
	struct pm_reading r = {.n = 1, .w = {123}};
	pm_meter_publish(t.m, &r);
	t.m->waiters = parked;
	emu_shelly_ops.destroy(t.emu);
	ssize_t n = recv(t.client, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(strncmp(buf, "{\"id\":4,", 7), 0);
	assert_non_null(strstr(buf, "\"a_act_power\":123.0"));
	t.emu = NULL;
	pm_meter_free(t.m);
	close(t.client);
	ev_free(t.loop);
	cfg_free(&t.cfg);
}

/* A flood from more source addresses than the tracking table holds (spoofed addresses
 * cost a LAN host nothing) must not evict a live battery: it stays tracked, so it keeps
 * the parked slots reserved for known batteries while strangers hold every other one. */
static void test_stranger_flood_keeps_battery_tracked(void **state)
{
	(void)state;
	struct t t;
	uint16_t ports[] = {0};
	char buf[2048];
	setup(&t, ini_plain, ports, 1);
	fake_of(&t)->mode = FAKE_DEFER;
	/* The real battery polls once and is answered. */
	send_to(&t, 0, REQ_EM("1"), strlen(REQ_EM("1")));
	assert_int_equal(pump(&t, buf, sizeof(buf), 50), -1);
	struct pm_reading r = {.n = 1, .w = {200}};
	pm_meter_publish(t.m, &r);
	assert_true(pump(&t, buf, sizeof(buf), 300) > 0);
	/* Let the reading age past the freshness bound, so the next requests park. */
	assert_int_equal(pump(&t, buf, sizeof(buf), PM_DEFAULT_FRESH_MS + 50), -1);
	/* 40 strangers from 40 addresses, one request each, while the next fetch runs. */
	enum { NSTRANGERS = 40 };
	int fds[NSTRANGERS];
	struct sockaddr_in to = {.sin_family = AF_INET,
	                         .sin_port = htons(shelly_emu_bound_port(t.emu, 0)),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < NSTRANGERS; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "127.0.1.%d", i + 1);
		fds[i] = client_at(addr);
		assert_int_equal(sendto(fds[i], REQ_EM("9"), strlen(REQ_EM("9")), 0,
		                        (struct sockaddr *)&to, sizeof(to)),
		                 (ssize_t)strlen(REQ_EM("9")));
		(void)ev_run_once(t.loop, 0);
	}
	(void)pump(&t, buf, sizeof(buf), 50);
	/* The real battery polls again: still tracked, so it gets a slot and its answer. */
	send_to(&t, 0, REQ_EM("2"), strlen(REQ_EM("2")));
	assert_int_equal(pump(&t, buf, sizeof(buf), 50), -1);
	r.w[0] = 250;
	pm_meter_publish(t.m, &r);
	assert_true(pump(&t, buf, sizeof(buf), 300) > 0);
	assert_int_equal(strncmp(buf, "{\"id\":2,", 7), 0);
	assert_non_null(strstr(buf, "\"a_act_power\":250.0"));
	for (int i = 0; i < NSTRANGERS; i++)
		close(fds[i]);
	teardown(&t, false);
}

static void test_create_errors(void **state)
{
	(void)state;
	struct cfg cfg = {0};
	struct err e = {{0}};
	assert_int_equal(cfg_load_string(&cfg, "[GENERAL]\nDEDUPE_TIME_WINDOW = soon\n", &e), 0);
	struct emu_env env = {.general = cfg_find(&cfg, "GENERAL"), .cfg = &cfg};
	assert_null(emu_shelly_ops.create(&env, "shellyemg3", "shellyemg3-1", &e));
	assert_non_null(strstr(e.msg, "DEDUPE_TIME_WINDOW"));
	assert_null(emu_shelly_ops.create(&env, "ct002", "x", &e));
	assert_null(emu_shelly_ops.create(&env, "shellyemg3", "bad\xff", &e));
	assert_null(emu_shelly_ops.create(&env, "shellyemg3", "", &e));
	cfg_free(&cfg);
}

static void test_type_ports(void **state)
{
	(void)state;
	uint16_t p[SHELLY_MAX_PORTS];
	assert_int_equal(shelly_type_ports("shellypro3em", p), 2);
	assert_int_equal(p[0], 1010);
	assert_int_equal(p[1], 2220);
	assert_int_equal(shelly_type_ports("shellypro3em_old", p), 1);
	assert_int_equal(p[0], 1010);
	assert_int_equal(shelly_type_ports("shellypro3em_new", p), 1);
	assert_int_equal(p[0], 2220);
	assert_int_equal(shelly_type_ports("shellyemg3", p), 1);
	assert_int_equal(p[0], 2222);
	assert_int_equal(shelly_type_ports("shellyproem50", p), 1);
	assert_int_equal(p[0], 2223);
	assert_int_equal(shelly_type_ports("ct002", p), 0);
	assert_int_equal(shelly_type_ports("ShellyEMG3", p), 0);
}

/* The device-type table (REFERENCE §1.1): every DEVICE_TYPE, its emulator and default id. */
static void test_device_type_table(void **state)
{
	(void)state;
	size_t n = 0;
	const struct emu_type *t = emu_types(&n);
	assert_int_equal(n, 7);
	static const struct {
		const char *name;
		const struct emu_ops *ops;
		const char *id_prefix, *ct_section;
	} want[] = {
	        {"ct002", &emu_ct002_ops, NULL, "CT002"},
	        {"ct003", &emu_ct002_ops, NULL, "CT003"},
	        {"shellypro3em", &emu_shelly_ops, "shellypro3em", NULL},
	        {"shellyemg3", &emu_shelly_ops, "shellyemg3", NULL},
	        {"shellyproem50", &emu_shelly_ops, "shellyproem50", NULL},
	        {"shellypro3em_old", &emu_shelly_ops, "shellypro3em", NULL},
	        {"shellypro3em_new", &emu_shelly_ops, "shellypro3em", NULL},
	};
	for (size_t i = 0; i < n; i++) {
		const struct emu_type *f = emu_type_find(want[i].name);
		assert_ptr_equal(f, &t[i]);
		assert_ptr_equal(f->ops, want[i].ops);
		assert_ptr_equal(emu_ops_for_type(want[i].name), want[i].ops);
		if (want[i].id_prefix)
			assert_string_equal(f->id_prefix, want[i].id_prefix);
		else
			assert_null(f->id_prefix);
		if (want[i].ct_section)
			assert_string_equal(f->ct_section, want[i].ct_section);
		else
			assert_null(f->ct_section);
	}
	assert_null(emu_type_find("ct004"));
	assert_null(emu_type_find("CT002"));
	assert_null(emu_ops_for_type("shelly"));
	char names[128];
	emu_type_names(names, sizeof(names));
	assert_string_equal(names, "ct002, ct003, shellypro3em, shellyemg3, shellyproem50, "
	                           "shellypro3em_old, shellypro3em_new");
	emu_type_names(names, 8); /* truncated, still a string */
	assert_string_equal(names, "ct002, ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_device_type_table),
	        cmocka_unit_test(test_reply_sync_and_cached),
	        cmocka_unit_test(test_reply_parked_until_reading),
	        cmocka_unit_test(test_silence_on_failure_route_and_junk),
	        cmocka_unit_test(test_no_route),
	        cmocka_unit_test(test_dedupe_by_ip),
	        cmocka_unit_test(test_teardown_with_parked),
	        cmocka_unit_test(test_teardown_answers_parked),
	        cmocka_unit_test(test_stranger_flood_keeps_battery_tracked),
	        cmocka_unit_test(test_create_errors),
	        cmocka_unit_test(test_type_ports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
