/* protocol/sql.c — classification of a few statements by their leading keywords. */
#include "protocol/sql.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

struct cursor {
	const char *p;
	const char *end;
};

/* Skip whitespace, -- comments and (nested) block comments. */
static void skip_space(struct cursor *c)
{
	for (;;) {
		while (c->p < c->end && isspace((unsigned char)*c->p))
			c->p++;
		if (c->end - c->p >= 2 && c->p[0] == '-' && c->p[1] == '-') {
			while (c->p < c->end && *c->p != '\n')
				c->p++;
			continue;
		}
		if (c->end - c->p >= 2 && c->p[0] == '/' && c->p[1] == '*') {
			int depth = 0;
			while (c->p < c->end) {
				if (c->end - c->p >= 2 && c->p[0] == '/' && c->p[1] == '*') {
					depth++;
					c->p += 2;
				} else if (c->end - c->p >= 2 && c->p[0] == '*' && c->p[1] == '/') {
					c->p += 2;
					if (--depth == 0)
						break;
				} else {
					c->p++;
				}
			}
			continue;
		}
		return;
	}
}

/* Consume keyword `kw` (case-insensitive, followed by a non-identifier character). */
static bool keyword(struct cursor *c, const char *kw)
{
	skip_space(c);
	size_t n = strlen(kw);
	if ((size_t)(c->end - c->p) < n || strncasecmp(c->p, kw, n) != 0)
		return false;
	if (c->p + n < c->end && (isalnum((unsigned char)c->p[n]) || c->p[n] == '_' ||
	                          c->p[n] == '$' || (unsigned char)c->p[n] >= 0x80))
		return false;
	c->p += n;
	return true;
}

/* Only whitespace, comments and at most one ';' left. */
static bool at_end(struct cursor *c)
{
	skip_space(c);
	if (c->p < c->end && *c->p == ';') {
		c->p++;
		skip_space(c);
	}
	return c->p == c->end || (c->p < c->end && *c->p == '\0');
}

/* An identifier: unquoted (folded to lower case) or "quoted" ("" is a quote). */
static bool identifier(struct cursor *c, char *out, size_t cap)
{
	skip_space(c);
	size_t n = 0;
	if (c->p < c->end && *c->p == '"') {
		c->p++;
		for (;;) {
			if (c->p >= c->end || *c->p == '\0')
				return false;
			if (*c->p == '"') {
				if (c->p + 1 < c->end && c->p[1] == '"') {
					c->p++;
				} else {
					c->p++;
					break;
				}
			}
			if (n + 1 >= cap)
				return false;
			out[n++] = *c->p++;
		}
	} else {
		while (c->p < c->end && (isalnum((unsigned char)*c->p) || *c->p == '_' ||
		                         *c->p == '$' || (unsigned char)*c->p >= 0x80)) {
			if (n + 1 >= cap)
				return false;
			out[n++] = (char)tolower((unsigned char)*c->p++);
		}
	}
	if (n == 0)
		return false;
	out[n] = '\0';
	return true;
}

enum proto_sql_kind proto_sql_classify(const char *sql, size_t len, char *name, size_t cap)
{
	/* most statements are none of these: tell from the first character */
	size_t i = 0;
	while (i < len && isspace((unsigned char)sql[i]))
		i++;
	if (i == len || !strchr("dD/-", sql[i]) || !sql[i])
		return PROTO_SQL_OTHER;
	struct cursor c = {sql, sql + len};
	if (keyword(&c, "discard"))
		return keyword(&c, "all") && at_end(&c) ? PROTO_SQL_DISCARD_ALL : PROTO_SQL_OTHER;
	if (!keyword(&c, "deallocate"))
		return PROTO_SQL_OTHER;
	/* PREPARE is an optional noise word, and also a valid statement name */
	struct cursor start = c;
	if (keyword(&c, "prepare")) {
		struct cursor after = c;
		if (at_end(&after))
			c = start;
	}
	struct cursor save = c;
	if (keyword(&c, "all") && at_end(&c))
		return PROTO_SQL_DEALLOCATE_ALL;
	c = save;
	if (!identifier(&c, name, cap) || !at_end(&c))
		return PROTO_SQL_OTHER;
	return PROTO_SQL_DEALLOCATE;
}

bool proto_sql_lane_hint(const char *sql, size_t len, char *lane, size_t cap)
{
	struct cursor c = {sql, sql + len};
	while (c.p < c.end && isspace((unsigned char)*c.p))
		c.p++;
	if (c.end - c.p < 4 || c.p[0] != '/' || c.p[1] != '*')
		return false;
	c.p += 2;
	if (!keyword(&c, "lane"))
		return false;
	while (c.p < c.end && isspace((unsigned char)*c.p))
		c.p++;
	if (c.p >= c.end || *c.p != ':')
		return false;
	c.p++;
	while (c.p < c.end && isspace((unsigned char)*c.p))
		c.p++;
	size_t n = 0;
	while (c.p < c.end && (isalnum((unsigned char)*c.p) || *c.p == '_')) {
		if (n + 1 >= cap)
			return false;
		lane[n++] = (char)tolower((unsigned char)*c.p++);
	}
	while (c.p < c.end && isspace((unsigned char)*c.p))
		c.p++;
	if (n == 0 || c.end - c.p < 2 || c.p[0] != '*' || c.p[1] != '/')
		return false;
	lane[n] = '\0';
	return true;
}

const char *proto_sql_parse_text(const uint8_t *rest, size_t len, size_t *text_len)
{
	const uint8_t *nul = memchr(rest, 0, len);
	if (!nul)
		return NULL;
	*text_len = (size_t)(nul - rest);
	return (const char *)rest;
}
