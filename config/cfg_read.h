/* config/cfg_read.h — private to config/: typed reads of libconfig settings for the loader,
 * each reporting a wrong type or value as "FILE:LINE: KEY: message" and leaving the
 * destination untouched on error. Nothing outside config/ includes this header. */
#ifndef PGLANE_CONFIG_CFG_READ_H
#define PGLANE_CONFIG_CFG_READ_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cfg.h"

#define CFG_KEY_MAX 160 /* a dotted key such as "databases[1].olap.replicas[0].port" */

/* The state of one cfg_load() call. */
struct cfg_loader {
	struct cfg *c;           /* borrowed: being built */
	struct cfg_errors *errs; /* borrowed */
	const char *path;        /* borrowed: the file as named by the caller */
	char *dir;               /* owned: its directory, absolute when possible */
	size_t nerrors;          /* found so far, also those that did not fit in errs */
	bool server_tls_bad;     /* server_tls had errors: skip the checks that build on it */
	bool server_ca_needed;   /* a database takes server_tls's sslmode and CA as they are */
};

/* What a string value must look like: anything, non-empty, or a name (1..63 bytes). */
enum cfg_str_rule { CFG_STR_ANY, CFG_STR_NONEMPTY, CFG_STR_NAME };

/* Record one error (formatted as given); counted even when errs is full. */
void cfg_err(struct cfg_loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record "FILE:LINE: KEY: message" at setting `s` (NULL or the root: no line). */
void cfg_err_at(struct cfg_loader *L, const config_setting_t *s, const char *key, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
void cfg_oom(struct cfg_loader *L);
/* strdup that records "out of memory" on failure. */
char *cfg_dup(struct cfg_loader *L, const char *s);
/* Replace the owned string *dst by a copy of `v`; false (and *dst kept) when out of memory. */
bool cfg_set_str(struct cfg_loader *L, char **dst, const char *v);
/* "prefix.name" and "prefix[i]" into `out` (CFG_KEY_MAX bytes). */
void cfg_key_join(char *out, const char *prefix, const char *name);
void cfg_key_index(char *out, const char *prefix, int i);

/* Is `s` a group / a list of groups (an empty array counts as an empty list)? */
bool cfg_expect_group(struct cfg_loader *L, const config_setting_t *s, const char *key);
bool cfg_expect_list(struct cfg_loader *L, const config_setting_t *s, const char *key);

bool cfg_get_int(struct cfg_loader *L, const config_setting_t *s, const char *key, int min, int max,
                 int *out);
bool cfg_get_string(struct cfg_loader *L, const config_setting_t *s, const char *key,
                    enum cfg_str_rule rule, char **dst);
bool cfg_get_bool(struct cfg_loader *L, const config_setting_t *s, const char *key, bool *out);
/* A string that must be one of names[0..n-1]; *out is its index. */
bool cfg_get_enum(struct cfg_loader *L, const config_setting_t *s, const char *key,
                  const char *const *names, size_t n, int *out);
/* A duration string ("2s") or an integer number of milliseconds. */
bool cfg_get_duration(struct cfg_loader *L, const config_setting_t *s, const char *key,
                      int64_t *out);
/* An array or list of strings, replacing the owned vector *v of *n strings. */
bool cfg_get_strv(struct cfg_loader *L, const config_setting_t *s, const char *key,
                  enum cfg_str_rule rule, char ***v, size_t *n);

/* Make the owned path *p absolute against the config file's directory. */
void cfg_path_resolve(struct cfg_loader *L, char **p);
/* Is `path` a readable regular file? If not, report it against setting `s`. */
bool cfg_file_check(struct cfg_loader *L, const config_setting_t *s, const char *key,
                    const char *path);

/* A change made to the file's tree after it is read and before it is parsed: false (with a
 * message in `why`, `cap` bytes) when it cannot be made. */
typedef bool (*cfg_tree_edit)(config_t *lc, void *arg, char *why, size_t cap);
/* cfg_load with `edit` (may be NULL) applied to the tree first (config/cfg_set.c). */
struct cfg *cfg_load_edited(const char *path, struct cfg_errors *errs, cfg_tree_edit edit,
                            void *arg);

#endif
