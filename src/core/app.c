/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The daemon: parses the command line, reads and validates config.ini in full before any
 * socket opens, builds one struct app (loop, HTTP client, powermeters in file order,
 * emulators), runs the startup self-test, then the loop. SIGINT/SIGTERM shut down cleanly.
 * SIGHUP/SIGUSR1 reload without ever silencing a battery: the new setup is built and
 * started beside the running one (its devices take over the running devices' UDP
 * sockets through a net_ports table), and only when all of it runs is the old one torn
 * down. A config that no longer validates, or a new setup that cannot start, is reported
 * and the running setup is kept. A reload does not self-test the meters and never waits
 * for one: a meter that is down is reported by its own log lines and by /health, and the
 * batteries get the hold answer meanwhile. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "astrameter/app.h"
#include "astrameter/cfg_schema.h"
#include "astrameter/config.h"
#include "astrameter/emu.h"
#include "astrameter/ev.h"
#include "astrameter/filter.h"
#include "astrameter/http.h"
#include "astrameter/http_get.h"
#include "astrameter/log.h"
#include "astrameter/net.h"
#include "astrameter/powermeter.h"
#include "astrameter/svc.h"
#include "astrameter/web.h"

#define COMP "main"

/* Self-test as upstream: each meter gets up to 4 attempts 5 s apart. */
#define SELFTEST_ATTEMPTS     4
#define SELFTEST_RETRY_MS     5000
#define SELFTEST_PUSH_WAIT_MS 30000

struct app_device {
	const struct emu_ops *ops;
	void *self;
	char type[32];
	char id[64];
	char port_key[32]; /* where its UDP port is configured, e.g. "[CT002] UDP_PORT" */
};

struct app {
	struct ev_loop *loop;
	struct net_ports *ports; /* owned by app_main: outlives every setup */
	struct cfg cfg;
	struct cfg_section *general;
	struct http_client *http;
	struct pm_ctx pmctx;
	struct pm_set meters;
	struct app_device dev[APP_MAX_DEVICES];
	size_t n_dev;
	struct web_device wdev[APP_MAX_DEVICES]; /* the devices as the health endpoint sees them */
	bool web_enabled;                        /* [GENERAL] ENABLE_WEB_SERVER */
	long web_port;                           /* [GENERAL] WEB_SERVER_PORT */
	ev_ms health_max;                        /* [GENERAL] HEALTH_MAX_AGE (ours), ms; 0 = off */
	bool skip_test;
	int sigfd;
	enum { RUN_GO, RUN_EXIT, RUN_RELOAD } next;
};

void app_usage(const char *prog)
{
	printf("Usage: %s [options]\n"
	       "Emulates a smart meter (Marstek CT002/CT003, Shelly Pro 3EM/EM gen3/Pro EM50) for\n"
	       "Marstek batteries, reading the real grid power from your meter.\n\n"
	       "  -c, --config FILE            configuration file (default: config.ini)\n"
	       "  -log, --loglevel LEVEL       debug, info, warning, error, critical\n"
	       "                               (default: env LOG_LEVEL, else warning)\n"
	       "  -t, --skip-powermeter-test   do not test the powermeters at startup\n"
	       "  -d, --device-types TYPE...   override [GENERAL] DEVICE_TYPE: ct002 ct003\n"
	       "                               shellypro3em shellyemg3 shellyproem50\n"
	       "                               shellypro3em_old shellypro3em_new\n"
	       "      --device-ids ID...       override [GENERAL] DEVICE_IDS\n"
	       "      --throttle-interval S    override [GENERAL] THROTTLE_INTERVAL\n"
	       "  -n, --check-config           validate the configuration, print what would run,\n"
	       "                               exit 0 (valid) or 1\n"
	       "      --healthcheck            ask the running daemon's /health (port from the\n"
	       "                               config): exit 0 if healthy, else 1\n"
	       "      --version                print the version\n"
	       "  -h, --help                   this text\n\n"
	       "Signals: SIGTERM/SIGINT stop; SIGHUP/SIGUSR1 reload the configuration.\n",
	       prog);
}

