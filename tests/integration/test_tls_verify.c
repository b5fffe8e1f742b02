/* tests/integration/test_tls_verify.c — TLS controls of issue 15.
 *
 * Client side: listen.tls.mode verify-ca and verify-full (PgBouncer treats them alike for
 * clients) refuse a client without a certificate, with a certificate of another CA, and in
 * plain text, and accept one with a certificate of listen.tls.ca whatever its name; prefer
 * behaves as allow. listen.tls.protocols "tlsv1.3" refuses a client limited to TLSv1.2 and
 * "tlsv1.2" one that insists on TLSv1.3, each accepting the others; listen.tls.ciphers sets
 * the cipher a TLSv1.2 client gets; a cipher list OpenSSL does not know stops the start.
 *
 * Server side: against a PostgreSQL of the test's own (tests/pg.sh) with ssl on and at most
 * TLSv1.2, server_tls.protocols "tlsv1.3" cannot log in, "secure" can (pg_stat_ssl shows
 * TLSv1.2), server_tls.ciphers picks the cipher pg_stat_ssl shows, and a reload with a cipher
 * list OpenSSL does not know is refused (the old settings stay).
 *
 * The certificates are tlscerts.h's (EC keys: the ciphers named are ECDSA ones). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/tlscerts.h"

static char g_cluster_dir[512];
static int g_cluster_port;

static void verify_fini(void)
{
	it_pglane_fini();
	tls_cluster_stop(g_cluster_dir);
}

TestSuite(tls_verify, .fini = verify_fini, .timeout = 180);

/* ---- client side ---- */

/* pglane with listen.tls `mode`, ca.crt as listen.tls.ca, and `tls_extra` in the tls group. */
static void start_listen(const char *mode, const char *tls_extra)
{
	char conf[4096];
	snprintf(conf, sizeof conf,
	         "listen = { host = \"127.0.0.1\"; port = @PORT@;\n"
	         "  tls = { mode = \"%s\"; cert = \"%s\"; key = \"%s\"; ca = \"%s\"; %s }; };\n"
	         "auth = { type = \"trust\"; };\n"
	         "admin = { users = [ \"postgres\" ]; };\n"
	         "pool = { mode = \"transaction\"; size = 2; };\n"
	         "log = { level = \"debug\"; };\n"
	         "databases = ( { name = \"*\"; host = \"@PGHOST@\"; port = @PGPORT@; user = "
	         "\"postgres\"; } );\n",
	         mode, tls_cert("server.crt"), tls_cert("server.key"), tls_cert("ca.crt"),
	         tls_extra ? tls_extra : "");
	it_pglane_start(conf);
}

enum outcome { PLAIN, TLS, FAIL };
static const char *const outcome_names[] = {"plaintext", "TLS", "refused"};

/* Connect as postgres with `extra` (no stray ~/.postgresql files: a certificate only when
 * `cert` names one) and check the outcome; when refused, that the error holds `err` (when not
 * NULL). Returns the connection when it is up (a query has run through it), else NULL. */
static PGconn *try_client(const char *sslmode, const char *cert, const char *extra,
                          enum outcome want, const char *err, const char *what)
{
	char crt[64] = "none", key[64] = "none", opts[2048], ci[3072];
	if (cert) {
		snprintf(crt, sizeof crt, "%s.crt", cert);
		snprintf(key, sizeof key, "%s.key", cert);
	}
	snprintf(opts, sizeof opts,
	         "sslmode='%s' sslrootcert='%s' sslcert='%s' sslkey='%s' gssencmode='disable' %s",
	         sslmode, tls_cert("ca.crt"), tls_cert(crt), tls_cert(key), extra ? extra : "");
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            opts);
	PGconn *c = it_connect_try(ci);
	bool up = PQstatus(c) == CONNECTION_OK;
	if (up) {
		/* a TLS 1.3 server refuses a client certificate after the client thinks the
		 * handshake is over: only a query tells */
		PGresult *r = PQexec(c, "SELECT 1");
		up = PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
	}
	enum outcome got = !up ? FAIL : PQsslInUse(c) ? TLS : PLAIN;
	cr_expect_eq(got, want, "%s: %s, expected %s (%s)", what, outcome_names[got],
	             outcome_names[want], PQerrorMessage(c));
	if (got == FAIL && want == FAIL && err)
		cr_expect(strstr(PQerrorMessage(c), err),
		          "%s: refused with \"%s\", expected \"%s\"", what, PQerrorMessage(c), err);
	if (up)
		return c;
	PQfinish(c);
	return NULL;
}

