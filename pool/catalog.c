/* pool/catalog.c — a sorted array of (lower-case name, context), searched by bisection. */
#include "pool/catalog.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 64

struct guc {
	char name[NAME_MAX_LEN];
	enum pool_guc_context context;
};

struct pool_catalog {
	struct guc *v; /* owned */
	size_t n, cap;
};

struct pool_catalog *pool_catalog_new(void)
{
	return calloc(1, sizeof(struct pool_catalog));
}

void pool_catalog_free(struct pool_catalog *c)
{
	if (!c)
		return;
	free(c->v);
	free(c);
}

struct pool_catalog *pool_catalog_copy(const struct pool_catalog *c)
{
	if (!c)
		return NULL;
	struct pool_catalog *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->v = malloc((c->n ? c->n : 1) * sizeof(*d->v));
	if (!d->v) {
		free(d);
		return NULL;
	}
	if (c->n) /* an empty catalog has no array */
		memcpy(d->v, c->v, c->n * sizeof(*d->v));
	d->n = d->cap = c->n;
	return d;
}

static enum pool_guc_context context_of(const char *s)
{
	if (strcmp(s, "user") == 0)
		return POOL_GUC_USER;
	if (strcmp(s, "superuser") == 0)
		return POOL_GUC_SUPERUSER;
	return POOL_GUC_FIXED;
}

bool pool_catalog_add(struct pool_catalog *c, const char *name, const char *context)
{
	size_t len = strlen(name);
	if (len == 0 || len >= NAME_MAX_LEN)
		return true; /* no setting has such a name: nothing to remember */
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 512;
		struct guc *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return false;
		c->v = v;
		c->cap = cap;
	}
	struct guc *g = &c->v[c->n++];
	for (size_t i = 0; i <= len; i++)
		g->name[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
	g->context = context_of(context);
	return true;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct guc *)a)->name, ((const struct guc *)b)->name);
}

void pool_catalog_done(struct pool_catalog *c)
{
	if (c->n)
		qsort(c->v, c->n, sizeof(*c->v), by_name);
}

size_t pool_catalog_count(const struct pool_catalog *c)
{
	return c->n;
}

enum pool_guc_context pool_catalog_context(const struct pool_catalog *c, const char *name)
{
	if (strchr(name, '.'))
		return POOL_GUC_USER;
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strcasecmp(c->v[mid].name, name);
		if (r == 0)
			return c->v[mid].context;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return POOL_GUC_UNKNOWN;
}
