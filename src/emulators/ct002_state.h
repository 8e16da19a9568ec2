/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the CT002 emulator: the per-battery controls' state file (STATE_FILE). The
 * balancer serialises and parses the controls; this is the file I/O around it, done by
 * the emulator off the request path. */
#ifndef ASTRAMETER_CT002_STATE_H
#define ASTRAMETER_CT002_STATE_H

#include "astrameter/balancer.h"
#include "astrameter/err.h"

/* Loads the controls in path into b if the file exists (a missing file is not an
 * error). 0, or -1 with e naming the file (b unchanged). Blocking: at device creation. */
int ct002_state_load(struct balancer *b, const char *path, struct err *e);
/* Writes b's controls to path atomically (statefile_write). 0/-1 with e. Blocking: from
 * a deferred timer or at teardown, never inside a reply. */
int ct002_state_save(const struct balancer *b, const char *path, struct err *e);

#endif
