/* tests/unit/test_stmt.c — pool/stmt: the statement registry (interning, names, references),
 * clients' name maps (growth, colliding hashes) and servers' LRU caches checked against a
 * model. Every reference taken is given back: pool_stmt_count() returns to where it began. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/stmt.h"

/* Pairs of different strings with the same 32-bit FNV-1a hash (the hash of names in maps
 * and of bodies in the registry). */
static const char *const collide[][2] = {
        {"cquvmgey", "iinqsgec"},
        {"bqtwpdsl", "edqlvidb"},
        {"lyihuqbx", "ihrncmxu"},
};

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

static struct pool_stmt *get_str(const char *s)
{
	struct pool_stmt *st = pool_stmt_get((const uint8_t *)s, strlen(s));
	cr_assert_not_null(st);
	return st;
}

/* A statement for query number `i` (a Parse body: query, NUL, no parameter types). */
static struct pool_stmt *get_nth(int i)
{
	uint8_t body[64];
	int n = snprintf((char *)body, sizeof(body), "SELECT %d", i);
	body[n + 1] = 0;
	body[n + 2] = 0;
	struct pool_stmt *s = pool_stmt_get(body, (size_t)n + 3);
	cr_assert_not_null(s);
	return s;
}

static void assert_server_name(const struct pool_stmt *s)
{
	char want[POOL_STMT_NAME_LEN];
	snprintf(want, sizeof(want), "pglane_%llu", (unsigned long long)s->id);
	cr_assert_str_eq(s->name, want);
}

/* ---- registry ---- */

