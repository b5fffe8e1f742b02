/* tests/integration/fwd.c — see fwd.h. */
#include "tests/integration/fwd.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define CANCEL_REQUEST_CODE 80877102
#define IDLE_LIMIT_MS       60000

struct fwd_conn {
	struct fwd *f;
	int cfd;
};

static int connect_pg(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)it_pgport())};
	if (inet_pton(AF_INET, it_pghost(), &a.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Pipe bytes both ways until either side closes or nothing moves for IDLE_LIMIT_MS. */
static void pipe_both(int a, int b)
{
	uint8_t buf[16384];
	for (;;) {
		struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
		if (poll(p, 2, IDLE_LIMIT_MS) <= 0)
			return;
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t n = recv(p[i].fd, buf, sizeof buf, 0);
			if (n <= 0 || !write_all(p[1 - i].fd, buf, (size_t)n))
				return;
		}
	}
}

static void *conn_main(void *arg)
{
	struct fwd_conn *fc = arg;
	struct fwd *f = fc->f;
	int pfd = connect_pg();
	if (pfd >= 0) {
		uint8_t head[8];
		ssize_t n = recv(fc->cfd, head, sizeof head, MSG_PEEK | MSG_WAITALL);
		if (n == (ssize_t)sizeof head) {
			uint32_t len = ntohl(*(uint32_t *)head),
			         code = ntohl(*(uint32_t *)(head + 4));
			if (len == 16 && code == CANCEL_REQUEST_CODE) {
				it_sleep_ms(f->cancel_delay_ms);
				atomic_fetch_add(&f->cancels, 1);
			}
		}
		if (n > 0)
			pipe_both(fc->cfd, pfd);
		close(pfd);
	}
	close(fc->cfd);
	free(fc);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct fwd *f = arg;
	for (;;) {
		int cfd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		atomic_fetch_add(&f->conns, 1);
		struct fwd_conn *fc = malloc(sizeof *fc);
		pthread_t t;
		if (!fc) {
			close(cfd);
			continue;
		}
		fc->f = f;
		fc->cfd = cfd;
		if (pthread_create(&t, NULL, conn_main, fc) != 0) {
			close(cfd);
			free(fc);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

struct fwd *fwd_start(int cancel_delay_ms)
{
	struct fwd *f = calloc(1, sizeof *f);
	cr_assert(f);
	f->cancel_delay_ms = cancel_delay_ms;
	f->port = it_free_port();
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(f->lfd, 0);
	int one = 1;
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0, "fwd: bind :%d", f->port);
	cr_assert_eq(listen(f->lfd, 64), 0);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, accept_main, f), 0);
	pthread_detach(t);
	return f;
}
