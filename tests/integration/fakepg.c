/* tests/integration/fakepg.c — PostgreSQL servers played by the test (see fakepg.h): one
 * accepting thread per fake, one thread per connection running the fake's script. */
#include "tests/integration/fakepg.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/integration/serve.h"
#include "tests/integration/wire.h"

#define SSL_REQUEST_CODE    80877103
#define GSSENC_REQUEST_CODE 80877104
#define CANCEL_REQUEST_CODE 80877102
#define READ_TIMEOUT_S      10
#define MAX_BODY            (256 * 1024)

static const char *const script_names[FAKEPG_NSCRIPTS] = {
        [FAKEPG_TRUST] = "trust",
        [FAKEPG_SSL_S_GARBAGE] = "'S' + plaintext",
        [FAKEPG_SSL_N_GARBAGE] = "'N' + AuthenticationOk in one write",
        [FAKEPG_SSL_NONSENSE] = "'X' to the SSLRequest",
        [FAKEPG_SSL_CLOSE] = "close at the SSLRequest",
        [FAKEPG_SSL_S_SILENT] = "'S', then silence",
        [FAKEPG_ERROR_NO_SQLSTATE] = "ErrorResponse without SQLSTATE",
        [FAKEPG_AUTH_UNKNOWN] = "unknown authentication code",
        [FAKEPG_SASL_NO_SCRAM] = "SASL without SCRAM-SHA-256",
        [FAKEPG_SASL_CONTINUE_EARLY] = "SASLContinue before AuthenticationSASL",
        [FAKEPG_SASL_HUGE_NONCE] = "64 KB SCRAM nonce",
        [FAKEPG_SASL_LONG_NONCE] = "6000-byte SCRAM nonce",
        [FAKEPG_SASL_HUGE_ITERATIONS] = "i=1000000000",
        [FAKEPG_SASL_FOREIGN_NONCE] = "nonce not extending pglane's",
        [FAKEPG_SASL_OK_EARLY] = "AuthenticationOk before SASLFinal",
        [FAKEPG_SASL_ITER_MAX] = "i=100000",
        [FAKEPG_SASL_ITER_OVER] = "i=100001",
        [FAKEPG_KEYDATA_SHORT] = "BackendKeyData with a bad length",
        [FAKEPG_HUGE_LENGTH] = "a message of 2^31 bytes",
        [FAKEPG_READY_FIRST] = "ReadyForQuery before authentication",
        [FAKEPG_DATAROW_IN_LOGIN] = "DataRow during login",
        [FAKEPG_DRIP] = "a login at 3 bytes per second",
        [FAKEPG_OLD_PRIMARY] = "a primary without in_hot_standby",
        [FAKEPG_OLD_STANDBY] = "a standby without in_hot_standby",
};

const char *fakepg_script_name(enum fakepg_script script)
{
	return script < FAKEPG_NSCRIPTS && script_names[script] ? script_names[script] : "?";
}

/* ---- wire helpers (never fail the test: they run in the fake's threads) ---- */

/* Append a message (type, length, body) to `out` at *len (the caller sized `out`). */
static void put_msg(uint8_t *out, size_t *len, char type, const void *body, size_t n)
{
	uint32_t l = htonl((uint32_t)n + 4);
	out[(*len)++] = (uint8_t)type;
	memcpy(out + *len, &l, 4);
	*len += 4;
	if (n)
		memcpy(out + *len, body, n);
	*len += n;
}

static void put_auth(uint8_t *out, size_t *len, int32_t code, const void *data, size_t n)
{
	uint8_t body[1024];
	uint32_t c = htonl((uint32_t)code);
	memcpy(body, &c, 4);
	if (n)
		memcpy(body + 4, data, n);
	put_msg(out, len, 'R', body, 4 + n);
}

static void put_param(uint8_t *out, size_t *len, const char *name, const char *value)
{
	char b[256];
	size_t a = strlen(name) + 1, v = strlen(value) + 1;
	memcpy(b, name, a);
	memcpy(b + a, value, v);
	put_msg(out, len, 'S', b, a + v);
}

/* The ParameterStatus messages a PostgreSQL 15 sends, BackendKeyData and ReadyForQuery. */
static void put_welcome(uint8_t *out, size_t *len)
{
	put_param(out, len, "server_version", "15.0");
	put_param(out, len, "server_encoding", "UTF8");
	put_param(out, len, "client_encoding", "UTF8");
	put_param(out, len, "DateStyle", "ISO, MDY");
	put_param(out, len, "IntervalStyle", "postgres");
	put_param(out, len, "TimeZone", "UTC");
	put_param(out, len, "integer_datetimes", "on");
	put_param(out, len, "standard_conforming_strings", "on");
	put_param(out, len, "application_name", "");
	put_msg(out, len, 'K', "\0\0\x30\x39\0\0\0\x07", 8);
	put_msg(out, len, 'Z', "I", 1);
}

