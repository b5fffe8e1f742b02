/* pool/budget.c — the process-wide counts behind the server and client caps (budget.h). */
#include "pool/budget.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUDGET_BUCKETS 256

/* Every entry, by key. Process-wide: the table is changed under `lock` (an entry is made the
 * first time a worker meets a database, user or pool); the counters in an entry are atomics
 * any worker changes without it. */
static struct budget_table {
	pthread_mutex_t lock;
	struct pool_budget *buckets[BUDGET_BUCKETS]; /* owned */
} budgets = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct pool_budget *get(const char *key)
{
	uint32_t h = 2166136261u;
	for (const char *s = key; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	pthread_mutex_lock(&budgets.lock);
	struct pool_budget **b = &budgets.buckets[h % BUDGET_BUCKETS];
	while (*b && strcmp((*b)->key, key) != 0)
		b = &(*b)->next;
	if (!*b) {
		size_t n = strlen(key) + 1;
		struct pool_budget *e = calloc(1, sizeof(*e) + n);
		if (e) {
			memcpy(e->key, key, n);
			*b = e;
		}
	}
	struct pool_budget *e = *b;
	pthread_mutex_unlock(&budgets.lock);
	return e;
}

struct pool_budget *pool_budget_db(const char *db)
{
	char key[CFG_NAME_MAX + 4];
	snprintf(key, sizeof(key), "d:%s", db);
	return get(key);
}

struct pool_budget *pool_budget_user(const char *user)
{
	char key[CFG_NAME_MAX + 4];
	snprintf(key, sizeof(key), "u:%s", user);
	return get(key);
}

struct pool_budget *pool_budget_pool(const char *db, const char *user, enum cfg_lane_kind lane)
{
	char key[2 * CFG_NAME_MAX + 16];
	snprintf(key, sizeof(key), "p:%s\n%s\n%d", db, user, (int)lane);
	return get(key);
}

/* One more in `b` unless that passes `max` (<= 0: no limit). */
static bool take_one(struct pool_budget *b, int max)
{
	if (!b)
		return true;
	if (max <= 0) {
		atomic_fetch_add_explicit(&b->servers, 1, memory_order_relaxed);
		return true;
	}
	int n = atomic_load_explicit(&b->servers, memory_order_relaxed);
	while (n < max)
		if (atomic_compare_exchange_weak_explicit(
		            &b->servers, &n, n + 1, memory_order_relaxed, memory_order_relaxed))
			return true;
	return false;
}

static void give_one(struct pool_budget *b, int n)
{
	if (b)
		atomic_fetch_sub_explicit(&b->servers, n, memory_order_relaxed);
}

int pool_budget_take(struct pool_budget *p, int p_max, struct pool_budget *d, int d_max,
                     struct pool_budget *u, int u_max)
{
	if (!take_one(p, p_max))
		return 1;
	if (!take_one(d, d_max)) {
		give_one(p, 1);
		return 2;
	}
	if (!take_one(u, u_max)) {
		give_one(p, 1);
		give_one(d, 1);
		return 3;
	}
	return 0;
}

void pool_budget_give(struct pool_budget *p, struct pool_budget *d, struct pool_budget *u, int n)
{
	give_one(p, n);
	give_one(d, n);
	give_one(u, n);
}

bool pool_budget_want(struct pool_budget *b, unsigned w, bool on)
{
	if (!b)
		return false;
	uint64_t bit = UINT64_C(1) << w;
	uint64_t cur = atomic_load_explicit(&b->wanting, memory_order_relaxed);
	if (((cur & bit) != 0) == on)
		return false; /* no change: no write to the shared line */
	if (on)
		return !(atomic_fetch_or_explicit(&b->wanting, bit, memory_order_relaxed) & bit);
	atomic_fetch_and_explicit(&b->wanting, ~bit, memory_order_relaxed);
	return false;
}

int pool_budget_owed(const struct pool_budget *b, uint64_t mask, int64_t before_ms, int64_t lag_ms)
{
	int best = -1;
	int64_t best_ms = before_ms - lag_ms;
	for (; mask; mask &= mask - 1) {
		int w = __builtin_ctzll(mask);
		int64_t ms = atomic_load_explicit(&b->oldest[w].ms, memory_order_relaxed);
		if (ms && ms < best_ms) {
			best = w;
			best_ms = ms;
		}
	}
	return best;
}

int pool_budget_starved(const struct pool_budget *b, uint64_t mask, int64_t by_ms, int64_t *next_ms)
{
	*next_ms = 0;
	for (; mask; mask &= mask - 1) {
		int w = __builtin_ctzll(mask);
		int64_t ms = atomic_load_explicit(&b->oldest[w].ms, memory_order_relaxed);
		if (!ms)
			continue;
		if (ms <= by_ms || pool_budget_servers_of(b, (unsigned)w) <= 0)
			return w;
		if (!*next_ms || ms < *next_ms)
			*next_ms = ms;
	}
	return -1;
}

void pool_budget_welcome_put(struct pool_budget *b, const uint8_t *msgs, size_t len,
                             const struct pool_params *params)
{
	if (!b)
		return;
	pthread_mutex_lock(&budgets.lock);
	if (!b->welcome && (b->welcome = malloc(len ? len : 1))) {
		memcpy(b->welcome, msgs, len);
		b->welcome_len = len;
		for (int i = 0; i < POOL_PARAMS_MAX; i++)
			if (params->v[i])
				b->welcome_params[i] = strdup(params->v[i]->s);
	}
	pthread_mutex_unlock(&budgets.lock);
}

bool pool_budget_welcome_get(struct pool_budget *b, uint8_t **msgs, size_t *len,
                             struct pool_params *params)
{
	if (!b)
		return false;
	pthread_mutex_lock(&budgets.lock);
	bool ok = b->welcome && (*msgs = malloc(b->welcome_len ? b->welcome_len : 1));
	if (ok) {
		memcpy(*msgs, b->welcome, b->welcome_len);
		*len = b->welcome_len;
		pool_params_init(params);
		for (int i = 0; i < POOL_PARAMS_MAX; i++)
			if (b->welcome_params[i])
				pool_params_set(params, i, b->welcome_params[i]);
	}
	pthread_mutex_unlock(&budgets.lock);
	return ok;
}

void pool_budget_catalog_put(struct pool_budget *b, const struct pool_catalog *c)
{
	if (!b || !c)
		return;
	pthread_mutex_lock(&budgets.lock);
	if (!b->catalog)
		b->catalog = pool_catalog_copy(c);
	pthread_mutex_unlock(&budgets.lock);
}

struct pool_catalog *pool_budget_catalog_get(struct pool_budget *b)
{
	if (!b)
		return NULL;
	pthread_mutex_lock(&budgets.lock);
	struct pool_catalog *c = pool_catalog_copy(b->catalog);
	pthread_mutex_unlock(&budgets.lock);
	return c;
}

static void free_entry(struct pool_budget *e)
{
	pool_catalog_free(e->catalog);
	free(e->welcome);
	for (int i = 0; i < POOL_PARAMS_MAX; i++)
		free(e->welcome_params[i]);
	free(e);
}

void pool_budget_free_all(void)
{
	pthread_mutex_lock(&budgets.lock);
	for (int i = 0; i < BUDGET_BUCKETS; i++) {
		while (budgets.buckets[i]) {
			struct pool_budget *e = budgets.buckets[i];
			budgets.buckets[i] = e->next;
			free_entry(e);
		}
	}
	pthread_mutex_unlock(&budgets.lock);
}
