/* config/userlist.c — the auth file (PgBouncer's userlist.txt format): reading it line by line
 * with "FILE:LINE: message" errors, telling plain, MD5 and SCRAM secrets apart, and looking a
 * user up by name in the sorted list. */
#include "config/userlist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX   1024
#define SCRAM_PREFIX "SCRAM-SHA-256$"

struct entry {
	struct cfg_user u;
	unsigned line;
};

struct reader {
	const char *path;
	struct cfg_errors *errs;
	size_t nerrors;
	struct entry *v; /* owned */
	size_t n, cap;
};

static void err_add(struct reader *r, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void err_add(struct reader *r, unsigned line, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->nerrors++;
	if (r->errs->n >= CFG_MAX_ERRORS)
		return;
	char *out = r->errs->msg[r->errs->n++];
	if (line)
		snprintf(out, sizeof(r->errs->msg[0]), "%s:%u: %s", r->path, line, msg);
	else
		snprintf(out, sizeof(r->errs->msg[0]), "%s: %s", r->path, msg);
}

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A run of base64 characters (with padding) of at least one character; returns its length. */
static size_t base64_span(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
	return n + strspn(s + n, "=");
}

/* SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, as PostgreSQL stores it. */
static bool scram_well_formed(const char *s)
{
	s += strlen(SCRAM_PREFIX);
	size_t n = strspn(s, "0123456789");
	if (n == 0 || n > 9 || *s == '0' || s[n] != ':')
		return false;
	s += n + 1;
	static const char seps[] = {'$', ':', '\0'};
	for (size_t i = 0; i < sizeof(seps); i++) {
		n = base64_span(s);
		if (n == 0 || s[n] != seps[i])
			return false;
		s += n + 1;
	}
	return true;
}

enum cfg_secret_kind cfg_secret_kind_of(const char *s)
{
	size_t n = strlen(s);
	if (n == 35 && strncmp(s, "md5", 3) == 0 && is_lower_hex(s + 3, 32))
		return CFG_SECRET_MD5;
	if (strncmp(s, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) == 0)
		return CFG_SECRET_SCRAM;
	return CFG_SECRET_PLAIN;
}

bool cfg_secret_well_formed(const char *s)
{
	return cfg_secret_kind_of(s) != CFG_SECRET_SCRAM || scram_well_formed(s);
}

/* A quoted field at *p ("" inside is a literal quote), copied into a new string; NULL with
 * *why set when the field is malformed or memory runs out. */
static char *quoted(const char **p, const char **why)
{
	const char *s = *p;
	if (*s != '"') {
		*why = "expected a quoted field";
		return NULL;
	}
	s++;
	char *out = malloc(strlen(s) + 1);
	if (!out) {
		*why = "out of memory";
		return NULL;
	}
	size_t n = 0;
	for (;;) {
		if (*s == '\0') {
			free(out);
			*why = "unterminated quoted field";
			return NULL;
		}
		if (*s == '"') {
			if (s[1] != '"')
				break;
			s++;
		}
		out[n++] = *s++;
	}
	out[n] = '\0';
	*p = s + 1;
	return out;
}

static const char *skip_blank(const char *s)
{
	return s + strspn(s, " \t");
}

/* One line that is neither blank nor a comment. */
static void parse_line(struct reader *r, const char *s, unsigned line)
{
	const char *why = NULL;
	char *name = NULL, *secret = NULL;
	if (*s != '"') {
		why = "expected \"user\" \"secret\"";
		goto fail;
	}
	name = quoted(&s, &why);
	if (!name)
		goto fail;
	s = skip_blank(s);
	if (*s == '\0') {
		why = "missing secret after the user name";
		goto fail;
	}
	if (*s != '"') {
		why = "expected a quoted secret after the user name";
		goto fail;
	}
	secret = quoted(&s, &why);
	if (!secret)
		goto fail;
	if (*skip_blank(s) != '\0') {
		why = "unexpected text after the secret";
		goto fail;
	}
	if (*name == '\0') {
		why = "empty user name";
		goto fail;
	}
	if (strlen(name) >= CFG_NAME_MAX) {
		err_add(r, line, "user name longer than %d bytes", CFG_NAME_MAX - 1);
		goto out;
	}
	if (*secret == '\0') {
		err_add(r, line, "empty secret for user \"%s\"", name);
		goto out;
	}
	if (strlen(secret) > SECRET_MAX) {
		err_add(r, line, "secret for user \"%s\" longer than %d bytes", name, SECRET_MAX);
		goto out;
	}
	enum cfg_secret_kind kind = cfg_secret_kind_of(secret);
	if (kind == CFG_SECRET_SCRAM && !scram_well_formed(secret)) {
		err_add(r, line,
		        "malformed SCRAM secret for user \"%s\" (expected "
		        "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)",
		        name);
		goto out;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct entry *v = realloc(r->v, cap * sizeof(*v));
		if (!v) {
			why = "out of memory";
			goto fail;
		}
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] =
	        (struct entry){.u = {.name = name, .secret = secret, .kind = kind}, .line = line};
	return;
fail:
	err_add(r, line, "%s", why);
out:
	free(name);
	free(secret);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->u.name, y->u.name);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int user_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cfg_user *)elem)->name);
}

