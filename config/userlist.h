/* config/userlist.h — the auth file: one `"user" "secret"` line per user, in PgBouncer's
 * userlist.txt format. A secret is a plain password, an MD5 secret ("md5" + 32 hex) or a
 * SCRAM secret ("SCRAM-SHA-256$..."). Lines starting with ';' or '#' and blank lines are
 * ignored; `""` inside a quoted field is a literal quote. */
#ifndef PGLANE_CONFIG_USERLIST_H
#define PGLANE_CONFIG_USERLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "config/cfg.h"

enum cfg_secret_kind { CFG_SECRET_PLAIN, CFG_SECRET_MD5, CFG_SECRET_SCRAM };

struct cfg_user {
	char *name;   /* owned */
	char *secret; /* owned */
	enum cfg_secret_kind kind;
};

struct cfg_userlist {
	struct cfg_user *users; /* owned, sorted by name */
	size_t n;
};

/* Load `path`; on error NULL with "FILE:LINE: message" entries in `errs`. */
__attribute__((warn_unused_result)) struct cfg_userlist *cfg_userlist_load(const char *path,
                                                                           struct cfg_errors *errs);
void cfg_userlist_free(struct cfg_userlist *u);
/* What kind of secret `secret` is (as an auth-file entry's). */
enum cfg_secret_kind cfg_secret_kind_of(const char *secret);
/* False for a SCRAM secret that is not SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
 * (the other kinds are always usable). */
bool cfg_secret_well_formed(const char *secret);
/* The entry for `name`, or NULL. */
const struct cfg_user *cfg_userlist_find(const struct cfg_userlist *u, const char *name);

#endif
