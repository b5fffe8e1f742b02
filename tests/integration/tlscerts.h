/* tests/integration/tlscerts.h — certificates for the TLS tests, made with the openssl CLI once
 * per test binary (a temp dir renamed into place, so that concurrent test processes agree on
 * one) in PGLANE_TEST_TMP/tls-certs: ca (a CA), ca2 (another CA), server (CN and SAN
 * 127.0.0.1, DNS:localhost, from ca), wrongname (wrong.example), client certificates certuser
 * and other (from ca) and certuser_ca2 (CN=certuser from ca2); each NAME.crt and NAME.key. */
#ifndef PGLANE_TESTS_TLSCERTS_H
#define PGLANE_TESTS_TLSCERTS_H

#include <stddef.h>

/* The directory (made on first use; fails the test when openssl fails). */
const char *tls_certs(void);
/* DIR/name of a certificate file (one of a few rotating static buffers). */
const char *tls_cert(const char *name);

/* Start pglane offering TLS (listen.tls mode allow, certificate chain `cert`, tls_cert's
 * server.key), auth trust, IT_DATABASES and a transaction pool of 2 whose clients must log in
 * within `login_timeout`; log level `level` (NULL: the default). */
void tls_pglane_start_allow(const char *cert, const char *login_timeout, const char *level);

/* A PostgreSQL of the test's own (tests/pg.sh start: PGLANE_TEST_PGSH, else the one beside the
 * pglane binary's build directory, else tests/pg.sh) on a free port with the server
 * certificate, `alter` run before ssl goes on (an ALTER SYSTEM, or NULL), and ssl on, once a
 * direct connection uses TLS: its port, its directory in `dir` (n bytes) for
 * tls_cluster_stop(). */
int tls_cluster_start(char *dir, size_t n, const char *alter);
/* Stop the cluster in `dir` (nothing when it is empty) and empty it, whether or not that
 * works (for a suite's .fini). */
void tls_cluster_stop(char *dir);

#endif
