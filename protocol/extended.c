/* protocol/extended.c — Parse, Bind, Describe and Close: the names inside, and the headers
 * pglane writes when it renames a statement. */
#include "protocol/extended.h"

#include <string.h>

/* A NUL-terminated name at `p` within `avail` bytes (and PROTO_MAX_NAME). */
static const char *name_at(const uint8_t *p, size_t avail, size_t *len)
{
	size_t lim = avail < PROTO_MAX_NAME ? avail : PROTO_MAX_NAME;
	const uint8_t *nul = memchr(p, 0, lim);
	if (!nul)
		return NULL;
	*len = (size_t)(nul - p);
	return (const char *)p;
}

bool proto_parse_parse(const uint8_t *body, size_t len, const char **name, size_t *rest_off)
{
	size_t n;
	const char *nm = name_at(body, len, &n);
	if (!nm)
		return false;
	struct proto_reader r;
	proto_reader_init(&r, body + n + 1, len - n - 1);
	(void)proto_get_cstr(&r, NULL);
	uint16_t nparams = (uint16_t)proto_get_i16(&r); /* unsigned, as PostgreSQL reads it */
	if (r.failed || proto_reader_left(&r) != (size_t)nparams * 4)
		return false;
	*name = nm;
	*rest_off = n + 1;
	return true;
}

bool proto_parse_bind_names(const uint8_t *body, size_t avail, const char **portal,
                            const char **statement, size_t *names_end)
{
	size_t pn, sn;
	const char *p = name_at(body, avail, &pn);
	if (!p)
		return false;
	const char *s = name_at(body + pn + 1, avail - pn - 1, &sn);
	if (!s)
		return false;
	*portal = p;
	*statement = s;
	*names_end = pn + 1 + sn + 1;
	return true;
}

bool proto_parse_target(const uint8_t *body, size_t len, uint8_t *kind, const char **name)
{
	if (len < 2 || (body[0] != PROTO_DESCRIBE_STATEMENT && body[0] != PROTO_DESCRIBE_PORTAL))
		return false;
	size_t n;
	const char *nm = name_at(body + 1, len - 1, &n);
	if (!nm || n + 2 != len)
		return false;
	*kind = body[0];
	*name = nm;
	return true;
}

/* Begin a message whose body continues beyond what is written here: the length counts
 * `extra` bytes the caller sends after. */
static void end_with_extra(struct proto_writer *w, size_t extra)
{
	size_t start = w->start;
	proto_end(w);
	if (w->failed)
		return;
	uint32_t len = proto_be32(w->buf + start);
	if (extra > (uint32_t)INT32_MAX - len) {
		w->failed = true;
		return;
	}
	proto_put_be32(w->buf + start, len + (uint32_t)extra);
}

void proto_write_parse_head(struct proto_writer *w, const char *name, size_t rest_len)
{
	proto_begin(w, 'P');
	proto_put_cstr(w, name);
	end_with_extra(w, rest_len);
}

void proto_write_bind_head(struct proto_writer *w, const char *portal, const char *statement,
                           size_t rest_len)
{
	proto_begin(w, 'B');
	proto_put_cstr(w, portal);
	proto_put_cstr(w, statement);
	end_with_extra(w, rest_len);
}

void proto_write_target(struct proto_writer *w, uint8_t type, uint8_t kind, const char *name)
{
	proto_begin(w, type);
	proto_put_u8(w, kind);
	proto_put_cstr(w, name);
	proto_end(w);
}

void proto_write_empty(struct proto_writer *w, uint8_t type)
{
	proto_begin(w, type);
	proto_end(w);
}

void proto_write_command_complete(struct proto_writer *w, const char *tag)
{
	proto_begin(w, 'C');
	proto_put_cstr(w, tag);
	proto_end(w);
}
