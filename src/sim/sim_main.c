/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astra-sim: the battery and meter simulator's command line. `run` starts the simulator
 * (terminal UI, or headless with --no-tui); `start`/`stop` run it as a background daemon
 * with a PID file; `attach` shows the UI of a running daemon; `status`, `load`, `solar`,
 * `battery`, `auto` talk to its HTTP API; `config` prints a matching daemon config.ini.
 * The terminal UI (ncurses, when built with it) lives here because only this program
 * links ncurses; it drives the simulator through the same router as the HTTP API. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef AM_HAVE_NCURSES
#include <curses.h>
#endif

#include "astrameter/ev.h"
#include "sim/eval.h"
#include "sim/sim_app.h"
#include "sim/sim_config.h"

#define DEFAULT_HTTP_PORT 8080

/* ---- HTTP client (blocking, loopback control calls) ----------------------------------- */

/* Sends one request to 127.0.0.1:port and returns the status; *out gets the malloc'ed
 * body. -1 if the daemon is unreachable. */
static int http_call(uint16_t port, const char *method, const char *path, const char *body,
                     char **out)
{
	*out = NULL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = 5};
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		(void)close(fd);
		return -1;
	}
	size_t blen = body ? strlen(body) : 0;
	char head[512];
	int hn = snprintf(head, sizeof(head),
	                  "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
	                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	                  method, path, blen);
	if (hn < 0 || (size_t)hn >= sizeof(head) || write(fd, head, (size_t)hn) != hn ||
	    (blen && write(fd, body, blen) != (ssize_t)blen)) {
		(void)close(fd);
		return -1;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			(void)close(fd);
			return -1;
		}
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				continue;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	buf[len] = '\0';
	int status = -1;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		free(buf);
		return -1;
	}
	char *b = strstr(buf, "\r\n\r\n");
	*out = strdup(b ? b + 4 : "");
	free(buf);
	return status;
}

/* ---- control backend shared by the TUI ------------------------------------------------- */

struct backend {
	struct sim_app *app; /* in-process, or NULL */
	uint16_t port;       /* attached daemon */
};

static int backend_call(struct backend *be, const char *method, const char *path, const char *body,
                        char **out)
{
	if (be->app)
		return sim_app_route(be->app, method, path, body, body ? strlen(body) : 0, out);
	return http_call(be->port, method, path, body, out);
}

/* ---- terminal UI ----------------------------------------------------------------------- */

#define TUI_HIST 240

struct tui {
	struct backend be;
	cJSON *status;
	int selected;
	double hist[3][TUI_HIST];
	size_t nhist;
	bool quit;
};

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static void tui_refresh_status(struct tui *t)
{
	char *out = NULL;
	int st = backend_call(&t->be, "GET", "/status", NULL, &out);
	if (st == 200 && out) {
		cJSON *j = cJSON_Parse(out);
		if (j) {
			cJSON_Delete(t->status);
			t->status = j;
			const cJSON *g = cJSON_GetObjectItemCaseSensitive(j, "grid");
			t->hist[0][t->nhist % TUI_HIST] = jnum(g, "phase_a");
			t->hist[1][t->nhist % TUI_HIST] = jnum(g, "phase_b");
			t->hist[2][t->nhist % TUI_HIST] = jnum(g, "phase_c");
			t->nhist++;
		}
	}
	free(out);
}

static void tui_post(struct tui *t, const char *path, const char *body)
{
	char *out = NULL;
	(void)backend_call(&t->be, "POST", path, body ? body : "{}", &out);
	free(out);
	tui_refresh_status(t);
}

static const cJSON *tui_battery(const struct tui *t)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(t->status, "batteries");
	return cJSON_GetArrayItem(b, t->selected);
}

