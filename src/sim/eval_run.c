/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The evaluation runner (see eval.h): one scenario against the real astrameter daemon over
 * loopback. The daemon gets a generated config.ini (CT002 on a free UDP port, relay or
 * active control, a JSON_HTTP meter on the simulator's /power); the simulator runs on its
 * own event loop with the scenario's batteries, house, meter interval and latency, no poll
 * jitter (the reference's evaluation polls on a fixed cadence), and a tick hook that
 * applies the scheduled world changes and records the true grid on every meter tick.
 * Wall time is real because the daemon is real: time_scale > 1 speeds the simulator up,
 * which is safe in relay mode only (the daemon then just forwards meter readings, with no
 * time constants of its own); in active mode the balancer's pacing and timers run on the
 * daemon's clock, so the runner refuses to scale there. */
#include "sim/eval.h"
#include "sim/eval_virtual.h"
#include "sim/eval_world.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "astrameter/ev.h"
#include "sim/sim_app.h"

struct run {
	const struct eval_scenario *sc;
	const struct eval_opts *o;
	struct sim_app *app;
	struct ev_loop *loop;
	struct eval_world w; /* events, trace and the record */
	pid_t pid;
	bool daemon_died, oom;
	int64_t last_step[EVAL_MAX_BAT]; /* each battery's step index at the last sample */
};

static int free_udp_port(uint16_t *port, struct err *e)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, "socket: %s", strerror(errno));
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		int en = errno;
		(void)close(fd);
		return err_set(e, "free UDP port: %s", strerror(en));
	}
	*port = ntohs(sa.sin_port);
	(void)close(fd);
	return 0;
}

/* True once some socket (the daemon's) is bound to the UDP port. Read from /proc/net/udp
 * rather than probed with bind(): a probe could itself hold the port at the moment the
 * daemon binds it and make the daemon fail. */
static bool udp_port_taken(uint16_t port)
{
	static const char *const tables[] = {"/proc/net/udp", "/proc/net/udp6"};
	char line[512], want[8];
	snprintf(want, sizeof(want), ":%04X ", port);
	bool found = false;
	for (size_t t = 0; t < 2 && !found; t++) {
		FILE *f = fopen(tables[t], "r");
		if (!f)
			continue;
		while (!found && fgets(line, sizeof(line), f)) {
			/* "  sl: local_address rem_address ...": the local address is field 2 */
			char *colon = strchr(line, ':');
			char *local = colon ? colon + 1 : NULL;
			while (local && *local == ' ')
				local++;
			char *sp = local ? strchr(local, ' ') : NULL;
			if (local && sp && sp - local >= 6 && !strncmp(sp - 5, want, 6))
				found = true;
		}
		(void)fclose(f);
	}
	return found;
}

static int write_file(const char *path, const char *text, struct err *e)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return err_set(e, "%s: %s", path, strerror(errno));
	fputs(text, f);
	if (fclose(f) != 0)
		return err_set(e, "%s: write failed", path);
	return 0;
}

