/* tests/integration/test_tls_slow.c — a client TLS handshake whose writing blocks (issue 15):
 * pglane's certificate chain is larger than what the socket takes while the client does not
 * read (a chain of ~10 MB against a send buffer capped at net.ipv4.tcp_wmem's 4 MB), so the
 * handshake must wait for the socket to be writable and go on when it is. The client says
 * hello, reads nothing for a second, then finishes the handshake and logs in. Before the fix
 * pglane never resumed such a handshake: the client waited until the login timeout. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/integration/tlscerts.h"
#include "tests/integration/wire.h"

TestSuite(tls_slow, .fini = it_pglane_fini, .timeout = 90);

#define CHAIN_DOUBLINGS 14 /* 2^14 copies of the CA certificate after the server's: ~10 MB */
#define CHAIN_MAX       (16 * 1024 * 1024)

/* server.crt followed by 2^CHAIN_DOUBLINGS copies of ca.crt, in the test's temp dir. */
static const char *big_chain(void)
{
	static char path[700];
	char dir[512];
	it_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/bigchain.crt", dir);
	char *out = NULL;
	int rc =
	        it_sh(60, &out,
	              "cd '%s' && cp '%s' cas && i=0; while [ $i -lt %d ]; do cat cas cas > x && "
	              "mv x cas; i=$((i+1)); done && cat '%s' cas > '%s' && wc -c < '%s'",
	              dir, tls_cert("ca.crt"), CHAIN_DOUBLINGS, tls_cert("server.crt"), path, path);
	cr_assert_eq(rc, 0, "making the chain: %s", out ? out : "");
	long bytes = out ? atol(out) : 0;
	free(out);
	cr_assert_gt(bytes, 6 * 1024 * 1024, "the chain is only %ld bytes", bytes);
	return path;
}

/* A TCP connection to pglane with a small receive buffer (set before connecting, so that the
 * window stays small). */
static int small_window_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	int rcvbuf = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

IT_TEST(tls_slow, handshake_resumes_when_its_write_blocks)
{
	const char *chain = big_chain();
	tls_pglane_start_allow(chain, "30s", NULL);
	int fd = small_window_connect(it_pglane_current()->port);
	uint8_t req[8];
	wire_request(req, WIRE_SSL_REQUEST);
	cr_assert(wire_send(fd, req, 8));
	struct wire_reply *r = malloc(sizeof *r);
	cr_assert(r);
	r->len = 0;
	wire_read_some(fd, 1, 5000, r);
	cr_assert_eq(r->len, 1u);
	cr_assert_eq(r->data[0], 'S');
	free(r);

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	cr_assert(ctx);
	SSL_CTX_set_max_cert_list(ctx, CHAIN_MAX);
	SSL *ssl = SSL_new(ctx);
	cr_assert(ssl);
	SSL_set_fd(ssl, fd);
	/* hello, then nothing read for a second: pglane's chain fills the socket */
	SSL_set_connect_state(ssl);
	int flags = fcntl(fd, F_GETFL);
	cr_assert(fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0);
	int rc = SSL_do_handshake(ssl);
	int e = SSL_get_error(ssl, rc);
	cr_assert(rc <= 0 && e == SSL_ERROR_WANT_READ,
	          "the handshake did not wait for the server's answer (%d, error %d)", rc, e);
	it_sleep_ms(1000);
	/* now read all of it, 20 s at most */
	cr_assert(fcntl(fd, F_SETFL, flags) == 0);
	struct timeval tv = {.tv_sec = 20};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int64_t t0 = it_now_ms();
	rc = SSL_do_handshake(ssl);
	int64_t took = it_now_ms() - t0;
	char err[256] = "";
	if (rc != 1)
		ERR_error_string_n(ERR_peek_last_error(), err, sizeof err);
	cr_assert_eq(rc, 1, "the handshake did not finish (after %lld ms): %s", (long long)took,
	             err);

	/* and the login goes on over TLS */
	uint8_t buf[256];
	static const char *const kv[] = {"user", "postgres", "database", "postgres"};
	size_t n = wire_startup(buf, sizeof buf, kv, 2);
	cr_assert_eq(SSL_write(ssl, buf, (int)n), (int)n);
	int got = SSL_read(ssl, buf, sizeof buf);
	cr_assert_gt(got, 0, "no answer to the startup packet over TLS");
	cr_expect_eq(buf[0], 'R', "the login answered '%c', not AuthenticationOk: %.*s", buf[0],
	             got > 5 ? got - 5 : 0, (const char *)buf + 5);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT 42"), 42);
	PQfinish(c);
}
