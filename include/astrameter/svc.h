/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Talking to the service manager (systemd Type=notify): readiness, reload, stopping,
 * status text and the watchdog keep-alive. With libsystemd at build time (HAVE_LIBSYSTEMD)
 * this is sd_notify(); without it, the same datagram is sent by a few lines of our own,
 * so a build without libsystemd still works under Type=notify. Outside systemd
 * (NOTIFY_SOCKET unset) every call is a cheap no-op. */
#ifndef ASTRAMETER_SVC_H
#define ASTRAMETER_SVC_H

#include <stdint.h>
#include "astrameter/ev.h"

/* Sends a state string such as "READY=1\nSTATUS=running" to $NOTIFY_SOCKET. Returns 1 if
 * sent, 0 if there is no service manager to tell, -1 on error (errno set). */
int svc_notify(const char *state);
/* The interval at which the manager wants WATCHDOG=1 (WATCHDOG_USEC, honouring
 * WATCHDOG_PID), in ms; 0 if the watchdog is off. */
ev_ms svc_watchdog_ms(void);
/* Whether this build links libsystemd (for --version and the logs). */
int svc_have_libsystemd(void);

#endif