/* Read one typed message: its type and body (NUL-terminated) into a malloc'ed *body. */
static bool read_msg(int fd, char *type, char **body, size_t *n)
{
	uint32_t l;
	if (!it_read_full(fd, type, 1) || !it_read_full(fd, &l, 4))
		return false;
	l = ntohl(l);
	if (l < 4 || l - 4 > MAX_BODY)
		return false;
	*n = l - 4;
	*body = malloc(*n + 1);
	if (!*body)
		return false;
	if (!it_read_full(fd, *body, *n)) {
		free(*body);
		*body = NULL;
		return false;
	}
	(*body)[*n] = '\0';
	return true;
}

/* The client nonce of a SASLInitialResponse body ("SCRAM-SHA-256\0" len "n,,n=,r=NONCE"). */
static bool client_nonce(const char *body, size_t n, char *nonce, size_t cap)
{
	size_t mech = strnlen(body, n);
	if (mech + 5 > n)
		return false;
	const char *data = body + mech + 5;
	size_t dn = n - mech - 5;
	const char *r = memmem(data, dn, ",r=", 3);
	if (!r)
		return false;
	r += 3;
	size_t k = 0;
	while (r + k < data + dn && r[k] != ',' && k + 1 < cap) {
		nonce[k] = r[k];
		k++;
	}
	nonce[k] = '\0';
	return k > 0;
}

/* ---- scripts ---- */

static void serve_queries(struct fakepg *f, int fd)
{
	for (;;) {
		char type;
		char *body = NULL;
		size_t n;
		if (!read_msg(fd, &type, &body, &n))
			return;
		uint8_t out[512];
		size_t len = 0;
		if (type == 'X') {
			free(body);
			return;
		}
		if (type == 'Q' && strstr(body, "pg_is_in_recovery") &&
		    strstr(body, "default_transaction_read_only") &&
		    (f->script == FAKEPG_OLD_PRIMARY || f->script == FAKEPG_OLD_STANDBY)) {
			static const uint8_t rowdesc[] = {
			        0,   2,    'r',  0,    0,    0,    0,    0,    0,    0, 0,
			        0,   0,    16,   0,    1,    0xff, 0xff, 0xff, 0xff, 0, 0,
			        'o', 0,    0,    0,    0,    0,    0,    0,    0,    0, 0,
			        25,  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,    0};
			uint8_t row[] = {0, 2, 0, 0, 0, 1, 'f', 0, 0, 0, 3, 'o', 'f', 'f'};
			if (f->script == FAKEPG_OLD_STANDBY)
				row[6] = 't';
			put_msg(out, &len, 'T', rowdesc, sizeof rowdesc);
			put_msg(out, &len, 'D', row, sizeof row);
			put_msg(out, &len, 'C', "SELECT 1", 9);
			put_msg(out, &len, 'Z', "I", 1);
			atomic_fetch_add(&f->queries, 1);
			atomic_fetch_add(&f->role_queries, 1);
		} else if (type == 'Q' && (strncasecmp(body, "SELECT", 6) == 0)) {
			static const uint8_t rowdesc[] = {0,    1,    'v',  0,    0, 0,  0,    0,
			                                  0,    0,    0,    0,    0, 25, 0xff, 0xff,
			                                  0xff, 0xff, 0xff, 0xff, 0, 0};
			static const uint8_t row[] = {0, 1, 0, 0, 0, 4, 'f', 'a', 'k', 'e'};
			put_msg(out, &len, 'T', rowdesc, sizeof rowdesc);
			put_msg(out, &len, 'D', row, sizeof row);
			put_msg(out, &len, 'C', "SELECT 1", 9);
			put_msg(out, &len, 'Z', "I", 1);
			atomic_fetch_add(&f->queries, 1);
		} else if (type == 'Q') {
			put_msg(out, &len, 'C', "SET", 4);
			put_msg(out, &len, 'Z', "I", 1);
		} else if (type == 'S') {
			put_msg(out, &len, 'Z', "I", 1);
		}
		free(body);
		(void)wire_send(fd, out, len);
	}
}

/* AuthenticationSASL, then the SASLInitialResponse: its client nonce into `nonce`. */
static bool sasl_begin(struct fakepg *f, int fd, char *nonce, size_t cap)
{
	uint8_t out[128];
	size_t len = 0;
	put_auth(out, &len, 10, "SCRAM-SHA-256\0", 15);
	(void)wire_send(fd, out, len);
	char type;
	char *body = NULL;
	size_t n;
	if (!read_msg(fd, &type, &body, &n))
		return false;
	bool ok = type == 'p' && client_nonce(body, n, nonce, cap);
	free(body);
	if (ok)
		atomic_fetch_add(&f->sasl_initial, 1);
	return ok;
}

