/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target over every HTTP meter parser and the SML decoder: the first byte picks
 * the parser (and its options), the rest is the response body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/pm_parsers.h"
#include "astrameter/sml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	/* exact-size copy so ASan catches reads past the body */
	size_t len = size - 1;
	char *body = malloc(len ? len : 1);
	if (!body)
		return 0;
	memcpy(body, data + 1, len);
	struct pm_reading r;
	struct err e;
	double w;
	bool flag = sel & 0x80;
	switch (sel & 0x7f) {
	case 0:
		pm_shelly_parse(body, len, (enum pm_shelly_type)((sel >> 4) & 3), flag, &r, &e);
		break;
	case 1: {
		const char *labels[] = {"Power_L1", "Power_L2", "Power_L3"};
		const char *in[] = {"In_L1", "In_L2"}, *out[] = {"Out_L1", "Out_L2"};
		struct pm_tasmota_cfg c = {.status = "StatusSNS",
		                           .prefix = "SML",
		                           .calculate = flag,
		                           .labels = labels,
		                           .n_labels = 3,
		                           .in = in,
		                           .out = out,
		                           .n_pairs = 2};
		pm_tasmota_parse(body, len, &c, &r, &e);
		break;
	}
	case 2:
		pm_shrdzm_parse(body, len, &r, &e);
		break;
	case 3:
		pm_emlog_parse(body, len, flag, &r, &e);
		break;
	case 4: {
		struct pm_iobroker_cfg c = {.current_alias = "alias1",
		                            .calculate = flag,
		                            .input_alias = "in",
		                            .output_alias = "out"};
		pm_iobroker_parse(body, len, &c, &r, &e);
		break;
	}
	case 5:
		pm_vzlogger_parse(body, len, &w, &e);
		break;
	case 6:
		pm_esphome_parse(body, len, &r, &e);
		break;
	case 7:
		pm_amisreader_parse(body, len, &r, &e);
		break;
	case 8:
		pm_fronius_parse(body, len, flag, &r, &e);
		break;
	case 9: {
		struct pm_tq_em_sm sm = {0};
		pm_tq_em_sm_begin(&sm, 0);
		/* walk the state machine with the same body for every step */
		for (int i = 0; i < 6; i++) {
			enum pm_tq_em_action a = pm_tq_em_sm_step(&sm, 200, body, len, &r, &e);
			if (a == PM_TQ_EM_DONE || a == PM_TQ_EM_FAIL)
				break;
		}
		break;
	}
	case 10: {
		char sid[32], chal[128];
		long bt;
		pm_fritz_parse_session(body, len, sid, sizeof(sid), chal, sizeof(chal), &bt, &e);
		break;
	}
	case 11:
		pm_fritz_parse_devicelist(body, len, "123450123456-1", &w, &e);
		break;
	case 12:
		pm_envoy_parse(body, len, &r, &e);
		break;
	case 13: {
		char tok[256];
		pm_envoy_check_jwt(body, len, tok, sizeof(tok), &e);
		pm_envoy_parse_login(body, len, tok, sizeof(tok), &e);
		break;
	}
	case 14: {
		struct pm_sml_obis_cfg cfg;
		pm_sml_obis_cfg_default(&cfg);
		pm_sml_decode_powers((const uint8_t *)body, len, &cfg, &r, &e);
		/* also as a stream: scan, skip, scan again */
		uint8_t payload[SML_MAX_FRAME];
		size_t off = 0, start, end, plen;
		for (int i = 0; i < 8 && off < len; i++) {
			int rc = pm_sml_frame_scan((const uint8_t *)body + off, len - off, &start,
			                           &end, payload, sizeof(payload), &plen, &e);
			if (rc == 0)
				break;
			if (rc == 1)
				pm_sml_payload_powers(payload, plen, &cfg, &r, &e);
			off += end > 0 ? end : 1;
		}
		break;
	}
	case 15: {
		char resp[200];
		char *pw = malloc(len + 1);
		if (pw) {
			memcpy(pw, body, len);
			pw[len] = '\0';
			pm_fritz_login_response(flag ? "2$10$5A17$10$5A18" : "1234567z", pw, resp,
			                        sizeof(resp), &e);
			char ain[64];
			pm_fritz_normalize_ain(pw, ain, sizeof(ain), &e);
			free(pw);
		}
		break;
	}
	default:
		break;
	}
	free(body);
	return 0;
}
