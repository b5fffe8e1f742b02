/* tests/integration/test_tls.c — TLS on both sides of pglane (issue 7).
 *
 * Client side: every libpq sslmode (disable, allow, prefer, require, verify-ca and verify-full
 * with the right and a wrong CA) against every listen.tls mode (disable, allow, require), each
 * row's outcome asserted (plaintext, TLS per PQsslInUse(), or the expected error); bytes sent
 * after an SSLRequest before the handshake are refused; a second SSLRequest inside TLS and TLS
 * 1.1 are refused; client certificates with hba "cert" (right CN, wrong CN, none, a foreign CA),
 * hba reject and no-match messages, first match wins.
 *
 * Server side: every server sslmode (disable, prefer, require, verify-ca, verify-full, the
 * server_tls default, verify-* with a wrong CA, verify-full with a name mismatch) against a
 * PostgreSQL of its own with ssl on and off (tests/pg.sh in the test's temp dir, stopped in
 * .fini), TLS checked in pg_stat_ssl; servers played by the test (fakepg.h) that answer the
 * SSLRequest with 'S' or 'N' followed by plaintext bytes, with nonsense, or not at all.
 *
 * The certificates are tlscerts.h's. A handshake whose writing blocks is in test_tls_slow.c. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/fakepg.h"
#include "tests/integration/harness.h"
#include "tests/integration/tlscerts.h"
#include "tests/integration/wire.h"

/* A PostgreSQL this test started (tests/pg.sh), stopped by tls_fini. */
static char g_cluster_dir[512];
static char g_pgsh[1024];

static void tls_fini(void)
{
	it_pglane_fini();
	if (g_cluster_dir[0] && g_pgsh[0]) {
		char cmd[2048];
		snprintf(cmd, sizeof cmd, "'%s' stop '%s' >/dev/null 2>&1", g_pgsh, g_cluster_dir);
		int rc = system(cmd);
		(void)rc;
		g_cluster_dir[0] = '\0';
	}
}

TestSuite(tls, .fini = tls_fini, .timeout = 180);

/* ---- certificates ---- */

/* ---- client side ---- */

enum outcome { PLAIN, TLS, FAIL };
static const char *const outcome_names[] = {"plaintext", "TLS", "refused"};

/* Connect to pglane with `extra` conninfo and check the outcome against `want` (TLS per
 * PQsslInUse, with TLS 1.2 or 1.3) and, when refused, that the error holds `err_text` (when not
 * NULL). Returns the connection when it is up (a query has run through it), else NULL. */
static PGconn *client_try(const char *user, const char *db, const char *extra, enum outcome want,
                          const char *err_text, const char *what)
{
	char ci[2048];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, user, NULL, db, extra);
	PGconn *c = it_connect_try(ci);
	bool up = PQstatus(c) == CONNECTION_OK;
	enum outcome got = !up ? FAIL : PQsslInUse(c) ? TLS : PLAIN;
	cr_expect_eq(got, want, "%s: %s, expected %s (%s)", what, outcome_names[got],
	             outcome_names[want], up ? "" : it_conn_error(c));
	if (!up && want == FAIL && err_text)
		cr_expect(strstr(it_conn_error(c), err_text),
		          "%s: refused with \"%s\", expected \"%s\"", what, it_conn_error(c),
		          err_text);
	if (got == TLS) {
		const char *proto = PQsslAttribute(c, "protocol");
		cr_expect(proto && (!strcmp(proto, "TLSv1.2") || !strcmp(proto, "TLSv1.3")),
		          "%s: protocol %s", what, proto ? proto : "(none)");
	}
	if (up) {
		char *v = it_query_str(c, "SELECT 'through ' || current_database()");
		cr_expect_eq(strncmp(v, "through ", 8), 0, "%s: %s", what, v);
		free(v);
		return c;
	}
	PQfinish(c);
	return NULL;
}

struct client_row {
	const char *sslmode;
	const char *rootcert; /* file in the certificate dir, or NULL */
	enum outcome want[3]; /* per listen.tls mode: disable, allow, require */
	const char *err[3];   /* part of the error when refused */
};

#define NO_SSL   "server does not support SSL"
#define VERIFY   "certificate verify failed"
#define REQUIRES "pglane requires TLS (listen.tls.mode = require)"

static const struct client_row client_rows[] = {
        {"disable", NULL, {PLAIN, PLAIN, FAIL}, {NULL, NULL, REQUIRES}},
        {"allow", NULL, {PLAIN, PLAIN, TLS}, {NULL, NULL, NULL}},
        {"prefer", NULL, {PLAIN, TLS, TLS}, {NULL, NULL, NULL}},
        {"require", NULL, {FAIL, TLS, TLS}, {NO_SSL, NULL, NULL}},
        {"verify-ca", "ca.crt", {FAIL, TLS, TLS}, {NO_SSL, NULL, NULL}},
        {"verify-full", "ca.crt", {FAIL, TLS, TLS}, {NO_SSL, NULL, NULL}},
        {"verify-ca", "ca2.crt", {FAIL, FAIL, FAIL}, {NO_SSL, VERIFY, VERIFY}},
        {"verify-full", "ca2.crt", {FAIL, FAIL, FAIL}, {NO_SSL, VERIFY, VERIFY}},
};