/* SASLContinue with `text` (any length). */
static void sasl_continue(int fd, const char *text)
{
	size_t tn = strlen(text);
	uint8_t *out = malloc(tn + 16);
	if (!out)
		return;
	uint32_t l = htonl((uint32_t)(tn + 8)), code = htonl(11);
	out[0] = 'R';
	memcpy(out + 1, &l, 4);
	memcpy(out + 5, &code, 4);
	memcpy(out + 9, text, tn);
	(void)wire_send(fd, out, tn + 9);
	free(out);
}

#define SALT_B64 "c2FsdHNhbHRzYWx0c2FsdA==" /* "saltsaltsaltsalt" */

static void run_sasl(struct fakepg *f, int fd)
{
	char nonce[512];
	if (!sasl_begin(f, fd, nonce, sizeof nonce))
		return;
	char *text = NULL;
	switch (f->script) {
	case FAKEPG_SASL_HUGE_NONCE:
	case FAKEPG_SASL_LONG_NONCE: {
		size_t extra = f->script == FAKEPG_SASL_HUGE_NONCE ? 65536 : 6000;
		char *pad = malloc(extra + 1);
		if (!pad)
			return;
		memset(pad, 'A', extra);
		pad[extra] = '\0';
		if (asprintf(&text, "r=%s%s,s=" SALT_B64 ",i=4096", nonce, pad) < 0)
			text = NULL;
		free(pad);
		break;
	}
	case FAKEPG_SASL_HUGE_ITERATIONS:
		if (asprintf(&text, "r=%sSRV,s=" SALT_B64 ",i=1000000000", nonce) < 0)
			text = NULL;
		break;
	case FAKEPG_SASL_FOREIGN_NONCE:
		if (asprintf(&text, "r=notpglanesnonceSRV,s=" SALT_B64 ",i=4096") < 0)
			text = NULL;
		break;
	case FAKEPG_SASL_ITER_MAX:
	case FAKEPG_SASL_ITER_OVER:
		if (asprintf(&text, "r=%sSRV,s=" SALT_B64 ",i=%d", nonce,
		             f->script == FAKEPG_SASL_ITER_MAX ? 100000 : 100001) < 0)
			text = NULL;
		break;
	default: /* FAKEPG_SASL_OK_EARLY */
		if (asprintf(&text, "r=%sSRV,s=" SALT_B64 ",i=4096", nonce) < 0)
			text = NULL;
		break;
	}
	if (!text)
		return;
	sasl_continue(fd, text);
	free(text);
	if (f->script != FAKEPG_SASL_OK_EARLY && f->script != FAKEPG_SASL_ITER_MAX &&
	    f->script != FAKEPG_SASL_ITER_OVER)
		return;
	/* pglane answers with its client-final; the server then skips its signature */
	char type;
	char *body = NULL;
	size_t n;
	if (!read_msg(fd, &type, &body, &n))
		return;
	free(body);
	if (type != 'p')
		return;
	atomic_fetch_add(&f->sasl_final, 1);
	uint8_t out[1024];
	size_t len = 0;
	if (f->script != FAKEPG_SASL_OK_EARLY) {
		static const char e[] = "SFATAL\0VFATAL\0C28P01\0Mfake server checked the proof\0";
		put_msg(out, &len, 'E', e, sizeof e);
		(void)wire_send(fd, out, len);
		return;
	}
	put_auth(out, &len, 0, NULL, 0);
	put_welcome(out, &len);
	(void)wire_send(fd, out, len);
	serve_queries(f, fd); /* if pglane took that for a login, it would be served */
}

