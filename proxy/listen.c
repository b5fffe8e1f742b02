/* proxy/listen.c — the listening sockets and accept. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/log.h"
#include "proxy/proxy.h"

#define ACCEPT_BATCH 64

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage sa;
		socklen_t len = sizeof(sa);
		int fd = accept4(w->fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			log_error("accept failed: %s", strerror(errno));
			return;
		}
		proxy_client_accept(fd, (struct sockaddr *)&sa, len);
	}
}

bool proxy_listen_start(const struct cfg *cfg)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", cfg->listen.port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	const char *host = strcmp(cfg->listen.host, "*") == 0 ? NULL : cfg->listen.host;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		log_error("listen.host \"%s\": %s", cfg->listen.host, gai_strerror(rc));
		return false;
	}
	for (struct addrinfo *ai = res; ai && proxy.nlisteners < PROXY_MAX_LISTEN;
	     ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
			log_error("cannot listen on %s:%d: %s", cfg->listen.host, cfg->listen.port,
			          strerror(errno));
			close(fd);
			continue;
		}
		ev_io *w = &proxy.listeners[proxy.nlisteners++];
		ev_io_init(w, accept_cb, fd, EV_READ);
		ev_io_start(EV_DEFAULT, w);
	}
	freeaddrinfo(res);
	if (proxy.nlisteners == 0)
		return false;
	log_info("listening on %s:%d", cfg->listen.host, cfg->listen.port);
	return true;
}

void proxy_listen_stop(void)
{
	for (int i = 0; i < proxy.nlisteners; i++) {
		ev_io_stop(EV_DEFAULT, &proxy.listeners[i]);
		close(proxy.listeners[i].fd);
	}
	proxy.nlisteners = 0;
}
