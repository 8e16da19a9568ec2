/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MQTT broker URIs as upstream's parse_mqtt_uri reads them (contract in mqtt_loop.h):
 * mqtt[s]://[user[:password]@]host[:port], percent-escapes decoded as Python's unquote.
 * Pure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "astrameter/mqtt_loop.h"
#include "astrameter/text.h"

/* Percent-decodes s[0..n) into out (cap bytes with NUL); invalid escapes stay as written
 * (Python's unquote). -1 if it does not fit. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%' && i + 2 < n && txt_hexval(s[i + 1]) >= 0 &&
		    txt_hexval(s[i + 2]) >= 0) {
			c = (char)(txt_hexval(s[i + 1]) * 16 + txt_hexval(s[i + 2]));
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int mqtt_uri_parse(const char *uri, struct mqtt_uri *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (!uri)
		return err_set(e, "MQTT URI is empty");
	while (*uri == ' ' || *uri == '\t')
		uri++;
	size_t len = strlen(uri);
	while (len && (uri[len - 1] == ' ' || uri[len - 1] == '\t'))
		len--;
	if (len == 0)
		return err_set(e, "MQTT URI is empty");
	const char *sep = NULL;
	for (size_t i = 0; i + 2 < len; i++) {
		if (uri[i] == ':' && uri[i + 1] == '/' && uri[i + 2] == '/') {
			sep = uri + i;
			break;
		}
		if (uri[i] == '/' || uri[i] == '?' || uri[i] == '#')
			break;
	}
	if (!sep)
		return err_set(e, "MQTT URI needs a scheme: mqtt:// or mqtts://");
	size_t sl = (size_t)(sep - uri);
	if (sl == 4 && strncasecmp(uri, "mqtt", 4) == 0)
		out->tls = false;
	else if (sl == 5 && strncasecmp(uri, "mqtts", 5) == 0)
		out->tls = true;
	else
		return err_set(e, "unsupported MQTT URI scheme '%.*s'; expected 'mqtt' or 'mqtts'",
		               (int)(sl > 16 ? 16 : sl), uri);
	const char *p = sep + 3, *end = uri + len;
	const char *auth_end = p;
	while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
		auth_end++;
	if (auth_end < end) {
		if (*auth_end == '?')
			return err_set(e, "MQTT URI must not contain a query");
		if (*auth_end == '#')
			return err_set(e, "MQTT URI must not contain a fragment");
		/* a path: only "/" alone is allowed */
		const char *q = auth_end + 1;
		while (q < end && *q != '?' && *q != '#' && *q != ';')
			q++;
		if (q != auth_end + 1)
			return err_set(e, "MQTT URI must not contain a path");
		if (q < end)
			return err_set(e, "MQTT URI must not contain params, query, or fragment");
	}
	/* userinfo: up to the last '@' */
	const char *host = p;
	for (const char *q = p; q < auth_end; q++)
		if (*q == '@')
			host = q + 1;
	if (host != p) {
		const char *ui_end = host - 1;
		const char *colon = memchr(p, ':', (size_t)(ui_end - p));
		const char *uend = colon ? colon : ui_end;
		if (pct_decode(p, (size_t)(uend - p), out->username, sizeof(out->username)) != 0)
			return err_set(e, "MQTT URI user name too long");
		out->has_username = true;
		if (colon) {
			if (pct_decode(colon + 1, (size_t)(ui_end - colon - 1), out->password,
			               sizeof(out->password)) != 0)
				return err_set(e, "MQTT URI password too long");
			out->has_password = true;
		}
	}
	const char *hend = auth_end, *port = NULL;
	if (host < hend && *host == '[') {
		const char *rb = memchr(host, ']', (size_t)(hend - host));
		if (!rb)
			return err_set(e, "MQTT URI has an unclosed '[' in the host");
		if (rb + 1 < hend) {
			if (rb[1] != ':')
				return err_set(e, "MQTT URI has junk after the IPv6 address");
			port = rb + 2;
		}
		host++;
		hend = rb;
	} else {
		const char *colon = memchr(host, ':', (size_t)(hend - host));
		if (colon) {
			port = colon + 1;
			hend = colon;
		}
	}
	size_t hl = (size_t)(hend - host);
	if (hl == 0)
		return err_set(e, "MQTT URI is missing a host");
	if (hl >= sizeof(out->host))
		return err_set(e, "MQTT URI host too long");
	for (size_t i = 0; i < hl; i++) {
		char c = host[i];
		/* urlparse lower-cases the host name */
		out->host[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out->host[hl] = '\0';
	out->port = out->tls ? 8883 : 1883;
	if (port && port < auth_end) {
		long v = 0;
		for (const char *q = port; q < auth_end; q++) {
			if (*q < '0' || *q > '9' || v > 65535)
				return err_set(e, "MQTT URI port is not a number 1-65535");
			v = v * 10 + (*q - '0');
		}
		if (v < 1 || v > 65535)
			return err_set(e, "MQTT URI port is not a number 1-65535");
		out->port = (int)v;
	}
	return 0;
}
