/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The daemon's command line: upstream's options (-c, -log, -t, -d, --device-ids,
 * --throttle-interval) plus ours (-n, --healthcheck, --version), as argparse takes them
 * (--opt=value or --opt value; -d and --device-ids take several values). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/app.h"
#include "astrameter/emu.h"
#include "astrameter/log.h"

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