Test(stmt, same_body_same_statement)
{
	size_t base = pool_stmt_count();
	const uint8_t body[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', '$', '1', 0, 0, 1, 0, 0, 0, 23};
	struct pool_stmt *a = pool_stmt_get(body, sizeof(body));
	cr_assert_not_null(a);
	cr_assert_eq(pool_stmt_count(), base + 1);
	uint8_t copy[sizeof(body)];
	memcpy(copy, body, sizeof(body));
	struct pool_stmt *b = pool_stmt_get(copy, sizeof(copy));
	cr_assert_eq(a, b, "interned by content, not by pointer");
	cr_assert_str_eq(a->name, b->name);
	cr_assert_eq(a->refs, 2);
	cr_assert_eq(a->len, sizeof(body));
	cr_assert_arr_eq(a->body, body, sizeof(body));
	cr_assert_eq(pool_stmt_count(), base + 1);
	assert_server_name(a);
	pool_stmt_put(a);
	pool_stmt_put(b);
	cr_assert_eq(pool_stmt_count(), base);
}

Test(stmt, different_bodies_different_names)
{
	size_t base = pool_stmt_count();
	const uint8_t q23[] = {'q', 0, 0, 1, 0, 0, 0, 23};
	const uint8_t q25[] = {'q', 0, 0, 1, 0, 0, 0, 25}; /* same query, other type */
	const uint8_t q0[] = {'q', 0, 0, 0};
	struct pool_stmt *a = pool_stmt_get(q23, sizeof(q23));
	struct pool_stmt *b = pool_stmt_get(q25, sizeof(q25));
	struct pool_stmt *c = pool_stmt_get(q0, sizeof(q0));
	struct pool_stmt *d = pool_stmt_get(q23, 4); /* 'q', 0, 0, 1 */
	struct pool_stmt *e = pool_stmt_get(q25, 4); /* the same four bytes */
	cr_assert(a && b && c && d && e);
	cr_assert_neq(a, b);
	cr_assert_neq(a, c);
	cr_assert_neq(b, c);
	cr_assert_eq(d, e, "same bytes, same statement");
	cr_assert_neq(c, d, "same length, one byte differs");
	cr_assert_neq(a, d, "a prefix is another statement");
	cr_assert_str_neq(a->name, b->name);
	cr_assert_str_neq(a->name, c->name);
	cr_assert_str_neq(b->name, c->name);
	cr_assert_str_neq(c->name, d->name);
	assert_server_name(a);
	assert_server_name(b);
	assert_server_name(c);
	assert_server_name(d);
	cr_assert_eq(strncmp(a->name, "pglane_", 7), 0);
	cr_assert_eq(pool_stmt_count(), base + 4);
	pool_stmt_put(a);
	pool_stmt_put(b);
	pool_stmt_put(c);
	pool_stmt_put(d);
	pool_stmt_put(e);
	cr_assert_eq(pool_stmt_count(), base);
}

Test(stmt, empty_body)
{
	size_t base = pool_stmt_count();
	struct pool_stmt *a = pool_stmt_get((const uint8_t *)"", 0);
	struct pool_stmt *b = pool_stmt_get((const uint8_t *)"x", 0);
	cr_assert_not_null(a);
	cr_assert_eq(a, b);
	cr_assert_eq(a->len, 0);
	pool_stmt_put(a);
	pool_stmt_put(b);
	cr_assert_eq(pool_stmt_count(), base);
}

Test(stmt, colliding_bodies)
{
	size_t base = pool_stmt_count();
	for (size_t i = 0; i < sizeof(collide) / sizeof(collide[0]); i++) {
		cr_assert_eq(fnv1a(collide[i][0], 8), fnv1a(collide[i][1], 8), "pair %zu", i);
		struct pool_stmt *a = get_str(collide[i][0]);
		struct pool_stmt *b = get_str(collide[i][1]);
		cr_assert_neq(a, b, "same hash, different bodies: pair %zu", i);
		cr_assert_eq(a->hash, b->hash);
		cr_assert_str_neq(a->name, b->name);
		cr_assert_eq(get_str(collide[i][0]), a);
		cr_assert_eq(get_str(collide[i][1]), b);
		/* freeing one leaves the other findable, in either order */
		pool_stmt_put(a);
		pool_stmt_put(a);
		cr_assert_eq(get_str(collide[i][1]), b);
		pool_stmt_put(b);
		pool_stmt_put(b);
		pool_stmt_put(b);
	}
	cr_assert_eq(pool_stmt_count(), base);
}

Test(stmt, references)
{
	size_t base = pool_stmt_count();
	struct pool_stmt *a = get_str("SELECT refs");
	char first_name[POOL_STMT_NAME_LEN];
	memcpy(first_name, a->name, sizeof(first_name));
	uint64_t first_id = a->id;

	pool_stmt_ref(a);
	cr_assert_eq(a->refs, 2);
	pool_stmt_put(a);
	cr_assert_eq(pool_stmt_count(), base + 1, "one reference left");
	struct pool_stmt *b = get_str("SELECT refs");
	cr_assert_eq(a, b, "still alive: the same statement");
	cr_assert_eq(b->id, first_id);
	cr_assert_str_eq(b->name, first_name);
	pool_stmt_put(b);
	pool_stmt_put(a);
	cr_assert_eq(pool_stmt_count(), base);

	/* gone with its last reference: a new one gets a new name */
	struct pool_stmt *c = get_str("SELECT refs");
	cr_assert_neq(c->id, first_id);
	cr_assert_str_neq(c->name, first_name);
	cr_assert_eq(c->refs, 1);
	pool_stmt_put(c);
	cr_assert_eq(pool_stmt_count(), base);

	pool_stmt_put(NULL); /* ignored */
	cr_assert_eq(pool_stmt_count(), base);
}

Test(stmt, many_statements)
{
	enum { N = 10000 };
	size_t base = pool_stmt_count();
	static struct pool_stmt *s[N];
	for (int i = 0; i < N; i++)
		s[i] = get_nth(i);
	cr_assert_eq(pool_stmt_count(), base + N);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(get_nth(i), s[i], "statement %d found again", i);
		if (i > 0)
			cr_assert_neq(s[i]->id, s[i - 1]->id);
	}
	/* drop every other one completely */
	for (int i = 0; i < N; i += 2) {
		pool_stmt_put(s[i]);
		pool_stmt_put(s[i]);
	}
	cr_assert_eq(pool_stmt_count(), base + N / 2);
	for (int i = 1; i < N; i += 2) {
		cr_assert_eq(get_nth(i), s[i]);
		pool_stmt_put(s[i]);
	}
	for (int i = 1; i < N; i += 2) {
		pool_stmt_put(s[i]);
		pool_stmt_put(s[i]);
	}
	cr_assert_eq(pool_stmt_count(), base);
}

/* ---- maps ---- */