static const char *const listen_modes[] = {"disable", "allow", "require"};

static void start_listen_tls(const char *mode, const char *ca, const char *hba)
{
	char conf[4096];
	char ca_line[800] = "";
	if (ca)
		snprintf(ca_line, sizeof ca_line, " ca = \"%s\";", ca);
	snprintf(conf, sizeof conf,
	         "listen = { host = \"127.0.0.1\"; port = @PORT@;\n"
	         "  tls = { mode = \"%s\"; cert = \"%s\"; key = \"%s\";%s }; };\n"
	         "auth = { type = \"trust\"; file = \"users.txt\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; };\n"
	         "databases = ( { name = \"certdb\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "                dbname = \"postgres\"; user = \"postgres\"; },\n"
	         "              { name = \"*\"; host = \"@PGHOST@\"; port = @PGPORT@;\n"
	         "                user = \"postgres\"; } );\n"
	         "log = { level = \"debug\"; };\n"
	         "%s",
	         mode, tls_cert("server.crt"), tls_cert("server.key"), ca_line, hba ? hba : "");
	it_pglane_start_with_users(conf, "\"scram_user\" \"scram_pw\"\n");
}

static void client_matrix(int mode)
{
	start_listen_tls(listen_modes[mode], NULL, NULL);
	for (size_t i = 0; i < sizeof client_rows / sizeof client_rows[0]; i++) {
		const struct client_row *r = &client_rows[i];
		char extra[1024], what[256];
		/* no stray ~/.postgresql files: nothing but the CA a row names */
		snprintf(extra, sizeof extra,
		         "sslmode='%s' sslrootcert='%s' sslcert='%s' sslkey='%s' "
		         "gssencmode='disable'",
		         r->sslmode, r->rootcert ? tls_cert(r->rootcert) : tls_cert("none"),
		         tls_cert("none"), tls_cert("none"));
		snprintf(what, sizeof what, "client sslmode=%s%s%s x listen.tls.mode=%s",
		         r->sslmode, r->rootcert ? " sslrootcert=" : "",
		         r->rootcert ? r->rootcert : "", listen_modes[mode]);
		PGconn *c = client_try("postgres", "postgres", extra, r->want[mode], r->err[mode],
		                       what);
		PQfinish(c);
	}
	/* a refused row leaves pglane serving */
	PGconn *c = client_try("postgres", "postgres",
	                       mode == 2 ? "sslmode='require'" : "sslmode='disable'",
	                       mode == 2 ? TLS : PLAIN, NULL, "after the matrix");
	PQfinish(c);
}

IT_TEST(tls, client_matrix_listen_disable)
{
	client_matrix(0);
}

IT_TEST(tls, client_matrix_listen_allow)
{
	client_matrix(1);
}

IT_TEST(tls, client_matrix_listen_require)
{
	client_matrix(2);
}

/* Megabytes each way over TLS: the relay's partial TLS reads and writes. */
IT_TEST(tls, large_messages_over_tls)
{
	start_listen_tls("require", NULL, NULL);
	PGconn *c = client_try("postgres", "postgres", "sslmode='require'", TLS, NULL, "big");
	cr_assert(c);
	cr_expect_eq(it_query_ll(c, "SELECT length(repeat('x', 4000000))"), 4000000);
	PGresult *r = PQexec(c, "SELECT repeat('y', 3000000)");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	cr_expect_eq(strlen(PQgetvalue(r, 0, 0)), 3000000u);
	PQclear(r);
	size_t n = 2u << 20;
	char *sql = malloc(n + 64);
	cr_assert(sql);
	int k = snprintf(sql, n + 64, "SELECT length('");
	memset(sql + k, 'z', n);
	strcpy(sql + k + n, "')");
	cr_expect_eq(it_query_ll(c, sql), (long long)n);
	free(sql);
	PQfinish(c);
}

/* SSLRequest and a StartupMessage in one write: the startup would be taken as if it had come
 * through TLS. pglane must answer with an error in plaintext, never 'S'. */
