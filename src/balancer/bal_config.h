/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the balancer: the device capability table (bal_config.c; the config defaults
 * and clamps themselves are public, in astrameter/balancer.h). */
#ifndef ASTRAMETER_BAL_CONFIG_H
#define ASTRAMETER_BAL_CONFIG_H

#include <stdbool.h>

/* Device capabilities by device-type prefix (REFERENCE §5.3). */
bool bal_dev_ac_chargeable(const char *device_type);
bool bal_dev_needs_dc_floor(const char *device_type);

#endif
