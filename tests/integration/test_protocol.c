/* tests/integration/test_protocol.c — raw-socket abuse: bad startup lengths, garbage, unknown
 * protocol versions, SSLRequest, clients that connect and say nothing, an absurd message length
 * after login. Each one gets its connection closed (or a refusal) and pglane goes on serving. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"

TestSuite(protocol, .fini = it_pglane_fini, .timeout = 60);

static void send_all(int fd, const void *buf, size_t n)
{
	cr_assert_eq(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n, "send of %zu bytes failed", n);
}

static void expect_still_serving(void)
{
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT 42"), 42);
	PQfinish(c);
}

/* Send `n` bytes on a new connection; pglane must close it within 5 s. */
static void expect_closed_after(int port, const void *bytes, size_t n, const char *what)
{
	int fd = it_tcp_connect(port);
	send(fd, bytes, n, MSG_NOSIGNAL); /* pglane may close before all of it arrives */
	cr_expect(it_wait_closed(fd, 5000), "%s: connection still open after 5 s", what);
	close(fd);
}

IT_TEST(protocol, bad_startup_lengths)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	uint32_t huge[2] = {htonl(0xFFFFFFF0u), htonl(196608)};
	expect_closed_after(p->port, huge, sizeof huge, "length 0xFFFFFFF0");
	uint32_t tiny[2] = {htonl(3), htonl(196608)};
	expect_closed_after(p->port, tiny, sizeof tiny, "length 3");
	uint32_t zero[2] = {htonl(0), htonl(0)};
	expect_closed_after(p->port, zero, sizeof zero, "length 0");
	/* 100 MB announced before login. */
	uint32_t big[2] = {htonl(100u << 20), htonl(196608)};
	expect_closed_after(p->port, big, sizeof big, "length 100 MB");
	expect_still_serving();
}

IT_TEST(protocol, garbage_and_unknown_versions)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	char garbage[1024];
	for (size_t i = 0; i < sizeof garbage; i++)
		garbage[i] = (char)((i * 131 + 7) & 0xff);
	expect_closed_after(p->port, garbage, sizeof garbage, "1 KB of garbage");
	const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	expect_closed_after(p->port, http, sizeof http - 1, "an HTTP request");
	/* Protocol 2.0 and 4.0 startup packets. */
	unsigned char v2[16] = {0, 0, 0, 16, 0, 2, 0, 0, 'u', 's', 'e', 'r', 0, 'x', 0, 0};
	expect_closed_after(p->port, v2, sizeof v2, "protocol 2.0");
	unsigned char v4[16] = {0, 0, 0, 16, 0, 4, 0, 0, 'u', 's', 'e', 'r', 0, 'x', 0, 0};
	expect_closed_after(p->port, v4, sizeof v4, "protocol 4.0");
	/* A startup packet without a user. */
	unsigned char nouser[20] = {0,   0,   0,   20,  0,   3,   0, 0,   'd', 'a',
	                            't', 'a', 'b', 'a', 's', 'e', 0, 'x', 0,   0};
	expect_closed_after(p->port, nouser, sizeof nouser, "startup without user");
	/* Connect and close at once, and half a header. */
	close(it_tcp_connect(p->port));
	unsigned char half[2] = {0, 0};
	int fd = it_tcp_connect(p->port);
	send_all(fd, half, sizeof half);
	close(fd);
	expect_still_serving();
}

IT_TEST(protocol, ssl_request_answered_n)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	int fd = it_tcp_connect(p->port);
	uint32_t req[2] = {htonl(8), htonl(80877103)};
	send_all(fd, req, sizeof req);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	cr_assert_eq(poll(&pfd, 1, 5000), 1, "no answer to SSLRequest within 5 s");
	char answer = 0;
	cr_assert_eq(recv(fd, &answer, 1, 0), 1);
	cr_expect_eq(answer, 'N', "SSLRequest answered '%c'", answer);
	close(fd);
	/* libpq's default sslmode=prefer goes through the same exchange. */
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, p->port, "postgres", NULL, "postgres", NULL);
	char *sm = strstr(ci, "sslmode='disable'");
	cr_assert(sm);
	memcpy(sm, "sslmode='prefer' ", 17);
	PGconn *c = it_connect_try(ci);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "sslmode=prefer: %s", it_conn_error(c));
	PQfinish(c);
}

IT_TEST(protocol, silent_clients_do_not_block_others)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	int fds[20];
	for (int i = 0; i < 20; i++)
		fds[i] = it_tcp_connect(p->port);
	expect_still_serving();
	for (int i = 0; i < 20; i++)
		close(fds[i]);
	expect_still_serving();
}

/* Log in by hand as postgres (trust) and read up to ReadyForQuery. */
static int raw_login(int port)
{
	int fd = it_tcp_connect(port);
	unsigned char pkt[64];
	size_t n = 8;
	const char params[] = "user\0postgres\0database\0postgres\0";
	memcpy(pkt + n, params, sizeof params); /* includes the final NUL */
	n += sizeof params;
	uint32_t len = htonl((uint32_t)n), ver = htonl(196608);
	memcpy(pkt, &len, 4);
	memcpy(pkt + 4, &ver, 4);
	send_all(fd, pkt, n);
	/* Read messages until 'Z'. */
	unsigned char buf[8192];
	size_t have = 0;
	int64_t deadline = it_now_ms() + 10000;
	for (;;) {
		size_t off = 0;
		while (have - off >= 5) {
			uint32_t l;
			memcpy(&l, buf + off + 1, 4);
			l = ntohl(l);
			if (have - off < 1 + l)
				break;
			cr_assert_neq(buf[off], 'E', "login refused");
			if (buf[off] == 'Z')
				return fd;
			off += 1 + l;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		cr_assert(it_now_ms() < deadline, "no ReadyForQuery within 10 s");
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		poll(&pfd, 1, 100);
		if (pfd.revents) {
			ssize_t got = recv(fd, buf + have, sizeof buf - have, 0);
			cr_assert_gt(got, 0, "closed during login");
			have += (size_t)got;
		}
	}
}

IT_TEST(protocol, absurd_length_after_login)
{
	struct it_pglane *p = it_pglane_start_simple("transaction", 2, NULL);
	int fd = raw_login(p->port);
	unsigned char q[5] = {'Q', 0x7f, 0xff, 0xff, 0xff};
	send_all(fd, q, sizeof q);
	cr_expect(it_wait_closed(fd, 5000), "a 2 GB Query header left the connection open");
	close(fd);

	fd = raw_login(p->port);
	unsigned char bad[5] = {'Q', 0, 0, 0, 2}; /* length below 4 */
	send_all(fd, bad, sizeof bad);
	cr_expect(it_wait_closed(fd, 5000), "a length of 2 left the connection open");
	close(fd);

	fd = raw_login(p->port);
	unsigned char unknown[5] = {'!', 0, 0, 0, 4}; /* no such message type */
	send_all(fd, unknown, sizeof unknown);
	cr_expect(it_wait_closed(fd, 5000), "an unknown message type left the connection open");
	close(fd);
	expect_still_serving();
}
