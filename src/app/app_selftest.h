/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the app: the startup self-test of the powermeters (upstream's: each meter gets
 * up to 4 attempts 5 s apart; push meters wait up to 30 s for a message). */
#ifndef ASTRAMETER_APP_SELFTEST_H
#define ASTRAMETER_APP_SELFTEST_H

#include "app/app_setup.h"

/* Tests every meter of app while the loop keeps running. Returns 0 if all produced a
 * reading, -1 if one failed for good, 1 if SIGTERM/SIGINT interrupted it. A reload asked
 * for meanwhile is left in app->next: it runs once the devices are up. */
int app_selftest(struct app *app);

#endif
