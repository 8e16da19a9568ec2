/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The daemon's run (app_main): reads and validates config.ini in full before any socket
 * opens (app_setup.c builds one struct app: HTTP client, powermeters in file order,
 * emulators), starts the health endpoint (app_health.c), runs the startup self-test
 * (app_selftest.c), then the loop. SIGINT/SIGTERM shut down cleanly.
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
#include <sys/signalfd.h>
#include <unistd.h>

#include "app/app_health.h"
#include "app/app_selftest.h"
#include "app/app_setup.h"
#include "astrameter/log.h"
#include "astrameter/svc.h"

#define COMP "main"

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
	if (app_start_devices(fresh, true, &e) != 0) {
		log_error(COMP, "reload refused: %s; keeping the running setup", e.msg);
		goto refused;
	}
	fresh->sigfd = old->sigfd;
	ev_io_del(old->loop, old->sigfd);
	old->sigfd = -1;
	if (ev_io_add(fresh->loop, fresh->sigfd, EV_READ, on_signal, fresh) != 0)
		log_error(COMP, "cannot watch signals after the reload: %s", strerror(errno));
	/* The endpoint points into the old setup: move it before that goes. */
	*web = app_web_switch(*web, fresh, boot);
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
		app_print_summary(app, stdout);
		rc = 0;
		goto done;
	}
	log_info(COMP, "astrameter %s starting with %s", AM_VERSION, o->config_path);
	/* As upstream, the web server comes up before the meters are started and tested. */
	web = app_web_start(app, boot);
	if (svc_watchdog_ms() > 0)
		(void)ev_timer_add(loop, 0, watchdog_cb, NULL);
	app->next = RUN_GO;
	if (app_start(app, &e) != 0) {
		log_error(COMP, "%s", e.msg);
		goto done;
	}
	app_web_attach(web, app);
	int st = app->skip_test ? 0 : app_selftest(app);
	if (st < 0) {
		log_error(COMP, "powermeter self-test failed; exiting (use -t or "
		                "SKIP_POWERMETER_TEST = True to skip it)");
		goto done;
	}
	if (st > 0) { /* SIGTERM/SIGINT during the self-test */
		rc = 0;
		goto done;
	}
	if (app_start_devices(app, false, &e) != 0) {
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