IT_TEST(tls, bytes_after_ssl_request_refused)
{
	start_listen_tls("allow", NULL, NULL);
	int port = it_pglane_current()->port;
	uint8_t buf[256];
	wire_request(buf, WIRE_SSL_REQUEST);
	static const char *const kv[] = {"user", "postgres", "database", "postgres"};
	size_t n = 8 + wire_startup(buf + 8, sizeof buf - 8, kv, 2);
	wire_expect_refusal(port, buf, n, 0, "08P01", "received unencrypted data after SSL request",
	                    "SSLRequest + StartupMessage in one write");
	/* one stray byte is enough */
	buf[8] = 0x16; /* what would start a TLS record */
	wire_expect_refusal(port, buf, 9, 0, "08P01", "received unencrypted data after SSL request",
	                    "SSLRequest + one byte");
	/* the same with TLS off is harmless: 'N', then the startup is read in plaintext */
	it_pglane_stop(NULL);
	it_pglane_start_simple("transaction", 2, NULL);
	int fd = it_tcp_connect(it_pglane_current()->port);
	n = 8 + wire_startup(buf + 8, sizeof buf - 8, kv, 2);
	cr_assert(wire_send(fd, buf, n));
	struct wire_reply *r = malloc(sizeof *r);
	cr_assert(r);
	r->len = 0;
	wire_read_some(fd, 10, 5000, r);
	close(fd);
	cr_assert_geq(r->len, 1u, "no answer");
	cr_expect_eq(r->data[0], 'N', "TLS off: the SSLRequest was answered '%c'", r->data[0]);
	cr_expect_eq(wire_message_at(r, 1, NULL, 0, NULL, 0, NULL), 'R',
	             "TLS off: the startup after 'N' got no AuthenticationOk");
	free(r);
	/* pglane serves on */
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT 1"), 1);
	PQfinish(c);
}

/* A TLS client by hand: SSLRequest, 'S', handshake with at most `max_version`. NULL (and the
 * OpenSSL error in `err`) when the handshake fails. */
static SSL *tls_open(int fd, int max_version, char *err, size_t errn, SSL_CTX **ctx_out)
{
	uint8_t req[8];
	wire_request(req, WIRE_SSL_REQUEST);
	cr_assert(wire_send(fd, req, 8));
	struct wire_reply *r = malloc(sizeof *r);
	cr_assert(r);
	r->len = 0;
	wire_read_some(fd, 1, 5000, r);
	cr_assert_eq(r->len, 1u, "SSLRequest: %zu bytes answered", r->len);
	cr_assert_eq(r->data[0], 'S');
	free(r);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	cr_assert(ctx);
	if (max_version) {
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
		SSL_CTX_set_max_proto_version(ctx, max_version);
		SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
	}
	SSL *ssl = SSL_new(ctx);
	cr_assert(ssl);
	SSL_set_fd(ssl, fd);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	*ctx_out = ctx;
	if (SSL_connect(ssl) == 1)
		return ssl;
	ERR_error_string_n(ERR_peek_last_error(), err, errn);
	ERR_clear_error();
	SSL_free(ssl);
	return NULL;
}

IT_TEST(tls, no_second_request_inside_tls_and_no_tls_1_1)
{
	start_listen_tls("allow", NULL, NULL);
	int port = it_pglane_current()->port;
	char err[256] = "";
	SSL_CTX *ctx = NULL;
	int fd = it_tcp_connect(port);
	SSL *ssl = tls_open(fd, 0, err, sizeof err, &ctx);
	cr_assert(ssl, "handshake failed: %s", err);
	uint8_t req[8];
	wire_request(req, WIRE_SSL_REQUEST);
	cr_assert_eq(SSL_write(ssl, req, 8), 8);
	/* an ErrorResponse inside TLS, then the close */
	uint8_t buf[1024];
	size_t have = 0;
	int got;
	while (have < sizeof buf && (got = SSL_read(ssl, buf + have, (int)(sizeof buf - have))) > 0)
		have += (size_t)got;
	struct wire_reply *r = calloc(1, sizeof *r);
	cr_assert(r);
	memcpy(r->data, buf, have);
	r->len = have;
	char st[16], msg[256];
	cr_expect_eq(wire_message_at(r, 0, st, sizeof st, msg, sizeof msg, NULL), 'E',
	             "an SSLRequest inside TLS got %zu bytes, no ErrorResponse", have);
	cr_expect_str_eq(st, "08P01", "%s", msg);
	cr_expect(strstr(msg, "too many encryption requests"), "%s", msg);
	free(r);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);

	/* a client that offers TLS 1.1 at most is refused by the server: its protocol_version
	 * alert, not the client's own refusal */
	fd = it_tcp_connect(port);
	ssl = tls_open(fd, TLS1_1_VERSION, err, sizeof err, &ctx);
	cr_expect_null(ssl, "pglane accepted a TLS 1.1 handshake");
	cr_expect(strstr(err, "alert protocol version"), "TLS 1.1 refused with: %s", err);
	if (ssl)
		SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	PGconn *c = client_try("postgres", "postgres", "sslmode='require'", TLS, NULL, "after");
	PQfinish(c);
}

/* Stalled and broken handshakes end within client_login_timeout (1 s here); what pglane says
 * after an 'S' is never plaintext. */