IT_TEST(tls_verify, verify_modes_need_a_certificate_of_the_ca)
{
	static const char *const modes[] = {"verify-ca", "verify-full"};
	for (int m = 0; m < 2; m++) {
		char what[128], plain_err[128];
		start_listen(modes[m], NULL);
		snprintf(plain_err, sizeof plain_err, "pglane requires TLS (listen.tls.mode = %s)",
		         modes[m]);
		snprintf(what, sizeof what, "%s, no certificate", modes[m]);
		try_client("require", NULL, NULL, FAIL, NULL, what);
		snprintf(what, sizeof what, "%s, a certificate of another CA", modes[m]);
		try_client("require", "certuser_ca2", NULL, FAIL, NULL, what);
		snprintf(what, sizeof what, "%s, plain text", modes[m]);
		try_client("disable", NULL, NULL, FAIL, plain_err, what);
		/* the CA's certificates, whatever their name (the user is postgres) */
		snprintf(what, sizeof what, "%s, certuser's certificate", modes[m]);
		PQfinish(try_client("require", "certuser", NULL, TLS, NULL, what));
		snprintf(what, sizeof what, "%s, other's certificate, verify-full", modes[m]);
		PQfinish(try_client("verify-full", "other", NULL, TLS, NULL, what));
		char *log = it_pglane_log();
		cr_expect(strstr(log, "TLS handshake failed"), "%s: no failed handshake logged",
		          modes[m]);
		free(log);
		it_pglane_stop(NULL);
	}
	/* prefer is allow: plain text and TLS, no certificate asked for; SHOW CLIENTS tells
	 * them apart */
	start_listen("prefer", NULL);
	PGconn *plain = try_client("disable", NULL, "application_name='plain'", PLAIN, NULL,
	                           "prefer, plain text");
	PGconn *tls = try_client("require", NULL, "application_name='tls'", TLS, NULL,
	                         "prefer, TLS without a certificate");
	PGconn *admin = adminq_connect("postgres");
	cr_assert(plain && tls && admin);
	PGresult *r = adminq_show(admin, "SHOW CLIENTS");
	int row = adminq_find(r, "application_name", "tls", NULL, NULL);
	cr_assert_geq(row, 0);
	cr_expect_str_eq(adminq_cell(r, row, "tls"), "TLS");
	row = adminq_find(r, "application_name", "plain", NULL, NULL);
	cr_assert_geq(row, 0);
	cr_expect_str_eq(adminq_cell(r, row, "tls"), "");
	PQclear(r);
	PQfinish(admin);
	PQfinish(tls);
	PQfinish(plain);
}

/* The protocol of a TLS connection (PQsslAttribute), checked. */
static void expect_protocol(PGconn *c, const char *want, const char *what)
{
	cr_assert(c, "%s: not connected", what);
	const char *p = PQsslAttribute(c, "protocol");
	cr_expect(p && strcmp(p, want) == 0, "%s: protocol %s, expected %s", what, p ? p : "(none)",
	          want);
	PQfinish(c);
}

