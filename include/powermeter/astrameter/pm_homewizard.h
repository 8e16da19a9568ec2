/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HomeWizard P1 WebSocket API (v2), the pure part: the decoder of server messages
 * (authorization_requested / authorized / measurement / error) and the messages we send.
 * A measurement gives power_l1_w/power_l2_w/power_l3_w (three values, a missing L2/L3 as
 * 0) or else power_w (one value). No I/O, no clock: src/powermeter/homewizard.c owns the
 * connection, the watchdog and the staleness timer. */
#ifndef ASTRAMETER_PM_HOMEWIZARD_H
#define ASTRAMETER_PM_HOMEWIZARD_H

#include <stddef.h>
#include "astrameter/err.h"
#include "astrameter/reading.h"

/* HomeWizard's numbers from the reference. */
#define HW_MAX_AGE_MS  30000 /* a measurement older than this is stale */
#define HW_WATCHDOG_MS 45000 /* no measurement this long: reconnect */

enum pm_hw_msg_type {
	HW_MSG_BAD,         /* not JSON / not an object */
	HW_MSG_OTHER,       /* unknown type: ignored */
	HW_MSG_AUTH_REQ,    /* authorization_requested: send the token */
	HW_MSG_AUTHORIZED,  /* authorized: subscribe to measurements */
	HW_MSG_MEASUREMENT, /* *out holds values (if it had any power field) */
	HW_MSG_ERROR,       /* error; e holds data.message */
};

/* Decodes one message. For HW_MSG_MEASUREMENT *have says whether out was filled (a
 * measurement without power fields, or with a non-numeric one, fills nothing and e says
 * why); for HW_MSG_ERROR / HW_MSG_BAD e says what. */
enum pm_hw_msg_type pm_hw_handle_message(const char *msg, size_t len, struct pm_reading *out,
                                         int *have, struct err *e);

/* {"type":"authorization","data":TOKEN} and {"type":"subscribe","data":"measurement"},
 * malloc'd (NULL on allocation failure). */
char *pm_hw_msg_auth(const char *token);
char *pm_hw_msg_subscribe(void);

#endif