int app_parse_args(int argc, char **argv, struct app_opts *o, struct err *e)
{
	memset(o, 0, sizeof(*o));
	o->config_path = "config.ini";
	o->skip_test = -1;
	o->level = LOG_LVL_WARN;
	const char *env = getenv("LOG_LEVEL");
	if (env && *env)
		(void)log_level_parse(env, &o->level); /* unknown -> warning, as upstream */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		char name[64];
		/* Accept --opt=value as well as --opt value. */
		const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
		if (eq && (size_t)(eq - a) < sizeof(name)) {
			memcpy(name, a, (size_t)(eq - a));
			name[eq - a] = '\0';
			val = eq + 1;
			a = name;
		}
#define NEED_VALUE()                                                             \
	do {                                                                     \
		if (!val) {                                                      \
			if (i + 1 >= argc)                                       \
				return err_set(e, "option %s needs a value", a); \
			val = argv[++i];                                         \
		}                                                                \
	} while (0)
		if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			NEED_VALUE();
			o->config_path = val;
		} else if (!strcmp(a, "-log") || !strcmp(a, "--loglevel") || !strcmp(a, "-l")) {
			NEED_VALUE();
			if (log_level_parse(val, &o->level) != 0)
				o->level = LOG_LVL_WARN; /* upstream falls back to warning */
		} else if (!strcmp(a, "-t") || !strcmp(a, "--skip-powermeter-test")) {
			o->skip_test = 1;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--device-types") ||
		           !strcmp(a, "--device-ids")) {
			bool types = strcmp(a, "--device-ids") != 0;
			const char **dst = types ? o->device_types : o->device_ids;
			size_t *n = types ? &o->n_types : &o->n_ids;
			*n = 0;
			if (val)
				dst[(*n)++] = val;
			while (i + 1 < argc && argv[i + 1][0] != '-') {
				if (*n >= APP_MAX_DEVICES)
					return err_set(e, "%s: at most %d entries", a,
					               APP_MAX_DEVICES);
				dst[(*n)++] = argv[++i];
			}
			if (*n == 0)
				return err_set(e, "option %s needs at least one value", a);
			if (types) {
				char names[128];
				emu_type_names(names, sizeof(names));
				for (size_t k = 0; k < *n; k++)
					if (!emu_type_find(dst[k]))
						return err_set(
						        e,
						        "%s: invalid choice '%s' (choose from %s)",
						        a, dst[k], names);
			}
		} else if (!strcmp(a, "--throttle-interval")) {
			NEED_VALUE();
			o->throttle = val;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--check-config")) {
			o->check_config = true;
		} else if (!strcmp(a, "--healthcheck")) {
			o->healthcheck = true;
		} else if (!strcmp(a, "--version")) {
			o->version = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			o->help = true;
		} else {
			return err_set(e, "unknown option '%s' (see --help)", argv[i]);
		}
#undef NEED_VALUE
	}
	return 0;
}

/* Splits a comma list in place into at most cap trimmed, non-empty items. */
static size_t split_list(char *s, char **out, size_t cap)
{
	size_t n = 0;
	for (char *tok = strtok(s, ","); tok && n < cap; tok = strtok(NULL, ",")) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		size_t len = strlen(tok);
		while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
			tok[--len] = '\0';
		if (*tok)
			out[n++] = tok;
	}
	return n;
}

