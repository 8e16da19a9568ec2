/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the Shelly JSON-RPC codec: any datagram through the request
 * scanner; accepted requests through the reply formatter with meter values taken from the
 * input's last bytes. Checks that an accepted request yields a complete, bounded reply that
 * echoes the id, and that every printed number reads back to the double it came from. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/pynum.h"
#include "astrameter/shelly.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_repr(double x)
{
	char buf[PYNUM_REPR_MAX];
	int n = pynum_repr(x, buf, sizeof(buf));
	if (!isfinite(x)) {
		if (n != -1)
			abort();
		return;
	}
	if (n <= 0 || (size_t)n != strlen(buf) || strtod(buf, NULL) != x)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shelly_request req;
	enum shelly_verdict v = shelly_parse_request(data, size, &req);
	if (shelly_verdict_str(v)[0] == '?')
		abort();

	double w[4] = {0};
	unsigned n = 0;
	for (size_t off = 0; n < 4 && off + 8 <= size && off < 32; off += 8) {
		double d;
		memcpy(&d, data + size - 8 - off, sizeof(d));
		check_repr(d);
		check_repr(pynum_round_nd(d, 1));
		w[n++] = d;
	}
	if (v != SHELLY_REQ_OK)
		return 0;
	if (req.id_len == 0 || req.id_len > SHELLY_MAX_ID || strlen(req.id) != req.id_len)
		abort();
	char buf[SHELLY_REPLY_MAX];
	for (unsigned k = 0; k <= n; k++) {
		int r = shelly_format_reply(&req, "shellypro3em-ec4609c439c1", w, k, buf,
		                            sizeof(buf));
		int finite = 1;
		for (unsigned i = 0; i < k; i++)
			finite &= isfinite(w[i]) != 0;
		if (r < 0) {
			if (finite && fabs(w[0]) < 1e300 && fabs(w[1]) < 1e300 &&
			    fabs(w[2]) < 1e300 && fabs(w[3]) < 1e300)
				abort(); /* only a non-finite value or sum may be refused */
			continue;
		}
		if ((size_t)r != strlen(buf) || r < 2 || memcmp(buf + r - 2, "}}", 2) != 0 ||
		    memcmp(buf, "{\"id\":", 6) != 0 || memcmp(buf + 6, req.id, req.id_len) != 0)
			abort();
	}
	return 0;
}
