/* protocol/startup.c — the startup-phase packets: parsing a StartupMessage (v3 parameters),
 * SSLRequest, GSSENCRequest and CancelRequest, and building the ones pglane sends. */
#include "protocol/startup.h"

#include <stdio.h>
#include <string.h>

#include "protocol/frame.h"

#define SSL_REQUEST_LEN 8 /* length + code, nothing else */

/* Is `name` already among the first `n` parameters? */
static bool param_seen(const struct proto_startup *s, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->params[i].name, name) == 0)
			return true;
	return false;
}

/* The name/value pairs after the version code, up to the final NUL which must be the last
 * byte of the packet. */
static bool parse_params(struct proto_reader *r, struct proto_startup *out)
{
	for (;;) {
		size_t name_len, value_len;
		const char *name = proto_get_cstr(r, &name_len);
		const char *value;

		if (!name)
			return false; /* no terminator */
		if (name_len == 0)
			return proto_reader_left(r) == 0; /* the terminator is the last byte */
		value = proto_get_cstr(r, &value_len);
		if (!value)
			return false; /* a name without a value */
		if (out->nparams == PROTO_STARTUP_MAX_PARAMS)
			return false;
		if (param_seen(out, out->nparams, name))
			return false;
		out->params[out->nparams].name = name;
		out->params[out->nparams].value = value;
		out->nparams++;
		if (strcmp(name, "user") == 0) {
			if (value_len == 0 || value_len >= PROTO_NAMEDATALEN)
				return false;
			out->user = value;
		} else if (strcmp(name, "database") == 0) {
			if (value_len >= PROTO_NAMEDATALEN)
				return false;
			out->database = value;
		}
	}
}

bool proto_startup_parse(const uint8_t *p, size_t len, struct proto_startup *out)
{
	struct proto_reader r;
	uint32_t code;

	memset(out, 0, sizeof(*out));
	if (!p || len < PROTO_STARTUP_HEADER_SIZE || len > PROTO_MAX_STARTUP_LEN)
		return false;
	proto_reader_init(&r, p, len);
	if ((uint32_t)proto_get_i32(&r) != len)
		return false;
	code = (uint32_t)proto_get_i32(&r);
	out->code = code;

	switch (code) {
	case PROTO_CANCEL_REQUEST_CODE:
		if (len != PROTO_CANCEL_REQUEST_LEN)
			return false;
		out->kind = PROTO_STARTUP_CANCEL;
		out->cancel_pid = proto_get_i32(&r);
		out->cancel_key = proto_get_i32(&r);
		return !r.failed;
	case PROTO_SSL_REQUEST_CODE:
		out->kind = PROTO_STARTUP_SSL;
		return len == SSL_REQUEST_LEN;
	case PROTO_GSSENC_REQUEST_CODE:
		out->kind = PROTO_STARTUP_GSSENC;
		return len == SSL_REQUEST_LEN;
	default:
		break;
	}
	if ((code >> 16) != (PROTO_VERSION_3 >> 16)) {
		out->kind = PROTO_STARTUP_UNSUPPORTED;
		return true;
	}
	out->kind = PROTO_STARTUP_V3;
	if (!parse_params(&r, out) || !out->user) {
		out->nparams = 0;
		out->user = out->database = NULL;
		return false;
	}
	if (!out->database || !out->database[0])
		out->database = out->user;
	return true;
}

/* The next word of `*p` unescaped into `*out` (NUL-terminated); NULL when none is left. */
static char *next_word(const char **p, char **out)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
		s++;
	if (!*s) {
		*p = s;
		return NULL;
	}
	char *word = *out, *d = *out;
	while (*s &&
	       !(*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')) {
		if (*s == '\\' && s[1])
			s++;
		*d++ = *s++;
	}
	*d++ = '\0';
	*out = d;
	*p = s;
	return word;
}

/* "name=value" into an option (dashes of the name made underscores); false without '='. */
static bool name_value(char *w, struct proto_option *o)
{
	char *eq = strchr(w, '=');
	if (!eq || eq == w)
		return false;
	*eq = '\0';
	for (char *q = w; *q; q++)
		if (*q == '-')
			*q = '_';
	o->name = w;
	o->value = eq + 1;
	return true;
}

int proto_startup_options(const char *opts, char *buf, struct proto_option *out, size_t cap,
                          char *bad, size_t badcap)
{
	const char *p = opts;
	char *b = buf;
	size_t n = 0;
	char *w;
	while ((w = next_word(&p, &b)) != NULL) {
		char *setting = NULL;
		if (strcmp(w, "-c") == 0)
			setting = next_word(&p, &b);
		else if (strncmp(w, "-c", 2) == 0)
			setting = w + 2;
		else if (strncmp(w, "--", 2) == 0)
			setting = w + 2;
		if (setting && n >= cap)
			return -2;
		if (!setting || !name_value(setting, &out[n])) {
			snprintf(bad, badcap, "%s", setting ? setting : w);
			return -1;
		}
		n++;
	}
	return (int)n;
}

const char *proto_startup_get(const struct proto_startup *s, const char *name)
{
	if (s->kind != PROTO_STARTUP_V3)
		return NULL;
	for (size_t i = 0; i < s->nparams; i++)
		if (strcmp(s->params[i].name, name) == 0)
			return s->params[i].value;
	return NULL;
}

void proto_write_startup(struct proto_writer *w, const char *user, const char *database,
                         const struct proto_startup_param *extra, size_t n)
{
	proto_begin(w, 0);
	proto_put_i32(w, PROTO_VERSION_3);
	proto_put_cstr(w, "user");
	proto_put_cstr(w, user);
	if (database && database[0]) {
		proto_put_cstr(w, "database");
		proto_put_cstr(w, database);
	}
	for (size_t i = 0; i < n; i++) {
		if (extra[i].name &&
		    (strcmp(extra[i].name, "user") == 0 || strcmp(extra[i].name, "database") == 0))
			continue; /* written above; a duplicate would be ambiguous */
		proto_put_cstr(w, extra[i].name);
		proto_put_cstr(w, extra[i].value);
	}
	proto_put_u8(w, 0);
	proto_end(w);
}

void proto_write_ssl_request(struct proto_writer *w)
{
	proto_begin(w, 0);
	proto_put_i32(w, PROTO_SSL_REQUEST_CODE);
	proto_end(w);
}

void proto_write_cancel_request(struct proto_writer *w, int32_t pid, int32_t key)
{
	proto_begin(w, 0);
	proto_put_i32(w, PROTO_CANCEL_REQUEST_CODE);
	proto_put_i32(w, pid);
	proto_put_i32(w, key);
	proto_end(w);
}