/* Resolves DEVICE_TYPE / DEVICE_IDS (CLI first) into app->dev[] (no sockets yet). */
static int resolve_devices(struct app *app, const struct app_opts *o, struct emu_env *env,
                           struct err *e)
{
	char types_buf[512], ids_buf[1024];
	char *types[APP_MAX_DEVICES], *ids[APP_MAX_DEVICES];
	size_t nt = 0, ni = 0;
	if (o->n_types) {
		for (size_t i = 0; i < o->n_types; i++)
			types[nt++] = (char *)o->device_types[i];
	} else {
		const char *v;
		if (cfg_get_str(app->general, "device_type", "shellypro3em", &v, e) != 0)
			return -1;
		snprintf(types_buf, sizeof(types_buf), "%s", v);
		nt = split_list(types_buf, types, APP_MAX_DEVICES);
		for (size_t i = 0; i < nt; i++)
			if (!emu_type_find(types[i]))
				return err_set(e, "[GENERAL] DEVICE_TYPE: unknown device type '%s'",
				               types[i]);
	}
	if (nt == 0)
		return err_set(e, "[GENERAL] DEVICE_TYPE: no device type given");
	if (o->n_ids) {
		for (size_t i = 0; i < o->n_ids; i++)
			ids[ni++] = (char *)o->device_ids[i];
	} else {
		const char *v;
		if (cfg_get_str(app->general, "device_ids", "", &v, e) != 0)
			return -1;
		snprintf(ids_buf, sizeof(ids_buf), "%s", v);
		ni = split_list(ids_buf, ids, APP_MAX_DEVICES);
	}
	for (size_t i = 0; i < nt; i++) {
		if (app->n_dev >= APP_MAX_DEVICES)
			return err_set(e, "too many devices (at most %d)", APP_MAX_DEVICES);
		struct app_device *d = &app->dev[app->n_dev++];
		snprintf(d->type, sizeof(d->type), "%s", types[i]);
		const struct emu_type *et = emu_type_find(types[i]);
		const char *pfx = et ? et->id_prefix : NULL;
		if (i < ni)
			snprintf(d->id, sizeof(d->id), "%s", ids[i]);
		else if (pfx)
			snprintf(d->id, sizeof(d->id), "%s-ec4609c439c%zu", pfx, i + 1);
		else
			snprintf(d->id, sizeof(d->id), "device-%zu", i + 1);
		d->ops = emu_ops_for_type(d->type);
		if (!d->ops)
			return err_set(e, "device type '%s' is not available", d->type);
	}
	/* Two CT devices on one UDP port cannot both bind: refuse before opening anything. */
	long ct_ports[APP_MAX_DEVICES];
	size_t n_ct = 0;
	for (size_t i = 0; i < app->n_dev; i++) {
		const struct emu_type *et = emu_type_find(app->dev[i].type);
		if (!et || !et->ct_section)
			continue;
		struct cfg_section *s = cfg_find(&app->cfg, et->ct_section);
		if (!s)
			s = cfg_find(&app->cfg, "CT002");
		long port;
		if (cfg_get_int(s, "udp_port", 12345, 1, 65535, &port, e) != 0)
			return -1;
		snprintf(app->dev[i].port_key, sizeof(app->dev[i].port_key), "[%s] UDP_PORT",
		         s ? s->name : "CT002");
		for (size_t k = 0; k < n_ct; k++)
			if (ct_ports[k] == port)
				return err_set(
				        e,
				        "[CT002]/[CT003] UDP_PORT: several CT002/CT003 devices "
				        "use port %ld; set UDP_PORT in [CT003] to another port",
				        port);
		ct_ports[n_ct++] = port;
	}
	for (size_t i = 0; i < app->n_dev; i++) {
		struct app_device *d = &app->dev[i];
		d->self = d->ops->create(env, d->type, d->id, e);
		if (!d->self)
			return -1;
	}
	return 0;
}

static bool section_built(const struct cfg_schema_kind *kind, const char *section, void *arg)
{
	(void)arg;
	if (kind->cls == CFG_KIND_POWERMETER)
		return pm_driver_for_section(section) != NULL;
	return kind->here;
}