IT_TEST(tls, stalled_and_broken_handshakes)
{
	tls_pglane_start_allow(tls_cert("server.crt"), "1s", "debug");
	int port = it_pglane_current()->port;
	PGconn *other = client_try("postgres", "postgres", "sslmode='require'", TLS, NULL, "other");
	struct wire_reply *r = malloc(sizeof *r);
	cr_assert(r);
	uint8_t req[8];
	wire_request(req, WIRE_SSL_REQUEST);
	/* 'S', then silence */
	int fd = it_tcp_connect(port);
	int64_t t0 = it_now_ms();
	cr_assert(wire_send(fd, req, 8));
	wire_read_reply(fd, 4000, r);
	int64_t took = it_now_ms() - t0;
	close(fd);
	cr_expect(r->closed && took >= 900 && took <= 2500,
	          "a silent handshake: closed %d after %lld ms", r->closed, (long long)took);
	cr_expect_eq(r->len, 1u, "a silent handshake: %zu bytes after 'S'", r->len);
	cr_expect_eq(r->data[0], 'S');
	/* 'S', then plaintext where the ClientHello belongs: at most a TLS alert comes back */
	fd = it_tcp_connect(port);
	cr_assert(wire_send(fd, req, 8));
	r->len = 0;
	wire_read_some(fd, 1, 4000, r);
	static const char hello[] = "not a ClientHello, just some plaintext bytes\r\n\r\n";
	cr_assert(wire_send(fd, hello, sizeof hello - 1));
	t0 = it_now_ms();
	wire_read_some(fd, 0, 4000, r);
	took = it_now_ms() - t0;
	close(fd);
	cr_expect(r->closed && took < 900, "plaintext after 'S': closed %d after %lld ms",
	          r->closed, (long long)took);
	cr_expect(r->len == 1 || (r->len >= 2 && r->data[1] == 0x15),
	          "plaintext after 'S': %zu bytes back, the first after 'S' is 0x%02x, not a TLS "
	          "alert",
	          r->len, r->len > 1 ? r->data[1] : 0);
	/* a finished handshake and no startup: the FATAL comes inside TLS */
	fd = it_tcp_connect(port);
	char err[256] = "";
	SSL_CTX *ctx = NULL;
	t0 = it_now_ms();
	SSL *ssl = tls_open(fd, 0, err, sizeof err, &ctx);
	cr_assert(ssl, "handshake failed: %s", err);
	uint8_t buf[512];
	size_t have = 0;
	int got;
	while (have < sizeof buf && (got = SSL_read(ssl, buf + have, (int)(sizeof buf - have))) > 0)
		have += (size_t)got;
	took = it_now_ms() - t0;
	memcpy(r->data, buf, have);
	r->len = have;
	char st[16], msg[256];
	cr_expect_eq(wire_message_at(r, 0, st, sizeof st, msg, sizeof msg, NULL), 'E',
	             "TLS and no startup: %zu bytes, no ErrorResponse", have);
	cr_expect(strstr(msg, "client_login_timeout"), "%s %s", st, msg);
	cr_expect(took >= 900 && took <= 2500, "TLS and no startup: closed after %lld ms",
	          (long long)took);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	free(r);
	char *log = it_pglane_log();
	cr_expect(strstr(log, "TLS handshake failed"), "no \"TLS handshake failed\" in the log");
	free(log);
	cr_expect_eq(it_query_ll(other, "SELECT 5"), 5, "the TLS client was dropped");
	PQfinish(other);
}

/* A TLS client's query is cancelled: the CancelRequest comes on a new plaintext connection. */
IT_TEST(tls, cancel_a_tls_client)
{
	start_listen_tls("require", NULL, NULL);
	PGconn *c = client_try("postgres", "postgres", "sslmode='require'", TLS, NULL, "cancel");
	cr_assert(c);
	cr_assert(PQsendQuery(c, "SELECT pg_sleep(30)"));
	it_sleep_ms(300);
	PGcancel *cancel = PQgetCancel(c);
	char errbuf[256];
	cr_assert(PQcancel(cancel, errbuf, sizeof errbuf), "PQcancel: %s", errbuf);
	PQfreeCancel(cancel);
	bool timed_out;
	int64_t t0 = it_now_ms();
	PGresult *r = it_result_wait(c, 5000, &timed_out);
	cr_expect(!timed_out, "the cancelled query still runs after 5 s");
	cr_expect_str_eq(it_sqlstate(r), "57014", "%s", r ? PQresultErrorMessage(r) : "");
	cr_expect_lt(it_now_ms() - t0, 3000);
	PQclear(r);
	cr_expect_eq(it_query_ll(c, "SELECT 8"), 8, "the TLS session after the cancel");
	PQfinish(c);
}

/* ---- client certificates and hba ---- */

#define CERT_HBA                                                                                   \
	"hba = (\n"                                                                                \
	"  { address = \"127.0.0.1/32\"; database = \"all\"; user = \"certuser\"; method = "       \
	"\"cert\"; },\n"                                                                           \
	"  { address = \"127.0.0.1/32\"; user = \"rejected\"; method = \"reject\"; },\n"           \
	"  { address = \"10.0.0.0/8\"; method = \"trust\"; },\n"                                   \
	"  { address = \"all\"; database = \"postgres\"; user = \"scram_user\"; method = "         \
	"\"scram-sha-256\"; },\n"                                                                  \
	"  { address = \"all\"; database = \"postgres\"; method = \"trust\"; }\n"                  \
	");\n"

