/* tests/integration/tlscerts.c — the test certificates, made with the openssl CLI once per test
 * binary in PGLANE_TEST_TMP/tls-certs (see tlscerts.h). */
#include "tests/integration/tlscerts.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/harness.h"

static char g_certs[600];

#define OPENSSL_SCRIPT                                                                             \
	"set -e; cd '%s'; "                                                                        \
	"ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'; "                           \
	"ca() { openssl req -x509 $ec -keyout $1.key -out $1.crt -days 3 -subj \"/CN=$2\" "        \
	"-addext basicConstraints=critical,CA:TRUE -addext "                                       \
	"keyUsage=critical,keyCertSign,cRLSign; "                                                  \
	"}; "                                                                                      \
	"leaf() { openssl req -new $ec -keyout $1.key -out $1.csr -subj \"/CN=$2\"; "              \
	"printf '%%s\\n' \"$4\" > $1.ext; "                                                        \
	"openssl x509 -req -in $1.csr -CA $3.crt -CAkey $3.key -CAcreateserial -out $1.crt "       \
	"-days 3 -extfile $1.ext; }; "                                                             \
	"ca ca 'pglane test CA'; ca ca2 'pglane other CA'; "                                       \
	"leaf server 127.0.0.1 ca 'subjectAltName=IP:127.0.0.1,DNS:localhost'; "                   \
	"leaf wrongname wrong.example ca 'subjectAltName=DNS:wrong.example'; "                     \
	"leaf certuser certuser ca 'extendedKeyUsage=clientAuth'; "                                \
	"leaf other other ca 'extendedKeyUsage=clientAuth'; "                                      \
	"leaf certuser_ca2 certuser ca2 'extendedKeyUsage=clientAuth'; "                           \
	"chmod 600 *.key; openssl verify -CAfile ca.crt server.crt certuser.crt"

/* The certificate directory, made once per test binary (a temp dir renamed into place, so
 * that concurrent test processes agree on one). */
const char *tls_certs(void)
{
	if (g_certs[0])
		return g_certs;
	const char *root = getenv("PGLANE_TEST_TMP");
	if (!root || !*root)
		root = "/tmp";
	mkdir(root, 0755);
	char final[600];
	snprintf(final, sizeof final, "%s/tls-certs", root);
	char probe[700];
	snprintf(probe, sizeof probe, "%s/certuser_ca2.crt", final);
	if (access(probe, R_OK) != 0) {
		char tmp[600];
		snprintf(tmp, sizeof tmp, "%s/tls-certs.tmp-XXXXXX", root);
		cr_assert(mkdtemp(tmp), "mkdtemp %s: %s", tmp, strerror(errno));
		char *out = NULL;
		int rc = it_sh(60, &out, OPENSSL_SCRIPT, tmp);
		cr_assert_eq(rc, 0, "making the test certificates failed (%d):\n%s", rc, out);
		free(out);
		if (rename(tmp, final) != 0) /* another process was first: use its files */
			it_sh(10, NULL, "rm -rf '%s'", tmp);
		cr_assert_eq(access(probe, R_OK), 0, "no %s after making the certificates", probe);
	}
	snprintf(g_certs, sizeof g_certs, "%s", final);
	return g_certs;
}

/* DIR/name of a certificate file (one of a few rotating static buffers). */
const char *tls_cert(const char *name)
{
	static char bufs[8][700];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s", tls_certs(), name);
	return b;
}

static const char *pgsh(void)
{
	const char *e = getenv("PGLANE_TEST_PGSH");
	if (e && *e && access(e, X_OK) == 0)
		return e;
	static char path[1024];
	snprintf(path, sizeof path, "%s", it_pglane_bin()); /* .../build/pglane */
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(path, '/');
		if (slash)
			*slash = '\0';
	}
	strncat(path, "/tests/pg.sh", sizeof path - strlen(path) - 1);
	return access(path, X_OK) == 0 ? path : "tests/pg.sh";
}

int tls_cluster_start(char *dir, size_t n, const char *alter)
{
	it_mkdtemp(dir, n);
	chmod(dir, 0755);
	int port = it_free_port();
	char *out = NULL;
	int rc = it_sh(120, &out, "'%s' start '%s' %d", pgsh(), dir, port);
	cr_assert_eq(rc, 0, "tests/pg.sh start failed (%d):\n%s", rc, out);
	free(out);
	rc = it_sh(30, &out,
	           "set -e; d='%s/data'; o=$(stat -c %%U \"$d\"); cp '%s' '%s' \"$d\"/; "
	           "chown \"$o\" \"$d\"/server.crt \"$d\"/server.key; chmod 600 \"$d\"/server.key",
	           dir, tls_cert("server.crt"), tls_cert("server.key"));
	cr_assert_eq(rc, 0, "copying the certificate failed:\n%s", out);
	free(out);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, port, "postgres", NULL, "postgres", NULL);
	PGconn *a = it_connect_try(ci);
	cr_assert_eq(PQstatus(a), CONNECTION_OK, "own cluster: %s", it_conn_error(a));
	it_exec_ok(a, "ALTER SYSTEM SET ssl_cert_file = 'server.crt'");
	it_exec_ok(a, "ALTER SYSTEM SET ssl_key_file = 'server.key'");
	if (alter)
		it_exec_ok(a, alter);
	it_exec_ok(a, "ALTER SYSTEM SET ssl = on");
	it_exec_ok(a, "SELECT pg_reload_conf()");
	PQfinish(a);
	it_conninfo(ci, sizeof ci, IT_HOST, port, "postgres", NULL, "postgres",
	            "sslmode='require'");
	bool ok = false;
	for (int i = 0; i < 100 && !ok; i++) {
		PGconn *c = it_connect_try(ci);
		ok = PQstatus(c) == CONNECTION_OK && PQsslInUse(c);
		PQfinish(c);
		if (!ok)
			it_sleep_ms(50);
	}
	cr_assert(ok, "the cluster did not turn ssl on");
	return port;
}

void tls_cluster_stop(char *dir)
{
	if (!dir[0])
		return;
	char *out = NULL;
	(void)it_sh(60, &out, "'%s' stop '%s'", pgsh(), dir);
	free(out);
	dir[0] = '\0';
}

void tls_pglane_start_allow(const char *cert, const char *login_timeout, const char *level)
{
	char conf[2048], log[64] = "";
	if (level)
		snprintf(log, sizeof log, "log = { level = \"%s\"; };\n", level);
	snprintf(conf, sizeof conf,
	         "listen = { host = \"127.0.0.1\"; port = @PORT@;\n"
	         "  tls = { mode = \"allow\"; cert = \"%s\"; key = \"%s\"; }; };\n"
	         "auth = { type = \"trust\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; client_login_timeout = \"%s\"; };\n"
	         "%s" IT_DATABASES,
	         cert, tls_cert("server.key"), login_timeout, log);
	it_pglane_start(conf);
}