static int daemon_config(const struct run *r, uint16_t ct_port, uint16_t http_port, char *buf,
                         size_t cap)
{
	char lines[1536];
	if (eval_ct002_lines(r->sc, r->o, lines, sizeof(lines)) < 0)
		return -1;
	/* Every simulated battery polls from 127.0.0.1, unlike real ones: lift the per-address
	 * cap of the consumer table. */
	int n = snprintf(buf, cap,
	                 "[GENERAL]\nDEVICE_TYPE = ct002\nSKIP_POWERMETER_TEST = True\n"
	                 "ENABLE_WEB_SERVER = False\n\n"
	                 "[CT002]\nUDP_PORT = %u\nMAX_CONSUMERS_PER_ADDRESS = 32\n%s\n"
	                 "[JSON_HTTP]\nURL = http://127.0.0.1:%u/power\n"
	                 "JSON_PATHS = $.phase_a,$.phase_b,$.phase_c\n",
	                 ct_port, lines, http_port);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static pid_t spawn_daemon(const char *bin, const char *cfg, const char *log, struct err *e)
{
	pid_t pid = fork();
	if (pid < 0) {
		err_set(e, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* If the runner dies (killed, crashed), take the daemon with it instead of
		 * leaving it running on its port. */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int nul = open("/dev/null", O_RDWR);
		if (fd >= 0)
			(void)dup2(fd, STDERR_FILENO);
		if (nul >= 0) {
			(void)dup2(nul, STDIN_FILENO);
			(void)dup2(nul, STDOUT_FILENO);
		}
		execlp(bin, bin, "-c", cfg, "--loglevel", "warning", (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	return pid;
}

static void stop_daemon(pid_t pid)
{
	if (pid <= 0)
		return;
	(void)kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		struct timespec ts = {0, 50 * 1000000L};
		(void)nanosleep(&ts, NULL);
	}
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}

static void tail_log(const char *path, struct err *e)
{
	char buf[200] = "";
	FILE *f = fopen(path, "r");
	if (f) {
		(void)fseek(f, -(long)(sizeof(buf) - 1), SEEK_END);
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		(void)fclose(f);
	}
	char *nl;
	while ((nl = strchr(buf, '\n')))
		*nl = ' ';
	size_t l = strlen(e->msg);
	snprintf(e->msg + l, sizeof(e->msg) - l, " (daemon log: %s)", buf);
}

static void on_tick(struct sim_app *app, double t, bool after, void *arg)
{
	struct run *r = arg;
	if (!after) {
		if (eval_world_advance(&r->w, t) < 0)
			r->oom = true;
		return;
	}
	struct eval_sample s;
	memset(&s, 0, sizeof(s));
	s.t = t;
	s.grid = app->grid[0] + app->grid[1] + app->grid[2];
	s.consumption = app->consumption[0] + app->consumption[1] + app->consumption[2];
	for (size_t i = 0; i < app->nbat && i < EVAL_MAX_BAT; i++) {
		/* sim_bat_tick runs once per poll and advances the step index */
		s.poll |= app->bat[i].b.step_index != r->last_step[i];
		r->last_step[i] = app->bat[i].b.step_index;
		s.power[i] = app->bat[i].b.power;
		s.soc[i] = app->bat[i].b.soc;
		s.dc_input += app->bat[i].b.dc_input;
	}
	if (eval_record_add(&r->w.rec, &s) < 0)
		r->oom = true;
	if (r->pid > 0 && waitpid(r->pid, NULL, WNOHANG) == r->pid) {
		r->pid = -1;
		r->daemon_died = true;
	}
	if (t >= r->w.duration || r->oom || r->daemon_died)
		ev_stop(r->loop);
}

static double mono_s(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts the simulator and the daemon on a fresh CT port and waits until the daemon is
 * up. 0 when both run (app started, r->pid set); 1 when the port was lost to another
 * process (everything stopped again, try another); -1 on any other failure (stopped). */
static int start_pair(struct run *r, struct sim_config *cfg, const char *cfgp, const char *logp,
                      struct err *e)
{
	const struct eval_opts *o = r->o;
	uint16_t ct_port = 0;
	if (free_udp_port(&ct_port, e) < 0)
		return -1;
	eval_sim_config(r->sc, r->o, ct_port, cfg);
	if (sim_config_validate(cfg, e) < 0 || sim_app_start(r->app, cfg, r->loop, e) < 0)
		return -1;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char ini[2048];
	if (getsockname(r->app->http_fd, (struct sockaddr *)&sa, &sl) < 0) {
		err_set(e, "getsockname: %s", strerror(errno));
		goto fail;
	}
	if (daemon_config(r, ct_port, ntohs(sa.sin_port), ini, sizeof(ini)) < 0) {
		err_set(e, "daemon config too long");
		goto fail;
	}
	if (write_file(cfgp, ini, e) < 0)
		goto fail;
	r->pid = spawn_daemon(o->daemon_bin, cfgp, logp, e);
	if (r->pid < 0)
		goto fail;
	/* Wait until the daemon holds its CT port, so the first polls are answered, then a
	 * moment more: if someone else held the port, the daemon exits right away. */
	double t_wait = mono_s(), t_seen = 0;
	for (;;) {
		if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
			r->pid = -1;
			err_set(e, "daemon %s exited at start-up", o->daemon_bin);
			tail_log(logp, e);
			sim_app_stop(r->app);
			return strstr(e->msg, "Address already in use") ? 1 : -1;
		}
		if (t_seen == 0 && udp_port_taken(ct_port))
			t_seen = mono_s();
		if (t_seen > 0 && mono_s() - t_seen > 0.3)
			return 0;
		if (mono_s() - t_wait > 10.0) {
			err_set(e, "daemon did not open UDP port %u within 10 s", ct_port);
			tail_log(logp, e);
			goto fail;
		}
		struct timespec ts = {0, 20 * 1000000L};
		(void)nanosleep(&ts, NULL);
	}
fail:
	stop_daemon(r->pid);
	r->pid = -1;
	sim_app_stop(r->app);
	return -1;
}

void *eval_run_scenario(const struct eval_scenario *sc, const struct eval_opts *o, struct err *e)
{
	if (o->engine == EVAL_ENGINE_VIRTUAL)
		return eval_virtual_run(sc, o, e);
	struct run r;
	memset(&r, 0, sizeof(r));
	r.sc = sc;
	r.o = o;
	r.pid = -1;
	if (o->mode == EVAL_MODE_ACTIVE && o->time_scale > 1.0) {
		err_set(e,
		        "time scale %g: only relay mode can run faster than real time (the "
		        "balancer's timers run on the daemon's clock)",
		        o->time_scale);
		return NULL;
	}
	char dir[] = "/tmp/astra-eval-XXXXXX", cfgp[64], logp[64];
	if (!mkdtemp(dir)) {
		err_set(e, "mkdtemp: %s", strerror(errno));
		return NULL;
	}
	snprintf(cfgp, sizeof(cfgp), "%s/config.ini", dir);
	snprintf(logp, sizeof(logp), "%s/daemon.log", dir);

	cJSON *out = NULL;
	struct sim_config *cfg = malloc(sizeof(*cfg));
	r.app = calloc(1, sizeof(*r.app));
	r.loop = ev_new(NULL, NULL);
	bool started = false;
	if (!cfg || !r.app || !r.loop) {
		err_set(e, "out of memory");
		goto done;
	}
	if (eval_world_init(&r.w, sc, o, e) < 0)
		goto done;
	/* A free port can be taken by someone else between our check and the daemon's bind
	 * (parallel runs, other tests): then start over on another port. */
	for (int attempt = 0;; attempt++) {
		int rc = start_pair(&r, cfg, cfgp, logp, e);
		if (rc == 0)
			break;
		if (rc < 0 || attempt == 4)
			goto done;
		if (o->verbose)
			fprintf(stderr, "astra-sim eval: %s: %s; retrying on another port\n",
			        sc->name, e->msg);
		/* A fresh loop: the stopped simulator's periodic timers are still on the old
		 * one. */
		ev_free(r.loop);
		r.loop = ev_new(NULL, NULL);
		if (!r.loop) {
			err_set(e, "out of memory");
			goto done;
		}
	}
	started = true;
	r.w.house = &r.app->house;
	r.w.nbat = r.app->nbat < EVAL_MAX_BAT ? r.app->nbat : EVAL_MAX_BAT;
	for (size_t i = 0; i < r.w.nbat; i++)
		r.w.bat[i] = &r.app->bat[i].b;
	/* The clock starts now: simulation time 0 is when the daemon is ready. */
	r.app->poll_jitter = 0.0;
	double ts_scale = r.app->cfg.time_scale;
	r.app->meter_tick_ms = (ev_ms)fmax(10.0, 100.0 / ts_scale);
	r.app->tick = on_tick;
	r.app->tick_arg = &r;
	r.app->t0 = ev_update_now(r.loop);
	for (size_t i = 0; i < r.app->nbat; i++)
		r.app->bat[i].last_tick = r.app->t0;
	double wall0 = mono_s();
	if (ev_run(r.loop) < 0) {
		err_set(e, "event loop failed");
		goto done;
	}
	double wall = mono_s() - wall0;
	if (r.oom) {
		err_set(e, "out of memory");
		goto done;
	}
	if (r.daemon_died) {
		err_set(e, "daemon died during the run");
		tail_log(logp, e);
		goto done;
	}
	unsigned timeouts[EVAL_MAX_BAT];
	for (size_t i = 0; i < r.w.nbat; i++)
		timeouts[i] = r.app->bat[i].timeouts;
	out = eval_world_result(&r.w, o, r.app->cfg.time_scale, wall, timeouts, e);
done:
	stop_daemon(r.pid);
	if (started)
		sim_app_stop(r.app);
	if (r.loop)
		ev_free(r.loop);
	free(r.app);
	free(cfg);
	eval_world_free(&r.w);
	if (o->keep_dir || !out) {
		if (o->verbose || !out)
			fprintf(stderr, "astra-sim eval: %s: daemon config and log kept in %s\n",
			        sc->name, dir);
	} else {
		(void)unlink(cfgp);
		(void)unlink(logp);
		(void)rmdir(dir);
	}
	return out;
}
