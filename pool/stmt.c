/* pool/stmt.c — the statement registry, clients' name maps and servers' LRU caches. */
#include "pool/stmt.h"
#include "pool/owner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_BUCKETS 4096

/* The statement registry: one pool_stmt per distinct Parse body, named "pglane_<id>" on
 * every server. Owner today: the process's one event loop. Under worker threads: one per
 * worker (plain reference counts; Parse looks up without a lock); a server handed to another
 * worker leaves its statement cache behind (the receiver sends DEALLOCATE ALL before using
 * it), so no reference crosses workers and names may repeat between workers. */
static struct stmt_registry {
	struct pool_stmt *registry[REGISTRY_BUCKETS]; /* owned: hash chains */
	uint64_t next_id;
	size_t alive;
} stmt_regs[POOL_MAX_WORKERS];
#define stmts (stmt_regs[pool_worker])

static uint32_t hash_bytes(const void *p, size_t n, uint32_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

struct pool_stmt *pool_stmt_get(const uint8_t *body, size_t len)
{
	if (len > UINT32_MAX)
		return NULL;
	uint32_t h = hash_bytes(body, len, 2166136261u);
	struct pool_stmt **slot = &stmts.registry[h % REGISTRY_BUCKETS];
	for (struct pool_stmt *s = *slot; s; s = s->next) {
		if (s->hash == h && s->len == len && memcmp(s->body, body, len) == 0) {
			s->refs++;
			return s;
		}
	}
	struct pool_stmt *s = malloc(sizeof(*s) + len);
	if (!s)
		return NULL;
	s->refs = 1;
	s->hash = h;
	s->id = ++stmts.next_id;
	snprintf(s->name, sizeof(s->name), "pglane_%llu", (unsigned long long)s->id);
	s->len = (uint32_t)len;
	memcpy(s->body, body, len);
	s->info = NULL;
	struct proto_sql_info info;
	size_t text = strnlen((const char *)body, len);
	proto_sql_scan((const char *)body, text < len ? text + 1 : text, false, &info);
	if (info.effects || info.kind != PROTO_SQL_OTHER) {
		s->info = malloc(sizeof(*s->info));
		if (!s->info) {
			free(s);
			return NULL;
		}
		*s->info = info;
	}
	s->next = *slot;
	*slot = s;
	stmts.alive++;
	return s;
}

void pool_stmt_ref(struct pool_stmt *s)
{
	s->refs++;
}

void pool_stmt_put(struct pool_stmt *s)
{
	if (!s || --s->refs > 0)
		return;
	struct pool_stmt **slot = &stmts.registry[s->hash % REGISTRY_BUCKETS];
	while (*slot != s)
		slot = &(*slot)->next;
	*slot = s->next;
	stmts.alive--;
	free(s->info);
	free(s);
}

size_t pool_stmt_count(void)
{
	return stmts.alive;
}

/* ---- maps: chained hash of owned names ---- */

struct map_entry {
	struct map_entry *next;
	struct pool_stmt *stmt; /* a reference */
	uint32_t hash;
	char name[];
};

struct pool_stmt_map {
	struct map_entry **buckets;
	size_t nbuckets; /* power of two */
	size_t n;
	size_t ninfo; /* entries whose statement does something to the session (info) */
};

struct pool_stmt_map *pool_stmt_map_new(void)
{
	struct pool_stmt_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->nbuckets = 8;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return NULL;
	}
	return m;
}

void pool_stmt_map_clear(struct pool_stmt_map *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		while (m->buckets[i]) {
			struct map_entry *e = m->buckets[i];
			m->buckets[i] = e->next;
			pool_stmt_put(e->stmt);
			free(e);
		}
	}
	m->n = 0;
	m->ninfo = 0;
}

void pool_stmt_map_free(struct pool_stmt_map *m)
{
	if (!m)
		return;
	pool_stmt_map_clear(m);
	free(m->buckets);
	free(m);
}

static struct map_entry **map_find(const struct pool_stmt_map *m, const char *name, uint32_t h)
{
	struct map_entry **e = &m->buckets[h & (m->nbuckets - 1)];
	while (*e && ((*e)->hash != h || strcmp((*e)->name, name) != 0))
		e = &(*e)->next;
	return e;
}

struct pool_stmt *pool_stmt_map_get(const struct pool_stmt_map *m, const char *name)
{
	uint32_t h = hash_bytes(name, strlen(name), 2166136261u);
	struct map_entry *e = *map_find(m, name, h);
	return e ? e->stmt : NULL;
}