static void tui_key(struct tui *t, int ch)
{
	char path[96], body[96];
	const cJSON *bat = tui_battery(t);
	const char *mac = bat ? jstr(bat, "mac") : "";
	switch (ch) {
	case 'q':
		t->quit = true;
		return;
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
		snprintf(path, sizeof(path), "/loads/%d/toggle", ch - '0');
		tui_post(t, path, NULL);
		return;
	case 's':
		tui_post(t, "/solar", "{\"watts\":\"max\"}");
		return;
	case 'S':
		tui_post(t, "/solar", "{\"watts\":\"off\"}");
		return;
	case 'b': {
		int n = cJSON_GetArraySize(
		        cJSON_GetObjectItemCaseSensitive(t->status, "batteries"));
		if (n > 0)
			t->selected = (t->selected + 1) % n;
		return;
	}
	case 'a': {
		const cJSON *am = cJSON_GetObjectItemCaseSensitive(t->status, "auto_mode");
		tui_post(t, "/auto",
		         cJSON_IsTrue(am) ? "{\"enabled\":false}" : "{\"enabled\":true}");
		return;
	}
	default:
		break;
	}
#ifdef AM_HAVE_NCURSES
	if (ch == KEY_UP || ch == KEY_DOWN) {
		const cJSON *so = cJSON_GetObjectItemCaseSensitive(t->status, "solar");
		double w = jnum(so, "current") + (ch == KEY_UP ? 100 : -100);
		snprintf(body, sizeof(body), "{\"watts\":%.1f}", w < 0 ? 0 : w);
		tui_post(t, "/solar", body);
		return;
	}
#endif
	if (!bat)
		return;
	double soc = jnum(bat, "soc");
	bool soc_key = true;
#ifdef AM_HAVE_NCURSES
	if (ch == KEY_LEFT)
		soc -= 0.1;
	else if (ch == KEY_RIGHT)
		soc += 0.1;
	else
#endif
	        if (ch == '0')
		soc = 0;
	else if (ch == '9')
		soc = 1;
	else
		soc_key = false;
	if (soc_key) {
		soc = soc < 0 ? 0 : soc > 1 ? 1 : soc;
		snprintf(path, sizeof(path), "/batteries/%s/soc", mac);
		snprintf(body, sizeof(body), "{\"soc\":%.4f}", soc);
		tui_post(t, path, body);
		return;
	}
	if (ch == 'p' || ch == 'P') {
		double d = ch == 'p' ? -100 : 100;
		double c = jnum(bat, "max_charge") + d, dis = jnum(bat, "max_discharge") + d;
		snprintf(path, sizeof(path), "/batteries/%s/max_power", mac);
		snprintf(body, sizeof(body), "{\"charge\":%.0f,\"discharge\":%.0f}", c < 0 ? 0 : c,
		         dis < 0 ? 0 : dis);
		tui_post(t, path, body);
	}
}