static void entries_free(struct entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].u.name);
		free(v[i].u.secret);
	}
	free(v);
}

struct cfg_userlist *cfg_userlist_load(const char *path, struct cfg_errors *errs)
{
	struct cfg_errors scratch;
	struct reader r = {.path = path, .errs = errs ? errs : &scratch};
	r.errs->n = 0;
	struct cfg_userlist *u = NULL;
	FILE *f = fopen(path, "r");
	if (!f) {
		err_add(&r, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t bufcap = 0;
	ssize_t len;
	unsigned line = 0;
	while ((len = getline(&buf, &bufcap, f)) >= 0) {
		line++;
		if ((size_t)len != strlen(buf)) {
			err_add(&r, line, "NUL byte in line");
			continue;
		}
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		const char *s = skip_blank(buf);
		if (*s == '\0' || *s == ';' || *s == '#')
			continue;
		parse_line(&r, s, line);
	}
	if (ferror(f))
		err_add(&r, 0, "read error: %s", strerror(errno));
	free(buf);
	fclose(f);

	if (r.n)
		qsort(r.v, r.n, sizeof(*r.v), entry_cmp);
	for (size_t i = 1, first = 0; i < r.n; i++) {
		if (strcmp(r.v[i].u.name, r.v[first].u.name) != 0)
			first = i;
		else
			err_add(&r, r.v[i].line, "duplicate user \"%s\" (first on line %u)",
			        r.v[i].u.name, r.v[first].line);
	}
	if (r.nerrors)
		goto fail;

	u = calloc(1, sizeof(*u));
	if (!u || (r.n && !(u->users = calloc(r.n, sizeof(*u->users))))) {
		err_add(&r, 0, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < r.n; i++)
		u->users[i] = r.v[i].u;
	u->n = r.n;
	free(r.v);
	return u;
fail:
	if (r.nerrors > CFG_MAX_ERRORS)
		snprintf(r.errs->msg[CFG_MAX_ERRORS - 1], sizeof(r.errs->msg[0]),
		         "%s: %zu more errors not shown", path, r.nerrors - (CFG_MAX_ERRORS - 1));
	if (u)
		free(u->users);
	free(u);
	entries_free(r.v, r.n);
	return NULL;
}

void cfg_userlist_free(struct cfg_userlist *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n; i++) {
		free(u->users[i].name);
		free(u->users[i].secret);
	}
	free(u->users);
	free(u);
}

const struct cfg_user *cfg_userlist_find(const struct cfg_userlist *u, const char *name)
{
	if (!u || u->n == 0)
		return NULL;
	return bsearch(name, u->users, u->n, sizeof(*u->users), user_cmp);
}
