/* proxy/cancel.c — cancel requests: a client's CancelRequest carries pglane's own key; it
 * is checked (constant time) and becomes a CancelRequest with the real backend key, sent on a
 * new connection to the server that client is using at that moment, and to no one else. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/log.h"
#include "protocol/buf.h"
#include "protocol/msg.h"
#include "protocol/startup.h"
#include "proxy/proxy.h"

#define CANCEL_TIMEOUT_S 5.0

struct cancel {
	ev_io w;
	ev_timer timer;
	uint8_t pkt[PROTO_CANCEL_REQUEST_LEN];
};

static void cancel_done(struct cancel *k)
{
	ev_io_stop(EV_DEFAULT, &k->w);
	ev_timer_stop(EV_DEFAULT, &k->timer);
	close(k->w.fd);
	free(k);
}

static void cancel_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct cancel *k = pool_container_of(w, struct cancel, w);
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
		ssize_t n = send(w->fd, k->pkt, sizeof(k->pkt), MSG_NOSIGNAL);
		if (n != (ssize_t)sizeof(k->pkt))
			log_warning("cancel request not sent: %s", strerror(errno));
	} else {
		log_warning("cancel request: could not connect: %s", strerror(err ? err : errno));
	}
	cancel_done(k);
}

static void cancel_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct cancel *k = pool_container_of(t, struct cancel, timer);
	log_warning("cancel request: connect timed out");
	cancel_done(k);
}

void proxy_cancel_server(struct proxy_server *s)
{
	if (s->state != SERVER_READY || s->ps.be_pid == 0)
		return;
	struct cancel *k = calloc(1, sizeof(*k));
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
	ev_io_start(EV_DEFAULT, &k->w);
	ev_timer_init(&k->timer, cancel_timer_cb, CANCEL_TIMEOUT_S, 0.);
	ev_timer_start(EV_DEFAULT, &k->timer);
	log_debug("s%u: cancel request sent for backend %d", s->id, s->ps.be_pid);
}

void proxy_cancel_request(int32_t pid, int32_t key)
{
	struct proxy_client *c = proxy_client_by_pid(pid);
	if (!c || c->state != CLIENT_READY ||
	    CRYPTO_memcmp(&c->cancel_key, &key, sizeof(key)) != 0) {
		log_debug("cancel request with an unknown key ignored");
		return;
	}
	if (!c->pc.server) {
		if (c->pc.wait_start_ms) /* it gives up waiting for a server */
			proxy_relay_fail_waiting(c, PROTO_SQLSTATE_QUERY_CANCELED,
			                         "canceling statement due to user request");
		else
			log_debug("c%u: cancel request while no query runs", c->id);
		return;
	}
	struct proxy_server *s = proxy_server_of(c->pc.server);
	if (s->pending > s->internal)
		proxy_cancel_server(s);
}