Test(stmt, map_set_get_replace_del)
{
	size_t base = pool_stmt_count();
	struct pool_stmt_map *m = pool_stmt_map_new();
	cr_assert_not_null(m);
	struct pool_stmt *s1 = get_str("SELECT 1"), *s2 = get_str("SELECT 2");

	cr_assert_eq(pool_stmt_map_count(m), 0);
	cr_assert_null(pool_stmt_map_get(m, "a"));
	cr_assert_not(pool_stmt_map_del(m, "a"));

	cr_assert(pool_stmt_map_set(m, "a", s1));
	cr_assert_eq(s1->refs, 2, "the map holds a reference");
	cr_assert_eq(pool_stmt_map_get(m, "a"), s1);
	cr_assert_null(pool_stmt_map_get(m, "A"), "names are case-sensitive");
	cr_assert_null(pool_stmt_map_get(m, "a "));
	cr_assert_null(pool_stmt_map_get(m, ""));
	cr_assert_eq(pool_stmt_map_count(m), 1);

	/* replace */
	cr_assert(pool_stmt_map_set(m, "a", s2));
	cr_assert_eq(pool_stmt_map_get(m, "a"), s2);
	cr_assert_eq(pool_stmt_map_count(m), 1);
	cr_assert_eq(s1->refs, 1, "the replaced statement's reference is dropped");
	cr_assert_eq(s2->refs, 2);

	/* replace with the same statement: no change in references */
	cr_assert(pool_stmt_map_set(m, "a", s2));
	cr_assert_eq(s2->refs, 2);
	cr_assert_eq(pool_stmt_map_count(m), 1);

	/* two names, one statement */
	cr_assert(pool_stmt_map_set(m, "b", s2));
	cr_assert_eq(s2->refs, 3);
	cr_assert_eq(pool_stmt_map_count(m), 2);

	cr_assert(pool_stmt_map_del(m, "a"));
	cr_assert_null(pool_stmt_map_get(m, "a"));
	cr_assert_eq(pool_stmt_map_get(m, "b"), s2);
	cr_assert_eq(pool_stmt_map_count(m), 1);
	cr_assert_eq(s2->refs, 2);
	cr_assert_not(pool_stmt_map_del(m, "a"));
	cr_assert_eq(pool_stmt_map_count(m), 1);

	/* the map alone keeps a statement alive */
	pool_stmt_put(s2);
	cr_assert_eq(pool_stmt_count(), base + 2);
	cr_assert_eq(pool_stmt_map_get(m, "b"), s2);
	cr_assert(pool_stmt_map_del(m, "b"));
	cr_assert_eq(pool_stmt_count(), base + 1);

	pool_stmt_put(s1);
	cr_assert_eq(pool_stmt_count(), base);
	pool_stmt_map_free(m);
}

Test(stmt, map_clear_and_free_drop_references)
{
	size_t base = pool_stmt_count();
	struct pool_stmt_map *m = pool_stmt_map_new();
	cr_assert_not_null(m);
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		struct pool_stmt *s = get_nth(i % 7);
		cr_assert(pool_stmt_map_set(m, name, s));
		pool_stmt_put(s);
	}
	cr_assert_eq(pool_stmt_map_count(m), 20);
	cr_assert_eq(pool_stmt_count(), base + 7);
	pool_stmt_map_clear(m);
	cr_assert_eq(pool_stmt_map_count(m), 0);
	cr_assert_eq(pool_stmt_count(), base);
	cr_assert_null(pool_stmt_map_get(m, "n0"));

	/* usable after clear */
	struct pool_stmt *s = get_nth(1);
	cr_assert(pool_stmt_map_set(m, "n0", s));
	cr_assert(pool_stmt_map_set(m, "", s));
	cr_assert_eq(pool_stmt_map_get(m, ""), s, "the empty name is a name like another");
	pool_stmt_put(s);
	cr_assert_eq(pool_stmt_map_count(m), 2);
	pool_stmt_map_free(m);
	cr_assert_eq(pool_stmt_count(), base);
	pool_stmt_map_free(NULL);
}