static void client_cert_row(const char *user, const char *db, const char *sslmode,
                            const char *cert_name, enum outcome want, const char *err_text,
                            const char *what)
{
	char extra[2048], crt[64], key[64];
	snprintf(crt, sizeof crt, "%s.crt", cert_name ? cert_name : "none");
	snprintf(key, sizeof key, "%s.key", cert_name ? cert_name : "none");
	snprintf(extra, sizeof extra,
	         "sslmode='%s' sslrootcert='%s' sslcert='%s' sslkey='%s' gssencmode='disable'",
	         sslmode, tls_cert("ca.crt"), tls_cert(crt), tls_cert(key));
	PGconn *c = client_try(user, db, extra, want, err_text, what);
	PQfinish(c);
}

IT_TEST(tls, client_certificates_and_hba)
{
	start_listen_tls("allow", tls_cert("ca.crt"), CERT_HBA);
	/* cert: a verified certificate whose CN is the user */
	client_cert_row("certuser", "certdb", "verify-full", "certuser", TLS, NULL,
	                "certuser with its certificate");
	client_cert_row("certuser", "postgres", "require", "certuser", TLS, NULL,
	                "certuser with its certificate, database postgres");
	const char *cn_err = "28000";
	client_cert_row("certuser", "certdb", "verify-full", "other", FAIL, cn_err,
	                "certuser with CN=other");
	client_cert_row("certuser", "certdb", "require", NULL, FAIL, cn_err,
	                "certuser without a certificate");
	client_cert_row("certuser", "certdb", "disable", NULL, FAIL, cn_err,
	                "certuser without TLS");
	/* first match wins: the trust rule for database postgres comes after the cert rule */
	client_cert_row("certuser", "postgres", "disable", NULL, FAIL,
	                "certificate authentication failed for user \"certuser\"",
	                "certuser without TLS on database postgres");
	/* a certificate from a CA pglane does not trust: the handshake fails */
	client_cert_row("certuser", "certdb", "require", "certuser_ca2", FAIL, NULL,
	                "certuser with a certificate of another CA");
	/* reject, no rule, and the methods after them */
	client_cert_row("rejected", "postgres", "require", NULL, FAIL,
	                "an hba rule rejects the connection for host \"127.0.0.1\", user "
	                "\"rejected\", database \"postgres\"",
	                "hba reject");
	client_cert_row("nobody", "certdb", "require", NULL, FAIL,
	                "no hba rule for host \"127.0.0.1\", user \"nobody\", database \"certdb\"",
	                "no hba rule");
	client_cert_row("postgres", "postgres", "prefer", NULL, TLS, NULL, "hba trust");
	client_cert_row("other", "postgres", "disable", "other", PLAIN, NULL,
	                "hba trust, plaintext");
	char ci[1024];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "scram_user", "scram_pw",
	            "postgres", NULL);
	PGconn *c = it_connect_try(ci);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "hba scram-sha-256: %s", it_conn_error(c));
	PQfinish(c);
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "scram_user", "wrong",
	            "postgres", NULL);
	c = it_connect_try(ci);
	cr_expect(strstr(it_conn_error(c), "28P01"), "hba scram-sha-256, wrong password: %s",
	          it_conn_error(c));
	PQfinish(c);
	/* the exact messages, SQLSTATE 28000 */
	char *log = it_pglane_log();
	cr_expect(strstr(log, "TLS handshake failed"),
	          "no \"TLS handshake failed\" logged for the foreign CA");
	free(log);
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "certuser", NULL, "certdb",
	            "sslmode='require' sslcert='/nonexistent' sslkey='/nonexistent'");
	c = it_connect_try(ci);
	cr_expect(strstr(it_conn_error(c),
	                 "28000: certificate authentication failed for user \"certuser\""),
	          "%s", it_conn_error(c));
	PQfinish(c);
}

/* ---- server side: a PostgreSQL of our own with ssl on and off ---- */

static const char *pgsh_path(void)
{
	const char *e = getenv("PGLANE_TEST_PGSH");
	if (e && *e && access(e, X_OK) == 0)
		return e;
	const char *bin = it_pglane_bin(); /* .../build/pglane -> .../tests/pg.sh */
	static char path[1024];
	snprintf(path, sizeof path, "%s", bin);
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(path, '/');
		if (slash)
			*slash = '\0';
	}
	strncat(path, "/tests/pg.sh", sizeof path - strlen(path) - 1);
	if (access(path, X_OK) == 0)
		return path;
	if (access("tests/pg.sh", X_OK) == 0)
		return "tests/pg.sh";
	cr_assert_fail("tests/pg.sh not found: set PGLANE_TEST_PGSH");
	return NULL;
}

static int g_cluster_port;

static PGconn *cluster_admin(void)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, g_cluster_port, "postgres", NULL, "postgres", NULL);
	PGconn *c = it_connect_try(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "own cluster: %s", it_conn_error(c));
	return c;
}

/* ssl on with certificate `name` (server or wrongname), or off; waits until a direct
 * connection shows it. */
