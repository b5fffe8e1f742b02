/* proxy/http.c — the HTTP endpoint on the same loop: GET /metrics (Prometheus text),
 * /healthz (alive), /ready (every database reachable), / (the status page) and /status.json
 * (its data). One request per connection, read within a size and time limit; anything
 * else gets 400, 404 or 405 and the connection is closed. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/result.h"
#include "admin/status.h"
#include "config/log.h"
#include "proxy/admin_client.h"
#include "proxy/context.h"
#include "proxy/gather.h"
#include "proxy/http.h"
#include "proxy/takeover.h"

#define HTTP_MAX_REQUEST 8192
#define HTTP_TIMEOUT_S   5.0
#define HTTP_MAX_CONNS   64

struct http_conn {
	struct pool_list link; /* every open connection, freed at exit */
	ev_io w;
	ev_timer timer;
	size_t len;
	char req[HTTP_MAX_REQUEST + 1];
	struct admin_buf resp;
	size_t sent;
};

/* The HTTP endpoint: its listener and open connections. Owner today: the process's one
 * event loop. Under worker threads: process-wide, one instance on one loop (the first
 * worker's); /metrics, /ready and /status.json gather every worker's pools and stats (each
 * worker answers a snapshot request through its mailbox; the reply waits for all). */
static struct http_endpoint {
	ev_io http_listener;
	bool listening;         /* http_listener started */
	int nconns;             /* at most HTTP_MAX_CONNS */
	struct pool_list conns; /* struct http_conn, oldest first */
} http = {.conns = {&http.conns, &http.conns}};

static void conn_free(struct http_conn *h)
{
	ev_io_stop(proxy.loop, &h->w);
	ev_timer_stop(proxy.loop, &h->timer);
	pool_list_remove(&h->link);
	close(h->w.fd);
	admin_buf_free(&h->resp);
	free(h);
	http.nconns--;
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct http_conn *h = pool_container_of(w, struct http_conn, w);
	while (h->sent < h->resp.len) {
		ssize_t n =
		        send(w->fd, h->resp.data + h->sent, h->resp.len - h->sent, MSG_NOSIGNAL);
		if (n > 0) {
			h->sent += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		break;
	}
	conn_free(h);
}

static void respond(struct http_conn *h, int code, const char *reason, const char *type,
                    const struct admin_buf *body, bool head)
{
	char hdr[256];
	size_t blen = body ? body->len : 0;
	int n = snprintf(hdr, sizeof(hdr),
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 code, reason, type, blen);
	admin_buf_put(&h->resp, hdr, (size_t)n);
	if (body && !head)
		admin_buf_put(&h->resp, body->data, body->len);
	if (h->resp.failed) {
		conn_free(h);
		return;
	}
	ev_io_stop(proxy.loop, &h->w);
	ev_io_init(&h->w, write_cb, h->w.fd, EV_WRITE);
	ev_io_start(proxy.loop, &h->w);
	write_cb(proxy.loop, &h->w, EV_WRITE);
}

static void respond_text(struct http_conn *h, int code, const char *reason, const char *text)
{
	struct admin_buf b = {0};
	admin_buf_put(&b, text, strlen(text));
	respond(h, code, reason, "text/plain; charset=utf-8", &b, false);
	admin_buf_free(&b);
}

/* The request line of a complete request head. */
static void handle(struct http_conn *h)
{
	char method[16], path[256], version[16];
	char *eol = strstr(h->req, "\r\n");
	if (!eol || sscanf(h->req, "%15s %255s %15s", method, path, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0 || strchr(h->req, '\0') < eol) {
		respond_text(h, 400, "Bad Request", "bad request\n");
		return;
	}
	bool head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head) {
		respond_text(h, 405, "Method Not Allowed", "only GET and HEAD\n");
		return;
	}
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	if (strcmp(path, "/metrics") == 0) {
		struct admin_buf b = {0};
		proxy_admin_metrics(&b);
		if (b.failed)
			respond_text(h, 500, "Internal Server Error", "out of memory\n");
		else
			respond(h, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", &b, head);
		admin_buf_free(&b);
	} else if (strcmp(path, "/status.json") == 0) {
		struct admin_buf b = {0};
		proxy_admin_status(&b);
		if (b.failed)
			respond_text(h, 500, "Internal Server Error", "out of memory\n");
		else
			respond(h, 200, "OK", "application/json", &b, head);
		admin_buf_free(&b);
	} else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
		struct admin_buf b = {0};
		admin_buf_put(&b, admin_status_html, strlen(admin_status_html));
		respond(h, 200, "OK", "text/html; charset=utf-8", &b, head);
		admin_buf_free(&b);
	} else if (strcmp(path, "/ready") == 0) {
		struct admin_buf b = {0};
		bool ready = false;
		if (!proxy.shutdown) { /* every worker's pools */
			proxy_gather_begin();
			ready = admin_status_ready(proxy_now_ms(), &b);
			proxy_gather_end();
		}
		if (proxy.shutdown) /* any of the three, from the signal or SHUTDOWN on */
			respond_text(h, 503, "Service Unavailable", "shutting down\n");
		else if (!ready)
			respond(h, 503, "Service Unavailable", "text/plain; charset=utf-8", &b,
			        head);
		else
			respond(h, 200, "OK", "text/plain; charset=utf-8", &b, head);
		admin_buf_free(&b);
	} else if (strcmp(path, "/healthz") == 0) {
		if (proxy.shutdown) /* any of the three, from the signal or SHUTDOWN on */
			respond_text(h, 503, "Service Unavailable", "shutting down\n");
		else
			respond_text(h, 200, "OK", "ok\n");
	} else {
		respond_text(h, 404, "Not Found",
		             "not found: try /, /status.json, /metrics, /healthz or /ready\n");
	}
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct http_conn *h = pool_container_of(w, struct http_conn, w);
	ssize_t n = recv(w->fd, h->req + h->len, HTTP_MAX_REQUEST - h->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(h);
		return;
	}
	h->len += (size_t)n;
	h->req[h->len] = '\0';
	if (memchr(h->req, '\0', h->len)) {
		respond_text(h, 400, "Bad Request", "bad request\n");
		return;
	}
	if (strstr(h->req, "\r\n\r\n")) {
		handle(h);
		return;
	}
	if (h->len == HTTP_MAX_REQUEST)
		respond_text(h, 400, "Bad Request", "request too large\n");
}

static void timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	conn_free(pool_container_of(t, struct http_conn, timer));
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (http.nconns >= HTTP_MAX_CONNS) {
			/* full: the oldest connection still without a whole request makes room,
			 * so idle or slow clients cannot lock the endpoint */
			struct pool_list *pos;
			struct http_conn *old = NULL;
			pool_list_foreach(pos, &http.conns)
			{
				struct http_conn *c =
				        pool_container_of(pos, struct http_conn, link);
				if (c->resp.len == 0) {
					old = c;
					break;
				}
			}
			if (old)
				conn_free(old);
		}
		struct http_conn *h = http.nconns < HTTP_MAX_CONNS ? malloc(sizeof(*h)) : NULL;
		if (!h) {
			close(fd);
			continue;
		}
		http.nconns++;
		pool_list_append(&http.conns, &h->link);
		h->len = 0;
		h->sent = 0;
		memset(&h->resp, 0, sizeof(h->resp));
		ev_io_init(&h->w, read_cb, fd, EV_READ);
		ev_io_start(proxy.loop, &h->w);
		ev_timer_init(&h->timer, timeout_cb, HTTP_TIMEOUT_S, 0.);
		ev_timer_start(proxy.loop, &h->timer);
	}
}