Test(stmt, map_many_names_grow)
{
	enum { N = 5000, K = 37 };
	size_t base = pool_stmt_count();
	struct pool_stmt_map *m = pool_stmt_map_new();
	cr_assert_not_null(m);
	struct pool_stmt *s[K];
	for (int k = 0; k < K; k++)
		s[k] = get_nth(k);
	char name[32];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "stmt_%d", i);
		cr_assert(pool_stmt_map_set(m, name, s[i % K]));
		cr_assert_eq(pool_stmt_map_count(m), (size_t)i + 1);
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "stmt_%d", i);
		cr_assert_eq(pool_stmt_map_get(m, name), s[i % K], "%s after growth", name);
	}
	/* delete the multiples of 3, replace the others ending in 1 */
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "stmt_%d", i);
		if (i % 3 == 0)
			cr_assert(pool_stmt_map_del(m, name));
		else if (i % 10 == 1)
			cr_assert(pool_stmt_map_set(m, name, s[(i + 1) % K]));
	}
	size_t left = 0;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "stmt_%d", i);
		struct pool_stmt *got = pool_stmt_map_get(m, name);
		if (i % 3 == 0) {
			cr_assert_null(got, "%s deleted", name);
		} else {
			left++;
			cr_assert_eq(got, s[(i % 10 == 1 ? i + 1 : i) % K], "%s", name);
		}
	}
	cr_assert_eq(pool_stmt_map_count(m), left);
	for (int k = 0; k < K; k++)
		pool_stmt_put(s[k]);
	cr_assert_eq(pool_stmt_count(), base + K, "the map keeps them");
	pool_stmt_map_free(m);
	cr_assert_eq(pool_stmt_count(), base);
}

Test(stmt, map_colliding_names)
{
	size_t base = pool_stmt_count();
	struct pool_stmt_map *m = pool_stmt_map_new();
	cr_assert_not_null(m);
	size_t npairs = sizeof(collide) / sizeof(collide[0]);
	struct pool_stmt *s[2 * 3];
	for (size_t i = 0; i < 2 * npairs; i++) {
		s[i] = get_nth((int)i);
		cr_assert(pool_stmt_map_set(m, collide[i / 2][i % 2], s[i]));
	}
	for (size_t i = 0; i < 2 * npairs; i++)
		cr_assert_eq(pool_stmt_map_get(m, collide[i / 2][i % 2]), s[i], "%zu", i);
	/* deleting one of a pair leaves the other, whichever was chained first */
	cr_assert(pool_stmt_map_del(m, collide[0][0]));
	cr_assert(pool_stmt_map_del(m, collide[1][1]));
	cr_assert_null(pool_stmt_map_get(m, collide[0][0]));
	cr_assert_eq(pool_stmt_map_get(m, collide[0][1]), s[1]);
	cr_assert_eq(pool_stmt_map_get(m, collide[1][0]), s[2]);
	cr_assert_null(pool_stmt_map_get(m, collide[1][1]));
	/* replacing one of a pair does not touch the other */
	cr_assert(pool_stmt_map_set(m, collide[2][0], s[0]));
	cr_assert_eq(pool_stmt_map_get(m, collide[2][0]), s[0]);
	cr_assert_eq(pool_stmt_map_get(m, collide[2][1]), s[5]);
	cr_assert_eq(pool_stmt_map_count(m), 4);

	/* names that share a bucket of 8 (the starting size) but not the hash */
	char names[64][16];
	size_t nb = 0;
	for (int i = 0; nb < 64; i++) {
		char n[16];
		snprintf(n, sizeof(n), "x%d", i);
		if ((fnv1a(n, strlen(n)) & 7) == 3)
			memcpy(names[nb++], n, sizeof(n));
	}
	for (size_t i = 0; i < nb; i++)
		cr_assert(pool_stmt_map_set(m, names[i], s[i % 6]));
	for (size_t i = 0; i < nb; i++)
		cr_assert_eq(pool_stmt_map_get(m, names[i]), s[i % 6], "%s", names[i]);
	cr_assert_eq(pool_stmt_map_count(m), 4 + nb);
	for (size_t i = 0; i < 6; i++)
		pool_stmt_put(s[i]);
	pool_stmt_map_free(m);
	cr_assert_eq(pool_stmt_count(), base);
}

/* ---- caches ---- */

