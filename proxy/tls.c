/* proxy/tls.c — TLS with OpenSSL on both sides: the context clients negotiate with
 * (listen.tls: mode, protocols, ciphers, client certificates), contexts pglane uses towards
 * PostgreSQL (per sslmode and CA, with server_tls.protocols and .ciphers), and the nonblocking
 * handshakes. */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/log.h"
#include "proxy/io.h"
#include "proxy/tls.h"

#define MAX_SERVER_CTX 16

struct server_ctx {
	char ca[512];
	bool verify;
	SSL_CTX *ctx;
};

/* The TLS contexts: the one clients negotiate with (listen.tls, built at start) and those
 * pglane uses towards PostgreSQL, one per (verifies or not, CA), made on first use and
 * dropped at RELOAD. Owner today: the process's one event loop. Under worker threads:
 * process-wide: the client context is read-only once the threads start (an SSL_CTX may be
 * used by several threads at once; each connection holds its own reference); the server
 * contexts are looked up, added and dropped under a mutex (at server connect and RELOAD
 * only, never per message). */
static struct tls_contexts {
	SSL_CTX *listen_ctx; /* owned; NULL: no TLS for clients */
	struct server_ctx server_ctxs[MAX_SERVER_CTX];
	int nserver_ctxs;
} tls;

/* The first OpenSSL error as text (and the queue cleared). */
static const char *ssl_error(char *buf, size_t cap)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, cap);
	else
		snprintf(buf, cap, "unknown TLS error");
	ERR_clear_error();
	return buf;
}

/* Cipher lists that mean OpenSSL's own default, as in PgBouncer. */
static bool ciphers_default(const char *s)
{
	return !s || !s[0] || strcasecmp(s, "default") == 0 || strcasecmp(s, "secure") == 0 ||
	       strcasecmp(s, "normal") == 0 || strcasecmp(s, "fast") == 0;
}

/* The protocol versions and cipher list of `ctx` (PgBouncer's syntax, cfg_tls_protocols_parse):
 * the lowest to the highest version listed; ciphers OpenSSL's default, or its cipher list for
 * TLSv1.2 and older ("all" = "ALL"; TLSv1.3's suites stay OpenSSL's). `what` names the keys in
 * the message. */
static bool ctx_protocols(SSL_CTX *ctx, const char *protocols, const char *ciphers,
                          const char *what, char *err, size_t cap)
{
	int lo, hi;
	if (!protocols || !cfg_tls_protocols_parse(protocols, &lo, &hi)) {
		snprintf(err, cap, "%s.protocols: \"%s\" is not a TLS protocol list", what,
		         protocols ? protocols : "");
		return false;
	}
	/* TLS 1.x is protocol version 0x0301 + x */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION + lo) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_VERSION + hi) != 1) {
		char e[200];
		snprintf(err, cap, "%s.protocols \"%s\": %s", what, protocols,
		         ssl_error(e, sizeof(e)));
		return false;
	}
	if (ciphers_default(ciphers))
		return true;
	const char *list = strcasecmp(ciphers, "all") == 0 ? "ALL" : ciphers;
	if (SSL_CTX_set_cipher_list(ctx, list) != 1) {
		char e[200];
		snprintf(err, cap, "%s.ciphers \"%s\": %s", what, ciphers, ssl_error(e, sizeof(e)));
		return false;
	}
	return true;
}

bool proxy_tls_check_server(const struct cfg *cfg, char *err, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_error(err, cap);
		return false;
	}
	bool ok = ctx_protocols(ctx, cfg->server_tls.protocols, cfg->server_tls.ciphers,
	                        "server_tls", err, cap);
	SSL_CTX_free(ctx);
	return ok;
}

/* Both sides' contexts: partial writes from a buffer that may move between tries, and reads
 * ahead: one recv() takes what the socket holds (a record's header and body, and the next
 * records) instead of one for the header and one for the body. OpenSSL may then hold bytes the
 * socket no longer signals, so every "anything left?" is SSL_has_pending(), not SSL_pending()
 * (which counts decrypted bytes only). */
