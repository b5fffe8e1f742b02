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

/* The peers' counts being added up: by id, at most one per possible peer_id. */
struct peer_sum {
	struct admin_peer_counts *p;
	size_t n;
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
		size_t k = 0;
		while (k < sum->n && sum->p[k].id != w[i].id)
			k++;
		if (k == sum->n) {
			if (sum->n == CFG_PEER_ID_MAX)
				continue;
			sum->p[sum->n++] = (struct admin_peer_counts){.id = w[i].id};
		}
		sum->p[k].forwarded += w[i].forwarded;
		sum->p[k].failed += w[i].failed;
		sum->p[k].resolving += w[i].resolving;
		sum->p[k].connecting += w[i].connecting;
	}
}

static int by_id(const void *a, const void *b)
{
	int x = ((const struct admin_peer_counts *)a)->id;
	int y = ((const struct admin_peer_counts *)b)->id;
	return (x > y) - (x < y);
}

struct admin_peer_counts *proxy_gather_peers(size_t *n, uint64_t *unknown)
{
	struct peer_sum sum = {.p = calloc(CFG_PEER_ID_MAX, sizeof(*sum.p))};
	if (sum.p) {
		proxy_workers_each(add_peers, &sum);
		qsort(sum.p, sum.n, sizeof(*sum.p), by_id);
	}
	*n = sum.n;
	*unknown = sum.unknown;
	return sum.p;
}