Test(stmt, cache_basics_and_lru)
{
	size_t base = pool_stmt_count();
	struct pool_stmt_cache *c = pool_stmt_cache_new(3);
	cr_assert_not_null(c);
	struct pool_stmt *a = get_nth(1), *b = get_nth(2), *x = get_nth(3), *d = get_nth(4);

	cr_assert_eq(pool_stmt_cache_count(c), 0);
	cr_assert_null(pool_stmt_cache_victim(c));
	cr_assert_not(pool_stmt_cache_has(c, a));

	pool_stmt_cache_add(c, a);
	cr_assert_eq(a->refs, 2, "the cache holds a reference");
	cr_assert_null(pool_stmt_cache_victim(c), "room for two more");
	pool_stmt_cache_add(c, b);
	cr_assert_null(pool_stmt_cache_victim(c));
	pool_stmt_cache_add(c, x);
	cr_assert_eq(pool_stmt_cache_count(c), 3);
	cr_assert_eq(pool_stmt_cache_victim(c), a, "least recently used: the first added");

	cr_assert(pool_stmt_cache_has(c, a));
	cr_assert_eq(a->refs, 2, "has takes no reference");
	cr_assert_eq(pool_stmt_cache_victim(c), b, "touched a: b is now the oldest");
	cr_assert(pool_stmt_cache_has(c, b));
	cr_assert_eq(pool_stmt_cache_victim(c), x);
	cr_assert(pool_stmt_cache_has(c, b)); /* already the most recent */
	cr_assert_eq(pool_stmt_cache_victim(c), x);
	cr_assert_not(pool_stmt_cache_has(c, d));
	cr_assert_eq(pool_stmt_cache_victim(c), x, "a miss changes nothing");

	/* order now (most recent first): b a x */
	pool_stmt_cache_remove(c, a);
	cr_assert_eq(pool_stmt_cache_count(c), 2);
	cr_assert_eq(a->refs, 1);
	cr_assert_not(pool_stmt_cache_has(c, a));
	cr_assert_null(pool_stmt_cache_victim(c));
	pool_stmt_cache_add(c, d); /* d b x */
	cr_assert_eq(pool_stmt_cache_victim(c), x);
	pool_stmt_cache_remove(c, x); /* d b */
	pool_stmt_cache_add(c, a);    /* a d b */
	cr_assert_eq(pool_stmt_cache_victim(c), b);
	cr_assert(pool_stmt_cache_has(c, b)); /* b a d */
	cr_assert_eq(pool_stmt_cache_victim(c), d);

	/* removing what is absent is harmless */
	pool_stmt_cache_remove(c, x);
	cr_assert_eq(pool_stmt_cache_count(c), 3);
	cr_assert_eq(x->refs, 1);

	/* adding what is there changes nothing */
	pool_stmt_cache_add(c, a);
	cr_assert_eq(pool_stmt_cache_count(c), 3);
	cr_assert_eq(a->refs, 2);

	pool_stmt_put(a);
	pool_stmt_put(b);
	pool_stmt_put(x);
	pool_stmt_put(d);
	cr_assert_eq(pool_stmt_count(), base + 3, "the cache keeps a, b, d");
	pool_stmt_cache_clear(c);
	cr_assert_eq(pool_stmt_cache_count(c), 0);
	cr_assert_null(pool_stmt_cache_victim(c));
	cr_assert_eq(pool_stmt_count(), base);
	pool_stmt_cache_free(c);
}

Test(stmt, cache_cap_one)
{
	size_t base = pool_stmt_count();
	struct pool_stmt_cache *c = pool_stmt_cache_new(1);
	cr_assert_not_null(c);
	struct pool_stmt *a = get_nth(1), *b = get_nth(2);
	cr_assert_null(pool_stmt_cache_victim(c));
	pool_stmt_cache_add(c, a);
	cr_assert_eq(pool_stmt_cache_victim(c), a);
	cr_assert(pool_stmt_cache_has(c, a));
	cr_assert_eq(pool_stmt_cache_victim(c), a);
	pool_stmt_cache_add(c, b); /* no room: ignored */
	cr_assert_not(pool_stmt_cache_has(c, b));
	cr_assert_eq(b->refs, 1);
	for (int i = 0; i < 10; i++) {
		struct pool_stmt *in = i % 2 ? a : b, *out = i % 2 ? b : a;
		cr_assert_eq(pool_stmt_cache_victim(c), out);
		pool_stmt_cache_remove(c, out);
		cr_assert_null(pool_stmt_cache_victim(c));
		cr_assert_eq(pool_stmt_cache_count(c), 0);
		pool_stmt_cache_add(c, in);
		cr_assert(pool_stmt_cache_has(c, in));
		cr_assert_not(pool_stmt_cache_has(c, out));
		cr_assert_eq(pool_stmt_cache_count(c), 1);
	}
	pool_stmt_put(a);
	pool_stmt_put(b);
	cr_assert_eq(pool_stmt_count(), base + 1);
	pool_stmt_cache_free(c);
	cr_assert_eq(pool_stmt_count(), base, "free drops the cache's references");
	pool_stmt_cache_free(NULL);
}

