/* tests/integration/test_tls_records.c — TLS records that reach pglane together.
 *
 * pglane reads TLS ahead (one recv() takes every record the socket holds), so OpenSSL may keep
 * bytes the socket no longer signals. A client by hand (SSLRequest, then OpenSSL with the
 * socket to read from and a memory buffer to write to, so the test decides what goes out in
 * one write) checks that nothing waits for a readiness that never comes:
 *   - the handshake's last flight (the client's Finished) and the StartupMessage in one write:
 *     the login goes on (read ahead with the Finished, it is in OpenSSL only);
 *   - many Query messages, each in a record of its own, in one write, more than pglane's
 *     input buffer holds: every one is answered, in order. */
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/integration/tlscerts.h"
#include "tests/integration/wire.h"

TestSuite(tls_records, .fini = it_pglane_fini, .timeout = 120);

#define QUERIES 1500 /* "SELECT n" records of ~40 bytes: ~60 KB in one write, ~100 KB back */

/* A client's TLS over two memory buffers: `in` is filled by pull(), `out` sent by out_send(). */
struct tclient {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *in, *out;
};

/* Everything OpenSSL wrote so far, in one send(). */
static void out_send(struct tclient *t)
{
	char *p;
	long n = BIO_get_mem_data(t->out, &p);
	if (n > 0)
		cr_assert(wire_send(t->fd, p, (size_t)n), "pglane closed the connection");
	(void)BIO_reset(t->out);
}

/* What pglane sent next (5 s at most), into t->in. */
static void pull(struct tclient *t, const char *what)
{
	struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
	cr_assert_eq(poll(&pfd, 1, 5000), 1, "%s: nothing from pglane within 5 s", what);
	static char buf[1 << 16];
	ssize_t n = recv(t->fd, buf, sizeof buf, 0);
	cr_assert_gt(n, 0, "%s: pglane closed the connection (%s)", what,
	             n < 0 ? strerror(errno) : "end of stream");
	cr_assert_eq(BIO_write(t->in, buf, (int)n), (int)n);
}

/* SSLRequest, 'S', and a handshake whose last flight stays in t->out (not sent). */
static void tclient_open(struct tclient *t, int port)
{
	t->fd = it_tcp_connect(port);
	uint8_t req[8];
	wire_request(req, WIRE_SSL_REQUEST);
	cr_assert(wire_send(t->fd, req, 8));
	struct wire_reply *r = calloc(1, sizeof *r);
	cr_assert(r);
	wire_read_some(t->fd, 1, 5000, r);
	cr_assert_eq(r->len, 1u, "SSLRequest: %zu bytes answered", r->len);
	cr_assert_eq(r->data[0], 'S');
	free(r);
	t->ctx = SSL_CTX_new(TLS_client_method());
	cr_assert(t->ctx);
	t->ssl = SSL_new(t->ctx);
	t->in = BIO_new(BIO_s_mem());
	t->out = BIO_new(BIO_s_mem());
	cr_assert(t->ssl && t->in && t->out);
	BIO_set_mem_eof_return(t->in, -1); /* empty: "try again", not the end */
	SSL_set_bio(t->ssl, t->in, t->out);
	SSL_set_connect_state(t->ssl);
	for (int i = 0; i < 20; i++) {
		ERR_clear_error();
		int rc = SSL_do_handshake(t->ssl);
		if (rc == 1)
			return; /* the Finished is in t->out */
		int e = SSL_get_error(t->ssl, rc);
		cr_assert(e == SSL_ERROR_WANT_READ, "handshake: SSL error %d: %s", e,
		          ERR_error_string(ERR_peek_last_error(), NULL));
		out_send(t);
		pull(t, "handshake");
	}
	cr_assert_fail("handshake not done after 20 flights");
}

static void tclient_close(struct tclient *t)
{
	SSL_free(t->ssl); /* frees both BIOs */
	SSL_CTX_free(t->ctx);
	close(t->fd);
}

/* A message in a TLS record of its own, into t->out. */
static void tclient_record(struct tclient *t, const void *msg, size_t n)
{
	cr_assert_eq(SSL_write(t->ssl, msg, (int)n), (int)n);
}

/* Read messages until `zs` ReadyForQuery have come; DataRow values (one text column) go to
 * `vals` (at most `nvals`), their count to the return value. An ErrorResponse fails. */
