/*
 * cgi.h: the little of CGI that the C suite functions need, header-only so
 * each function is one translation unit: the query parameter or JSON body
 * field holding an integer, and the response, in the form the Lumos host
 * parses (invoker/internal/cgi): header lines, a blank line, the body.
 */
#ifndef LUMOS_CGI_H
#define LUMOS_CGI_H

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MAX_BODY bounds the request body read from stdin. */
#define MAX_BODY (1 << 20)

/* respond writes a response with the status, content type and body. */
static void respond(int status, const char *type, const char *body) {
	if (status != 200)
		printf("Status: %d %s\r\n", status, status == 400 ? "Bad Request" : "Internal Server Error");
	printf("Content-Type: %s\r\n\r\n%s", type, body);
	fflush(stdout);
}

/* fail answers 400 with a formatted message and exits. */
static void fail(const char *format, ...) {
	char msg[512];
	va_list ap;
	va_start(ap, format);
	vsnprintf(msg, sizeof msg - 2, format, ap);
	va_end(ap);
	strcat(msg, "\n");
	respond(400, "text/plain; charset=utf-8", msg);
	exit(0);
}

static int hexval(int c) {
	if (c >= '0' && c <= '9') return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	return -1;
}

/*
 * query_param copies the percent-decoded value of key in QUERY_STRING into
 * out (size n). It returns 1 when found, 0 when absent, and answers 400 on a
 * malformed escape.
 */
static int query_param(const char *key, char *out, size_t n) {
	const char *q = getenv("QUERY_STRING");
	size_t klen = strlen(key);
	while (q && *q) {
		const char *end = strchr(q, '&');
		if (!end) end = q + strlen(q);
		if ((size_t)(end - q) >= klen && strncmp(q, key, klen) == 0 && (q[klen] == '=' || q + klen == end)) {
			const char *v = q[klen] == '=' ? q + klen + 1 : end;
			size_t o = 0;
			for (; v < end && o + 1 < n; v++) {
				if (*v == '%') {
					int hi = v + 2 < end ? hexval(v[1]) : -1;
					int lo = hi >= 0 ? hexval(v[2]) : -1;
					if (hi < 0 || lo < 0) fail("bad query: invalid URL escape");
					out[o++] = (char)(hi * 16 + lo);
					v += 2;
				} else {
					out[o++] = *v == '+' ? ' ' : *v;
				}
			}
			out[o] = 0;
			return 1;
		}
		q = *end ? end + 1 : end;
	}
	return 0;
}

/* read_body reads CONTENT_LENGTH bytes (or to EOF) of stdin, NUL-terminated. */
static char *read_body(size_t *len) {
	static char buf[MAX_BODY + 1];
	const char *cl = getenv("CONTENT_LENGTH");
	size_t want = MAX_BODY;
	if (cl && *cl) {
		long v = strtol(cl, NULL, 10);
		if (v < 0 || v > MAX_BODY) fail("body of %s bytes is larger than %d", cl, MAX_BODY);
		want = (size_t)v;
	}
	size_t n = fread(buf, 1, want, stdin);
	buf[n] = 0;
	*len = n;
	return buf;
}

/*
 * json_field copies the text of the number (or numeric string) that key
 * holds in the JSON object body into out. It returns 1 when found, 0 when
 * absent, and answers 400 when the body is not an object. It is not a full
 * JSON parser: it finds the first "key": at any depth.
 */
static int json_field(const char *body, const char *key, char *out, size_t n) {
	const char *p = body;
	while (isspace((unsigned char)*p)) p++;
	if (*p != '{') fail("bad JSON body: want an object");
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *k = strstr(p, pat);
	if (!k) return 0;
	p = k + strlen(pat);
	while (isspace((unsigned char)*p)) p++;
	if (*p != ':') fail("bad JSON body: no colon after \"%s\"", key);
	p++;
	while (isspace((unsigned char)*p)) p++;
	int quoted = *p == '"';
	if (quoted) p++;
	size_t o = 0;
	while (*p && (isdigit((unsigned char)*p) || strchr("+-.eE", *p)) && o + 1 < n) out[o++] = *p++;
	out[o] = 0;
	if (quoted && *p != '"') fail("bad JSON body: \"%s\" is not a number", key);
	if (o == 0) fail("bad JSON body: \"%s\" is not a number", key);
	return 1;
}

/*
 * int_input reads the integer named qkey in the query, or jkey in the JSON
 * body, checks it is within [lo, hi] and returns it; usage is the message
 * when neither is given.
 */
static long int_input(const char *qkey, const char *jkey, long lo, long hi, const char *usage) {
	char raw[64];
	size_t len;
	if (!query_param(qkey, raw, sizeof raw)) {
		char *body = read_body(&len);
		if (len == 0) fail("%s", usage);
		if (!json_field(body, jkey, raw, sizeof raw)) fail("JSON body has no \"%s\"", jkey);
	}
	char *end;
	errno = 0;
	long v = strtol(raw, &end, 10);
	if (raw[0] == 0 || *end != 0 || errno != 0) fail("%s=\"%s\" is not an integer", qkey, raw);
	if (v < lo || v > hi) fail("%s=%ld is outside [%ld, %ld]", qkey, v, lo, hi);
	return v;
}

#endif