static void cluster_ssl(const char *name)
{
	PGconn *a = cluster_admin();
	char sql[256];
	if (name) {
		snprintf(sql, sizeof sql, "ALTER SYSTEM SET ssl_cert_file = '%s.crt'", name);
		it_exec_ok(a, sql);
		snprintf(sql, sizeof sql, "ALTER SYSTEM SET ssl_key_file = '%s.key'", name);
		it_exec_ok(a, sql);
	}
	it_exec_ok(a, name ? "ALTER SYSTEM SET ssl = on" : "ALTER SYSTEM SET ssl = off");
	it_exec_ok(a, "SELECT pg_reload_conf()");
	PQfinish(a);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, g_cluster_port, "postgres", NULL, "postgres",
	            "sslmode='prefer'");
	bool ok = false;
	for (int i = 0; i < 100 && !ok; i++) {
		PGconn *c = it_connect_try(ci);
		ok = PQstatus(c) == CONNECTION_OK && (bool)PQsslInUse(c) == (name != NULL);
		PQfinish(c);
		if (!ok)
			it_sleep_ms(50);
	}
	cr_assert(ok, "the cluster did not switch ssl %s", name ? "on" : "off");
}

static void cluster_start(void)
{
	snprintf(g_pgsh, sizeof g_pgsh, "%s", pgsh_path());
	char dir[512];
	it_mkdtemp(dir, sizeof dir);
	chmod(dir, 0755);
	g_cluster_port = it_free_port();
	char *out = NULL;
	int rc = it_sh(120, &out, "'%s' start '%s' %d", g_pgsh, dir, g_cluster_port);
	snprintf(g_cluster_dir, sizeof g_cluster_dir, "%s", dir);
	cr_assert_eq(rc, 0, "tests/pg.sh start failed (%d):\n%s", rc, out);
	free(out);
	/* the certificates, readable by the cluster's owner only */
	rc = it_sh(30, &out,
	           "set -e; d='%s/data'; o=$(stat -c %%U \"$d\"); "
	           "for f in server wrongname; do cp '%s/'$f.crt '%s/'$f.key \"$d\"/; "
	           "chown \"$o\" \"$d\"/$f.crt \"$d\"/$f.key; chmod 600 \"$d\"/$f.key; done; "
	           "cp '%s/ca.crt' \"$d\"/ca.crt; chown \"$o\" \"$d\"/ca.crt; "
	           "{ echo 'hostssl all certuser 127.0.0.1/32 cert'; cat \"$d\"/pg_hba.conf; } "
	           "> \"$d\"/hba.new; cat \"$d\"/hba.new > \"$d\"/pg_hba.conf; rm \"$d\"/hba.new",
	           dir, tls_certs(), tls_certs(), tls_certs());
	cr_assert_eq(rc, 0, "copying the certificates failed:\n%s", out);
	free(out);
	/* certuser logs in with a client certificate of the CA (pg_hba "cert") */
	PGconn *a = cluster_admin();
	it_exec_ok(a, "CREATE ROLE certuser LOGIN");
	it_exec_ok(a, "ALTER SYSTEM SET ssl_ca_file = 'ca.crt'");
	PQfinish(a);
}

struct server_row {
	const char *db;
	enum outcome want; /* PLAIN / TLS per pg_stat_ssl, or FAIL */
	const char *err;
	const char *user; /* current_user on the server, when not NULL */
};

static void server_rows(const struct server_row *rows, size_t n, const char *phase)
{
	for (size_t i = 0; i < n; i++) {
		const struct server_row *r = &rows[i];
		char ci[1024], what[256];
		snprintf(what, sizeof what, "%s, database %s", phase, r->db);
		it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL,
		            r->db, NULL);
		int64_t t0 = it_now_ms();
		PGconn *c = it_connect_try(ci);
		bool up = PQstatus(c) == CONNECTION_OK;
		enum outcome got = FAIL;
		if (up) {
			char *ssl = it_query_str(
			        c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
			got = strcmp(ssl, "t") == 0 ? TLS : PLAIN;
			free(ssl);
			if (r->user) {
				char *who = it_query_str(c, "SELECT current_user");
				cr_expect_str_eq(who, r->user, "%s: logged in as %s", what, who);
				free(who);
			}
		}
		cr_expect_eq(got, r->want, "%s: %s, expected %s (%s)", what, outcome_names[got],
		             outcome_names[r->want], up ? "" : it_conn_error(c));
		if (!up && r->err)
			cr_expect(strstr(it_conn_error(c), r->err), "%s: \"%s\", expected \"%s\"",
			          what, it_conn_error(c), r->err);
		cr_expect_lt(it_now_ms() - t0, 5000, "%s: took %lld ms", what,
		             (long long)(it_now_ms() - t0));
		PQfinish(c);
	}
}

/* pglane with one database per server sslmode, all on the cluster of this test; the
 * server_tls default is verify-full with the right CA. */
