/* proxy/cancel.c — cancel requests: the table of the logged-in clients' cancel keys, and
 * the requests forwarded. A client's CancelRequest carries pglane's own key; it is checked
 * (constant time) and becomes a CancelRequest with the real backend key, sent on a new connection
 * to the server that client is using at that moment, and to no one else. That server takes no new
 * statement, and is not handed on, until PostgreSQL has closed the cancel connection: a cancel that
 * arrives late cannot stop the next statement. A cancel request that takes longer than the pool's
 * cancel_wait_timeout (0: no limit) is dropped. A CancelRequest whose pid names another pglane
 * (peering) is handed to proxy/peer.c. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/log.h"
#include "protocol/buf.h"
#include "protocol/msg.h"
#include "protocol/random.h"
#include "protocol/startup.h"
#include "proxy/cancel.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/context.h"
#include "proxy/worker.h"
#include "proxy/link.h"
#include "proxy/peer.h"
#include "proxy/server.h"

/* One cancel request: connect, send, then wait for PostgreSQL to close the connection (it does
 * once the backend has been signalled). */
struct proxy_cancel {
	ev_io w;
	ev_timer timer;
	struct proxy_server *s; /* NULL once the server is gone */
	struct pool_list link;  /* in cancels.in_flight */
	bool sent;
	uint8_t pkt[PROTO_CANCEL_REQUEST_LEN];
};

#define CANCEL_BUCKETS 4096

/* The cancel state of the process: the logged-in clients by their cancel pid (and key), the
 * last serial handed out, and the cancel requests in flight. Owner: the process's one event
 * loop, whose callbacks alone touch it (no lock). Under worker threads (issue 19) each worker
 * owns one: the cancel key carries the worker, and a CancelRequest accepted by any worker goes
 * to the worker it names. */
struct cancel_table {
	struct proxy_client *buckets[CANCEL_BUCKETS]; /* borrowed, chained by cancel_next */
	unsigned serial;                              /* the last one given */
	struct pool_list in_flight;                   /* owned: every cancel not done */
};
static struct cancel_table cancel_tables[POOL_MAX_WORKERS];
#define cancels (cancel_tables[pool_worker])

void proxy_cancel_init(void)
{
	pool_list_init(&cancels.in_flight);
}

static struct proxy_client **bucket_of(uint32_t pid)
{
	return &cancels.buckets[proxy_cancel_pid_serial(pid) % CANCEL_BUCKETS];
}

void proxy_cancel_register(struct proxy_client *c)
{
	do {
		if (!proto_random(&c->cancel_key, sizeof(c->cancel_key)))
			c->cancel_key = (int32_t)random();
	} while (c->cancel_key == 0);
	cancels.serial = proxy_cancel_serial_next(cancels.serial);
	c->cancel_pid = proxy_cancel_pid_make(proxy_peer_self(), pool_worker, cancels.serial);
	struct proxy_client **b = bucket_of(c->cancel_pid);
	c->cancel_next = *b;
	*b = c;
}

void proxy_cancel_unregister(struct proxy_client *c)
{
	if (!c->cancel_key)
		return;
	struct proxy_client **b = bucket_of(c->cancel_pid);
	while (*b && *b != c)
		b = &(*b)->cancel_next;
	if (*b)
		*b = c->cancel_next;
	c->cancel_key = 0;
}

/* The client with cancel pid `pid` and key `key`, or NULL; keys compared in constant time. */
static struct proxy_client *client_by_key(uint32_t pid, int32_t key)
{
	for (struct proxy_client *c = *bucket_of(pid); c; c = c->cancel_next)
		if (c->cancel_pid == pid && CRYPTO_memcmp(&c->cancel_key, &key, sizeof(key)) == 0)
			return c;
	return NULL;
}

static void unlink_cancel(struct proxy_cancel *k)
{
	struct proxy_server *s = k->s;
	if (!s)
		return;
	k->s = NULL;
	if (--s->ncancels == 0)
		proxy_link_cancels_done(s);
}

static void cancel_done(struct proxy_cancel *k)
{
	ev_io_stop(proxy.loop, &k->w);
	ev_timer_stop(proxy.loop, &k->timer);
	close(k->w.fd);
	pool_list_remove(&k->link);
	unlink_cancel(k);
	free(k);
}

