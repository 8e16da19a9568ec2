/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The astra-sim program's parts (not the simulator library): command line (sim_main.c),
 * commands (sim_cmd.c) and terminal UI (sim_tui.c). */
#ifndef ASTRAMETER_SIM_CLI_H
#define ASTRAMETER_SIM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "astrameter/ev.h"
#include "sim/sim_app.h"

#define DEFAULT_HTTP_PORT 8080
/* How long a command waits for a running simulator's answer. */
#define SIM_CLI_TIMEOUT_MS 5000

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

/* `run`: the simulator in the foreground until a signal, --duration or `q`. Exit code. */
int sim_cmd_run(const struct run_opts *o);
/* `start`: forks a background `run --no-tui` with a PID file in $HOME. Exit code. */
int sim_cmd_start(const struct run_opts *o);
/* `stop`: POST /shutdown, or SIGTERM to the PID file's process. Exit code. */
int sim_cmd_stop(uint16_t port);
/* `attach`: the terminal UI of a running simulator. Exit code. */
int sim_cmd_attach(uint16_t port);
/* Calls the API and prints the JSON reply (pretty). Exit code. */
int sim_call_print(uint16_t port, const char *method, const char *path, const char *body);
/* One API call to 127.0.0.1:port: the HTTP status and *out (malloc'ed body), or -1 if the
 * simulator cannot be reached. */
int sim_cli_call(uint16_t port, const char *method, const char *path, const char *body, char **out);

/* The terminal UI on an in-process simulator (runs loop until `q` or a stop). Exit code. */
int sim_tui_run_local(struct sim_app *app, struct ev_loop *loop);
/* The terminal UI attached to 127.0.0.1:port. Exit code. */
int sim_tui_attach(uint16_t port);

#endif
