/* proxy/resolve.h — host names resolved without blocking the event loop (c-ares on pglane's
 * loop: its sockets watched by ev_io, its timeouts by an ev_timer), with a small cache of the
 * answers (kept for their TTL, at most PROXY_RESOLVE_MAX_TTL_MS; a name that does not exist
 * for PROXY_RESOLVE_NXDOMAIN_TTL_MS).
 * It owns the c-ares channel, its watchers, the cache and the look-ups in flight. */
#ifndef PGLANE_PROXY_RESOLVE_H
#define PGLANE_PROXY_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define PROXY_RESOLVE_MAX_TTL_MS      15000 /* PgBouncer's dns_max_ttl */
#define PROXY_RESOLVE_NXDOMAIN_TTL_MS 15000 /* PgBouncer's dns_nxdomain_ttl */

struct proxy_resolve; /* a look-up in flight */

/* The answer of a look-up: `sa` (`len` bytes) on success, else NULL with `err`. */
typedef void (*proxy_resolve_cb)(void *arg, const struct sockaddr_storage *sa, socklen_t len,
                                 const char *err);

enum proxy_resolve_result {
	PROXY_RESOLVE_DONE,    /* *out holds the address now (a number, a socket path, cached) */
	PROXY_RESOLVE_PENDING, /* `cb` is called later from the loop, unless cancelled */
	PROXY_RESOLVE_FAILED,  /* `err` says why */
};

/* The address of host:port: an IP address, a Unix socket directory (`/...`: its
 * .s.PGSQL.<port>) or a name (IPv4 preferred when a name has both). A name not in the cache
 * is looked up and *req set to the look-up, which calls cb(arg, ...) once. */
__attribute__((warn_unused_result)) enum proxy_resolve_result
proxy_resolve_start(const char *host, int port, struct sockaddr_storage *out, socklen_t *len,
                    proxy_resolve_cb cb, void *arg, struct proxy_resolve **req, char *err,
                    size_t errcap);
/* For libpq users on the loop (the replication monitor), which would resolve a name with a
 * blocking getaddrinfo: the numeric address of `host` in `ip` (`cap` bytes) now when it is one
 * already or cached (an expired entry too, while a new look-up refreshes it): 1; else a
 * look-up starts and fills the cache for a later call: 0; or the name is known not to exist
 * (cached): -1 with `err`. A socket directory gives 0 with nothing started (libpq takes it as
 * it is). */
int proxy_resolve_peek(const char *host, char *ip, size_t cap, char *err, size_t errcap);
/* The caller no longer wants the answer: its callback will not be called. */
void proxy_resolve_cancel(struct proxy_resolve *req);
/* Forget the cache and stop c-ares (at exit; look-ups in flight are cancelled). */
void proxy_resolve_shutdown(void);
/* c-ares's global state: made once before the workers start, freed once after they end
 * (its init and cleanup are not thread-safe). */
bool proxy_resolve_init(void);
void proxy_resolve_cleanup(void);

#endif
