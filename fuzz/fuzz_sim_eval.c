/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzzes the evaluation's report code (astra-sim eval --input/--compare/--html) with
 * arbitrary result files: whatever JSON arrives (wrong types, missing keys, odd traces),
 * the compare table and the HTML report must be written without crashing. The report
 * source is compiled in directly because fuzz targets link only the daemon's core. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/eval_report.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *j = cJSON_ParseWithLength((const char *)data, size);
	if (!j)
		return 0;
	if (cJSON_IsArray(j)) {
		cJSON *empty = cJSON_CreateArray();
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		if (f && empty) {
			eval_print_compare(f, j, j);
			eval_print_compare(f, empty, j);
			eval_print_compare(f, j, empty);
			(void)eval_write_html(f, j, NULL);
			(void)eval_write_html(f, j, j);
			const cJSON *r;
			cJSON_ArrayForEach(r, j)
			{
				eval_print_text(f, r);
			}
		}
		if (f)
			(void)fclose(f);
		free(buf);
		cJSON_Delete(empty);
	}
	cJSON_Delete(j);
	return 0;
}
