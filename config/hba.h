/* config/hba.h — the `hba` rules of the config applied to a connection (address range or
 * "local", database, user → method), checked before authentication. */
#ifndef PGLANE_CONFIG_HBA_H
#define PGLANE_CONFIG_HBA_H

#include <stdbool.h>

#include "config/cfg.h"

/* Does address `ip` (text, IPv4 or IPv6) fall in `cidr` ("all" or "address/bits")? */
bool cfg_cidr_match(const char *cidr, const char *ip);
/* Does a rule's `address` match a client at `ip` (text, IPv4 or IPv6; NULL for a client of
 * the Unix socket)? "all" matches every client, "local" only Unix-socket clients, a range only
 * TCP clients in it. */
bool cfg_hba_address_match(const char *address, const char *ip);
/* The first rule of `c` matching `ip` (NULL: a Unix-socket client), `database` and `user`;
 * NULL when none does. */
const struct cfg_hba *cfg_hba_match(const struct cfg *c, const char *ip, const char *database,
                                    const char *user);

#endif
