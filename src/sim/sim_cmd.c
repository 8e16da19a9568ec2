/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astra-sim's commands: `run` (the simulator in the foreground, terminal UI or headless),
 * `start`/`stop` (a background simulator with a PID file), `attach`, and the control
 * commands that call a running simulator's HTTP API (libcurl, blocking: a command-line
 * tool waits for its answer). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astrameter/ev.h"
#include "astrameter/http_get.h"
#include "sim/sim_app.h"
#include "sim/sim_cli.h"
#include "sim/sim_config.h"

int sim_cli_call(uint16_t port, const char *method, const char *path, const char *body, char **out)
{
	struct err e;
	return http_blocking("127.0.0.1", port, method, path, body, SIM_CLI_TIMEOUT_MS, out, &e);
}

/* ---- run -------------------------------------------------------------------------------- */

static void sig_read(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct signalfd_siginfo si;
	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		ev_stop(loop);
}

static ev_ms duration_done(struct ev_loop *loop, void *arg)
{
	(void)arg;
	ev_stop(loop);
	return EV_STOP;
}

static int build_config(const struct run_opts *o, struct sim_config *cfg)
{
	struct err e;
	if (o->config) {
		if (sim_config_load(o->config, cfg, &e) < 0) {
			fprintf(stderr, "astra-sim: %s\n", e.msg);
			return -1;
		}
	} else {
		double base[3] = {0, 0, 0};
		sim_config_defaults(cfg);
		if (o->base_load) {
			char *end;
			const char *p = o->base_load;
			for (int i = 0; i < 3 && *p; i++) {
				base[i] = strtod(p, &end);
				if (end == p) {
					fprintf(stderr, "astra-sim: bad --base-load\n");
					return -1;
				}
				p = *end == ',' ? end + 1 : end;
			}
		}
		sim_config_quick(cfg, o->batteries, o->phases, o->base_load ? base : NULL, o->soc);
	}
	if (o->http_port > 0)
		cfg->http_port = (uint16_t)o->http_port;
	if (o->ct_port > 0)
		cfg->ct_port = (uint16_t)o->ct_port;
	if (o->ct_host)
		snprintf(cfg->ct_host, sizeof(cfg->ct_host), "%s", o->ct_host);
	if (o->time_scale > 0 && o->time_scale != 1.0)
		cfg->time_scale = o->time_scale;
	if (o->delay >= 0)
		sim_config_set_delay(cfg, o->delay);
	if (o->seed >= 0)
		cfg->seed = (uint64_t)o->seed;
	if (sim_config_validate(cfg, &e) < 0) {
		fprintf(stderr, "astra-sim: %s\n", e.msg);
		return -1;
	}
	return 0;
}

int sim_cmd_run(const struct run_opts *o)
{
	struct sim_config *cfg = malloc(sizeof(*cfg));
	struct sim_app *app = malloc(sizeof(*app));
	struct ev_loop *loop = ev_new(NULL, NULL);
	int rc = 1, sfd = -1;
	if (!cfg || !app || !loop) {
		fprintf(stderr, "astra-sim: out of memory\n");
		goto out;
	}
	if (build_config(o, cfg) < 0)
		goto out;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 || ev_io_add(loop, sfd, EV_READ, sig_read, NULL) < 0) {
		fprintf(stderr, "astra-sim: signalfd: %s\n", strerror(errno));
		goto out;
	}
	struct err e;
	if (sim_app_start(app, cfg, loop, &e) < 0) {
		fprintf(stderr, "astra-sim: %s\n", e.msg);
		goto out;
	}
	if (o->duration > 0)
		(void)ev_timer_add(loop, (ev_ms)(o->duration * 1000.0), duration_done, NULL);

	bool tui = !o->no_tui;
#ifndef AM_HAVE_NCURSES
	if (tui) {
		fprintf(stderr, "astra-sim: built without ncurses, running headless\n");
		tui = false;
	}
#else
	if (tui && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "astra-sim: stdin is not a terminal, running headless\n");
		tui = false;
	}
