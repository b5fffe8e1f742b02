/* pool/params.h — the reported session parameters (client_encoding, DateStyle, TimeZone,
 * application_name, ...) as a connection knows them: interned values and per-connection sets,
 * for the welcome, routing and the console (what a server's session holds is pool/session.h's).
 * A value pointer of NULL means "the server default" (never set). Interned strings are
 * compared by pointer. */
#ifndef PGLANE_POOL_PARAMS_H
#define PGLANE_POOL_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POOL_PARAMS_MAX             16
#define POOL_PARAM_DATESTYLE        1 /* the fixed index of DateStyle */
#define POOL_PARAM_STANDARD_STRINGS 4 /* the fixed index of standard_conforming_strings */
#define POOL_PARAM_APPLICATION_NAME 5 /* the fixed index of application_name */

struct pool_str {
	struct pool_str *next; /* hash chain */
	uint32_t refs;
	uint32_t hash;
	uint32_t len;
	char s[];
};

/* An interned copy of `s` (new reference); NULL when out of memory. */
const struct pool_str *pool_str_get(const char *s, size_t len);
/* Drop a reference; NULL is ignored. */
void pool_str_put(const struct pool_str *v);

struct pool_params {
	const struct pool_str *v[POOL_PARAMS_MAX]; /* owned references */
};

/* Set the tracked names: the standard ones plus `extra` (config's track_parameters; names
 * beyond the capacity are ignored and false is returned). */
bool pool_params_configure(char *const *extra, size_t n);
/* Number of tracked names. */
int pool_params_count(void);
/* Index of `name` (case-insensitive), or -1 when not tracked. */
int pool_params_index(const char *name);
const char *pool_params_name(int idx);

void pool_params_init(struct pool_params *p);
/* Set slot `idx` to `value` (NULL: unset). */
void pool_params_set(struct pool_params *p, int idx, const char *value);
void pool_params_copy(struct pool_params *dst, const struct pool_params *src);
void pool_params_clear(struct pool_params *p);
/* DateStyle as PostgreSQL reports it once `set` (maybe only a style or an order, as pgjdbc's
 * "ISO") is applied over `current` ("ISO, MDY"): "ISO, MDY", into `out`. False when `set` is
 * not a DateStyle PostgreSQL takes (then report it as it is). */
bool pool_datestyle_merge(const char *set, const char *current, char *out, size_t cap);

#endif