static void start_server_tls(bool client_cert)
{
	char ca[700], ca2[700];
	snprintf(ca, sizeof ca, "%s", tls_cert("ca.crt"));
	snprintf(ca2, sizeof ca2, "%s", tls_cert("ca2.crt"));
	char cert_line[1600];
	snprintf(cert_line, sizeof cert_line, " cert = \"%s\"; key = \"%s\";",
	         tls_cert("certuser.crt"), tls_cert("certuser.key"));
	static const struct {
		const char *name, *sslmode;
		bool wrong_ca;
	} dbs[] = {
	        {"s_disable", "disable", false},
	        {"s_prefer", "prefer", false},
	        {"s_require", "require", false},
	        {"s_verify_ca", "verify-ca", false},     /* server_tls.ca */
	        {"s_verify_full", "verify-full", false}, /* its own sslrootcert */
	        {"s_default", NULL, false},              /* server_tls.sslmode and .ca */
	        {"s_verify_ca_wrong", "verify-ca", true},
	        {"s_verify_full_wrong", "verify-full", true},
	        {"s_certuser", "verify-ca", false}, /* server user certuser: pg_hba "cert" */
	};
	char conf[8192];
	size_t len =
	        (size_t)snprintf(conf, sizeof conf,
	                         "auth = { type = \"trust\"; };\n"
	                         "pool = { mode = \"transaction\"; size = 2; "
	                         "query_wait_timeout = \"20s\"; };\n"
	                         "server_tls = { sslmode = \"verify-full\"; ca = \"%s\";%s };\n"
	                         "databases = (\n",
	                         ca, client_cert ? cert_line : "");
	for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
		char opts[1024] = "";
		if (dbs[i].sslmode)
			snprintf(opts, sizeof opts, "sslmode = \"%s\";", dbs[i].sslmode);
		if (dbs[i].wrong_ca || (dbs[i].sslmode && !strcmp(dbs[i].name, "s_verify_full")))
			snprintf(opts + strlen(opts), sizeof opts - strlen(opts),
			         " sslrootcert = \"%s\";", dbs[i].wrong_ca ? ca2 : ca);
		if (!strcmp(dbs[i].name, "s_certuser"))
			strcat(opts, " user = \"certuser\";");
		len += (size_t)snprintf(conf + len, sizeof conf - len,
		                        "  { name = \"%s\"; host = \"127.0.0.1\"; port = %d; "
		                        "dbname = \"postgres\"; %s }%s\n",
		                        dbs[i].name, g_cluster_port, opts,
		                        i + 1 < sizeof dbs / sizeof dbs[0] ? "," : "");
	}
	cr_assert_lt(len + 8, sizeof conf);
	strcat(conf, ");\n");
	it_pglane_start(conf);
}

/* Megabytes each way between pglane and the server over TLS. */
static void server_big_roundtrip(const char *db)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, db, NULL);
	PGconn *c = it_connect_try(ci);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s: %s", db, it_conn_error(c));
	PGresult *r = PQexec(c, "SELECT repeat('y', 3000000)");
	cr_expect_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		cr_expect_eq(strlen(PQgetvalue(r, 0, 0)), 3000000u);
	PQclear(r);
	size_t n = 2u << 20;
	char *sql = malloc(n + 64);
	cr_assert(sql);
	int k = snprintf(sql, n + 64, "SELECT length('");
	memset(sql + k, 'z', n);
	strcpy(sql + k + n, "')");
	cr_expect_eq(it_query_ll(c, sql), (long long)n, "2 MB query over server TLS");
	free(sql);
	PQfinish(c);
}

#define NO_TLS(mode) "the server does not support TLS and sslmode is " mode

IT_TEST(tls, server_sslmode_matrix)
{
	cluster_start();
	cluster_ssl("server");
	start_server_tls(true);
	static const struct server_row on[] = {
	        {"s_disable", PLAIN, NULL, "postgres"},
	        {"s_prefer", TLS, NULL, NULL},
	        {"s_require", TLS, NULL, NULL},
	        {"s_verify_ca", TLS, NULL, NULL},
	        {"s_verify_full", TLS, NULL, NULL},
	        {"s_default", TLS, NULL, NULL},
	        {"s_verify_ca_wrong", FAIL, "certificate verify failed", NULL},
	        {"s_verify_full_wrong", FAIL, "certificate verify failed", NULL},
	        /* pglane's own certificate (server_tls.cert) logs it in as certuser */
	        {"s_certuser", TLS, NULL, "certuser"},
	};
	server_rows(on, sizeof on / sizeof on[0], "server ssl on");
	server_big_roundtrip("s_verify_full");
	it_pglane_stop(NULL);

	/* the certificate of another name, from the right CA: the chain is fine, the name not;
	 * and no server_tls.cert: pg_hba "cert" refuses certuser */
	cluster_ssl("wrongname");
	start_server_tls(false);
	static const struct server_row wrong_name[] = {
	        {"s_prefer", TLS, NULL, NULL},
	        {"s_require", TLS, NULL, NULL},
	        {"s_verify_ca", TLS, NULL, NULL},
	        {"s_verify_full", FAIL, "certificate verify failed", NULL},
	        {"s_default", FAIL, "certificate verify failed", NULL},
	        {"s_certuser", FAIL, "connection requires a valid client certificate", NULL},
	};
	server_rows(wrong_name, sizeof wrong_name / sizeof wrong_name[0],
	            "server ssl on, certificate for wrong.example, pglane without a certificate");
	it_pglane_stop(NULL);

	cluster_ssl(NULL);
	start_server_tls(true);
	static const struct server_row off[] = {
	        {"s_disable", PLAIN, NULL, NULL},
	        {"s_prefer", PLAIN, NULL, NULL},
	        {"s_require", FAIL, NO_TLS("require"), NULL},
	        {"s_verify_ca", FAIL, NO_TLS("verify-ca"), NULL},
	        {"s_verify_full", FAIL, NO_TLS("verify-full"), NULL},
	        {"s_default", FAIL, NO_TLS("verify-full"), NULL},
	        {"s_verify_ca_wrong", FAIL, NO_TLS("verify-ca"), NULL},
	        {"s_verify_full_wrong", FAIL, NO_TLS("verify-full"), NULL},
	        {"s_certuser", FAIL, NO_TLS("verify-ca"), NULL},
	        {"s_prefer", PLAIN, NULL, NULL}, /* still serving after the refusals */
	};
	server_rows(off, sizeof off / sizeof off[0], "server ssl off");
}

