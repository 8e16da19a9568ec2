/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Building one setup from config.ini: the devices from DEVICE_TYPE / DEVICE_IDS (command
 * line first) with the CT port clash check, the powermeters in file order, the schema
 * check for keys nobody read; then starting meters and devices, and tearing it all down in
 * reverse order. Nothing here opens a socket before the whole file validated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_setup.h"
#include "astrameter/cfg_schema.h"
#include "astrameter/filter.h"
#include "astrameter/log.h"

#define COMP "main"

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
	app->wmeters = calloc(cap, sizeof(*app->wmeters));
	if (!app->meters.m || !app->wmeters)
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

static void teardown(struct app *app)
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
	free(app->wmeters);
	app->wmeters = NULL;
	if (app->http)
		http_client_free(app->http);
	app->http = NULL;
	cfg_free(&app->cfg);
	app->general = NULL;
}

/* Reads and validates everything; opens no socket. */
int app_configure(struct app *app, const struct app_opts *o, struct err *e)
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

void app_print_summary(const struct app *app, FILE *f)
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

int app_start(struct app *app, struct err *e)
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
int app_start_devices(struct app *app, bool strict, struct err *e)
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

struct app *app_new(struct ev_loop *loop, struct net_ports *ports)
{
	struct app *app = calloc(1, sizeof(*app));
	if (app) {
		app->loop = loop;
		app->ports = ports;
		app->sigfd = -1;
	}
	return app;
}

void app_free(struct app *app)
{
	if (!app)
		return;
	teardown(app);
	free(app);
}
