/* proxy/resolve.c — non-blocking host name resolution with c-ares on pglane's loop, and the
 * cache of its answers. c-ares (Debian libc-ares-dev) is the resolver PgBouncer and curl use:
 * it gives sockets and a timeout that fit an event loop, where getaddrinfo blocks the loop for
 * as long as DNS takes and getaddrinfo_a answers on another thread.
 *
 * Owner today: the process's one event loop (the channel's watchers are on it). Under worker
 * threads: one channel and cache per worker, on its loop. */
#include "proxy/resolve.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "config/log.h"
#include "pool/list.h"
#include "proxy/context.h"

#define CACHE_SIZE    64
#define MAX_SOCKETS   16
#define HOST_NAME_CAP 256

struct proxy_resolve {
	proxy_resolve_cb cb; /* NULL once cancelled, or for a look-up that only fills the cache */
	void *arg;
	int port;
	bool peek; /* started by proxy_resolve_peek() (one in flight per name) */
	char host[HOST_NAME_CAP];
};

struct cached {
	char host[HOST_NAME_CAP];     /* "" = free */
	struct sockaddr_storage addr; /* port 0 */
	socklen_t len;                /* 0: the name does not exist */
	int64_t expires_ms;
	bool peeking; /* a proxy_resolve_peek() look-up of it is in flight */
};

struct sock_watch {
	ev_io io;
	int fd; /* -1 = free */
};

/* A look-up answered inside ares_getaddrinfo() (from /etc/hosts): its answer, for
 * proxy_resolve_start() to return at once. */
struct sync_answer {
	struct proxy_resolve *r;
	bool done;
	bool ok;
	struct sockaddr_storage *out;
	socklen_t *len;
	char *err;
	size_t errcap;
};

static struct {
	bool ready;
	struct sync_answer *sync; /* set during ares_getaddrinfo() */
	ares_channel channel;
	ev_timer timer;
	struct sock_watch socks[MAX_SOCKETS];
	struct cached cache[CACHE_SIZE];
} resolvers[POOL_MAX_WORKERS];
#define res (resolvers[pool_worker])

static void set_port(struct sockaddr_storage *sa, int port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)sa)->sin_port = htons((uint16_t)port);
	else if (sa->ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons((uint16_t)port);
}

/* ---- c-ares on the loop ---- */

/* After any c-ares activity: its next timeout on our timer. */
static void rearm(void)
{
	ev_timer_stop(proxy.loop, &res.timer);
	struct timeval tv, *t = ares_timeout(res.channel, NULL, &tv);
	if (!t)
		return;
	ev_timer_set(&res.timer, (double)t->tv_sec + (double)t->tv_usec / 1e6, 0.);
	ev_timer_start(proxy.loop, &res.timer);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	struct sock_watch *sw = pool_container_of(w, struct sock_watch, io);
	ares_socket_t fd = sw->fd;
	ares_process_fd(res.channel, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
	                (revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	rearm();
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	ares_process_fd(res.channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm();
}

/* c-ares opens, changes or closes a socket: watch it accordingly. */
static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	(void)data;
	struct sock_watch *sw = NULL, *free_slot = NULL;
	for (size_t i = 0; i < MAX_SOCKETS; i++) {
		if (res.socks[i].fd == fd)
			sw = &res.socks[i];
		else if (res.socks[i].fd < 0 && !free_slot)
			free_slot = &res.socks[i];
	}
	if (sw)
		ev_io_stop(proxy.loop, &sw->io);
	if (!readable && !writable) {
		if (sw)
			sw->fd = -1;
		return;
	}
	if (!sw)
		sw = free_slot;
	if (!sw) {
		log_error("resolve: more than %d DNS sockets at once", MAX_SOCKETS);
		return;
	}
	sw->fd = fd;
	ev_io_init(&sw->io, io_cb, fd, (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
	ev_io_start(proxy.loop, &sw->io);
}

static bool ensure_channel(char *err, size_t errcap)
{
	if (res.ready)
		return true;
	struct ares_options o = {.sock_state_cb = sock_state_cb};
	int rc = ares_init_options(&res.channel, &o, ARES_OPT_SOCK_STATE_CB);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errcap, "cannot start the DNS resolver: %s", ares_strerror(rc));
		return false;
	}
	for (size_t i = 0; i < MAX_SOCKETS; i++)
		res.socks[i].fd = -1;
	ev_timer_init(&res.timer, timer_cb, 1., 0.);
	res.ready = true;
	return true;
}

/* ---- the cache ---- */

/* The entry of `host`: a fresh one, or with `stale` one past its time that has an address. */
static struct cached *cache_find(const char *host, int64_t now, bool stale)
{
	for (size_t i = 0; i < CACHE_SIZE; i++) {
		struct cached *c = &res.cache[i];
		if (c->host[0] && strcmp(c->host, host) == 0 &&
		    (c->expires_ms > now || (stale && c->len > 0)))
			return c;
	}
	return NULL;
}

/* The entry for `host`: its own, else a free or expired one, else the one expiring first. */
static struct cached *cache_slot(const char *host, int64_t now)
{
	struct cached *slot = &res.cache[0];
	for (size_t i = 0; i < CACHE_SIZE; i++) {
		struct cached *c = &res.cache[i];
		if (strcmp(c->host, host) == 0)
			return c;
		if (!c->host[0] || c->expires_ms <= now)
			slot = c;
		else if (slot->host[0] && slot->expires_ms > now &&
		         c->expires_ms < slot->expires_ms)
			slot = c;
	}
	return slot;
}

/* Remember an answer: an address (`sa`, kept for `ttl_s`, at most the cap) or, with `sa`
 * NULL, that the name does not exist. */
static void cache_put(const char *host, const struct sockaddr *sa, socklen_t len, int ttl_s)
{
	int64_t now = proxy_now_ms();
	struct cached *slot = cache_slot(host, now);
	bool peeking = strcmp(slot->host, host) == 0 && slot->peeking;
	int64_t ttl = sa ? (ttl_s > 0 ? (int64_t)ttl_s * 1000 : PROXY_RESOLVE_MAX_TTL_MS)
	                 : PROXY_RESOLVE_NXDOMAIN_TTL_MS;
	if (ttl > PROXY_RESOLVE_MAX_TTL_MS)
		ttl = PROXY_RESOLVE_MAX_TTL_MS;
	memset(slot, 0, sizeof(*slot));
	snprintf(slot->host, sizeof(slot->host), "%s", host);
	if (sa)
		memcpy(&slot->addr, sa, len);
	slot->len = sa ? len : 0;
	slot->expires_ms = now + ttl;
	slot->peeking = peeking;
}

static void not_found(char *err, size_t errcap, const char *host, const char *why)
{
	snprintf(err, errcap, "could not resolve \"%s\": %s", host, why);
}

/* ---- look-ups ---- */

/* The first IPv4 address of an answer, else its first address. */
static const struct ares_addrinfo_node *pick(const struct ares_addrinfo *ai)
{
	const struct ares_addrinfo_node *n, *first = NULL;
	for (n = ai ? ai->nodes : NULL; n; n = n->ai_next) {
		if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) ||
		    (size_t)n->ai_addrlen > sizeof(struct sockaddr_storage))
			continue;
		if (n->ai_family == AF_INET)
			return n;
		if (!first)
			first = n;
	}
	return first;
}