static void map_grow(struct pool_stmt_map *m)
{
	size_t nb = m->nbuckets * 2;
	struct map_entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* keep the longer chains */
	for (size_t i = 0; i < m->nbuckets; i++) {
		while (m->buckets[i]) {
			struct map_entry *e = m->buckets[i];
			m->buckets[i] = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
}

bool pool_stmt_map_set(struct pool_stmt_map *m, const char *name, struct pool_stmt *s)
{
	uint32_t h = hash_bytes(name, strlen(name), 2166136261u);
	struct map_entry **slot = map_find(m, name, h);
	if (*slot) {
		pool_stmt_ref(s);
		m->ninfo += (s->info != NULL) - ((*slot)->stmt->info != NULL);
		pool_stmt_put((*slot)->stmt);
		(*slot)->stmt = s;
		return true;
	}
	size_t n = strlen(name);
	struct map_entry *e = malloc(sizeof(*e) + n + 1);
	if (!e)
		return false;
	memcpy(e->name, name, n + 1);
	e->hash = h;
	e->stmt = s;
	pool_stmt_ref(s);
	e->next = NULL;
	*slot = e;
	m->ninfo += s->info != NULL;
	if (++m->n > m->nbuckets * 2)
		map_grow(m);
	return true;
}

bool pool_stmt_map_del(struct pool_stmt_map *m, const char *name)
{
	uint32_t h = hash_bytes(name, strlen(name), 2166136261u);
	struct map_entry **slot = map_find(m, name, h);
	struct map_entry *e = *slot;
	if (!e)
		return false;
	*slot = e->next;
	m->ninfo -= e->stmt->info != NULL;
	pool_stmt_put(e->stmt);
	free(e);
	m->n--;
	return true;
}

size_t pool_stmt_map_count(const struct pool_stmt_map *m)
{
	return m->n;
}

bool pool_stmt_map_has_info(const struct pool_stmt_map *m)
{
	return m && m->ninfo > 0;
}

/* ---- caches: fixed node array, hash chains by statement, LRU list ---- */

#define NIL (-1)

struct cache_node {
	struct pool_stmt *stmt; /* a reference; NULL when free */
	int chain;              /* next in the hash chain */
	int prev, next;         /* LRU list (head = most recent) or free list (next) */
};

struct pool_stmt_cache {
	int cap, n;
	int head, tail; /* LRU */
	int free;       /* free nodes */
	int nbuckets;   /* power of two */
	int *buckets;
	struct cache_node nodes[];
};

struct pool_stmt_cache *pool_stmt_cache_new(int cap)
{
	if (cap < 1)
		cap = 1;
	int nb = 1;
	while (nb < cap * 2)
		nb <<= 1;
	struct pool_stmt_cache *c = malloc(sizeof(*c) + (size_t)cap * sizeof(c->nodes[0]));
	if (!c)
		return NULL;
	c->buckets = malloc((size_t)nb * sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->cap = cap;
	c->nbuckets = nb;
	c->n = 0;
	c->head = c->tail = NIL;
	for (int i = 0; i < nb; i++)
		c->buckets[i] = NIL;
	for (int i = 0; i < cap; i++) {
		c->nodes[i].stmt = NULL;
		c->nodes[i].next = i + 1 < cap ? i + 1 : NIL;
	}
	c->free = 0;
	return c;
}

void pool_stmt_cache_free(struct pool_stmt_cache *c)
{
	if (!c)
		return;
	pool_stmt_cache_clear(c);
	free(c->buckets);
	free(c);
}

static int bucket_of(const struct pool_stmt_cache *c, const struct pool_stmt *s)
{
	return (int)((s->id * 0x9E3779B97F4A7C15ull) >> 40) & (c->nbuckets - 1);
}

static int find(const struct pool_stmt_cache *c, const struct pool_stmt *s)
{
	for (int i = c->buckets[bucket_of(c, s)]; i != NIL; i = c->nodes[i].chain)
		if (c->nodes[i].stmt == s)
			return i;
	return NIL;
}

static void lru_unlink(struct pool_stmt_cache *c, int i)
{
	struct cache_node *n = &c->nodes[i];
	if (n->prev != NIL)
		c->nodes[n->prev].next = n->next;
	else
		c->head = n->next;
	if (n->next != NIL)
		c->nodes[n->next].prev = n->prev;
	else
		c->tail = n->prev;
}

static void lru_push_front(struct pool_stmt_cache *c, int i)
{
	struct cache_node *n = &c->nodes[i];
	n->prev = NIL;
	n->next = c->head;
	if (c->head != NIL)
		c->nodes[c->head].prev = i;
	c->head = i;
	if (c->tail == NIL)
		c->tail = i;
}

bool pool_stmt_cache_has(struct pool_stmt_cache *c, const struct pool_stmt *s)
{
	int i = find(c, s);
	if (i == NIL)
		return false;
	if (c->head != i) {
		lru_unlink(c, i);
		lru_push_front(c, i);
	}
	return true;
}

struct pool_stmt *pool_stmt_cache_victim(const struct pool_stmt_cache *c)
{
	return c->n < c->cap ? NULL : c->nodes[c->tail].stmt;
}

void pool_stmt_cache_add(struct pool_stmt_cache *c, struct pool_stmt *s)
{
	if (c->free == NIL || find(c, s) != NIL)
		return;
	int i = c->free;
	c->free = c->nodes[i].next;
	c->nodes[i].stmt = s;
	pool_stmt_ref(s);
	int b = bucket_of(c, s);
	c->nodes[i].chain = c->buckets[b];
	c->buckets[b] = i;
	lru_push_front(c, i);
	c->n++;
}

void pool_stmt_cache_remove(struct pool_stmt_cache *c, const struct pool_stmt *s)
{
	int b = bucket_of(c, s);
	int *link = &c->buckets[b];
	while (*link != NIL && c->nodes[*link].stmt != s)
		link = &c->nodes[*link].chain;
	if (*link == NIL)
		return;
	int i = *link;
	*link = c->nodes[i].chain;
	lru_unlink(c, i);
	pool_stmt_put(c->nodes[i].stmt);
	c->nodes[i].stmt = NULL;
	c->nodes[i].next = c->free;
	c->free = i;
	c->n--;
}

void pool_stmt_cache_clear(struct pool_stmt_cache *c)
{
	while (c->head != NIL)
		pool_stmt_cache_remove(c, c->nodes[c->head].stmt);
}

int pool_stmt_cache_count(const struct pool_stmt_cache *c)
{
	return c->n;
}
