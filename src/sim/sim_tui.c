/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astra-sim's terminal UI (ncurses, when built with it): the status screen and the keys
 * that drive the simulator, either in-process (through sim_app_route) or attached to a
 * running simulator over its HTTP API. Only the astra-sim program links ncurses. */
#include <cjson/cJSON.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef AM_HAVE_NCURSES
#include <curses.h>
#endif

#include "astrameter/http_get.h"
#include "sim/sim_cli.h"

#ifdef AM_HAVE_NCURSES
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
	struct err e;
	return http_blocking("127.0.0.1", be->port, method, path, body, SIM_CLI_TIMEOUT_MS, out,
	                     &e);
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
	if (ch == KEY_UP || ch == KEY_DOWN) {
		const cJSON *so = cJSON_GetObjectItemCaseSensitive(t->status, "solar");
		double w = jnum(so, "current") + (ch == KEY_UP ? 100 : -100);
		snprintf(body, sizeof(body), "{\"watts\":%.1f}", w < 0 ? 0 : w);
		tui_post(t, "/solar", body);
		return;
	}
	if (!bat)
		return;
	double soc = jnum(bat, "soc");
	bool soc_key = true;
	if (ch == KEY_LEFT)
		soc -= 0.1;
	else if (ch == KEY_RIGHT)
		soc += 0.1;
	else if (ch == '0')
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

int sim_tui_run_local(struct sim_app *app, struct ev_loop *loop)
{
	struct tui *t = calloc(1, sizeof(*t));
	if (!t)
		return 1;
	t->be.app = app;
	tui_init_screen();
	tui_refresh_status(t);
	tui_draw(t);
	(void)ev_io_add(loop, STDIN_FILENO, EV_READ, tui_stdin, t);
	(void)ev_timer_add(loop, 1000, tui_tick, t);
	int rc = ev_run(loop) < 0 ? 1 : 0;
	ev_io_del(loop, STDIN_FILENO);
	endwin();
	cJSON_Delete(t->status);
	free(t);
	return rc;
}

int sim_tui_attach(uint16_t port)
{
	char *out = NULL;
	if (sim_cli_call(port, "GET", "/status", NULL, &out) != 200) {
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
}
#else
int sim_tui_run_local(struct sim_app *app, struct ev_loop *loop)
{
	(void)app;
	(void)loop;
	return 1;
}

int sim_tui_attach(uint16_t port)
{
	(void)port;
	fprintf(stderr, "astra-sim: built without ncurses; use `astra-sim status`\n");
	return 1;
}
#endif
