/* pool/params.c — interned parameter values and tracked parameter sets. */
#include "pool/params.h"
#include "pool/owner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STR_BUCKETS 1024

/* Interned parameter values (one pool_str per distinct text, reference counted), so that
 * equal values are equal pointers. Owner today: the process's one event loop. Under worker
 * threads: one per worker (plain reference counts, pointer equality holds within a worker; a
 * server handed to another worker takes its values along as text, interned there again). */
static struct str_table {
	struct pool_str *buckets[STR_BUCKETS]; /* owned: hash chains */
} str_tables[POOL_MAX_WORKERS];
#define strs (str_tables[pool_worker])

static const char *const standard_names[] = {
        "client_encoding",
        "DateStyle",
        "IntervalStyle",
        "TimeZone",
        "standard_conforming_strings",
        [POOL_PARAM_APPLICATION_NAME] = "application_name",
        "extra_float_digits",
};
#define NSTANDARD ((int)(sizeof(standard_names) / sizeof(standard_names[0])))

/* The tracked parameters beyond the standard ones (pool.track_parameters). Owner today:
 * main, before the loop runs (pool_params_configure, never on reload). Under worker threads:
 * process-wide and read-only, set before the threads start. */
static struct tracked_names {
	char extra_names[POOL_PARAMS_MAX - NSTANDARD][64];
	int nextra;
} tracked;

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

const struct pool_str *pool_str_get(const char *s, size_t len)
{
	uint32_t h = hash_bytes(s, len);
	struct pool_str **slot = &strs.buckets[h % STR_BUCKETS];
	for (struct pool_str *v = *slot; v; v = v->next) {
		if (v->hash == h && v->len == len && memcmp(v->s, s, len) == 0) {
			v->refs++;
			return v;
		}
	}
	struct pool_str *v = malloc(sizeof(*v) + len + 1);
	if (!v)
		return NULL;
	v->refs = 1;
	v->hash = h;
	v->len = (uint32_t)len;
	memcpy(v->s, s, len);
	v->s[len] = '\0';
	v->next = *slot;
	*slot = v;
	return v;
}

void pool_str_put(const struct pool_str *cv)
{
	if (!cv)
		return;
	struct pool_str *v = (struct pool_str *)cv;
	if (--v->refs > 0)
		return;
	struct pool_str **slot = &strs.buckets[v->hash % STR_BUCKETS];
	while (*slot != v)
		slot = &(*slot)->next;
	*slot = v->next;
	free(v);
}

bool pool_params_configure(char *const *extra, size_t n)
{
	bool ok = true;
	tracked.nextra = 0;
	for (size_t i = 0; i < n; i++) {
		if (pool_params_index(extra[i]) >= 0)
			continue;
		if (tracked.nextra >= POOL_PARAMS_MAX - NSTANDARD || strlen(extra[i]) >= 64) {
			ok = false;
			continue;
		}
		snprintf(tracked.extra_names[tracked.nextra++], sizeof(tracked.extra_names[0]),
		         "%s", extra[i]);
	}
	return ok;
}

int pool_params_count(void)
{
	return NSTANDARD + tracked.nextra;
}

int pool_params_index(const char *name)
{
	for (int i = 0; i < NSTANDARD; i++)
		if (strcasecmp(name, standard_names[i]) == 0)
			return i;
	for (int i = 0; i < tracked.nextra; i++)
		if (strcasecmp(name, tracked.extra_names[i]) == 0)
			return NSTANDARD + i;
	return -1;
}

const char *pool_params_name(int idx)
{
	return idx < NSTANDARD ? standard_names[idx] : tracked.extra_names[idx - NSTANDARD];
}

void pool_params_init(struct pool_params *p)
{
	memset(p, 0, sizeof(*p));
}

void pool_params_set(struct pool_params *p, int idx, const char *value)
{
	const struct pool_str *v = value ? pool_str_get(value, strlen(value)) : NULL;
	pool_str_put(p->v[idx]);
	p->v[idx] = v;
}

void pool_params_copy(struct pool_params *dst, const struct pool_params *src)
{
	for (int i = 0; i < POOL_PARAMS_MAX; i++) {
		if (dst->v[i] == src->v[i])
			continue;
		pool_str_put(dst->v[i]);
		dst->v[i] = src->v[i];
		if (dst->v[i])
			((struct pool_str *)dst->v[i])->refs++;
	}
}

void pool_params_clear(struct pool_params *p)
{
	for (int i = 0; i < POOL_PARAMS_MAX; i++) {
		pool_str_put(p->v[i]);
		p->v[i] = NULL;
	}
}

/* One DateStyle word: a style ("ISO", ...) or an order ("MDY", ...); NULL when neither. */
static const char *datestyle_word(const char *w, size_t n, bool *is_order)
{
	static const struct {
		const char *word, *canon;
		bool order;
	} words[] = {
	        {"iso", "ISO", false},
	        {"sql", "SQL", false},
	        {"postgres", "Postgres", false},
	        {"german", "German", false},
	        {"dmy", "DMY", true},
	        {"euro", "DMY", true},
	        {"european", "DMY", true},
	        {"mdy", "MDY", true},
	        {"us", "MDY", true},
	        {"noneuro", "MDY", true},
	        {"noneuropean", "MDY", true},
	        {"ymd", "YMD", true},
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].word) == n && strncasecmp(w, words[i].word, n) == 0) {
			*is_order = words[i].order;
			return words[i].canon;
		}
	}
	return NULL;
}

/* The style and order of a DateStyle text; false when a word is unknown or repeated. */
static bool datestyle_parse(const char *s, const char **style, const char **order)
{
	*style = *order = NULL;
	while (*s) {
		while (*s == ' ' || *s == ',' || *s == '\t')
			s++;
		const char *w = s;
		while (*s && *s != ' ' && *s != ',' && *s != '\t')
			s++;
		if (s == w)
			break;
		bool is_order;
		const char *canon = datestyle_word(w, (size_t)(s - w), &is_order);
		const char **slot = is_order ? order : style;
		if (!canon || (*slot && strcmp(*slot, canon) != 0))
			return false;
		*slot = canon;
	}
	return *style || *order;
}

bool pool_datestyle_merge(const char *set, const char *current, char *out, size_t cap)
{
	const char *style, *order, *cur_style, *cur_order;
	if (!datestyle_parse(set, &style, &order))
		return false;
	if (!current || !datestyle_parse(current, &cur_style, &cur_order))
		cur_style = "ISO", cur_order = "MDY";
	if (!order) /* German alone also means DMY, as in PostgreSQL */
		order = style && strcmp(style, "German") == 0 ? "DMY"
		        : cur_order                           ? cur_order
		                                              : "MDY";
	if (!style)
		style = cur_style ? cur_style : "ISO";
	return snprintf(out, cap, "%s, %s", style, order) < (int)cap;
}
