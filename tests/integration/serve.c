/* tests/integration/serve.c — see serve.h. */
#include "tests/integration/serve.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct server {
	int lfd;
	void (*serve)(void *arg, int fd);
	void *arg;
	atomic_int *conns;
};

struct conn {
	struct server *srv;
	int fd;
};

int it_listen_local(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
	cr_assert(listen(fd, 64) == 0, "listen: %s", strerror(errno));
	cr_assert(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void *conn_main(void *p)
{
	struct conn c = *(struct conn *)p;
	free(p);
	c.srv->serve(c.srv->arg, c.fd);
	return NULL;
}

static void *accept_main(void *p)
{
	struct server *srv = p;
	for (;;) {
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		if (srv->conns)
			atomic_fetch_add(srv->conns, 1);
		struct conn *c = malloc(sizeof *c);
		pthread_t t;
		if (!c) {
			close(fd);
			continue;
		}
		c->srv = srv;
		c->fd = fd;
		if (pthread_create(&t, NULL, conn_main, c) != 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}

void it_serve(int lfd, void (*serve)(void *arg, int fd), void *arg, atomic_int *conns)
{
	struct server *srv = malloc(sizeof *srv);
	cr_assert(srv);
	*srv = (struct server){.lfd = lfd, .serve = serve, .arg = arg, .conns = conns};
	pthread_t t;
	cr_assert(pthread_create(&t, NULL, accept_main, srv) == 0);
	pthread_detach(t);
}

bool it_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = recv(fd, (char *)buf + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}
