/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The daemon as a whole: command line, configuration, module wiring, signals, run. main()
 * only calls app_parse_args() and app_main(); everything else is here so it can be tested. */
#ifndef ASTRAMETER_APP_H
#define ASTRAMETER_APP_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/err.h"
#include "astrameter/log.h"

#define APP_MAX_DEVICES 16

struct app_opts {
	const char *config_path; /* -c/--config, default "config.ini" */
	enum log_level level;    /* --loglevel, else env LOG_LEVEL, else warning */
	int skip_test;           /* -t: 1; unset: -1 */
	const char *device_types[APP_MAX_DEVICES]; /* -d/--device-types (nargs+) */
	size_t n_types;
	const char *device_ids[APP_MAX_DEVICES]; /* --device-ids (nargs+) */
	size_t n_ids;
	const char *throttle; /* --throttle-interval, as text (validated with the config) */
	bool check_config;    /* --check-config / -n */
	bool healthcheck;     /* --healthcheck: GET /health of the running daemon */
	bool version, help;
};

/* Parses argv (pointers into argv are kept). Unknown options or missing values -> -1. */
int app_parse_args(int argc, char **argv, struct app_opts *o, struct err *e);
/* Prints the usage text. */
void app_usage(const char *prog);
/* Runs the daemon (or the config check) and returns the process exit code. */
int app_main(const struct app_opts *o);

#endif
