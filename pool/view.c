/* pool/view.c — the sum of every worker's pools, for the console and metrics (view.h). */
#include "pool/view.h"

#include <string.h>

#include "pool/pool.h"

static void add_stats(struct pool_stats *d, const struct pool_stats *s, int64_t now_us)
{
	d->server_assignments += s->server_assignments;
	d->xact_count += s->xact_count;
	d->query_count += s->query_count;
	d->received += s->received;
	d->sent += s->sent;
	d->xact_time_us += s->xact_time_us;
	d->query_time_us += s->query_time_us;
	d->wait_time_us += s->wait_time_us;
	d->client_parses += s->client_parses;
	d->server_parses += s->server_parses;
	d->binds += s->binds;
	d->server_connects += s->server_connects;
	d->server_connect_failures += s->server_connect_failures;
	d->slow_queries += s->slow_queries;
	d->statement_timeouts += s->statement_timeouts;
	pool_hist_merge(&d->wait_hist, &s->wait_hist, now_us);
	pool_hist_merge(&d->query_hist, &s->query_hist, now_us);
}

/* Add what `p` (of another slot) counts to `v`, the view's pool of the same key. */
static void add_pool(struct pool *v, const struct pool *p, int64_t now_ms)
{
	bool first = v->n_clients == 0 && v->stats.server_connects == 0 && !v->reach.since_ms &&
	             v->n_login + v->n_idle + v->n_active + v->n_busy == 0;
	v->n_login += p->n_login;
	v->n_idle += p->n_idle;
	v->n_active += p->n_active;
	v->n_busy += p->n_busy;
	v->n_waiting += p->n_waiting;
	v->n_tested += p->n_tested;
	v->n_clients += p->n_clients;
	v->n_pinned += p->n_pinned;
	if (v->held_by == POOL_HELD_NONE)
		v->held_by = p->held_by;
	if (first || p->reach.state > v->reach.state)
		v->reach = p->reach; /* the worst state any worker sees */
	v->olap_target = p->olap_target;
	int64_t since = pool_oldest_wait_ms(p);
	if (since && (!v->view_oldest_wait_ms || since < v->view_oldest_wait_ms))
		v->view_oldest_wait_ms = since;
	add_stats(&v->stats, &p->stats, now_ms * 1000);
	pool_counts_add(&v->period_old, &p->period_old);
	pool_counts_add(&v->period_new, &p->period_new);
}

void pool_view_build(const struct cfg *cfg, unsigned n, int64_t now_ms)
{
	unsigned home = pool_worker;
	pool_view_free();
	int64_t old_us = 0, new_us = 0;
	pool_worker = 0;
	pool_stats_period_times(&old_us, &new_us);
	bool pause_all = pool_pause_all();
	pool_worker = POOL_VIEW_SLOT;
	pool_setup(NULL);
	pool_stats_period_adopt(old_us, new_us);
	pool_set_pause_all(pause_all);
	for (unsigned w = 0; w < n; w++) {
		pool_worker = w;
		for (struct pool *p = pool_next(NULL); p; p = pool_next(p)) {
			if (!p->db->cfg)
				continue;
			bool paused = p->db->paused, disabled = p->db->disabled;
			pool_worker = POOL_VIEW_SLOT;
			struct pool *v = pool_get(cfg, p->db->name, p->user->name, p->lane);
			if (v) {
				add_pool(v, p, now_ms);
				v->db->paused |= paused;
				v->db->disabled |= disabled;
			}
			pool_worker = w;
		}
		/* databases and users met without a pool (a failed login, PAUSE of a name) */
		for (struct pool_db *d = pool_db_next(NULL); d; d = pool_db_next(d)) {
			if (!d->cfg)
				continue;
			bool paused = d->paused, disabled = d->disabled;
			pool_worker = POOL_VIEW_SLOT;
			struct pool_db *vd = pool_db_get(cfg, d->name);
			if (vd) {
				vd->paused |= paused;
				vd->disabled |= disabled;
			}
			pool_worker = w;
		}
		for (struct pool_user *u = pool_user_next(NULL); u; u = pool_user_next(u)) {
			pool_worker = POOL_VIEW_SLOT;
			pool_user_get(u->name);
			pool_worker = w;
		}
	}
	pool_worker = POOL_VIEW_SLOT;
	pool_pins_total_gather(n);
	for (struct pool_db *d = pool_db_next(NULL); d; d = pool_db_next(d))
		d->n_servers = pool_budget_servers(d->budget),
		d->n_clients = pool_budget_clients(d->budget);
	for (struct pool_user *u = pool_user_next(NULL); u; u = pool_user_next(u))
		u->n_servers = pool_budget_servers(u->budget),
		u->n_clients = pool_budget_clients(u->budget);
	pool_worker = home;
}

void pool_view_free(void)
{
	unsigned home = pool_worker;
	pool_worker = POOL_VIEW_SLOT;
	pool_setup(NULL); /* its lists made, the first time */
	for (struct pool *v = pool_next(NULL); v; v = pool_next(v)) {
		v->n_login = v->n_idle = v->n_active = v->n_busy = 0; /* the workers' to count */
		v->n_clients = 0;
	}
	pool_shutdown();
	pool_worker = home;
}
