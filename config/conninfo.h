/* config/conninfo.h — libpq connection strings for the databases of the config (the
 * replication monitor's, auth_query's): a quoted key = 'value' pair, and the numeric
 * addresses of a host list as hostaddr, so that libpq never resolves a name itself (a blocking
 * getaddrinfo on pglane's loop). Owns nothing. */
#ifndef PGLANE_CONFIG_CONNINFO_H
#define PGLANE_CONFIG_CONNINFO_H

#include <stddef.h>

/* Append key='value' (quotes and backslashes escaped) to the string `out` (`cap` bytes). */
void cfg_conninfo_kv(char *out, size_t cap, const char *key, const char *value);

/* A resolver that never blocks (proxy/resolve.c's proxy_resolve_peek): the numeric address of
 * `host` in `ip` now: 1; a look-up runs, ask again later: 0; the name does not exist: -1 with
 * `err`. */
typedef int (*cfg_conninfo_resolver)(const char *host, char *ip, size_t cap, char *err,
                                     size_t errcap);

/* Append hostaddr for `hosts` (one host or "h1,h2"; a socket directory, `/...`, keeps an
 * empty entry: libpq takes it as it is) when one of them is a name. 1: done; 0: a look-up
 * runs (nothing appended: try again later); -1: a name does not exist (`err`). */
int cfg_conninfo_hostaddr(char *out, size_t cap, const char *hosts, cfg_conninfo_resolver resolve,
                          char *err, size_t errcap);

#endif