static void listen_on(int fd, const struct cfg *cfg)
{
	ev_io_init(&http.http_listener, accept_cb, fd, EV_READ);
	ev_io_start(proxy.loop, &http.http_listener);
	http.listening = true;
	log_info("status page on http://%s:%d/ (metrics on /metrics)", cfg->listen.host,
	         cfg->admin.http_port);
}

bool proxy_http_start(const struct cfg *cfg)
{
	if (!cfg->admin.http_port)
		return true;
	char port[16];
	snprintf(port, sizeof(port), "%d", cfg->admin.http_port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	const char *host = strcmp(cfg->listen.host, "*") == 0 ? NULL : cfg->listen.host;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res) {
		log_error("admin.http_port: cannot resolve %s", cfg->listen.host);
		return false;
	}
	int fd = proxy_takeover_claim(res->ai_addr, res->ai_addrlen);
	if (fd >= 0) { /* handed over by the pglane this one takes over from */
		freeaddrinfo(res);
		listen_on(fd, cfg);
		return true;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		log_error("admin.http_port: cannot listen on %s:%d: %s", cfg->listen.host,
		          cfg->admin.http_port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return false;
	}
	freeaddrinfo(res);
	listen_on(fd, cfg);
	return true;
}

int proxy_http_fd(void)
{
	return http.listening ? http.http_listener.fd : -1;
}

void proxy_http_release(void)
{
	if (!http.listening)
		return;
	ev_io_stop(proxy.loop, &http.http_listener);
	close(http.http_listener.fd);
	http.listening = false;
}

void proxy_http_stop(void)
{
	proxy_http_release();
	while (!pool_list_empty(&http.conns))
		conn_free(pool_container_of(pool_list_first(&http.conns), struct http_conn, link));
}