static int build_meters(struct app *app, struct err *e)
{
	size_t cap = app->cfg.n ? app->cfg.n : 1;
	app->meters.m = calloc(cap, sizeof(*app->meters.m));
	if (!app->meters.m)
		return err_set(e, "out of memory");
	for (size_t i = 0; i < app->cfg.n; i++) {
		struct cfg_section *s = &app->cfg.sec[i];
		const struct pm_driver *drv = pm_driver_for_section(s->name);
		if (!drv)
			continue; /* not a powermeter, or one not built here (schema reports it) */
		struct pm_meter *m = pm_meter_new(drv, s, app->general, &app->pmctx, e);
		if (!m)
			return -1;
		app->meters.m[app->meters.n++] = m;
	}
	if (app->meters.n == 0)
		return err_set(e, "no usable powermeter section in the configuration (e.g. "
		                  "[JSON_HTTP] with URL and JSON_PATHS)");
	return 0;
}

static void app_teardown(struct app *app)
{
	for (size_t i = app->n_dev; i-- > 0;)
		if (app->dev[i].self)
			app->dev[i].ops->destroy(app->dev[i].self);
	app->n_dev = 0;
	for (size_t i = app->meters.n; i-- > 0;)
		pm_meter_free(app->meters.m[i]);
	free(app->meters.m);
	app->meters.m = NULL;
	app->meters.n = 0;
	if (app->http)
		http_client_free(app->http);
	app->http = NULL;
	cfg_free(&app->cfg);
	app->general = NULL;
}

/* Reads and validates everything; opens no socket. */
static int app_configure(struct app *app, const struct app_opts *o, struct err *e)
{
	memset(&app->cfg, 0, sizeof(app->cfg));
	if (cfg_load_file(&app->cfg, o->config_path, e) != 0)
		return -1;
	app->general = cfg_find(&app->cfg, "GENERAL");
	if (!app->general)
		app->general = cfg_add_section(&app->cfg, "GENERAL");
	if (!app->general)
		return err_set(e, "out of memory");
	if (o->throttle && cfg_set(app->general, "throttle_interval", o->throttle) != 0)
		return err_set(e, "out of memory");
	bool skip;
	if (cfg_get_bool(app->general, "skip_powermeter_test", false, &skip, e) != 0)
		return -1;
	double max_age;
	if (cfg_get_bool(app->general, "enable_web_server", true, &app->web_enabled, e) != 0 ||
	    cfg_get_int(app->general, "web_server_port", WEB_DEFAULT_PORT, 1, 65535, &app->web_port,
	                e) != 0 ||
	    cfg_get_double(app->general, "health_max_age", WEB_DEFAULT_MAX_AGE_MS / 1000.0, 0,
	                   86400 * 365, &max_age, e) != 0)
		return -1;
	app->health_max = (ev_ms)(max_age * 1000.0);
	app->skip_test = o->skip_test == 1 ? true : skip;

	app->http = http_client_new(app->loop);
	if (!app->http)
		return err_set(e, "cannot create the HTTP client");
	app->pmctx.loop = app->loop;
	app->pmctx.http = app->http;
	if (build_meters(app, e) != 0)
		return -1;
	struct emu_env env = {.loop = app->loop,
	                      .ports = app->ports,
	                      .meters = &app->meters,
	                      .cfg = &app->cfg,
	                      .general = app->general};
	if (resolve_devices(app, o, &env, e) != 0)
		return -1;
	/* Keys nobody asked for: unknown, or known upstream but not built here. */
	size_t n_pm_kinds = 0;
	const struct cfg_schema_kind *pm_kinds = pm_schema_kinds(&n_pm_kinds);
	cfg_schema_set_meter_kinds(pm_kinds, n_pm_kinds);
	cfg_schema_check(&app->cfg, section_built, NULL);
	return 0;
}