#ifdef AM_HAVE_NCURSES
static void tui_draw(struct tui *t)
{
	static const char ramp[] = " .:-=+*#%@";
	int rows, cols;
	getmaxyx(stdscr, rows, cols);
	erase();
	const cJSON *st = t->status;
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(st, "grid");
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(st, "solar");
	int y = 0;
	attron(A_BOLD);
	mvprintw(y++, 0, "astra-sim%s   auto: %s   solar: %.0f / %.0f W",
	         t->be.app ? "" : " (attached)",
	         cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "auto_mode")) ? "on" : "off",
	         jnum(so, "current"), jnum(so, "max"));
	attroff(A_BOLD);
	y++;
	mvprintw(y++, 0, "Grid (W, + import)   total %8.1f", jnum(g, "total"));
	static const char *const keys[] = {"phase_a", "phase_b", "phase_c"};
	int width = cols - 20;
	if (width > TUI_HIST)
		width = TUI_HIST;
	for (int p = 0; p < 3; p++) {
		double v = jnum(g, keys[p]);
		int pair = fabs(v) < 25 ? 1 : (v > 0 ? 2 : 3);
		attron(COLOR_PAIR(pair));
		mvprintw(y, 0, "  %c %9.1f  ", 'A' + p, v);
		attroff(COLOR_PAIR(pair));
		/* history: one column per sample, glyph density = |grid| relative to 1 kW */
		size_t n = t->nhist < (size_t)width ? t->nhist : (size_t)(width > 0 ? width : 0);
		for (size_t i = 0; i < n; i++) {
			double h = t->hist[p][(t->nhist - n + i) % TUI_HIST];
			int lvl = (int)(fabs(h) / 1000.0 * 9.0 + 0.5);
			lvl = lvl > 9 ? 9 : lvl;
			int hp = fabs(h) < 25 ? 1 : (h > 0 ? 2 : 3);
			attron(COLOR_PAIR(hp));
			mvaddch(y, 16 + (int)i, (chtype)ramp[lvl]);
			attroff(COLOR_PAIR(hp));
		}
		y++;
	}
	y++;
	attron(A_BOLD);
	mvprintw(y++, 0, "  %-12s %-2s %-7s %7s %7s %7s %6s %10s", "Battery", "Ph", "Type", "Power",
	         "Req", "Appl", "SoC", "Max c/d");
	attroff(A_BOLD);
	const cJSON *b;
	int i = 0;
	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(st, "batteries"))
	{
		if (y >= rows - 1)
			break;
		if (i == t->selected)
			attron(A_REVERSE);
		mvprintw(y++, 0, "%c %-12s %-2s %-7.7s %7.0f %7.0f %7.0f %5.1f%% %4.0f/%-4.0f",
		         i == t->selected ? '>' : ' ', jstr(b, "mac"), jstr(b, "phase"),
		         jstr(b, "meter_dev_type"), jnum(b, "power"), jnum(b, "target"),
		         jnum(b, "applied_target"), jnum(b, "soc") * 100.0, jnum(b, "max_charge"),
		         jnum(b, "max_discharge"));
		if (i == t->selected)
			attroff(A_REVERSE);
		i++;
	}
	y++;
	attron(A_BOLD);
	if (y < rows - 1)
		mvprintw(y++, 0, "  Loads");
	attroff(A_BOLD);
	const cJSON *l;
	i = 1;
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(st, "loads"))
	{
		if (y >= rows - 1)
			break;
		bool on = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l, "active"));
		if (on)
			attron(A_BOLD);
		mvprintw(y++, 0, "  [%d] %-22.22s %6.0f W  %s  %s", i++, jstr(l, "name"),
		         jnum(l, "power"), jstr(l, "phase"), on ? "ON" : "off");
		if (on)
			attroff(A_BOLD);
	}
	mvprintw(rows - 1, 0,
	         "1-8 load  up/down solar +-100  s/S solar max/off  b battery  left/right SoC "
	         "+-10%%  0/9 SoC  p/P max -+100  a auto  q quit");
	refresh();
}

static void tui_init_screen(void)
{
	initscr();
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(1, COLOR_GREEN, -1);
		init_pair(2, COLOR_RED, -1);
		init_pair(3, COLOR_YELLOW, -1);
	}
}

static void tui_read_keys(struct tui *t)
{
	int ch;
	while (!t->quit && (ch = getch()) != ERR)
		tui_key(t, ch);
}

static void tui_stdin(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct tui *t = arg;
	(void)fd;
	(void)events;
	tui_read_keys(t);
	if (t->quit)
		ev_stop(loop);
	else
		tui_draw(t);
}

static ev_ms tui_tick(struct ev_loop *loop, void *arg)
{
	struct tui *t = arg;
	(void)loop;
	tui_refresh_status(t);
	tui_draw(t);
	return 1000;
}
#endif

/* ---- run -------------------------------------------------------------------------------- */

struct run_opts {
	const char *config;
	int batteries, phases;
	const char *base_load;
	double soc;
	const char *ct_host;
	int ct_port, http_port;
	bool no_tui;
	double time_scale;
	int delay; /* -1 = unset */
	double duration;
	long seed; /* -1 = from config */
};

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

static int run_sim(const struct run_opts *o)
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
	}
#ifdef AM_HAVE_NCURSES
	else {
		struct tui *t = calloc(1, sizeof(*t));
		if (!t)
			goto stop;
		t->be.app = app;
		tui_init_screen();
		tui_refresh_status(t);
		tui_draw(t);
		(void)ev_io_add(loop, STDIN_FILENO, EV_READ, tui_stdin, t);
		(void)ev_timer_add(loop, 1000, tui_tick, t);
		rc = ev_run(loop) < 0 ? 1 : 0;
		ev_io_del(loop, STDIN_FILENO);
		endwin();
		cJSON_Delete(t->status);
		free(t);
	}
stop:
#endif
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

static int cmd_start(const struct run_opts *o)
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
	_exit(run_sim(&ro));
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
static int call_print(uint16_t port, const char *method, const char *path, const char *body)
{
	char *out = NULL;
	int st = http_call(port, method, path, body, &out);
	return print_reply(st, out);
}

