/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The WebSocket opening handshake (RFC 6455 section 4) as pure functions: the accept key,
 * the client's upgrade request and the check of the server's 101 answer. The response
 * parser reads through explicit bounds (it sees bytes from the network before any frame
 * code does), is unit-tested and is part of the fuzz_ws target. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>

#include "astrameter/text.h"
#include "astrameter/ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* A 101 answer is a few hundred bytes; anything this long is not a WebSocket server. */
#define WS_MAX_HEADER 16384

int ws_accept_for_key(const char *key, char out[29])
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
		return -1;
	/* 20 bytes -> 28 base64 chars + NUL */
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != 28)
		return -1;
	return 0;
}

static bool has_crlf(const char *s)
{
	return strchr(s, '\r') || strchr(s, '\n');
}

int ws_build_request(char *buf, size_t cap, const char *path, const char *host_hdr, const char *key)
{
	if (!path || !host_hdr || !key || has_crlf(path) || has_crlf(host_hdr) || has_crlf(key))
		return -1;
	int n = snprintf(buf, cap,
	                 "GET %s HTTP/1.1\r\n"
	                 "Host: %s\r\n"
	                 "Upgrade: websocket\r\n"
	                 "Connection: Upgrade\r\n"
	                 "Sec-WebSocket-Key: %s\r\n"
	                 "Sec-WebSocket-Version: 13\r\n"
	                 "User-Agent: astrameter\r\n"
	                 "\r\n",
	                 path[0] ? path : "/", host_hdr, key);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

/* Finds "\r\n\r\n" (or a bare "\n\n", which some small servers send) in buf[0..len). */
static size_t header_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Whether the comma-separated value v[0..n) holds token tok (case-insensitive). */
static bool has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);
	struct txt_split it;
	struct txt_item item;
	txt_split_init(&it, v, n, ',');
	while (txt_split_next(&it, &item))
		if (item.len == tl && strncasecmp(item.s, tok, tl) == 0)
			return true;
	return false;
}

int ws_parse_response(const char *buf, size_t len, const char *accept, size_t *consumed,
                      int *status, struct err *e)
{
	*status = 0;
	*consumed = 0;
	size_t end = header_end(buf, len < WS_MAX_HEADER ? len : WS_MAX_HEADER);
	if (end == 0) {
		if (len >= WS_MAX_HEADER)
			return err_set(e, "upgrade answer header longer than %d bytes",
			               WS_MAX_HEADER);
		/* Refuse early what cannot become an HTTP answer (a TLS alert, garbage). */
		size_t k = len < 5 ? len : 5;
		if (memcmp(buf, "HTTP/", k) != 0)
			return err_set(e, "upgrade answer is not HTTP");
		return 0;
	}
	/* status line: HTTP/1.x SP 3DIGIT [SP reason] */
	size_t i = 0;
	if (end < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)buf[7]) ||
	    buf[8] != ' ')
		return err_set(e, "upgrade answer is not HTTP/1.x");
	int code = 0;
	for (i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)buf[i]))
			return err_set(e, "upgrade answer has a bad status code");
		code = code * 10 + (buf[i] - '0');
	}
	*status = code;
	if (code != 101)
		return err_set(e, "HTTP %d instead of 101 Switching Protocols", code);
	while (i < end && buf[i] != '\n')
		i++;
	i++;
	bool upgrade = false, connection = false, accept_ok = false;
	while (i < end) {
		size_t ls = i;
		while (i < end && buf[i] != '\n')
			i++;
		size_t le = i; /* at '\n' */
		i++;
		if (le > ls && buf[le - 1] == '\r')
			le--;
		if (le == ls)
			break; /* the blank line */
		const char *colon = memchr(buf + ls, ':', le - ls);
		if (!colon)
			return err_set(e, "upgrade answer has a header line without ':'");
		size_t nl = (size_t)(colon - (buf + ls));
		size_t vs = (size_t)(colon - buf) + 1, ve = le;
		while (vs < ve && (buf[vs] == ' ' || buf[vs] == '\t'))
			vs++;
		while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t'))
			ve--;
		const char *v = buf + vs;
		size_t vl = ve - vs;
		if (nl == 7 && strncasecmp(buf + ls, "Upgrade", 7) == 0) {
			upgrade = has_token(v, vl, "websocket");
		} else if (nl == 10 && strncasecmp(buf + ls, "Connection", 10) == 0) {
			connection = has_token(v, vl, "upgrade");
		} else if (nl == 20 && strncasecmp(buf + ls, "Sec-WebSocket-Accept", 20) == 0) {
			accept_ok = vl == strlen(accept) && memcmp(v, accept, vl) == 0;
			if (!accept_ok)
				return err_set(e, "wrong Sec-WebSocket-Accept");
		} else if (nl == 24 && strncasecmp(buf + ls, "Sec-WebSocket-Extensions", 24) == 0) {
			/* We offered none, so the server may not pick any (RFC 6455 4.1). */
			if (vl)
				return err_set(e, "server chose an extension we did not offer");
		}
	}
	if (!upgrade)
		return err_set(e, "upgrade answer lacks 'Upgrade: websocket'");
	if (!connection)
		return err_set(e, "upgrade answer lacks 'Connection: Upgrade'");
	if (!accept_ok)
		return err_set(e, "upgrade answer lacks Sec-WebSocket-Accept");
	*consumed = end;
	return 1;
}