static void ctx_modes(SSL_CTX *ctx)
{
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(ctx, 1);
}

bool proxy_tls_init(const struct cfg *cfg)
{
	proxy_tls_free();
	char err[256];
	if (!proxy_tls_check_server(cfg, err, sizeof(err))) {
		log_error("%s", err);
		return false;
	}
	if (cfg->listen.tls.mode == CFG_TLS_DISABLE)
		return true;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		log_error("listen.tls: %s", ssl_error(err, sizeof(err)));
		return false;
	}
	if (!ctx_protocols(ctx, cfg->listen.tls.protocols, cfg->listen.tls.ciphers, "listen.tls",
	                   err, sizeof(err))) {
		log_error("%s", err);
		SSL_CTX_free(ctx);
		return false;
	}
	ctx_modes(ctx);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->listen.tls.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->listen.tls.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_error("listen.tls: cannot use %s / %s: %s", cfg->listen.tls.cert,
		          cfg->listen.tls.key, ssl_error(err, sizeof(err)));
		SSL_CTX_free(ctx);
		return false;
	}
	bool verify = cfg_tls_verifies(cfg->listen.tls.mode);
	if (verify && !(cfg->listen.tls.ca && cfg->listen.tls.ca[0])) {
		log_error("listen.tls.mode = %s needs listen.tls.ca (the CA of the client "
		          "certificates)",
		          cfg_tls_mode_name(cfg->listen.tls.mode));
		SSL_CTX_free(ctx);
		return false;
	}
	if (cfg->listen.tls.ca && cfg->listen.tls.ca[0]) {
		/* client certificates are asked for and checked; verify-ca and verify-full
		 * require one (else only hba "cert" does) */
		if (SSL_CTX_load_verify_locations(ctx, cfg->listen.tls.ca, NULL) != 1) {
			log_error("listen.tls.ca: cannot load %s: %s", cfg->listen.tls.ca,
			          ssl_error(err, sizeof(err)));
			SSL_CTX_free(ctx);
			return false;
		}
		SSL_CTX_set_verify(ctx,
		                   verify ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
		                          : SSL_VERIFY_PEER,
		                   NULL);
		SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(cfg->listen.tls.ca));
	}
	tls.listen_ctx = ctx;
	return true;
}

void proxy_tls_reset_servers(void)
{
	/* connections keep their own reference to a context */
	for (int i = 0; i < tls.nserver_ctxs; i++)
		SSL_CTX_free(tls.server_ctxs[i].ctx);
	tls.nserver_ctxs = 0;
}

void proxy_tls_free(void)
{
	SSL_CTX_free(tls.listen_ctx);
	tls.listen_ctx = NULL;
	proxy_tls_reset_servers();
}

bool proxy_tls_listen_enabled(void)
{
	return tls.listen_ctx != NULL;
}

bool proxy_tls_accept_start(struct proxy_conn *c)
{
	c->ssl = SSL_new(tls.listen_ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->w.fd) != 1)
		return false;
	SSL_set_accept_state(c->ssl);
	return true;
}

enum proxy_tls_result proxy_tls_handshake(struct proxy_conn *c, char *err, size_t cap)
{
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		proxy_conn_set_write(c, false);
		proxy_conn_set_read(c, true);
		proxy_conn_kick(c); /* the peer's first message may have come with its Finished */
		return PROXY_TLS_DONE;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		proxy_conn_set_write(c, false);
		proxy_conn_set_read(c, true);
		return PROXY_TLS_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		proxy_conn_set_write(c, true);
		return PROXY_TLS_AGAIN;
	default:
		ssl_error(err, cap);
		return PROXY_TLS_ERROR;
	}
}

