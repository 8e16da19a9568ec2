/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astra-sim: the battery and meter simulator's command line. `run` starts the simulator
 * (terminal UI, or headless with --no-tui); `start`/`stop` run it as a background daemon
 * with a PID file; `attach` shows the UI of a running daemon; `status`, `load`, `solar`,
 * `battery`, `auto` talk to its HTTP API; `config` prints a matching daemon config.ini;
 * `eval` is the steering evaluation (eval_cli.c). This file parses the arguments; the
 * commands are sim_cmd.c, the terminal UI sim_tui.c. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/eval.h"
#include "sim/sim_cli.h"

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
		return sim_cmd_run(&o);
	if (!strcmp(cmd, "start"))
		return sim_cmd_start(&o);
	if (!strcmp(cmd, "stop"))
		return sim_cmd_stop(port);
	if (!strcmp(cmd, "attach"))
		return sim_cmd_attach(port);
	if (!strcmp(cmd, "status"))
		return sim_call_print(port, "GET", "/status", NULL);
	if (!strcmp(cmd, "load") && npos == 2 && !strcmp(pos[0], "toggle")) {
		snprintf(path, sizeof(path), "/loads/%d/toggle", atoi(pos[1]));
		return sim_call_print(port, "POST", path, "{}");
	}
	if (!strcmp(cmd, "solar") && npos == 2 && !strcmp(pos[0], "set")) {
		if (!strcmp(pos[1], "off") || !strcmp(pos[1], "max"))
			snprintf(body, sizeof(body), "{\"watts\":\"%s\"}", pos[1]);
		else
			snprintf(body, sizeof(body), "{\"watts\":%.1f}", atof(pos[1]));
		return sim_call_print(port, "POST", "/solar", body);
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
		return sim_call_print(port, "POST", path, body);
	}
	if (!strcmp(cmd, "auto") && npos == 1) {
		bool on = !strcasecmp(pos[0], "on") || !strcasecmp(pos[0], "true") ||
		          !strcmp(pos[0], "1");
		return sim_call_print(port, "POST", "/auto",
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