/* Hand the answer to whoever waits for it: the synchronous caller, or the callback. */
static void deliver(struct proxy_resolve *r, const struct ares_addrinfo_node *n, const char *why)
{
	struct sockaddr_storage sa;
	char err[HOST_NAME_CAP + 64];
	struct sync_answer *sy = res.sync && res.sync->r == r ? res.sync : NULL;
	if (sy) {
		sy->done = true;
		sy->ok = n != NULL;
	}
	if (!sy && !r->cb)
		return;
	if (n) {
		memset(&sa, 0, sizeof(sa));
		memcpy(&sa, n->ai_addr, n->ai_addrlen);
		set_port(&sa, r->port);
	} else {
		not_found(sy ? sy->err : err, sy ? sy->errcap : sizeof(err), r->host, why);
	}
	if (sy && n) {
		memcpy(sy->out, &sa, sizeof(sa));
		*sy->len = (socklen_t)n->ai_addrlen;
	} else if (!sy) {
		r->cb(r->arg, n ? &sa : NULL, n ? (socklen_t)n->ai_addrlen : 0, n ? NULL : err);
	}
}

static void answer_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	(void)timeouts;
	struct proxy_resolve *r = arg;
	const struct ares_addrinfo_node *n = status == ARES_SUCCESS ? pick(ai) : NULL;
	if (n)
		cache_put(r->host, n->ai_addr, (socklen_t)n->ai_addrlen, n->ai_ttl);
	else if (status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_SUCCESS)
		cache_put(r->host, NULL, 0, 0);
	if (r->peek) {
		struct cached *c = cache_slot(r->host, proxy_now_ms());
		if (strcmp(c->host, r->host) == 0)
			c->peeking = false;
	}
	deliver(r, n, status == ARES_SUCCESS ? "no address" : ares_strerror(status));
	if (ai)
		ares_freeaddrinfo(ai);
	free(r);
}

/* An IP address or a socket directory, without DNS; false when `host` is a name. */
static bool literal(const char *host, int port, struct sockaddr_storage *out, socklen_t *len,
                    char *err, size_t errcap, bool *bad)
{
	memset(out, 0, sizeof(*out));
	*bad = false;
	if (host[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)(void *)out;
		un->sun_family = AF_UNIX;
		if (snprintf(un->sun_path, sizeof(un->sun_path), "%s/.s.PGSQL.%d", host, port) >=
		    (int)sizeof(un->sun_path)) {
			snprintf(err, errcap, "socket path too long: %s", host);
			*bad = true;
		}
		*len = sizeof(*un);
		return true;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)(void *)out;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)out;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		*len = sizeof(*in);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		*len = sizeof(*in6);
	} else {
		return false;
	}
	set_port(out, port);
	return true;
}