static void cancel_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct proxy_cancel *k = pool_container_of(w, struct proxy_cancel, w);
	if (k->sent) {
		uint8_t b[64];
		ssize_t n = recv(w->fd, b, sizeof(b), 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (n > 0)
			return; /* PostgreSQL sends nothing; read on to the end */
		cancel_done(k); /* closed: the backend has been signalled */
		return;
	}
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
		ssize_t n = send(w->fd, k->pkt, sizeof(k->pkt), MSG_NOSIGNAL);
		if (n == (ssize_t)sizeof(k->pkt)) {
			k->sent = true;
			ev_io_stop(proxy.loop, &k->w);
			ev_io_set(&k->w, k->w.fd, EV_READ);
			ev_io_start(proxy.loop, &k->w);
			return;
		}
		log_warning("cancel request not sent: %s", n < 0 ? strerror(errno) : "short write");
	} else {
		log_warning("cancel request: could not connect: %s", strerror(err ? err : errno));
	}
	cancel_done(k);
}

static void cancel_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct proxy_cancel *k = pool_container_of(t, struct proxy_cancel, timer);
	log_warning("cancel request: %s within cancel_wait_timeout",
	            k->sent ? "the server did not close the connection" : "could not connect");
	cancel_done(k);
}

void proxy_cancel_server(struct proxy_server *s)
{
	if (s->state != SERVER_READY || s->ps.be_pid == 0)
		return;
	struct proxy_cancel *k = calloc(1, sizeof(*k));
	if (!k)
		return;
	struct proto_writer w;
	proto_writer_init(&w, k->pkt, sizeof(k->pkt));
	proto_write_cancel_request(&w, s->ps.be_pid, s->ps.be_key);
	int fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!proto_writer_ok(&w) || fd < 0) {
		if (fd >= 0)
			close(fd);
		free(k);
		return;
	}
	if (connect(fd, (struct sockaddr *)&s->addr, s->addr_len) < 0 && errno != EINPROGRESS) {
		log_warning("cancel request: could not connect: %s", strerror(errno));
		close(fd);
		free(k);
		return;
	}
	ev_io_init(&k->w, cancel_io_cb, fd, EV_WRITE);
	ev_io_start(proxy.loop, &k->w);
	int64_t wait_ms = s->ps.pool ? pool_cfg(s->ps.pool)->cancel_wait_timeout_ms : 10000;
	ev_timer_init(&k->timer, cancel_timer_cb, (double)wait_ms / 1000.0, 0.);
	if (wait_ms > 0)
		ev_timer_start(proxy.loop, &k->timer);
	pool_list_append(&cancels.in_flight, &k->link);
	k->s = s;
	s->ncancels++;
	conn_debug(s, "cancel request sent for backend %d", s->ps.be_pid);
}

void proxy_cancel_detach(struct proxy_server *s)
{
	struct pool_list *pos;
	for (pos = cancels.in_flight.next; s->ncancels > 0 && pos != &cancels.in_flight;
	     pos = pos->next) {
		struct proxy_cancel *k = pool_container_of(pos, struct proxy_cancel, link);
		if (k->s == s) {
			k->s = NULL;
			s->ncancels--;
		}
	}
}

/* A CancelRequest for one of this pglane's clients. */
static void cancel_local(uint32_t pid, int32_t key)
{
	struct proxy_client *c = client_by_key(pid, key);
	if (!c || c->state != CLIENT_READY) {
		log_debug("cancel request with an unknown key ignored");
		return;
	}
	if (!c->pc.server) {
		if (c->pc.wait_start_ms) /* it gives up waiting for a server */
			proxy_link_fail_waiting(c, PROTO_SQLSTATE_QUERY_CANCELED,
			                        "canceling statement due to user request");
		else
			conn_debug(c, "cancel request while no query runs");
		return;
	}
	struct proxy_server *s = proxy_server_of(c->pc.server);
	if (s->led.pending > s->led.internal)
		proxy_cancel_server(s);
}

void proxy_cancel_request(int32_t pid, int32_t key)
{
	uint32_t p = (uint32_t)pid;
	unsigned peer = proxy_cancel_pid_peer(p);
	if (peer == 0 || peer == (unsigned)proxy_peer_self()) {
		unsigned w = proxy_cancel_pid_worker(p);
		if (w == pool_worker)
			cancel_local(p & ~PROXY_CANCEL_FORWARDED, key);
		else if (w < proxy_workers_count()) /* the worker that owns the client */
			proxy_workers_cancel(UINT64_C(1) << w, pid, key);
		else
			log_debug("cancel request for worker %u, which does not run: ignored", w);
		return;
	}
	if (proxy_cancel_pid_forwarded(p)) {
		log_debug("cancel request for peer %u forwarded here by another peer: dropped",
		          peer);
		return;
	}
	proxy_peer_forward(peer, p | PROXY_CANCEL_FORWARDED, key);
}

void proxy_cancel_free_all(void)
{
	struct pool_list *pos, *tmp;
	pool_list_foreach_safe(pos, tmp, &cancels.in_flight)
	{
		struct proxy_cancel *k = pool_container_of(pos, struct proxy_cancel, link);
		k->s = NULL; /* exiting: nobody to tell */
		cancel_done(k);
	}
}