/* ---- server side: servers played by the test ---- */

IT_TEST(tls, server_answers_with_plaintext_refused)
{
	static const struct {
		enum fakepg_script script;
		const char *db, *sslmode, *err;
		enum outcome want;
	} rows[] = {
	        {FAKEPG_SSL_S_GARBAGE, "f_s_garbage", "prefer",
	         "the server sent unencrypted data after its SSL response", FAIL},
	        {FAKEPG_SSL_S_GARBAGE, "f_s_garbage_req", "require",
	         "the server sent unencrypted data after its SSL response", FAIL},
	        {FAKEPG_SSL_N_GARBAGE, "f_n_garbage", "prefer",
	         "the server sent unencrypted data after its SSL response", FAIL},
	        {FAKEPG_SSL_NONSENSE, "f_nonsense", "prefer",
	         "the server gave no valid answer to the SSLRequest", FAIL},
	        {FAKEPG_SSL_CLOSE, "f_close", "prefer", "closed the connection during login", FAIL},
	        {FAKEPG_SSL_S_SILENT, "f_s_silent", "require", "server_connect_timeout", FAIL},
	        {FAKEPG_TRUST, "f_n_require", "require",
	         "the server does not support TLS and sslmode is require", FAIL},
	        {FAKEPG_TRUST, "f_n_prefer", "prefer", NULL, PLAIN},
	};
	enum { NROWS = sizeof rows / sizeof rows[0] };
	struct fakepg *fakes[NROWS];
	char conf[4096];
	size_t len = (size_t)snprintf(conf, sizeof conf,
	                              "auth = { type = \"trust\"; };\n"
	                              "pool = { mode = \"transaction\"; size = 1; "
	                              "query_wait_timeout = \"20s\"; "
	                              "server_connect_timeout = \"1s\"; };\n"
	                              "databases = (\n");
	for (size_t i = 0; i < NROWS; i++) {
		fakes[i] = fakepg_start(rows[i].script);
		len += (size_t)snprintf(conf + len, sizeof conf - len,
		                        "  { name = \"%s\"; host = \"127.0.0.1\"; port = %d; "
		                        "sslmode = \"%s\"; query_wait_timeout = \"2s\"; },\n",
		                        rows[i].db, fakes[i]->port, rows[i].sslmode);
	}
	snprintf(conf + len, sizeof conf - len,
	         "  { name = \"postgres\"; host = \"@PGHOST@\"; port = @PGPORT@; "
	         "sslmode = \"disable\"; }\n);\n");
	it_pglane_start(conf);
	for (size_t i = 0; i < NROWS; i++) {
		char ci[512], what[256];
		snprintf(what, sizeof what, "server %s, sslmode %s",
		         fakepg_script_name(rows[i].script), rows[i].sslmode);
		it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL,
		            rows[i].db, "connect_timeout=8");
		int64_t t0 = it_now_ms();
		PGconn *c = it_connect_try(ci);
		int64_t took = it_now_ms() - t0;
		bool up = PQstatus(c) == CONNECTION_OK;
		cr_expect_geq(atomic_load(&fakes[i]->ssl_requests), 1, "%s: no SSLRequest came",
		              what);
		if (rows[i].want == FAIL) {
			cr_expect(!up, "%s: the client got in", what);
			cr_expect(strstr(it_conn_error(c), rows[i].err),
			          "%s: \"%s\", expected \"%s\"", what, it_conn_error(c),
			          rows[i].err);
			cr_expect_lt(took, 5000, "%s: the error took %lld ms", what,
			             (long long)took);
		} else {
			cr_expect(up, "%s: %s", what, it_conn_error(c));
			if (up) {
				char *v = it_query_str(c, "SELECT 1");
				cr_expect_str_eq(v, "fake");
				free(v);
			}
		}
		PQfinish(c);
		cr_assert(it_pglane_alive(), "pglane died on %s", what);
	}
	PGconn *c = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT 42"), 42, "pglane stopped serving");
	PQfinish(c);
}
