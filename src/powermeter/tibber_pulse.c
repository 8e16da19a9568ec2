/* SPDX-License-Identifier: GPL-3.0-or-later */
/* TIBBER_PULSE powermeter: the Pulse Bridge's local web server returns the raw SML
 * telegram of the meter at GET /data.json?node_id=N (basic auth, user admin, password =
 * the code printed on the bridge); the SML decoder turns it into watts. */
#include "astrameter/pm_parsers.h"
#include "astrameter/sml.h"

int tibber_pulse_decode(struct tibber_pulse_cache *c, const unsigned char *body, size_t len,
                        const struct sml_obis_cfg *obis, ev_ms now, struct pm_reading *out,
                        struct err *e)
{
	struct pm_reading r = {0};
	struct err why = {{0}};
	int rc = body ? sml_decode_powers(body, len, obis, &r, &why) : -1;
	if (!body)
		err_set(&why, "empty body");
	if (rc == 0) {
		/* A valid frame without the power registers: the reference reports 0 W. */
		r.n = 1;
		r.w[0] = 0;
		rc = 1;
	}
	if (rc == 1) {
		r.at = now;
		c->last = r;
		c->last_good = now;
		c->have = true;
		*out = r;
		return 0;
	}
	if (c->have && now - c->last_good <= TIBBER_PULSE_STALE_MS) {
		*out = c->last;
		return 0;
	}
	return err_set(e, "could not decode SML telegram: %s", why.msg);
}