bool proxy_tls_peer_name(struct proxy_conn *c, char *out, size_t cap)
{
	if (!c->ssl || SSL_get_verify_result(c->ssl) != X509_V_OK)
		return false;
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	if (!cert)
		return false;
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out,
	                                  (int)cap);
	X509_free(cert);
	return n > 0 && (size_t)n < cap && strlen(out) == (size_t)n;
}

/* The client context for `mode` and `ca` (created once). */
static SSL_CTX *find_or_make(const struct cfg *cfg, enum cfg_sslmode mode, const char *ca,
                             char *err, size_t cap)
{
	bool verify = mode == CFG_SSL_VERIFY_CA || mode == CFG_SSL_VERIFY_FULL;
	const char *file = verify && ca ? ca : "";
	for (int i = 0; i < tls.nserver_ctxs; i++)
		if (tls.server_ctxs[i].verify == verify && strcmp(tls.server_ctxs[i].ca, file) == 0)
			return tls.server_ctxs[i].ctx;
	if (tls.nserver_ctxs == MAX_SERVER_CTX) {
		snprintf(err, cap, "too many distinct server TLS settings");
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_error(err, cap);
		return NULL;
	}
	if (!ctx_protocols(ctx, cfg->server_tls.protocols, cfg->server_tls.ciphers, "server_tls",
	                   err, cap)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	ctx_modes(ctx);
	if (verify) {
		if (SSL_CTX_load_verify_locations(ctx, file, NULL) != 1) {
			char e[200];
			snprintf(err, cap, "cannot load the CA %s: %s", file,
			         ssl_error(e, sizeof(e)));
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	if (cfg->server_tls.cert && cfg->server_tls.cert[0] &&
	    (SSL_CTX_use_certificate_chain_file(ctx, cfg->server_tls.cert) != 1 ||
	     SSL_CTX_use_PrivateKey_file(ctx, cfg->server_tls.key, SSL_FILETYPE_PEM) != 1)) {
		char e[200];
		snprintf(err, cap, "cannot use server_tls.cert/key: %s", ssl_error(e, sizeof(e)));
		SSL_CTX_free(ctx);
		return NULL;
	}
	struct server_ctx *s = &tls.server_ctxs[tls.nserver_ctxs++];
	snprintf(s->ca, sizeof(s->ca), "%s", file);
	s->verify = verify;
	s->ctx = ctx;
	return ctx;
}

/* Workers connect at once: the look-up and the first use's making under a lock (RELOAD drops
 * them with the world stopped). */
static pthread_mutex_t server_ctx_lock = PTHREAD_MUTEX_INITIALIZER;

static SSL_CTX *server_ctx(const struct cfg *cfg, enum cfg_sslmode mode, const char *ca, char *err,
                           size_t cap)
{
	pthread_mutex_lock(&server_ctx_lock);
	SSL_CTX *ctx = find_or_make(cfg, mode, ca, err, cap);
	pthread_mutex_unlock(&server_ctx_lock);
	return ctx;
}

bool proxy_tls_connect_start(struct proxy_conn *c, const struct cfg *cfg,
                             const struct cfg_database *db, const char *host, char *err, size_t cap)
{
	SSL_CTX *ctx = server_ctx(cfg, db->sslmode, db->sslrootcert, err, cap);
	if (!ctx)
		return false;
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->w.fd) != 1) {
		snprintf(err, cap, "out of memory");
		return false;
	}
	SSL_set_connect_state(c->ssl);
	if (host[0] != '/')
		SSL_set_tlsext_host_name(c->ssl, host);
	if (db->sslmode == CFG_SSL_VERIFY_FULL) {
		X509_VERIFY_PARAM *param = SSL_get0_param(c->ssl);
		/* an address is checked against the certificate's IP entries, a name against
		 * its DNS names */
		if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1 &&
		    X509_VERIFY_PARAM_set1_host(param, host, 0) != 1) {
			snprintf(err, cap, "cannot check the server name %s", host);
			return false;
		}
	}
	return true;
}
