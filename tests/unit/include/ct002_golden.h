/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The reference's CT002 golden vectors, shared by the daemon codec's tests
 * (test_ct002_codec.c) and the simulator-vs-daemon cross test (test_sim_ct_golden.c), so
 * both codecs are held to the same bytes. Test-only header: defines static data. */
#ifndef ASTRAMETER_TEST_CT002_GOLDEN_H
#define ASTRAMETER_TEST_CT002_GOLDEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static inline size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (s[0] && s[1] && n < cap) {
		unsigned v;
		sscanf(s, "%2x", &v);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

/* ---- golden vectors (tests/components/ct002/fixtures/protocol_golden_vectors.json of the
 * reference, shared with its ESPHome port) ------------------------------------------------- */

static const struct {
	const char *name;
	const char *hex;
	size_t n;
	const char *fields[24];
} golden[] = {
        {"typical_poll",
         "010235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c3"
         "57c37033334",
         6,
         {"HMG-50", "AABBCCDDEEFF", "HME-4", "112233445566", "5", "7"}},
        {"ct003_negative_power",
         "010235337c484d472d35307c4141424243434444454546467c484d452d337c3131323233333434353536367c4"
         "27c2d313030033663",
         6,
         {"HMG-50", "AABBCCDDEEFF", "HME-3", "112233445566", "B", "-100"}},
        {"inspection_marker",
         "010235327c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c3"
         "07c313030033335",
         6,
         {"HMG-50", "AABBCCDDEEFF", "HME-4", "112233445566", "0", "100"}},
        {"empty_trailing_field",
         "010234397c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c4"
         "17c033766",
         6,
         {"HMG-50", "AABBCCDDEEFF", "HME-4", "112233445566", "A", ""}},
        {"full_response_24",
         "01023130397c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367"
         "c3130307c3230307c3330307c3630307c317c317c317c337c2d35307c307c307c2d3138307c2d3234307c2d31"
         "36307c2d3538307c307c307c307c307c30033132",
         24,
         {"HMG-50", "AABBCCDDEEFF",
          "HME-4",  "112233445566",
          "100",    "200",
          "300",    "600",
          "1",      "1",
          "1",      "3",
          "-50",    "0",
          "0",      "-180",
          "-240",   "-160",
          "-580",   "0",
          "0",      "0",
          "0",      "0"}},
        {"checksum_space_base",
         "010235307c484d472d35307c4141424243434444454546467c484d452d347c3131323233333434353536367c3"
         "07c30033336",
         6,
         {"HMG-50", "AABBCCDDEEFF", "HME-4", "112233445566", "0", "0"}},
};

#endif