/* Start a look-up of `host` for `r` (which it frees); *sy set when it answered at once. */
static bool lookup(struct proxy_resolve *r, struct sync_answer *sy, char *err, size_t errcap)
{
	if (!ensure_channel(err, errcap)) {
		free(r);
		return false;
	}
	struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	res.sync = sy; /* the answer may come at once (/etc/hosts) */
	ares_getaddrinfo(res.channel, r->host, NULL, &hints, answer_cb, r);
	res.sync = NULL;
	rearm();
	return true;
}

enum proxy_resolve_result proxy_resolve_start(const char *host, int port,
                                              struct sockaddr_storage *out, socklen_t *len,
                                              proxy_resolve_cb cb, void *arg,
                                              struct proxy_resolve **req, char *err, size_t errcap)
{
	bool bad;
	*req = NULL;
	if (literal(host, port, out, len, err, errcap, &bad))
		return bad ? PROXY_RESOLVE_FAILED : PROXY_RESOLVE_DONE;
	const struct cached *c = cache_find(host, proxy_now_ms(), false);
	if (c && !c->len) {
		not_found(err, errcap, host, "Domain name not found");
		return PROXY_RESOLVE_FAILED;
	}
	if (c) {
		memcpy(out, &c->addr, c->len);
		*len = c->len;
		set_port(out, port);
		return PROXY_RESOLVE_DONE;
	}
	struct proxy_resolve *r = calloc(1, sizeof(*r));
	if (strlen(host) >= HOST_NAME_CAP || !r) {
		free(r);
		snprintf(err, errcap, r ? "host name too long" : "out of memory");
		return PROXY_RESOLVE_FAILED;
	}
	r->cb = cb;
	r->arg = arg;
	r->port = port;
	snprintf(r->host, sizeof(r->host), "%s", host);
	struct sync_answer sy = {r, false, false, out, len, err, errcap};
	if (!lookup(r, &sy, err, errcap))
		return PROXY_RESOLVE_FAILED;
	if (sy.done)
		return sy.ok ? PROXY_RESOLVE_DONE : PROXY_RESOLVE_FAILED;
	*req = r;
	return PROXY_RESOLVE_PENDING;
}

/* A look-up that only fills the cache, unless one for `host` is in flight already. */
static void refresh(const char *host)
{
	int64_t now = proxy_now_ms();
	struct cached *c = cache_find(host, now, true);
	if (c && c->peeking)
		return;
	struct proxy_resolve *r = calloc(1, sizeof(*r));
	char err[128];
	if (!r)
		return;
	r->peek = true;
	snprintf(r->host, sizeof(r->host), "%s", host);
	if (c)
		c->peeking = true;
	if (!lookup(r, NULL, err, sizeof(err)))
		log_warning("resolve: %s", err);
}

int proxy_resolve_peek(const char *host, char *ip, size_t cap, char *err, size_t errcap)
{
	struct sockaddr_storage sa;
	socklen_t len;
	bool bad;
	if (host[0] == '/' || strlen(host) >= HOST_NAME_CAP)
		return 0;
	if (literal(host, 0, &sa, &len, err, errcap, &bad)) {
		snprintf(ip, cap, "%s", host);
		return 1;
	}
	int64_t now = proxy_now_ms();
	const struct cached *c = cache_find(host, now, true);
	if (c && !c->len) {
		not_found(err, errcap, host, "Domain name not found");
		return -1;
	}
	if (!c || c->expires_ms <= now)
		refresh(host);
	if (!c)
		return 0;
	const void *a =
	        c->addr.ss_family == AF_INET
	                ? (const void *)&((const struct sockaddr_in *)(const void *)&c->addr)
	                          ->sin_addr
	                : (const void *)&((const struct sockaddr_in6 *)(const void *)&c->addr)
	                          ->sin6_addr;
	return inet_ntop(c->addr.ss_family, a, ip, (socklen_t)cap) ? 1 : 0;
}

void proxy_resolve_cancel(struct proxy_resolve *req)
{
	if (req)
		req->cb = NULL;
}

void proxy_resolve_shutdown(void)
{
	if (!res.ready)
		return;
	ares_destroy(res.channel); /* calls every pending callback with ARES_EDESTRUCTION */
	ev_timer_stop(proxy.loop, &res.timer);
	for (size_t i = 0; i < MAX_SOCKETS; i++)
		if (res.socks[i].fd >= 0)
			ev_io_stop(proxy.loop, &res.socks[i].io);
	memset(&res, 0, sizeof(res));
}

bool proxy_resolve_init(void)
{
	int rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc != ARES_SUCCESS)
		log_error("cannot start the DNS resolver: %s", ares_strerror(rc));
	return rc == ARES_SUCCESS;
}

void proxy_resolve_cleanup(void)
{
	ares_library_cleanup();
}
