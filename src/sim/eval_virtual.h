/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inside the evaluation: the virtual engine (eval_virtual.c). */
#ifndef ASTRAMETER_EVAL_VIRTUAL_H
#define ASTRAMETER_EVAL_VIRTUAL_H

#include "sim/eval.h"

/* The virtual engine (o->engine == EVAL_ENGINE_VIRTUAL makes eval_run_scenario call it):
 * the reference's run_scenario loop in-process. Each battery polls on its own cadence
 * (first at 0.5 + i * 0.131 s, then every poll_interval; always the earliest next);
 * before a poll every event due is applied; the battery advances its physics by its poll
 * interval and sends its CT002 request, which our CT002 core (ct002_core_update +
 * ct002_core_respond with a balancer from the [CT002] lines) answers at a virtual now; the
 * meter value is the reference's: a fresh house draw per poll into a history, served as it
 * was meter_latency ago whenever meter_interval has passed since the last read, else the
 * cached read. One sample per poll. No sockets, no clock: deterministic for a seed. Same
 * result object as the daemon engine (engine "virtual"). NULL with e on failure. */
void *eval_virtual_run(const struct eval_scenario *sc, const struct eval_opts *o, struct err *e);

#endif
