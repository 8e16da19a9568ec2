/* SPDX-License-Identifier: GPL-3.0-or-later */
/* astrameter: the daemon's entry point. Everything else lives in the app library
 * (src/app/) so that it can be tested. */
#include <stdio.h>

#include "astrameter/app.h"

int main(int argc, char **argv)
{
	struct app_opts o;
	struct err e = {{0}};
	if (app_parse_args(argc, argv, &o, &e) != 0) {
		fprintf(stderr, "astrameter: %s\n", e.msg);
		return 2;
	}
	if (o.help) {
		app_usage(argv[0]);
		return 0;
	}
	if (o.version) {
		printf("astrameter %s\n", AM_VERSION);
		return 0;
	}
	return app_main(&o);
}
