/* config/cfg_set.c — the admin console's SET: the config file as RELOAD reads it, with a few
 * flattened keys ("pool.size", "databases.app.oltp.size", "users.report.size",
 * "log.connections") set to new values before the loader validates it. The file itself is
 * never written; a RELOAD reads the file alone again (as PgBouncer forgets its SETs). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/cfg.h"
#include "config/cfg_read.h"

#define MAX_DEPTH 8

static bool is_int(const char *v)
{
	const char *p = v + (*v == '-');
	if (!*p)
		return false;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static bool bool_word(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "on", "yes"};
	static const char *const no[] = {"false", "off", "no"};
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*out = strcasecmp(v, yes[i]) == 0;
			return true;
		}
	}
	return false;
}

/* The libconfig types `value` (unquoted) may be read as, most likely first; the count. */
static size_t candidate_types(const char *value, int out[3])
{
	bool b;
	size_t n = 0;
	if (is_int(value)) {
		out[n++] = CONFIG_TYPE_INT;
		if (strcmp(value, "0") == 0 || strcmp(value, "1") == 0)
			out[n++] = CONFIG_TYPE_BOOL;
	} else if (bool_word(value, &b)) {
		out[n++] = CONFIG_TYPE_BOOL;
	}
	out[n++] = CONFIG_TYPE_STRING;
	return n;
}

/* The element of list `name` (databases, users) whose "name" is `want`. */
static config_setting_t *named_elem(config_setting_t *root, const char *list, const char *want)
{
	config_setting_t *l = config_setting_get_member(root, list);
	if (!l || !config_setting_is_aggregate(l))
		return NULL;
	for (int i = 0; i < config_setting_length(l); i++) {
		config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
		const char *n = NULL;
		if (config_setting_is_group(g) && config_setting_lookup_string(g, "name", &n) &&
		    strcmp(n, want) == 0)
			return g;
	}
	return NULL;
}

static bool set_leaf(config_setting_t *g, const char *name, const char *value, int type, char *why,
                     size_t cap)
{
	if (config_setting_get_member(g, name) && !config_setting_remove(g, name)) {
		snprintf(why, cap, "cannot replace %s", name);
		return false;
	}
	config_setting_t *s = config_setting_add(g, name, type);
	if (!s) {
		snprintf(why, cap, "cannot add %s", name);
		return false;
	}
	bool b = false;
	switch (type) {
	case CONFIG_TYPE_INT:
		return config_setting_set_int(s, atoi(value)) == CONFIG_TRUE;
	case CONFIG_TYPE_BOOL:
		if (!bool_word(value, &b))
			b = strcmp(value, "1") == 0;
		return config_setting_set_bool(s, b) == CONFIG_TRUE;
	default:
		return config_setting_set_string(s, value) == CONFIG_TRUE;
	}
}

static bool apply_one(config_t *lc, const struct cfg_override *o, char *why, size_t cap)
{
	char buf[CFG_KEY_MAX];
	char *seg[MAX_DEPTH];
	size_t n = 0;
	if (strchr(o->key, '[') || snprintf(buf, sizeof(buf), "%s", o->key) >= (int)sizeof(buf)) {
		snprintf(why, cap, "%s: cannot be changed with SET", o->key);
		return false;
	}
	for (char *save = NULL, *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
		if (n == MAX_DEPTH) {
			snprintf(why, cap, "%s: unknown key", o->key);
			return false;
		}
		seg[n++] = t;
	}
	if (n < 2) {
		snprintf(why, cap, "%s: unknown key", o->key);
		return false;
	}
	config_setting_t *g = config_root_setting(lc);
	size_t i = 0;
	if (strcmp(seg[0], "databases") == 0 || strcmp(seg[0], "users") == 0) {
		if (n < 3) {
			snprintf(why, cap, "%s: unknown key", o->key);
			return false;
		}
		g = named_elem(g, seg[0], seg[1]);
		if (!g) {
			snprintf(why, cap, "%s: the file has no %s entry named \"%s\"", o->key,
			         seg[0], seg[1]);
			return false;
		}
		i = 2;
	}
	for (; i + 1 < n; i++) {
		config_setting_t *m = config_setting_get_member(g, seg[i]);
		if (!m)
			m = config_setting_add(g, seg[i], CONFIG_TYPE_GROUP);
		if (!m || !config_setting_is_group(m)) {
			snprintf(why, cap, "%s: unknown key", o->key);
			return false;
		}
		g = m;
	}
	if (!set_leaf(g, seg[n - 1], o->value, o->type, why, cap)) {
		if (!why[0])
			snprintf(why, cap, "%s: out of memory", o->key);
		return false;
	}
	return true;
}

struct edit {
	const struct cfg_override *ov;
	size_t n;
};

static bool apply_all(config_t *lc, void *arg, char *why, size_t cap)
{
	const struct edit *e = arg;
	for (size_t i = 0; i < e->n; i++)
		if (!apply_one(lc, &e->ov[i], why, cap))
			return false;
	return true;
}

struct cfg *cfg_load_with_overrides(const char *path, struct cfg_override *ov, size_t n,
                                    struct cfg_errors *errs)
{
	if (n == 0)
		return cfg_load(path, errs);
	struct cfg_errors first = {0};
	struct edit e = {ov, n};
	struct cfg_override *last = &ov[n - 1];
	if (last->type) {
		return cfg_load_edited(path, errs, apply_all, &e);
	}
	int types[3];
	size_t nt = candidate_types(last->value, types);
	for (size_t k = 0; k < nt; k++) {
		struct cfg_errors tmp = {0};
		last->type = types[k];
		struct cfg *c = cfg_load_edited(path, &tmp, apply_all, &e);
		if (c) {
			if (errs)
				errs->n = 0;
			return c;
		}
		if (k == 0)
			first = tmp;
	}
	last->type = 0;
	if (errs)
		*errs = first;
	return NULL;
}