static size_t read_answers(struct tclient *t, int zs, long long *vals, size_t nvals,
                           const char *what)
{
	static uint8_t buf[1 << 16];
	size_t have = 0, nrows = 0;
	int seen = 0;
	while (seen < zs) {
		int got = SSL_read(t->ssl, buf + have, (int)(sizeof buf - have));
		if (got <= 0) {
			int e = SSL_get_error(t->ssl, got);
			cr_assert(e == SSL_ERROR_WANT_READ,
			          "%s: SSL error %d after %d ReadyForQuery", what, e, seen);
			pull(t, what);
			continue;
		}
		have += (size_t)got;
		size_t at = 0;
		while (have - at >= 5) {
			uint32_t len = (uint32_t)buf[at + 1] << 24 | (uint32_t)buf[at + 2] << 16 |
			               (uint32_t)buf[at + 3] << 8 | buf[at + 4];
			cr_assert(len >= 4 && len < sizeof buf - 1, "%s: message length %u", what,
			          len);
			if (have - at < 1 + len)
				break;
			char type = (char)buf[at];
			cr_assert_neq(type, 'E', "%s: ErrorResponse after %d ReadyForQuery", what,
			              seen);
			if (type == 'Z')
				seen++;
			if (type == 'D' && nrows < nvals) { /* int16 1, int32 n, n bytes */
				char v[32] = "";
				uint32_t n = (uint32_t)buf[at + 7] << 24 |
				             (uint32_t)buf[at + 8] << 16 |
				             (uint32_t)buf[at + 9] << 8 | buf[at + 10];
				if (n < sizeof v)
					memcpy(v, buf + at + 11, n);
				vals[nrows++] = atoll(v);
			}
			at += 1 + len;
		}
		memmove(buf, buf + at, have - at);
		have -= at;
	}
	return nrows;
}

IT_TEST(tls_records, finished_and_startup_in_one_write_then_a_pipeline)
{
	tls_pglane_start_allow(tls_cert("server.crt"), "10s", "info");
	int port = it_pglane_current()->port;

	struct tclient t;
	tclient_open(&t, port);
	uint8_t startup[256];
	static const char *const kv[] = {"user", "postgres", "database", "postgres"};
	size_t n = wire_startup(startup, sizeof startup, kv, 2);
	cr_assert(n);
	tclient_record(&t, startup, n);
	int64_t t0 = it_now_ms();
	out_send(&t); /* Finished + StartupMessage */
	read_answers(&t, 1, NULL, 0, "login");
	cr_log_info("Finished and StartupMessage in one write: logged in after %lld ms",
	            (long long)(it_now_ms() - t0));
	cr_expect_lt(it_now_ms() - t0, 3000, "the login waited for a read that never came");

	/* QUERIES records in one write: more than pglane reads at once */
	(void)BIO_reset(t.out);
	for (int i = 0; i < QUERIES; i++) {
		char sql[32];
		int k = snprintf(sql, sizeof sql, "SELECT %d", i * 7);
		uint8_t msg[64];
		size_t m = wire_msg(msg, sizeof msg, 'Q', sql, (size_t)k + 1);
		cr_assert(m);
		tclient_record(&t, msg, m);
	}
	char *p;
	long len = BIO_get_mem_data(t.out, &p);
	cr_log_info("%d Query records: %ld bytes in one write", QUERIES, len);
	t0 = it_now_ms();
	out_send(&t);
	long long *vals = calloc(QUERIES, sizeof *vals);
	cr_assert(vals);
	size_t rows = read_answers(&t, QUERIES, vals, QUERIES, "pipeline");
	cr_log_info("all %d answered in %lld ms", QUERIES, (long long)(it_now_ms() - t0));
	cr_expect_eq(rows, (size_t)QUERIES, "%zu rows for %d queries", rows, QUERIES);
	int wrong = 0;
	for (size_t i = 0; i < rows; i++)
		if (vals[i] != (long long)i * 7 && wrong++ == 0)
			cr_expect_fail("row %zu is %lld, want %lld", i, vals[i], (long long)i * 7);
	cr_expect_eq(wrong, 0, "%d rows out of order or wrong", wrong);
	free(vals);
	tclient_close(&t);
	wire_still_serving("TLS records together", 2);
}