static int cmd_stop(uint16_t port)
{
	char pidf[512];
	home_path(pidf, sizeof(pidf), ".astra-sim.pid");
	char *out = NULL;
	int st = http_call(port, "POST", "/shutdown", "{}", &out);
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

static int cmd_attach(uint16_t port)
{
#ifdef AM_HAVE_NCURSES
	char *out = NULL;
	if (http_call(port, "GET", "/status", NULL, &out) != 200) {
		free(out);
		fprintf(stderr, "Cannot connect to daemon on port %u\n", port);
		return 1;
	}
	free(out);
	struct tui *t = calloc(1, sizeof(*t));
	if (!t)
		return 1;
	t->be.port = port;
	tui_init_screen();
	while (!t->quit) {
		tui_refresh_status(t);
		tui_draw(t);
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		if (poll(&pfd, 1, 1000) > 0)
			tui_read_keys(t);
	}
	endwin();
	cJSON_Delete(t->status);
	free(t);
	return 0;
#else
	(void)port;
	fprintf(stderr, "astra-sim: built without ncurses; use `astra-sim status`\n");
	return 1;
#endif
}

/* ---- argument parsing ------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: astra-sim [run] [-c FILE] [--batteries N] [--phases 1|3] [--base-load "
	           "a,b,c]\n"
	           "                 [--soc X] [--ct-host H] [--ct-port P] [--http-port P] "
	           "[--no-tui]\n"
	           "                 [--time-scale X] [--power-update-delay N] [--duration S] "
	           "[--seed N]\n"
	           "       astra-sim start [-c FILE] [--http-port P] [--ct-port P] "
	           "[--power-update-delay N]\n"
	           "       astra-sim stop|status|attach [--http-port P]\n"
	           "       astra-sim load toggle <i> | solar set <W|off|max> | auto on|off\n"
	           "       astra-sim battery <mac> soc <0..1> | battery <mac> max-power <c> <d>\n"
	           "       astra-sim config [--http-port P] [--ct-port P] [--phases 1|3]\n"
	           "       astra-sim eval [--scenario NAME]... [--mode relay|active] ... "
	           "(see eval --help)\n");
}

enum {
	OPT_BATT = 256,
	OPT_PHASES,
	OPT_BASE,
	OPT_SOC,
	OPT_CTHOST,
	OPT_CTPORT,
	OPT_HTTPPORT,
	OPT_NOTUI,
	OPT_TS,
	OPT_DELAY,
	OPT_DUR,
	OPT_SEED,
};

static const struct option long_opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"batteries", required_argument, NULL, OPT_BATT},
        {"phases", required_argument, NULL, OPT_PHASES},
        {"base-load", required_argument, NULL, OPT_BASE},
        {"soc", required_argument, NULL, OPT_SOC},
        {"ct-host", required_argument, NULL, OPT_CTHOST},
        {"ct-port", required_argument, NULL, OPT_CTPORT},
        {"http-port", required_argument, NULL, OPT_HTTPPORT},
        {"no-tui", no_argument, NULL, OPT_NOTUI},
        {"time-scale", required_argument, NULL, OPT_TS},
        {"power-update-delay", required_argument, NULL, OPT_DELAY},
        {"duration", required_argument, NULL, OPT_DUR},
        {"seed", required_argument, NULL, OPT_SEED},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

static int parse_opts(int argc, char **argv, struct run_opts *o)
{
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case OPT_BATT:
			o->batteries = atoi(optarg);
			break;
		case OPT_PHASES:
			o->phases = atoi(optarg);
			if (o->phases != 1 && o->phases != 3) {
				fprintf(stderr, "astra-sim: --phases must be 1 or 3\n");
				return -1;
			}
			break;
		case OPT_BASE:
			o->base_load = optarg;
			break;
		case OPT_SOC:
			o->soc = atof(optarg);
			break;
		case OPT_CTHOST:
			o->ct_host = optarg;
			break;
		case OPT_CTPORT:
			o->ct_port = atoi(optarg);
			break;
		case OPT_HTTPPORT:
			o->http_port = atoi(optarg);
			break;
		case OPT_NOTUI:
			o->no_tui = true;
			break;
		case OPT_TS:
			o->time_scale = atof(optarg);
			break;
		case OPT_DELAY:
			o->delay = atoi(optarg);
			break;
		case OPT_DUR:
			o->duration = atof(optarg);
			break;
		case OPT_SEED:
			o->seed = atol(optarg);
			break;
		case 'v':
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct run_opts o = {.batteries = 1,
	                     .phases = 1,
	                     .soc = 0.5,
	                     .time_scale = 1.0,
	                     .delay = -1,
	                     .seed = -1};
	const char *cmd = "run";
	int first = 1;
	/* eval has its own options (eval_cli.c). */
	if (argc > 1 && !strcmp(argv[1], "eval"))
		return eval_main(argc - 1, argv + 1);
	if (argc > 1 && argv[1][0] != '-') {
		cmd = argv[1];
		first = 2;
	}
	/* getopt sees the subcommand's arguments with argv[0] in front. */
	char **av = argv + first - 1;
	int ac = argc - first + 1;
	char *saved = av[0];
	av[0] = argv[0];
	int prc = parse_opts(ac, av, &o);
	av[0] = saved;
	if (prc < 0)
		return 2;
	char **pos = av + optind;
	int npos = ac - optind;
	uint16_t port = (uint16_t)(o.http_port > 0 ? o.http_port : DEFAULT_HTTP_PORT);
	char path[128], body[128];

	if (!strcmp(cmd, "run"))
		return run_sim(&o);
	if (!strcmp(cmd, "start"))
		return cmd_start(&o);
	if (!strcmp(cmd, "stop"))
		return cmd_stop(port);
	if (!strcmp(cmd, "attach"))
		return cmd_attach(port);
	if (!strcmp(cmd, "status"))
		return call_print(port, "GET", "/status", NULL);
	if (!strcmp(cmd, "load") && npos == 2 && !strcmp(pos[0], "toggle")) {
		snprintf(path, sizeof(path), "/loads/%d/toggle", atoi(pos[1]));
		return call_print(port, "POST", path, "{}");
	}
	if (!strcmp(cmd, "solar") && npos == 2 && !strcmp(pos[0], "set")) {
		if (!strcmp(pos[1], "off") || !strcmp(pos[1], "max"))
			snprintf(body, sizeof(body), "{\"watts\":\"%s\"}", pos[1]);
		else
			snprintf(body, sizeof(body), "{\"watts\":%.1f}", atof(pos[1]));
		return call_print(port, "POST", "/solar", body);
	}
	if (!strcmp(cmd, "battery") && npos >= 3 && strlen(pos[0]) < 32) {
		if (!strcmp(pos[1], "soc") && npos == 3) {
			snprintf(path, sizeof(path), "/batteries/%s/soc", pos[0]);
			snprintf(body, sizeof(body), "{\"soc\":%.6f}", atof(pos[2]));
		} else if (!strcmp(pos[1], "max-power") && npos == 4) {
			snprintf(path, sizeof(path), "/batteries/%s/max_power", pos[0]);
			snprintf(body, sizeof(body), "{\"charge\":%d,\"discharge\":%d}",
			         atoi(pos[2]), atoi(pos[3]));
		} else {
			usage(stderr);
			return 2;
		}
		return call_print(port, "POST", path, body);
	}
	if (!strcmp(cmd, "auto") && npos == 1) {
		bool on = !strcasecmp(pos[0], "on") || !strcasecmp(pos[0], "true") ||
		          !strcmp(pos[0], "1");
		return call_print(port, "POST", "/auto",
		                  on ? "{\"enabled\":true}" : "{\"enabled\":false}");
	}
	if (!strcmp(cmd, "config")) {
		/* `config` defaults to three phases (run defaults to one). */
		bool set_phases = false;
		for (int i = 1; i < argc; i++)
			set_phases |= !strncmp(argv[i], "--phases", 8);
		int phases = set_phases ? o.phases : 3;
		printf("[GENERAL]\nDEVICE_TYPE = ct002\n\n[CT002]\nUDP_PORT = %d\nACTIVE_CONTROL = "
		       "True\n\n[JSON_HTTP]\nURL = http://localhost:%u/power\nJSON_PATHS = %s\n",
		       o.ct_port > 0 ? o.ct_port : 12345, port,
		       phases == 1 ? "$.phase_a" : "$.phase_a,$.phase_b,$.phase_c");
		return 0;
	}
	usage(stderr);
	return 2;
}
