/* proxy/peer.c — peering: a CancelRequest that reached this pglane for a client of another
 * (its pid names that peer's peer_id) is forwarded to it: the peer's address from the config in
 * force (RELOAD may change the peers), resolved without blocking, a new non-blocking
 * connection, the 16-byte CancelRequest with the forwarded bit set, then the connection is
 * closed (PostgreSQL's and PgBouncer's cancel protocol has no answer). A forward that takes
 * longer than PROXY_PEER_FORWARD_TIMEOUT_MS is dropped. Each worker counts its forwards per peer
 * (sent, failed, in flight) and the requests for a peer not in the config (SHOW PEER_POOLS,
 * /metrics). Owner: the event loop's thread. */
#include "proxy/peer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/metrics.h"
#include "config/cfg.h"
#include "config/log.h"
#include "protocol/buf.h"
#include "protocol/startup.h"
#include "proxy/context.h"
#include "proxy/resolve.h"

/* One forward: resolve, connect, send, close. */
struct peer_forward {
	ev_io w; /* fd -1 until connecting */
	ev_timer timer;
	struct proxy_resolve *req; /* the look-up in flight, NULL when none */
	struct pool_list link;     /* in peers.in_flight */
	unsigned id;
	uint8_t pkt[PROTO_CANCEL_REQUEST_LEN];
};

/* How a forward ended, for its peer's counts. */
enum forward_end { FORWARD_SENT, FORWARD_FAILED, FORWARD_EXIT };

/* This pglane's peer_id (process-wide, set before the workers start) and each worker's
 * forwards in flight and counts (its own, on its loop; read by the console with the world
 * stopped). */
static int self;
static struct peer_forwards {
	struct pool_list in_flight;      /* owned */
	struct admin_peer_counts *tally; /* owned: one per peer id forwarded to */
	size_t ntally, cap;
	uint64_t unknown; /* requests for a peer not in peers, dropped */
} forwards[POOL_MAX_WORKERS];
#define peers (forwards[pool_worker])

/* This worker's list, made the first time. */
static struct pool_list *in_flight(void)
{
	if (!peers.in_flight.next)
		pool_list_init(&peers.in_flight);
	return &peers.in_flight;
}

void proxy_peer_start(const struct cfg *c)
{
	self = c->peer_id;
	if (c->peer_id)
		log_info("peering: this is peer %d of %zu", c->peer_id, c->npeers + 1);
}

int proxy_peer_self(void)
{
	return self;
}

/* This worker's counts for peer `id`, made the first time (NULL when out of memory). */
static struct admin_peer_counts *tally_of(unsigned id)
{
	struct admin_peer_counts *t = (struct admin_peer_counts *)admin_peer_counts_find(
	        peers.tally, peers.ntally, (int)id);
	if (t)
		return t;
	if (peers.ntally == peers.cap) {
		size_t cap = peers.cap ? 2 * peers.cap : 4;
		t = realloc(peers.tally, cap * sizeof(*t));
		if (!t)
			return NULL;
		peers.tally = t;
		peers.cap = cap;
	}
	peers.tally[peers.ntally] = (struct admin_peer_counts){.id = (int)id};
	return &peers.tally[peers.ntally++];
}

const struct admin_peer_counts *proxy_peer_counts(size_t *n, uint64_t *unknown)
{
	*n = peers.ntally;
	*unknown = peers.unknown;
	return peers.tally;
}

static void forward_done(struct peer_forward *f, enum forward_end end)
{
	struct admin_peer_counts *t = tally_of(f->id); /* made when the forward began */
	if (t) {
		if (f->w.fd >= 0)
			t->connecting--;
		else
			t->resolving--;
		t->forwarded += end == FORWARD_SENT;
		t->failed += end == FORWARD_FAILED;
	}
	if (f->req)
		proxy_resolve_cancel(f->req);
	ev_timer_stop(proxy.loop, &f->timer);
	if (f->w.fd >= 0) {
		ev_io_stop(proxy.loop, &f->w);
		close(f->w.fd);
	}
	pool_list_remove(&f->link);
	free(f);
}