/* What the fake answers a startup packet with. */
static void run_login(struct fakepg *f, int fd)
{
	uint8_t out[1024];
	size_t len = 0;
	switch (f->script) {
	case FAKEPG_ERROR_NO_SQLSTATE: {
		static const char e[] = "SFATAL\0VFATAL\0Mfake server refuses you\0";
		put_msg(out, &len, 'E', e, sizeof e); /* includes the final NUL */
		break;
	}
	case FAKEPG_AUTH_UNKNOWN:
		put_auth(out, &len, 99, "\0\0\0\0", 4);
		break;
	case FAKEPG_SASL_NO_SCRAM:
		put_auth(out, &len, 10, "SCRAM-SHA-1\0\0", 13);
		break;
	case FAKEPG_SASL_CONTINUE_EARLY: {
		static const char early[] = "r=abc,s=" SALT_B64 ",i=4096";
		put_auth(out, &len, 11, early, sizeof early - 1);
		break;
	}
	case FAKEPG_SASL_HUGE_NONCE:
	case FAKEPG_SASL_LONG_NONCE:
	case FAKEPG_SASL_HUGE_ITERATIONS:
	case FAKEPG_SASL_FOREIGN_NONCE:
	case FAKEPG_SASL_OK_EARLY:
	case FAKEPG_SASL_ITER_MAX:
	case FAKEPG_SASL_ITER_OVER:
		run_sasl(f, fd);
		return;
	case FAKEPG_DRIP:
		put_auth(out, &len, 0, NULL, 0);
		put_welcome(out, &len);
		for (size_t i = 0; i < len; i++) {
			(void)wire_send(fd, out + i, 1);
			struct timespec ts = {.tv_nsec = 300 * 1000000L};
			nanosleep(&ts, NULL);
			char probe;
			if (recv(fd, &probe, 1, MSG_DONTWAIT) == 0)
				return; /* pglane gave up */
		}
		return;
	case FAKEPG_KEYDATA_SHORT:
		put_auth(out, &len, 0, NULL, 0);
		put_param(out, &len, "server_version", "15.0");
		put_msg(out, &len, 'K', "\0\0\x30\x39", 4);
		put_msg(out, &len, 'Z', "I", 1);
		break;
	case FAKEPG_HUGE_LENGTH: {
		put_auth(out, &len, 0, NULL, 0);
		static const uint8_t huge[] = {'S', 0x80, 0, 0, 0, 'a', 0, 'b', 0};
		memcpy(out + len, huge, sizeof huge);
		len += sizeof huge;
		break;
	}
	case FAKEPG_READY_FIRST:
		put_msg(out, &len, 'Z', "I", 1);
		break;
	case FAKEPG_DATAROW_IN_LOGIN: {
		static const uint8_t row[] = {0, 1, 0, 0, 0, 1, 'x'};
		put_auth(out, &len, 0, NULL, 0);
		put_msg(out, &len, 'D', row, sizeof row);
		put_welcome(out, &len);
		break;
	}
	default: /* FAKEPG_TRUST, and the SSL scripts after an honest 'N' */
		put_auth(out, &len, 0, NULL, 0);
		put_welcome(out, &len);
		(void)wire_send(fd, out, len);
		serve_queries(f, fd);
		return;
	}
	(void)wire_send(fd, out, len);
}

/* The answer to an SSLRequest; false when the script ends here. */
static bool answer_ssl(struct fakepg *f, int fd)
{
	switch (f->script) {
	case FAKEPG_SSL_S_GARBAGE: {
		static const char s[] = "Shello, these bytes are not TLS";
		(void)wire_send(fd, s, sizeof s - 1);
		return false;
	}
	case FAKEPG_SSL_N_GARBAGE: {
		uint8_t out[1024];
		size_t len = 0;
		out[len++] = 'N';
		put_auth(out, &len, 0, NULL, 0);
		put_welcome(out, &len);
		(void)wire_send(fd, out, len);
		return false;
	}
	case FAKEPG_SSL_NONSENSE:
		(void)wire_send(fd, "X", 1);
		return false;
	case FAKEPG_SSL_CLOSE:
	case FAKEPG_SSL_S_SILENT:
		if (f->script == FAKEPG_SSL_S_SILENT)
			(void)wire_send(fd, "S", 1);
		return false;
	default:
		(void)wire_send(fd, "N", 1);
		return true;
	}
}

static void serve(void *arg, int fd)
{
	struct fakepg *f = arg;
	struct timeval tv = {.tv_sec = READ_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	for (int i = 0; i < 4; i++) { /* startup, after at most a few encryption requests */
		uint32_t hdr[2];
		if (!it_read_full(fd, hdr, sizeof hdr))
			goto out;
		uint32_t len = ntohl(hdr[0]), code = ntohl(hdr[1]);
		if (len < 8 || len > 10000)
			goto out;
		char body[10000];
		if (!it_read_full(fd, body, len - 8))
			goto out;
		if (code == CANCEL_REQUEST_CODE)
			goto out;
		if (code == SSL_REQUEST_CODE) {
			atomic_fetch_add(&f->ssl_requests, 1);
			if (f->script == FAKEPG_SSL_CLOSE)
				goto out;
			if (!answer_ssl(f, fd))
				goto drain;
			continue;
		}
		if (code == GSSENC_REQUEST_CODE) {
			(void)wire_send(fd, "N", 1);
			continue;
		}
		atomic_fetch_add(&f->startups, 1);
		run_login(f, fd);
		goto drain;
	}
	goto out;
drain:;
	/* until pglane closes (or the read timeout) */
	char sink[4096];
	while (recv(fd, sink, sizeof sink, 0) > 0) {
	}
out:
	close(fd);
}

struct fakepg *fakepg_start(enum fakepg_script script)
{
	struct fakepg *f = calloc(1, sizeof *f);
	cr_assert(f);
	f->script = script;
	f->lfd = it_listen_local(&f->port);
	it_serve(f->lfd, serve, f, &f->conns);
	return f;
}