/* The proxy's use: on each Parse, has() or else victim()/remove() then add(). A model LRU
 * (an array, most recent first) says what must be there and what goes next. */
static void cycle_against_model(int cap, int nstmts, int steps, unsigned seed)
{
	size_t base = pool_stmt_count();
	struct pool_stmt_cache *c = pool_stmt_cache_new(cap);
	cr_assert_not_null(c);
	struct pool_stmt **s = calloc((size_t)nstmts, sizeof(*s));
	int *model = calloc((size_t)cap, sizeof(*model)); /* statement indexes */
	cr_assert(s && model);
	for (int i = 0; i < nstmts; i++)
		s[i] = get_nth(i);
	int n = 0;
	unsigned r = seed;
	for (int step = 0; step < steps; step++) {
		int k;
		if (seed == 0) {
			k = step % nstmts; /* plain cycling: every access a miss once full */
		} else {
			r = r * 1103515245u + 12345u;
			/* mostly a hot set a bit bigger than the cache, sometimes anything */
			k = (int)((r >> 16) %
			          ((r & 0x8000) ? (unsigned)nstmts : (unsigned)(cap + cap / 4)));
		}
		int at = -1;
		for (int j = 0; j < n; j++)
			if (model[j] == k)
				at = j;
		bool has = pool_stmt_cache_has(c, s[k]);
		cr_assert_eq(has, at >= 0, "step %d: statement %d", step, k);
		if (has) {
			memmove(model + 1, model, (size_t)at * sizeof(*model));
			model[0] = k;
			continue;
		}
		struct pool_stmt *v = pool_stmt_cache_victim(c);
		if (n < cap) {
			cr_assert_null(v, "step %d: room left", step);
		} else {
			cr_assert_eq(v, s[model[n - 1]], "step %d: victim", step);
			pool_stmt_cache_remove(c, v);
			n--;
		}
		pool_stmt_cache_add(c, s[k]);
		memmove(model + 1, model, (size_t)n * sizeof(*model));
		model[0] = k;
		n++;
		cr_assert_eq(pool_stmt_cache_count(c), n);
	}
	/* the cache holds exactly the model's statements */
	for (int i = 0; i < nstmts; i++) {
		bool in_model = false;
		for (int j = 0; j < n; j++)
			in_model |= model[j] == i;
		cr_assert_eq(s[i]->refs, in_model ? 2u : 1u, "statement %d", i);
	}
	for (int i = 0; i < nstmts; i++)
		pool_stmt_put(s[i]);
	cr_assert_eq(pool_stmt_count(), base + (size_t)n);
	if (seed % 2)
		pool_stmt_cache_clear(c);
	pool_stmt_cache_free(c);
	cr_assert_eq(pool_stmt_count(), base);
	free(s);
	free(model);
}

Test(stmt, cache_200_of_1000_cycling)
{
	cycle_against_model(200, 1000, 5000, 0);
}

Test(stmt, cache_200_of_1000_random)
{
	cycle_against_model(200, 1000, 20000, 12345);
	cycle_against_model(200, 1000, 20000, 4242);
}

Test(stmt, cache_small_caps_random)
{
	for (int cap = 1; cap <= 9; cap++)
		cycle_against_model(cap, 3 * cap + 1, 2000, (unsigned)cap * 77 + 1);
}

Test(stmt, caches_share_statements)
{
	size_t base = pool_stmt_count();
	struct pool_stmt_cache *c1 = pool_stmt_cache_new(4), *c2 = pool_stmt_cache_new(4);
	cr_assert(c1 && c2);
	struct pool_stmt *a = get_nth(1);
	pool_stmt_cache_add(c1, a);
	pool_stmt_cache_add(c2, a);
	pool_stmt_put(a);
	cr_assert_eq(a->refs, 2);
	pool_stmt_cache_remove(c1, a);
	cr_assert(pool_stmt_cache_has(c2, a));
	cr_assert_not(pool_stmt_cache_has(c1, a));
	cr_assert_eq(pool_stmt_count(), base + 1);
	pool_stmt_cache_free(c1);
	pool_stmt_cache_free(c2);
	cr_assert_eq(pool_stmt_count(), base);
}
