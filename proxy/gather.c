/* proxy/gather.c — every worker's state read at once for the console and HTTP (gather.h). */
#include "proxy/gather.h"

#include <stdlib.h>

#include "admin/metrics.h"
#include "config/cfg.h"
#include "pool/view.h"
#include "proxy/context.h"
#include "proxy/peer.h"
#include "proxy/worker.h"

/* Which worker called proxy_gather_begin() (the view slot is acted as until the end). */
static _Thread_local unsigned gather_home;

static void count_clients(void *arg)
{
	*(int *)arg += proxy.nclients;
}

void proxy_gather_begin(void)
{
	proxy_world_stop();
	gather_home = pool_worker;
	int nclients = 0;
	proxy_workers_each(count_clients, &nclients);
	struct proxy_context *home = &proxy_ctx[gather_home];
	pool_view_build(home->cfg, proxy_workers_count(), proxy_now_ms());
	struct proxy_context *v = &proxy_ctx[POOL_VIEW_SLOT];
	v->loop = home->loop;
	v->cfg = home->cfg;
	v->users = home->users;
	v->nclients = nclients;
	v->shutdown = home->shutdown;
	v->shutting_down = home->shutting_down;
	pool_list_init(&v->clients);
	pool_worker = POOL_VIEW_SLOT;
}

void proxy_gather_end(void)
{
	pool_worker = gather_home;
	pool_view_free();
	proxy_ctx[POOL_VIEW_SLOT] = (struct proxy_context){0};
	proxy_world_resume();
}

static void add_authq(void *arg)
{
	struct proxy_authq_stats *t = arg;
	const struct proxy_authq_stats *s = proxy_authq_stats();
	t->found += s->found;
	t->not_found += s->not_found;
	t->errors += s->errors;
	t->coalesced += s->coalesced;
	t->in_flight += s->in_flight;
}

struct proxy_authq_stats proxy_gather_authq(void)
{
	struct proxy_authq_stats t = {0};
	proxy_workers_each(add_authq, &t);
	return t;
}

/* Every worker's counts added into by_id[] (CFG_PEER_ID_MAX + 1 of them, by peer_id). */
struct peer_sum {
	struct admin_peer_counts *by_id;
	uint64_t unknown;
};

static void add_peers(void *arg)
{
	struct peer_sum *sum = arg;
	size_t n;
	uint64_t unknown;
	const struct admin_peer_counts *w = proxy_peer_counts(&n, &unknown);
	sum->unknown += unknown;
	for (size_t i = 0; i < n; i++) {
		struct admin_peer_counts *t = &sum->by_id[w[i].id];
		t->id = w[i].id;
		t->forwarded += w[i].forwarded;
		t->failed += w[i].failed;
		t->resolving += w[i].resolving;
		t->connecting += w[i].connecting;
	}
}

struct admin_peer_counts *proxy_gather_peers(size_t *n, uint64_t *unknown)
{
	struct peer_sum sum = {.by_id = calloc(CFG_PEER_ID_MAX + 1, sizeof(*sum.by_id))};
	*n = 0;
	if (sum.by_id) {
		proxy_workers_each(add_peers, &sum);
		for (int id = 1; id <= CFG_PEER_ID_MAX; id++) /* the ids seen, first: by id */
			if (sum.by_id[id].id)
				sum.by_id[(*n)++] = sum.by_id[id];
	}
	*unknown = sum.unknown;
	return sum.by_id;
}
