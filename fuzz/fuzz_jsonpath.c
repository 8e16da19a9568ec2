/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fuzz target for the JSONPath compiler and the JSON_HTTP body parser. Input: the first
 * line is a JSON_PATHS list (compiled with jsonpath_compile_list), the rest is the HTTP
 * body handed to pm_json_http_parse. A path list that does not compile still exercises the
 * compiler; the body is then parsed with a fixed path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "astrameter/jsonpath.h"
#include "astrameter/pm_json_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t plen = nl ? (size_t)(nl - (const char *)data) : size;
	char *list = malloc(plen + 1);
	if (!list)
		return 0;
	memcpy(list, data, plen);
	list[plen] = '\0';
	const char *body = nl ? nl + 1 : "";
	size_t blen = nl ? size - plen - 1 : 0;

	struct jsonpath *paths[PM_MAX_VALUES];
	size_t n = 0;
	struct err e;
	if (jsonpath_compile_list(list, paths, PM_MAX_VALUES, &n, &e) != 0) {
		paths[0] = jsonpath_compile("$..power", &e);
		n = paths[0] ? 1 : 0;
	}
	struct pm_reading r;
	if (n)
		(void)pm_json_http_parse((const struct jsonpath *const *)paths, n, body, blen, &r,
		                         &e);
	for (size_t i = 0; i < n; i++) {
		(void)jsonpath_find(paths[i], NULL);
		jsonpath_free(paths[i]);
	}
	free(list);
	return 0;
}
