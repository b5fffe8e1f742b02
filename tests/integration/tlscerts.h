/* tests/integration/tlscerts.h — certificates for the TLS tests, made with the openssl CLI once
 * per test binary (a temp dir renamed into place, so that concurrent test processes agree on
 * one) in PGLANE_TEST_TMP/tls-certs: ca (a CA), ca2 (another CA), server (CN and SAN
 * 127.0.0.1, DNS:localhost, from ca), wrongname (wrong.example), client certificates certuser
 * and other (from ca) and certuser_ca2 (CN=certuser from ca2); each NAME.crt and NAME.key. */
#ifndef PGLANE_TESTS_TLSCERTS_H
#define PGLANE_TESTS_TLSCERTS_H

/* The directory (made on first use; fails the test when openssl fails). */
const char *tls_certs(void);
/* DIR/name of a certificate file (one of a few rotating static buffers). */
const char *tls_cert(const char *name);

#endif