#endif
	app->headless = !tui;
	if (!tui) {
		fprintf(stdout,
		        "astra-sim: %zu batteries -> CT %s:%u, meter at http://%s:%u/power\n",
		        cfg->nbat, cfg->ct_host, cfg->ct_port, cfg->http_host, cfg->http_port);
		(void)fflush(stdout);
		rc = ev_run(loop) < 0 ? 1 : 0;
	} else {
		rc = sim_tui_run_local(app, loop);
	}
	sim_app_stop(app);
out:
	if (sfd >= 0) {
		if (loop)
			ev_io_del(loop, sfd);
		(void)close(sfd);
	}
	if (loop)
		ev_free(loop);
	free(app);
	free(cfg);
	return rc;
}

/* ---- daemon mode ------------------------------------------------------------------------ */

static void home_path(char *buf, size_t len, const char *name)
{
	const char *home = getenv("HOME");
	snprintf(buf, len, "%s/%s", home && *home ? home : ".", name);
}

static long read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = -1;
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	(void)fclose(f);
	return pid;
}

int sim_cmd_start(const struct run_opts *o)
{
	char pidf[512], logf[512];
	home_path(pidf, sizeof(pidf), ".astra-sim.pid");
	home_path(logf, sizeof(logf), ".astra-sim.log");
	long old = read_pid(pidf);
	if (old > 0 && kill((pid_t)old, 0) == 0) {
		printf("Daemon already running (PID %ld)\n", old);
		return 1;
	}
	(void)unlink(pidf);
	struct sim_config cfg;
	if (build_config(o, &cfg) < 0)
		return 1;
	(void)fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("astra-sim: fork");
		return 1;
	}
	if (pid > 0) {
		FILE *f = fopen(pidf, "w");
		if (f) {
			fprintf(f, "%ld\n", (long)pid);
			(void)fclose(f);
		}
		printf("Daemon started (PID %ld)\n", (long)pid);
		return 0;
	}
	(void)setsid();
	int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		(void)close(fd);
	}
	if (nul >= 0) {
		(void)dup2(nul, STDIN_FILENO);
		(void)close(nul);
	}
	struct run_opts ro = *o;
	ro.no_tui = true;
	_exit(sim_cmd_run(&ro));
}

static int print_reply(int status, char *out)
{
	if (status < 0) {
		free(out);
		fprintf(stderr, "Cannot connect to daemon\n");
		return 1;
	}
	cJSON *j = out ? cJSON_Parse(out) : NULL;
	char *pretty = j ? cJSON_Print(j) : NULL;
	printf("%s\n", pretty ? pretty : (out ? out : ""));
	free(pretty);
	cJSON_Delete(j);
	free(out);
	return status == 200 ? 0 : 1;
}

/* Calls the daemon's API and prints the JSON reply (sequenced: the body is read only
 * after the call has filled it). */
int sim_call_print(uint16_t port, const char *method, const char *path, const char *body)
{
	char *out = NULL;
	int st = sim_cli_call(port, method, path, body, &out);
	return print_reply(st, out);
}

int sim_cmd_stop(uint16_t port)
{
	char pidf[512];
	home_path(pidf, sizeof(pidf), ".astra-sim.pid");
	char *out = NULL;
	int st = sim_cli_call(port, "POST", "/shutdown", "{}", &out);
	int rc = 0;
	if (st == 200) {
		print_reply(st, out);
	} else {
		free(out);
		long pid = read_pid(pidf);
		if (pid > 0) {
			if (kill((pid_t)pid, SIGTERM) == 0) {
				printf("Sent SIGTERM to PID %ld\n", pid);
			} else {
				printf("Failed to stop daemon: %s\n", strerror(errno));
				rc = 1;
			}
		} else {
			printf("Daemon not running (no PID file)\n");
			rc = 1;
		}
	}
	(void)unlink(pidf);
	return rc;
}

int sim_cmd_attach(uint16_t port)
{
	return sim_tui_attach(port);
}
