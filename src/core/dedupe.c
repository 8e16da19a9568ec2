/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Request deduplication by key within a time window. The table is small and fixed: when
 * it is full, the slot accepted longest ago is reused, which can only make us accept a
 * request we would have dropped, never drop one we should answer. */
#include <string.h>

#include "astrameter/dedupe.h"

void dedupe_init(struct dedupe *d, ev_ms window)
{
	memset(d, 0, sizeof(*d));
	d->window = window;
}

bool dedupe_accept(struct dedupe *d, const char *key, ev_ms now)
{
	if (d->window <= 0)
		return true;
	size_t len = strnlen(key, DEDUPE_KEY_LEN);
	if (len >= DEDUPE_KEY_LEN)
		return true; /* cannot be compared whole: never drop on a prefix match */
	size_t oldest = 0, freeslot = DEDUPE_SLOTS;
	for (size_t i = 0; i < DEDUPE_SLOTS; i++) {
		if (!d->slot[i].key[0]) {
			if (freeslot == DEDUPE_SLOTS)
				freeslot = i;
			continue;
		}
		if (strcmp(d->slot[i].key, key) == 0) {
			if (now - d->slot[i].at < d->window)
				return false;
			d->slot[i].at = now;
			return true;
		}
		if (d->slot[i].at < d->slot[oldest].at || !d->slot[oldest].key[0])
			oldest = i;
	}
	size_t i = freeslot != DEDUPE_SLOTS ? freeslot : oldest;
	memcpy(d->slot[i].key, key, len + 1);
	d->slot[i].at = now;
	return true;
}