IT_TEST(tls_verify, listen_protocols)
{
	start_listen("allow", "protocols = \"tlsv1.3\";");
	try_client("require", NULL, "ssl_max_protocol_version='TLSv1.2'", FAIL, NULL,
	           "tlsv1.3 only, client at most TLSv1.2");
	expect_protocol(try_client("require", NULL, NULL, TLS, NULL, "tlsv1.3, any client"),
	                "TLSv1.3", "tlsv1.3, any client");
	/* plain text is still fine in mode allow */
	PQfinish(try_client("disable", NULL, NULL, PLAIN, NULL, "tlsv1.3, plain text"));
	it_pglane_stop(NULL);

	start_listen("allow", "protocols = \"tlsv1.2\";");
	try_client("require", NULL, "ssl_min_protocol_version='TLSv1.3'", FAIL, NULL,
	           "tlsv1.2 only, client at least TLSv1.3");
	expect_protocol(try_client("require", NULL, NULL, TLS, NULL, "tlsv1.2, any client"),
	                "TLSv1.2", "tlsv1.2, any client");
	it_pglane_stop(NULL);

	/* the default, "secure": both */
	start_listen("allow", NULL);
	expect_protocol(try_client("require", NULL, "ssl_max_protocol_version='TLSv1.2'", TLS, NULL,
	                           "secure, client at most TLSv1.2"),
	                "TLSv1.2", "secure, client at most TLSv1.2");
	expect_protocol(try_client("require", NULL, NULL, TLS, NULL, "secure, any client"),
	                "TLSv1.3", "secure, any client");
}

IT_TEST(tls_verify, listen_ciphers)
{
	static const char *const ciphers[] = {"ECDHE-ECDSA-CHACHA20-POLY1305",
	                                      "ECDHE-ECDSA-AES256-GCM-SHA384"};
	for (int i = 0; i < 2; i++) {
		char extra[200];
		snprintf(extra, sizeof extra, "protocols = \"tlsv1.2\"; ciphers = \"%s\";",
		         ciphers[i]);
		start_listen("require", extra);
		PGconn *c = try_client("require", NULL, NULL, TLS, NULL, ciphers[i]);
		cr_assert(c);
		const char *got = PQsslAttribute(c, "cipher");
		cr_expect(got && strcmp(got, ciphers[i]) == 0, "cipher %s, expected %s",
		          got ? got : "(none)", ciphers[i]);
		PQfinish(c);
		it_pglane_stop(NULL);
	}
	/* a list OpenSSL does not know: pglane does not start */
	char dir[512], path[600];
	it_mkdtemp(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/bad.conf", dir);
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "listen = { host = \"127.0.0.1\"; port = %d; unix_socket_dir = \"\";\n"
	         "  tls = { mode = \"require\"; cert = \"%s\"; key = \"%s\"; ciphers = "
	         "\"NO-SUCH-CIPHER\"; }; };\n",
	         it_free_port(), tls_cert("server.crt"), tls_cert("server.key"));
	it_file_write(path, conf);
	char *out = NULL;
	int rc = it_sh(20, &out, "'%s' -c '%s'", it_pglane_bin(), path);
	cr_expect_eq(rc, 1, "pglane with ciphers NO-SUCH-CIPHER exited %d:\n%s", rc, out);
	cr_expect(out && strstr(out, "listen.tls.ciphers \"NO-SUCH-CIPHER\""), "%s", out);
	free(out);
}

/* ---- server side ---- */

/* A PostgreSQL of this test with ssl on (server.crt) and TLS at most 1.2. */
static void cluster_start_tls12(void)
{
	g_cluster_port = tls_cluster_start(g_cluster_dir, sizeof g_cluster_dir,
	                                   "ALTER SYSTEM SET ssl_max_protocol_version = 'TLSv1.2'");
}

/* The config of a pglane in front of the cluster with server_tls `extra`. */
static void server_conf(char *out, size_t cap, const char *extra)
{
	snprintf(out, cap,
	         "auth = { type = \"trust\"; };\n"
	         "log = { level = \"debug\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; query_wait_timeout = \"5s\"; };\n"
	         "server_tls = { sslmode = \"require\"; %s };\n"
	         "databases = ( { name = \"*\"; host = \"127.0.0.1\"; port = %d; user = "
	         "\"postgres\"; } );\n",
	         extra, g_cluster_port);
}

