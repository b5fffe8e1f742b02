/* config/cfg_read.c — typed reads of libconfig settings for the loader (integers in a range,
 * strings, enums, durations, string lists, file paths), and the error list they report to:
 * "FILE:LINE: KEY: message". */
#include "config/cfg_read.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg_private.h"

void cfg_err(struct cfg_loader *L, const char *fmt, ...)
{
	L->nerrors++;
	if (L->errs->n >= CFG_MAX_ERRORS)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(L->errs->msg[L->errs->n++], sizeof(L->errs->msg[0]), fmt, ap);
	va_end(ap);
}

/* "FILE:LINE: KEY: message", the line and file of setting `s` (the group's, for a key that
 * is missing). */
void cfg_err_at(struct cfg_loader *L, const config_setting_t *s, const char *key, const char *fmt,
                ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *file =
	        s && config_setting_source_file(s) ? config_setting_source_file(s) : L->path;
	unsigned line = s ? config_setting_source_line(s) : 0;
	if (line)
		cfg_err(L, "%s:%u: %s: %s", file, line, key, msg);
	else
		cfg_err(L, "%s: %s: %s", file, key, msg);
}

void cfg_oom(struct cfg_loader *L)
{
	cfg_err(L, "%s: out of memory", L->path);
}

char *cfg_dup(struct cfg_loader *L, const char *s)
{
	char *d = strdup(s);
	if (!d)
		cfg_oom(L);
	return d;
}

/* Replace the owned string *dst by a copy of `v`. */
bool cfg_set_str(struct cfg_loader *L, char **dst, const char *v)
{
	char *d = cfg_dup(L, v);
	if (!d)
		return false;
	free(*dst);
	*dst = d;
	return true;
}

/* A dotted key such as "databases[1].olap.size" (cut short, visibly, if ever too long). */
static void key_mark_cut(char *out, int n)
{
	if (n >= CFG_KEY_MAX)
		memcpy(out + CFG_KEY_MAX - 4, "...", 4);
}

void cfg_key_join(char *out, const char *prefix, const char *name)
{
	key_mark_cut(out, snprintf(out, CFG_KEY_MAX, "%s.%s", prefix, name));
}

void cfg_key_index(char *out, const char *prefix, int i)
{
	key_mark_cut(out, snprintf(out, CFG_KEY_MAX, "%s[%d]", prefix, i));
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	}
	return "nothing";
}

static bool is_int(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	       config_setting_type(s) == CONFIG_TYPE_INT64;
}

bool cfg_expect_group(struct cfg_loader *L, const config_setting_t *s, const char *key)
{
	if (config_setting_is_group(s))
		return true;
	cfg_err_at(L, s, key, "must be a group { ... }, not %s", type_name(s));
	return false;
}

/* A list of groups `( { ... }, ... )`; an empty array `[ ]` is taken as an empty list. */
bool cfg_expect_list(struct cfg_loader *L, const config_setting_t *s, const char *key)
{
	if (config_setting_is_list(s) ||
	    (config_setting_is_array(s) && config_setting_length(s) == 0))
		return true;
	cfg_err_at(L, s, key, "must be a list ( { ... }, ... ), not %s", type_name(s));
	return false;
}

bool cfg_get_int(struct cfg_loader *L, const config_setting_t *s, const char *key, int min, int max,
                 int *out)
{
	if (!is_int(s)) {
		cfg_err_at(L, s, key, "must be an integer, not %s", type_name(s));
		return false;
	}
	long long v = config_setting_get_int64(s);
	if (v < min || v > max) {
		cfg_err_at(L, s, key, "must be between %d and %d (got %lld)", min, max, v);
		return false;
	}
	*out = (int)v;
	return true;
}

static bool str_ok(struct cfg_loader *L, const config_setting_t *s, const char *key, const char *v,
                   enum cfg_str_rule rule)
{
	if (rule != CFG_STR_ANY && *v == '\0') {
		cfg_err_at(L, s, key, "must not be empty");
		return false;
	}
	if (rule == CFG_STR_NAME && strlen(v) >= CFG_NAME_MAX) {
		cfg_err_at(L, s, key, "must be at most %d bytes (got %zu)", CFG_NAME_MAX - 1,
		           strlen(v));
		return false;
	}
	return true;
}

bool cfg_get_string(struct cfg_loader *L, const config_setting_t *s, const char *key,
                    enum cfg_str_rule rule, char **dst)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_err_at(L, s, key, "must be a string, not %s", type_name(s));
		return false;
	}
	const char *v = config_setting_get_string(s);
	return str_ok(L, s, key, v, rule) && cfg_set_str(L, dst, v);
}

