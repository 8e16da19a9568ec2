/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the HomeWizard message decoder: every line of the input is one
 * message. Checks that a measurement yields 1 or 3 finite values or none, and that every
 * refusal leaves a reason. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/pm_homewizard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	const char *p = (const char *)data, *end = p + size;
	while (p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct pm_reading r;
		int have = 0;
		struct err e = {{0}};
		enum pm_hw_msg_type t = pm_hw_handle_message(p, len, &r, &have, &e);
		if (have) {
			if (t != HW_MSG_MEASUREMENT || (r.n != 1 && r.n != 3))
				abort();
			for (unsigned i = 0; i < r.n; i++)
				if (!isfinite(r.w[i]))
					abort();
		} else if ((t == HW_MSG_BAD || t == HW_MSG_MEASUREMENT || t == HW_MSG_ERROR) &&
		           !e.msg[0]) {
			abort();
		}
		p += len + 1;
	}
	return 0;
}