static void print_summary(const struct app *app, FILE *f)
{
	fprintf(f, "configuration OK\n");
	for (size_t i = 0; i < app->n_dev; i++) {
		char buf[256] = "";
		if (app->dev[i].ops->describe)
			app->dev[i].ops->describe(app->dev[i].self, buf, sizeof(buf));
		fprintf(f, "device %s (%s): %s\n", app->dev[i].type, app->dev[i].id, buf);
	}
	for (size_t i = 0; i < app->meters.n; i++) {
		const struct pm_meter *m = app->meters.m[i];
		char chain[256];
		flt_chain_describe(m->chain, chain, sizeof(chain));
		fprintf(f,
		        "powermeter [%s]: %s, %zu netmask(s), throttle %lld ms, wait for next %s,"
		        " filters: %s\n",
		        m->name, m->drv->name, m->n_netmask, (long long)m->throttle_ms,
		        m->wait_for_next ? "yes" : "no", chain);
	}
	fprintf(f, "powermeter self-test: %s\n", app->skip_test ? "skipped" : "at startup");
}

struct selftest {
	struct pm_waiter w;
	struct pm_meter *m;
	int attempts;
	bool waiting, ok, failed;
	ev_ms next_try;
};

static void selftest_result(struct selftest *t, const struct pm_reading *r)
{
	t->waiting = false;
	if (r) {
		t->ok = true;
		log_info(COMP, "powermeter [%s] self-test OK", t->m->name);
		return;
	}
	log_warnx(COMP, "powermeter [%s] self-test attempt %d of %d failed: %s", t->m->name,
	          t->attempts, SELFTEST_ATTEMPTS,
	          t->m->last_error[0] ? t->m->last_error : "no reading in time");
	if (t->attempts >= SELFTEST_ATTEMPTS)
		t->failed = true;
}

static void selftest_cb(struct pm_waiter *w, const struct pm_reading *r, void *arg)
{
	(void)w;
	selftest_result(arg, r);
}

static void on_signal(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)events;
	struct app *app = arg;
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP || si.ssi_signo == SIGUSR1) {
			log_info(COMP, "signal %u: reloading the configuration", si.ssi_signo);
			if (app->next != RUN_EXIT)
				app->next = RUN_RELOAD;
		} else {
			log_info(COMP, "signal %u: shutting down", si.ssi_signo);
			app->next = RUN_EXIT;
		}
		ev_stop(loop);
	}
}

/* Tests every meter as upstream does (up to 4 attempts 5 s apart; push meters wait up to
 * 30 s for a message). Returns 0 if all produced a reading, -1 if one failed for good, 1
 * if SIGTERM/SIGINT interrupted it. The loop keeps running meanwhile. A reload asked for
 * meanwhile is left in app->next: it runs once the devices are up. */