bool cfg_get_bool(struct cfg_loader *L, const config_setting_t *s, const char *key, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		cfg_err_at(L, s, key, "must be true or false, not %s", type_name(s));
		return false;
	}
	*out = config_setting_get_bool(s);
	return true;
}

/* A string that must be one of names[0..n-1]; *out is its index. */
bool cfg_get_enum(struct cfg_loader *L, const config_setting_t *s, const char *key,
                  const char *const *names, size_t n, int *out)
{
	char choices[160];
	size_t pos = 0;
	choices[0] = '\0';
	for (size_t i = 0; i < n && pos < sizeof(choices); i++)
		pos += (size_t)snprintf(choices + pos, sizeof(choices) - pos, "%s\"%s\"",
		                        i == 0 ? "" : (i + 1 == n ? " or " : ", "), names[i]);
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_err_at(L, s, key, "must be %s, not %s", choices, type_name(s));
		return false;
	}
	const char *v = config_setting_get_string(s);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = (int)i;
			return true;
		}
	}
	cfg_err_at(L, s, key, "must be %s (got \"%s\")", choices, v);
	return false;
}

bool cfg_get_duration(struct cfg_loader *L, const config_setting_t *s, const char *key,
                      int64_t *out)
{
	if (is_int(s)) {
		long long v = config_setting_get_int64(s);
		if (v < 0) {
			cfg_err_at(L, s, key, "must not be negative (got %lld)", v);
			return false;
		}
		if (v > CFG_DURATION_MAX_MS) {
			cfg_err_at(L, s, key, "must be at most 8760h (got %lldms)", v);
			return false;
		}
		*out = v;
		return true;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_err_at(L, s, key,
		           "must be a duration such as \"250ms\", \"2s\", \"5min\", \"1h\", not %s",
		           type_name(s));
		return false;
	}
	const char *v = config_setting_get_string(s);
	if (!cfg_duration_parse(v, out)) {
		cfg_err_at(
		        L, s, key,
		        "must be a duration such as \"250ms\", \"2s\", \"5min\", \"1h\" (at most "
		        "8760h), "
		        "got \"%s\"",
		        v);
		return false;
	}
	return true;
}

/* An array or list of strings, replacing the owned vector *v of *n strings. */
bool cfg_get_strv(struct cfg_loader *L, const config_setting_t *s, const char *key,
                  enum cfg_str_rule rule, char ***v, size_t *n)
{
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err_at(L, s, key, "must be an array of strings [ \"...\", ... ], not %s",
		           type_name(s));
		return false;
	}
	int len = config_setting_length(s);
	if (len < 0)
		len = 0;
	bool ok = true;
	char ekey[CFG_KEY_MAX];
	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		cfg_key_index(ekey, key, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_err_at(L, e, ekey, "must be a string, not %s", type_name(e));
			ok = false;
		} else if (!str_ok(L, e, ekey, config_setting_get_string(e), rule)) {
			ok = false;
		}
	}
	if (!ok)
		return false;
	char **nv = len ? calloc((size_t)len, sizeof(char *)) : NULL;
	if (len && !nv) {
		cfg_oom(L);
		return false;
	}
	for (int i = 0; i < len; i++) {
		nv[i] = cfg_dup(L, config_setting_get_string_elem(s, (unsigned)i));
		if (!nv[i]) {
			cfg_strv_free(nv, (size_t)i);
			return false;
		}
	}
	cfg_strv_free(*v, *n);
	*v = nv;
	*n = (size_t)len;
	return true;
}

/* `p` made absolute against the config file's directory (owned string replaced). */
void cfg_path_resolve(struct cfg_loader *L, char **p)
{
	if (**p == '\0' || **p == '/' || !L->dir)
		return;
	size_t n = strlen(L->dir) + strlen(*p) + 2;
	char *r = malloc(n);
	if (!r) {
		cfg_oom(L);
		return;
	}
	snprintf(r, n, "%s/%s", L->dir, *p);
	free(*p);
	*p = r;
}

/* Is `path` a readable regular file? If not, report it against setting `s`. */
bool cfg_file_check(struct cfg_loader *L, const config_setting_t *s, const char *key,
                    const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
		cfg_err_at(L, s, key, "cannot read \"%s\": %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		cfg_err_at(L, s, key, "\"%s\" is not a regular file", path);
		return false;
	}
	return true;
}