/* A column of pg_stat_ssl for the server connection pglane gives a client; NULL (and the
 * error in *err) when the client cannot get in. */
static char *server_ssl(const char *col, char *err, size_t cap)
{
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            NULL);
	PGconn *c = it_connect_try(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(err, cap, "%s", it_conn_error(c));
		PQfinish(c);
		return NULL;
	}
	char sql[200];
	snprintf(sql, sizeof sql, "SELECT %s FROM pg_stat_ssl WHERE pid = pg_backend_pid()", col);
	PGresult *r = PQexec(c, sql);
	char *v = NULL;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = strdup(PQgetvalue(r, 0, 0));
	else
		snprintf(err, cap, "%s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
	return v;
}

IT_TEST(tls_verify, server_protocols_and_ciphers)
{
	cluster_start_tls12();
	char conf[2048], err[1024] = "";

	/* TLSv1.3 only against a server that stops at 1.2: no login */
	server_conf(conf, sizeof conf, "protocols = \"tlsv1.3\";");
	it_pglane_start(conf);
	char *v = server_ssl("version", err, sizeof err);
	cr_expect_null(v, "server_tls.protocols tlsv1.3 logged in to a TLSv1.2 server (%s)", v);
	free(v);
	char *log = it_pglane_log();
	cr_expect(strstr(log, "protocol version") || strstr(log, "unsupported protocol"),
	          "no protocol error logged:\n%s", log);
	free(log);
	it_pglane_stop(NULL);

	/* the default: TLSv1.2 */
	server_conf(conf, sizeof conf, "protocols = \"secure\";");
	it_pglane_start(conf);
	v = server_ssl("version", err, sizeof err);
	cr_expect(v && strcmp(v, "TLSv1.2") == 0, "server TLS version %s (%s)", v ? v : "none",
	          err);
	free(v);
	it_pglane_stop(NULL);

	/* a cipher of our choosing */
	static const char *const ciphers[] = {"ECDHE-ECDSA-AES256-GCM-SHA384",
	                                      "ECDHE-ECDSA-CHACHA20-POLY1305"};
	for (int i = 0; i < 2; i++) {
		char extra[200];
		snprintf(extra, sizeof extra, "ciphers = \"%s\";", ciphers[i]);
		server_conf(conf, sizeof conf, extra);
		it_pglane_start(conf);
		v = server_ssl("cipher", err, sizeof err);
		cr_expect(v && strcmp(v, ciphers[i]) == 0, "server cipher %s, expected %s (%s)",
		          v ? v : "none", ciphers[i], err);
		free(v);
		if (i == 0)
			it_pglane_stop(NULL);
	}

	/* a reload with a cipher list OpenSSL does not know is refused; the old one stays */
	struct it_pglane *p = it_pglane_current();
	server_conf(conf, sizeof conf, "ciphers = \"NO-SUCH-CIPHER\";");
	it_file_write(p->conf_path, conf);
	cr_assert_eq(kill(p->pid, SIGHUP), 0);
	bool refused = false;
	for (int i = 0; i < 250 && !refused; i++) {
		log = it_pglane_log();
		refused = strstr(log, "server_tls.ciphers \"NO-SUCH-CIPHER\"") != NULL;
		free(log);
		if (!refused)
			it_sleep_ms(20);
	}
	cr_expect(refused, "no refusal of server_tls.ciphers NO-SUCH-CIPHER logged");
	log = it_pglane_log();
	cr_expect(strstr(log, "refused, the old config stays"), "the reload was not refused");
	free(log);
	/* still serving, with the old cipher */
	v = server_ssl("cipher", err, sizeof err);
	cr_expect(v && strcmp(v, ciphers[1]) == 0, "after the refused reload: cipher %s (%s)",
	          v ? v : "none", err);
	free(v);
}
