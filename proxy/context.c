/* proxy/context.c — the process's one context: loop, clock, ids, deferred frees. */
#include "proxy/context.h"

#include <stdatomic.h>
#include <stdlib.h>

struct proxy_context proxy_ctx[POOL_MAX_WORKERS];

void proxy_context_init(void)
{
	proxy.loop = pool_worker == 0 ? ev_default_loop(EVFLAG_AUTO) : ev_loop_new(EVFLAG_AUTO);
	pool_list_init(&proxy.clients);
}

void proxy_context_free(void)
{
	proxy_reap();
	ev_loop_destroy(proxy.loop);
	proxy.loop = NULL;
}

int64_t proxy_now_ms(void)
{
	return (int64_t)(ev_now(proxy.loop) * 1000.0);
}

int64_t proxy_now_us(void)
{
	return (int64_t)(ev_now(proxy.loop) * 1000000.0);
}

/* Connection ids, unique in the process whichever worker takes one (once per connection). */
static _Atomic uint32_t next_client_id, next_server_id;

uint32_t proxy_next_client_id(void)
{
	return ++next_client_id;
}

uint32_t proxy_next_server_id(void)
{
	return ++next_server_id;
}

void proxy_defer_free(struct proxy_dead *d, void *obj)
{
	d->obj = obj;
	d->next = proxy.dead;
	proxy.dead = d;
}

void proxy_reap(void)
{
	while (proxy.dead) {
		struct proxy_dead *d = proxy.dead;
		proxy.dead = d->next;
		free(d->obj);
	}
}
