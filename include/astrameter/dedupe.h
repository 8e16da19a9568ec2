/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Request deduplication (DEDUPE_TIME_WINDOW), shared by the CT and Shelly emulators: a
 * request is dropped if the same key was *accepted* less than window ago; dropped
 * requests do not refresh the timer. Fixed-size table, no allocation per request. */
#ifndef ASTRAMETER_DEDUPE_H
#define ASTRAMETER_DEDUPE_H

#include <stdbool.h>
#include "astrameter/ev.h"

#define DEDUPE_SLOTS 64
/* Longest key kept, NUL included: a CT002 consumer id (up to 64 bytes, CT002_ID_MAX; ct002.c
 * checks it fits) or a Shelly source address. A longer key is never remembered (accepted
 * every time), so two keys are never confused by a shared prefix. */
#define DEDUPE_KEY_LEN 72

struct dedupe {
	ev_ms window; /* <= 0: disabled */
	struct {
		char key[DEDUPE_KEY_LEN];
		ev_ms at;
	} slot[DEDUPE_SLOTS];
};

void dedupe_init(struct dedupe *d, ev_ms window);
/* true = accept (and remember now for key); false = drop as a duplicate. A key of
 * DEDUPE_KEY_LEN bytes or more is always accepted and not remembered. */
bool dedupe_accept(struct dedupe *d, const char *key, ev_ms now);

#endif
