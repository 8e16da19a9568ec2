/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the app: the command line's vocabulary shared with the setup (which device types
 * exist). app_parse_args() and app_usage() themselves are in astrameter/app.h. */
#ifndef ASTRAMETER_APP_ARGS_H
#define ASTRAMETER_APP_ARGS_H

#include <stdbool.h>

/* Whether t names an emulated device type (-d / [GENERAL] DEVICE_TYPE). */
bool app_device_type_valid(const char *t);

#endif