static int run_selftest(struct app *app)
{
	size_t n = app->meters.n;
	struct selftest *st = calloc(n, sizeof(*st));
	if (!st)
		return -1;
	for (size_t i = 0; i < n; i++)
		st[i].m = app->meters.m[i];
	int rc = 0;
	for (;;) {
		ev_ms now = ev_update_now(app->loop);
		bool all_ok = true;
		for (size_t i = 0; i < n; i++) {
			struct selftest *t = &st[i];
			if (t->failed) {
				log_error(COMP, "powermeter [%s] failed its self-test", t->m->name);
				rc = -1;
				goto out;
			}
			if (t->ok)
				continue;
			all_ok = false;
			if (t->waiting || now < t->next_try)
				continue;
			t->attempts++;
			t->next_try = now + SELFTEST_RETRY_MS;
			struct pm_reading r;
			t->waiting = true;
			int got = pm_meter_read(t->m, now, &t->w, selftest_cb, t, &r);
			if (got == 0 && t->m->drv->push)
				t->w.deadline = now + SELFTEST_PUSH_WAIT_MS;
			else if (got != 0)
				selftest_result(t, got == 1 ? &r : NULL);
		}
		if (all_ok)
			break;
		if (ev_run_once(app->loop, 200) < 0) {
			rc = -1;
			break;
		}
		if (app->next == RUN_EXIT) {
			rc = 1;
			break;
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		pm_waiter_cancel(&st[i].w);
	free(st);
	return rc;
}

static int app_start(struct app *app, struct err *e)
{
	for (size_t i = 0; i < app->meters.n; i++)
		if (pm_meter_start(app->meters.m[i], e) != 0)
			return -1;
	return 0;
}

/* Starts the devices, their ports claimed through app->ports between begin and commit or
 * abort. At startup (strict false), as upstream, a device that cannot start is logged and
 * does not stop the others; -1 only if none started. On a reload (strict true) any device
 * that cannot start fails the whole new setup (-1 with e): the running one is kept. */
static int start_devices(struct app *app, bool strict, struct err *e)
{
	size_t started = 0;
	net_ports_begin(app->ports);
	for (size_t i = 0; i < app->n_dev; i++) {
		struct err de = {{0}};
		struct app_device *d = &app->dev[i];
		if (d->ops->start(d->self, &de) != 0) {
			const char *k = d->port_key[0] ? d->port_key : "";
			if (strict) {
				net_ports_abort(app->ports);
				return err_set(e, "device %s (%s) cannot start%s%s: %s", d->type,
				               d->id, *k ? ", port from " : "", k, de.msg);
			}
			log_error(COMP, "device %s (%s) not started%s%s: %s", d->type, d->id,
			          *k ? ", port from " : "", k, de.msg);
			continue;
		}
		char buf[256] = "";
		if (d->ops->describe)
			d->ops->describe(d->self, buf, sizeof(buf));
		log_info(COMP, "device %s (%s) running: %s", d->type, d->id, buf);
		started++;
	}
	net_ports_commit(app->ports);
	if (!started)
		return err_set(e, "no device could be started");
	return 0;
}

static int setup_signals(struct app *app)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	/* A battery that vanishes mid-reply must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	app->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (app->sigfd < 0)
		return -1;
	return ev_io_add(app->loop, app->sigfd, EV_READ, on_signal, app);
}

/* `astrameter --healthcheck`: the daemon's /health on 127.0.0.1, port from the config
 * (a config that cannot be read falls back to the default port). Exit code 0 iff 200. */
static int app_healthcheck(const struct app_opts *o)
{
	struct cfg cfg;
	struct err e = {{0}};
	long port = WEB_DEFAULT_PORT;
	bool enabled = true;
	memset(&cfg, 0, sizeof(cfg));
	if (cfg_load_file(&cfg, o->config_path, &e) != 0) {
		fprintf(stderr, "astrameter: %s (trying port %ld)\n", e.msg, port);
	} else {
		struct cfg_section *g = cfg_find(&cfg, "GENERAL");
		if (cfg_get_bool(g, "enable_web_server", true, &enabled, &e) != 0 ||
		    cfg_get_int(g, "web_server_port", WEB_DEFAULT_PORT, 1, 65535, &port, &e) != 0) {
			fprintf(stderr, "astrameter: %s\n", e.msg);
			cfg_free(&cfg);
			return 1;
		}
	}
	cfg_free(&cfg);
	if (!enabled) {
		fprintf(stderr, "astrameter: ENABLE_WEB_SERVER is off: no /health to ask\n");
		return 1;
	}
	int st = http_blocking("127.0.0.1", (uint16_t)port, "GET", "/health", NULL, 5000, NULL, &e);
	if (st < 0) {
		fprintf(stderr, "astrameter: health check failed: %s\n", e.msg);
		return 1;
	}
	printf("http://127.0.0.1:%ld/health: %d\n", port, st);
	return st == 200 ? 0 : 1;
}

/* Starts the health endpoint with the settings of app (NULL if disabled or on error: a
 * port in use is logged, naming the port, and is not fatal, as upstream). */
static struct web_server *web_start(const struct app *app, ev_ms boot)
{
	if (!app->web_enabled)
		return NULL;
	struct web_opts wo = {.port = (uint16_t)app->web_port,
	                      .max_age_ms = app->health_max,
	                      .version = AM_VERSION,
	                      .git_commit = getenv("GIT_COMMIT_SHA"),
	                      .boot = boot};
	struct err e = {{0}};
	struct web_server *w = web_server_new(app->loop, &wo, &e);
	if (!w)
		log_error(COMP, "health endpoint not available: %s", e.msg);
	else
		log_info(COMP, "health endpoint on http://0.0.0.0:%u/health",
		         (unsigned)web_server_port(w));
	return w;
}

/* Points the health endpoint at app's meters and devices. */
static void web_attach(struct web_server *w, struct app *app)
{
	if (!w)
		return;
	for (size_t i = 0; i < app->n_dev; i++)
		app->wdev[i] = (struct web_device){.type = app->dev[i].type,
		                                   .id = app->dev[i].id,
		                                   .ops = app->dev[i].ops,
		                                   .self = app->dev[i].self};
	web_server_set_sources(w, &app->meters, app->wdev, app->n_dev, ev_now(app->loop));
}

/* Keeps systemd's watchdog (WatchdogSec=) fed from the loop itself: if the loop wedges,
 * the pings stop and systemd restarts us. */
static ev_ms watchdog_cb(struct ev_loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	(void)svc_notify("WATCHDOG=1");
	ev_ms ms = svc_watchdog_ms();
	return ms > 0 ? ms / 2 : EV_STOP;
}

static struct app *app_new(struct ev_loop *loop, struct net_ports *ports)
{
	struct app *app = calloc(1, sizeof(*app));
	if (app) {
		app->loop = loop;
		app->ports = ports;
		app->sigfd = -1;
	}
	return app;
}

static void app_free(struct app *app)
{
	if (!app)
		return;
	app_teardown(app);
	free(app);
}

/* The health endpoint for a new setup: the running one is kept (and pointed at fresh)
 * when its port is unchanged, so a reload does not drop its listening socket. */
static struct web_server *web_switch(struct web_server *web, struct app *fresh, ev_ms boot)
{
	if (web && fresh->web_enabled && web_server_port(web) == (uint16_t)fresh->web_port) {
		web_server_set_max_age(web, fresh->health_max);
		web_attach(web, fresh);
		return web;
	}
	web_server_free(web);
	web = web_start(fresh, boot);
	web_attach(web, fresh);
	return web;
}

/* SIGHUP: builds the new setup beside the running one and swaps only when all of it
 * runs. Returns the setup that runs afterwards (old if anything failed; then old is
 * untouched and keeps answering). Never blocks on a meter and never exits. */
static struct app *app_reload(struct app *old, const struct app_opts *o, struct web_server **web,
                              ev_ms boot)
{
	struct err e = {{0}};
	old->next = RUN_GO;
	(void)svc_notify("RELOADING=1");
	struct app *fresh = app_new(old->loop, old->ports);
	if (!fresh) {
		log_error(COMP, "reload refused: out of memory; keeping the running setup");
		goto refused;
	}
	if (app_configure(fresh, o, &e) != 0) {
		log_error(COMP,
		          "reload refused, configuration error: %s; keeping the running setup",
		          e.msg);
		goto refused;
	}
	if (app_start(fresh, &e) != 0) {
		log_error(COMP, "reload refused: %s; keeping the running setup", e.msg);
		goto refused;
	}
	/* The new devices take over the running devices' sockets (same ports) or bind new
	 * ones; until the old devices go, both answer on the same socket, never neither. */
	if (start_devices(fresh, true, &e) != 0) {
		log_error(COMP, "reload refused: %s; keeping the running setup", e.msg);
		goto refused;
	}
	fresh->sigfd = old->sigfd;
	ev_io_del(old->loop, old->sigfd);
	old->sigfd = -1;
	if (ev_io_add(fresh->loop, fresh->sigfd, EV_READ, on_signal, fresh) != 0)
		log_error(COMP, "cannot watch signals after the reload: %s", strerror(errno));
	/* The endpoint points into the old setup: move it before that goes. */
	*web = web_switch(*web, fresh, boot);
	app_free(old);
	/* No self-test on a reload: ask every pull meter once so that a dead one shows in
	 * the log and in /health now rather than at the next battery request. */
	ev_ms now = ev_update_now(fresh->loop);
	for (size_t i = 0; i < fresh->meters.n; i++)
		pm_meter_kick(fresh->meters.m[i], now);
	log_info(COMP, "configuration reloaded: %zu device(s), %zu powermeter(s)", fresh->n_dev,
	         fresh->meters.n);
	(void)svc_notify("READY=1\nSTATUS=running");
	return fresh;
refused:
	app_free(fresh);
	(void)svc_notify("READY=1\nSTATUS=running (reload refused)");
	return old;
}

int app_main(const struct app_opts *o)
{
	log_set_level(o->level);
	if (o->healthcheck)
		return app_healthcheck(o);
	struct err e = {{0}};
	int rc = 1;
	struct web_server *web = NULL;
	struct app *app = NULL;
	struct net_ports *ports = NULL;
	struct ev_loop *loop = ev_new(NULL, NULL);
	if (!loop) {
		log_error(COMP, "cannot create the event loop: %s", strerror(errno));
		return 1;
	}
	ev_ms boot = ev_update_now(loop);
	ports = net_ports_new();
	app = ports ? app_new(loop, ports) : NULL;
	if (!app)
		goto done;
	if (!o->check_config && setup_signals(app) != 0) {
		log_error(COMP, "cannot set up signal handling: %s", strerror(errno));
		goto done;
	}
	if (app_configure(app, o, &e) != 0) {
		fprintf(stderr, "%s: configuration error: %s\n", o->config_path, e.msg);
		goto done;
	}
	if (o->check_config) {
		print_summary(app, stdout);
		rc = 0;
		goto done;
	}
	log_info(COMP, "astrameter %s starting with %s", AM_VERSION, o->config_path);
	/* As upstream, the web server comes up before the meters are started and tested. */
	web = web_start(app, boot);
	if (svc_watchdog_ms() > 0)
		(void)ev_timer_add(loop, 0, watchdog_cb, NULL);
	app->next = RUN_GO;
	if (app_start(app, &e) != 0) {
		log_error(COMP, "%s", e.msg);
		goto done;
	}
	web_attach(web, app);
	int st = app->skip_test ? 0 : run_selftest(app);
	if (st < 0) {
		log_error(COMP, "powermeter self-test failed; exiting (use -t or "
		                "SKIP_POWERMETER_TEST = True to skip it)");
		goto done;
	}
	if (st > 0) { /* SIGTERM/SIGINT during the self-test */
		rc = 0;
		goto done;
	}
	if (start_devices(app, false, &e) != 0) {
		log_error(COMP, "%s", e.msg);
		goto done;
	}
	(void)svc_notify("READY=1\nSTATUS=running");
	for (;;) {
		/* A reload asked for during the self-test runs now, without entering the loop. */
		if (app->next == RUN_GO && ev_run(loop) != 0) {
			log_error(COMP, "event loop failed: %s", strerror(errno));
			break;
		}
		if (app->next == RUN_EXIT) {
			rc = 0;
			break;
		}
		app = app_reload(app, o, &web, boot);
	}
done:
	if (!o->check_config)
		(void)svc_notify("STOPPING=1");
	web_server_free(web);
	if (app && app->sigfd >= 0) {
		ev_io_del(loop, app->sigfd);
		close(app->sigfd);
		app->sigfd = -1;
	}
	app_free(app);
	net_ports_free(ports);
	ev_free(loop);
	return rc;
}
