/* proxy/handoff.c — idle servers handed between workers (handoff.h). */
#include "proxy/handoff.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "config/log.h"
#include "pool/pool.h"
#include "proxy/relay.h"
#include "proxy/server.h"
#include "proxy/server_login.h"
#include "proxy/worker.h"

/* A server in a mailbox: the pool it belongs to by name, its reported values as text. */
struct proxy_handoff {
	struct proxy_handoff *next;
	struct proxy_server *s;
	struct pool_budget *budget[3]; /* its places: pool, database, user */
	enum cfg_lane_kind lane;
	char db[CFG_NAME_MAX];
	char user[CFG_NAME_MAX];
	char *params[POOL_PARAMS_MAX]; /* owned; NULL: not reported */
	bool deallocate;               /* it has prepared statements: DEALLOCATE ALL first */
	uint8_t *welcome;              /* owned: its pool's welcome, for a pool that has none */
	size_t welcome_len;
	size_t nsettings; /* the session settings its backend holds */
	char **settings;  /* owned: name, value, name, value... */
};

struct proxy_handoff **proxy_handoff_next(struct proxy_handoff *h)
{
	return &h->next;
}

/* Nothing of a session, nothing in flight: the server can serve a client anywhere. Over TLS
 * too: its OpenSSL session goes with it (used by one worker at a time, the mailbox's lock
 * between them), as long as OpenSSL holds no bytes not read yet (read ahead or decrypted:
 * the taker's watcher would not see them). */
static bool can_travel(const struct proxy_server *s)
{
	return s->state == SERVER_READY && s->ps.state == POOL_SERVER_IDLE &&
	       !s->ps.close_on_release && !s->ncancels && !s->login && !s->resolving &&
	       !s->needs_reset && !s->pin_reset && !s->unknown_owner && !s->loaded && !s->led.n &&
	       s->syncing == 0 && !s->conn.want_write &&
	       (!s->conn.ssl || !SSL_has_pending(s->conn.ssl));
}

static void free_handoff(struct proxy_handoff *h)
{
	for (int i = 0; i < POOL_PARAMS_MAX; i++)
		free(h->params[i]);
	for (size_t i = 0; i < 2 * h->nsettings; i++)
		free(h->settings[i]);
	free(h->settings);
	free(h->welcome);
	free(h);
}

/* The settings of `st` as text in `h`; false when out of memory. */
static bool copy_settings(struct proxy_handoff *h, const struct pool_settings *st)
{
	size_t n = pool_settings_count(st);
	if (!n)
		return true;
	h->settings = calloc(2 * n, sizeof(char *));
	if (!h->settings)
		return false;
	h->nsettings = n;
	for (size_t i = 0; i < n; i++)
		if (!(h->settings[2 * i] = strdup(pool_settings_name(st, i))) ||
		    !(h->settings[2 * i + 1] = strdup(pool_settings_value(st, i))))
			return false;
	return true;
}

/* The settings again, interned on this worker; false when out of memory. */
static bool intern_settings(const struct proxy_handoff *h, const struct pool_settings **out)
{
	*out = NULL;
	for (size_t i = 0; i < h->nsettings; i++)
		if (!pool_settings_set(out, h->settings[2 * i], h->settings[2 * i + 1])) {
			pool_settings_assign(out, NULL);
			return false;
		}
	return true;
}

bool proxy_server_handoff(struct pool_server *ps, unsigned to)
{
	struct proxy_server *s = proxy_server_of(ps);
	if (!can_travel(s))
		return false;
	struct proxy_handoff *h = calloc(1, sizeof(*h));
	if (!h)
		return false;
	struct pool *p = ps->pool;
	bool ok = copy_settings(h, ps->settings);
	for (int i = 0; ok && i < POOL_PARAMS_MAX; i++)
		if (ps->params.v[i] && !(h->params[i] = strdup(ps->params.v[i]->s)))
			ok = false;
	if (ok && p->welcome) {
		h->welcome = malloc(p->welcome_len);
		ok = h->welcome != NULL;
		if (ok) {
			memcpy(h->welcome, p->welcome, p->welcome_len);
			h->welcome_len = p->welcome_len;
		}
	}
	if (!ok) {
		free_handoff(h);
		return false;
	}
	h->s = s;
	h->lane = p->lane;
	h->budget[0] = p->budget;
	h->budget[1] = p->db->budget;
	h->budget[2] = p->user->budget;
	memcpy(h->db, p->db->name, sizeof(h->db));
	memcpy(h->user, p->user->name, sizeof(h->user));
	ev_io_stop(proxy.loop, &s->conn.w); /* libev drops it from its epoll set lazily */
	proxy_io_release_idle(&s->conn);
	pool_server_detach(ps);
	pool_settings_assign(&ps->settings, NULL); /* this worker's interned set */
	pool_ledger_bind(&s->led, NULL, NULL, 0);  /* and its statement, the last one bound */
	if (s->stmts) { /* this worker's statements: the taker deallocates them */
		h->deallocate = pool_stmt_cache_count(s->stmts) > 0;
		pool_stmt_cache_free(s->stmts);
		s->stmts = NULL;
	}
	proxy_worker_post_server(to, h);
	return true;
}

void proxy_handoff_take(struct proxy_handoff *h)
{
	struct proxy_server *s = h->s;
	struct pool *p = proxy.shutting_down ? NULL : pool_get(proxy.cfg, h->db, h->user, h->lane);
	const struct pool_settings *st = NULL;
	if (!p || !intern_settings(h, &st)) {
		proxy_handoff_drop(h);
		return;
	}
	s->ps.settings = st;
	for (int i = 0; i < POOL_PARAMS_MAX; i++)
		if (h->params[i])
			pool_params_set(&s->ps.params, i, h->params[i]);
	bool deallocate = h->deallocate;
	(void)pool_db_catalog(p->db); /* its database's settings, read by another worker */
	if (!p->welcome && h->welcome &&
	    !pool_welcome_set(p, h->welcome, h->welcome_len, &s->ps.params)) {
		proxy_handoff_drop(h);
		return;
	}
	free_handoff(h);
	pool_reach_ok(&p->reach, proxy_now_ms()); /* it logged in, on another worker */
	proxy_server_welcome_waiters(p);
	ev_io_start(proxy.loop, &s->conn.w);
	pool_server_adopt(p, &s->ps, !deallocate, proxy_now_ms());
	if (deallocate && (!proxy_relay_server_query(s, "DEALLOCATE ALL") ||
	                   proxy_out_flush(&s->conn) == PROXY_IO_ERROR))
		proxy_server_close(s, "could not deallocate the statements of another worker");
}

void proxy_handoff_drop(struct proxy_handoff *h)
{
	struct proxy_server *s = h->s;
	pool_budget_give(h->budget[0], h->budget[1], h->budget[2], 1);
	log_debug("s%u: closing: its pool is gone from the worker it was handed to", s->id);
	free_handoff(h);
	proxy_server_close(s, "handed over to a worker without its pool"); /* no pool: no news */
}