static void forward_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct peer_forward *f = pool_container_of(w, struct peer_forward, w);
	enum forward_end end = FORWARD_FAILED;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		log_warning("cancel request for peer %u: could not connect: %s", f->id,
		            strerror(err));
	} else {
		ssize_t n = send(w->fd, f->pkt, sizeof(f->pkt), MSG_NOSIGNAL);
		if (n == (ssize_t)sizeof(f->pkt)) {
			log_debug("cancel request forwarded to peer %u", f->id);
			end = FORWARD_SENT;
		} else {
			log_warning("cancel request for peer %u not sent: %s", f->id,
			            n < 0 ? strerror(errno) : "short write");
		}
	}
	forward_done(f, end);
}

static void forward_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct peer_forward *f = pool_container_of(t, struct peer_forward, timer);
	log_warning("cancel request for peer %u: not sent within %d ms, dropped", f->id,
	            PROXY_PEER_FORWARD_TIMEOUT_MS);
	forward_done(f, FORWARD_FAILED);
}

/* Start connecting to the resolved address; false (logged) when that cannot start. */
static bool forward_connect(struct peer_forward *f, const struct sockaddr_storage *sa,
                            socklen_t len)
{
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (const struct sockaddr *)sa, len) < 0 && errno != EINPROGRESS)) {
		log_warning("cancel request for peer %u: could not connect: %s", f->id,
		            strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	ev_io_set(&f->w, fd, EV_WRITE);
	ev_io_start(proxy.loop, &f->w);
	struct admin_peer_counts *t = tally_of(f->id); /* made when the forward began */
	t->resolving--;
	t->connecting++;
	return true;
}

static void forward_resolved(void *arg, const struct sockaddr_storage *sa, socklen_t len,
                             const char *err)
{
	struct peer_forward *f = arg;
	f->req = NULL;
	if (!sa)
		log_warning("cancel request for peer %u: %s", f->id, err ? err : "no address");
	if (!sa || !forward_connect(f, sa, len))
		forward_done(f, FORWARD_FAILED);
}

void proxy_peer_forward(unsigned id, uint32_t pid, int32_t key)
{
	const struct cfg_peer *p = cfg_peer_find(proxy.cfg, (int)id);
	if (!p) {
		log_debug("cancel request for peer %u, which is not in peers: dropped", id);
		peers.unknown++;
		return;
	}
	struct admin_peer_counts *t = tally_of(id);
	struct peer_forward *f = t ? calloc(1, sizeof(*f)) : NULL;
	if (!f)
		return;
	t->resolving++; /* until it connects */
	struct proto_writer w;
	proto_writer_init(&w, f->pkt, sizeof(f->pkt));
	proto_write_cancel_request(&w, (int32_t)pid, key);
	f->id = id;
	ev_io_init(&f->w, forward_io_cb, -1, EV_WRITE);
	ev_timer_init(&f->timer, forward_timer_cb, PROXY_PEER_FORWARD_TIMEOUT_MS / 1000.0, 0.);
	ev_timer_start(proxy.loop, &f->timer);
	pool_list_append(in_flight(), &f->link);
	struct sockaddr_storage sa;
	socklen_t len = 0;
	char err[200] = "";
	switch (proxy_resolve_start(p->host, p->port, &sa, &len, forward_resolved, f, &f->req, err,
	                            sizeof(err))) {
	case PROXY_RESOLVE_DONE:
		if (!forward_connect(f, &sa, len))
			forward_done(f, FORWARD_FAILED);
		return;
	case PROXY_RESOLVE_PENDING:
		return;
	case PROXY_RESOLVE_FAILED:
		log_warning("cancel request for peer %u: %s", id, err);
		forward_done(f, FORWARD_FAILED);
		return;
	}
}

void proxy_peer_free_all(void)
{
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, in_flight())
	{
		forward_done(pool_container_of(pos, struct peer_forward, link), FORWARD_EXIT);
	}
	free(peers.tally);
	peers.tally = NULL;
	peers.ntally = peers.cap = 0;
}
