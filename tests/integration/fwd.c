/* tests/integration/fwd.c — see fwd.h. */
#include "tests/integration/fwd.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/integration/serve.h"
#include "tests/integration/wire.h"

#define CANCEL_REQUEST_CODE 80877102
#define IDLE_LIMIT_MS       60000

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
			if (n <= 0 || !wire_send(p[1 - i].fd, buf, (size_t)n))
				return;
		}
	}
}

static void conn_main(void *arg, int cfd)
{
	struct fwd *f = arg;
	int pfd = connect_pg();
	if (pfd >= 0) {
		uint8_t head[8];
		ssize_t n = recv(cfd, head, sizeof head, MSG_PEEK | MSG_WAITALL);
		if (n == (ssize_t)sizeof head) {
			uint32_t len = ntohl(*(uint32_t *)head),
			         code = ntohl(*(uint32_t *)(head + 4));
			if (len == 16 && code == CANCEL_REQUEST_CODE) {
				it_sleep_ms(f->cancel_delay_ms);
				atomic_fetch_add(&f->cancels, 1);
			}
		}
		if (n > 0)
			pipe_both(cfd, pfd);
		close(pfd);
	}
	close(cfd);
}

struct fwd *fwd_start(int cancel_delay_ms)
{
	struct fwd *f = calloc(1, sizeof *f);
	cr_assert(f);
	f->cancel_delay_ms = cancel_delay_ms;
	f->lfd = it_listen_local(&f->port);
	it_serve(f->lfd, conn_main, f, &f->conns);
	return f;
}
