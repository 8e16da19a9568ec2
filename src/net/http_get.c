/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A blocking HTTP request on libcurl's easy API (contract in astrameter/http_get.h). Only
 * command-line tools use it, before or instead of an event loop, so blocking is fine here;
 * the daemon's meters use the asynchronous client (http.c). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "astrameter/http_get.h"

struct sink {
	char *buf;
	size_t len;
	bool keep, over;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t k = size * n;
	if (!s->keep)
		return k;
	if (s->len + k > HTTP_BLOCKING_MAX_BODY) {
		s->over = true;
		return 0; /* aborts the transfer */
	}
	char *b = realloc(s->buf, s->len + k + 1);
	if (!b)
		return 0;
	memcpy(b + s->len, data, k);
	s->buf = b;
	s->len += k;
	s->buf[s->len] = '\0';
	return k;
}

static int fail(struct err *e, CURL *h, CURLcode rc, const char *host, unsigned port,
                long timeout_ms, const struct sink *s)
{
	long os_errno = 0;
	(void)curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return err_set(e, "connect %s:%u: %s", host, port,
		               os_errno ? strerror((int)os_errno) : curl_easy_strerror(rc));
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(e, "no answer from %s:%u within %ld ms", host, port, timeout_ms);
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return err_set(e, "not an HTTP answer from %s:%u", host, port);
	case CURLE_WRITE_ERROR:
		if (s->over)
			return err_set(e, "%s:%u: answer longer than %u bytes", host, port,
			               HTTP_BLOCKING_MAX_BODY);
		return err_set(e, "out of memory");
	default:
		return err_set(e, "%s:%u: %s", host, port, curl_easy_strerror(rc));
	}
}

int http_blocking(const char *host, uint16_t port, const char *method, const char *path,
                  const char *body, long timeout_ms, char **out, struct err *e)
{
	if (out)
		*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(e, "libcurl initialisation failed");
	CURL *h = curl_easy_init();
	if (!h)
		return err_set(e, "out of memory");
	char url[512];
	int n = snprintf(url, sizeof(url), "http://%s:%u%s", host, (unsigned)port, path);
	struct curl_slist *hdr = NULL;
	struct sink s = {.keep = out != NULL};
	int status = -1;
	if (n < 0 || (size_t)n >= sizeof(url)) {
		err_set(e, "URL too long");
		goto out;
	}
	if (!body && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		body = ""; /* Content-Length: 0 */
	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (!hdr) {
		err_set(e, "out of memory");
		goto out;
	}
	(void)curl_easy_setopt(h, CURLOPT_URL, url);
	(void)curl_easy_setopt(h, CURLOPT_PROXY, ""); /* loopback: never through a proxy */
	(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	(void)curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	if (body) {
		(void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		(void)curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		fail(e, h, rc, host, port, timeout_ms, &s);
		goto out;
	}
	long code = 0;
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (code < 100 || code > 599) {
		err_set(e, "not an HTTP answer from %s:%u", host, (unsigned)port);
		goto out;
	}
	status = (int)code;
	if (out) {
		*out = s.buf ? s.buf : strdup("");
		s.buf = NULL;
		if (!*out) {
			err_set(e, "out of memory");
			status = -1;
		}
	}
out:
	free(s.buf);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return status;
}
