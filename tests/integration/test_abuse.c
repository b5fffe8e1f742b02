/* tests/integration/test_abuse.c — raw-socket abuse of pglane (issue 7): each case sends what
 * no honest client or server sends and checks the exact answer (an ErrorResponse with its
 * SQLSTATE and message, or a close without a word), bounded in time; pglane must go on serving
 * a normal client after each group of cases.
 *
 * Cases (counted in the report): startup packets of bad lengths (0, 7, 2^31, 2^32-1, 10001),
 * bad codes and bad contents; typed messages before any startup; 10,000 SSLRequests and other
 * runs of encryption requests; a second StartupMessage after login; SASLInitialResponse with
 * bogus lengths, no mechanism terminator, wrong mechanisms, client-first messages without
 * attributes; client-final messages with a bad proof, nonce, channel binding or base64; a
 * password message in the middle of SCRAM; slowloris logins under client_login_timeout; 1200
 * half-open logins from one address; garbage to the admin console and to the HTTP port.
 * Malicious servers (fakepg.h) are in test_abuse_servers.c, same suite.
 *
 * Not repeated here: test_protocol.c (a close for lengths 3 and 100 MB, 1 KB of garbage, an
 * HTTP request, protocol 2.0/4.0, no user, silent clients, absurd lengths and unknown types
 * after login), test_admin.c (console garbage over the simple and extended protocols),
 * test_metrics.c (malformed HTTP requests), test_pooling.c (max_client_conn), test_auth.c
 * (identical refusals for unknown users and wrong passwords), test_tls.c (bytes after an
 * SSLRequest, plaintext after the server's answer). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/adminq.h"
#include "tests/integration/harness.h"
#include "tests/integration/rawpg.h"
#include "tests/integration/wire.h"

TestSuite(abuse, .fini = it_pglane_fini, .timeout = 120);

#define PV               "08P01" /* protocol violation */
#define BAD_LEN          "invalid length of startup packet"
#define BAD_STARTUP      "invalid startup packet"
#define BAD_SASL_INITIAL "malformed SASLInitialResponse"
#define BAD_SCRAM        "malformed SCRAM message"
#define NOT_AUTH         "expected an authentication response"
#define AUTH_LEN         "invalid message length during authentication"

static int g_cases; /* abuse cases run in this test */

static void still_serving(const char *after)
{
	wire_still_serving(after, g_cases);
}

static void refuse(const void *bytes, size_t n, size_t skip, const char *state, const char *text,
                   const char *what)
{
	g_cases++;
	wire_expect_refusal(it_pglane_current()->port, bytes, n, skip, state, text, what);
}

static void refuse_fd(int fd, const void *bytes, size_t n, const char *state, const char *text,
                      const char *what)
{
	g_cases++;
	wire_expect_refusal_fd(fd, bytes, n, 0, state, text, what);
}

/* pglane: postgres and admin trusted, everyone else SCRAM against users.txt. */
static struct it_pglane *start_abuse(const char *pool_extra, int http_port)
{
	char conf[2048];
	snprintf(conf, sizeof conf,
	         "auth = { type = \"scram-sha-256\"; file = \"users.txt\"; };\n"
	         "admin = { users = [ \"admin\" ]; http_port = %d; };\n"
	         "pool = { mode = \"transaction\"; size = 2; %s };\n"
	         "hba = ( { address = \"127.0.0.1/32\"; user = \"postgres\"; method = \"trust\"; "
	         "},\n"
	         "        { address = \"127.0.0.1/32\"; user = \"admin\"; method = \"trust\"; },\n"
	         "        { address = \"all\"; method = \"scram-sha-256\"; } );\n" IT_DATABASES,
	         http_port, pool_extra ? pool_extra : "");
	return it_pglane_start_with_users(conf, "\"scram_user\" \"scram_pw\"\n");
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

/* A startup-phase header: length and code. */
static void header(uint8_t out[8], uint32_t len, uint32_t code)
{
	put32(out, len);
	put32(out + 4, code);
}

/* A v3 startup packet of `body` (the parameters, with whatever terminators the case wants). */
static size_t startup_raw(uint8_t *out, const void *body, size_t n)
{
	header(out, (uint32_t)(8 + n), WIRE_PROTOCOL_3);
	memcpy(out + 8, body, n);
	return 8 + n;
}

IT_TEST(abuse, startup_packets)
{
	start_abuse(NULL, 0);
	uint8_t b[12000];
	g_cases = 0;
	header(b, 0, WIRE_PROTOCOL_3);
	refuse(b, 8, 0, PV, BAD_LEN, "startup length 0");
	header(b, 7, WIRE_PROTOCOL_3);
	refuse(b, 8, 0, PV, BAD_LEN, "startup length 7");
	header(b, 8, 0x12345678u);
	refuse(b, 8, 0, "0A000", "unsupported frontend protocol 4660.22136",
	       "length 8, code 0x12345678");
	header(b, 8, WIRE_PROTOCOL_3);
	refuse(b, 8, 0, PV, BAD_STARTUP, "length 8, protocol 3.0 and nothing else");
	header(b, 0x80000000u, WIRE_PROTOCOL_3);
	refuse(b, 8, 0, PV, BAD_LEN, "startup length 2^31");
	header(b, 0xFFFFFFFFu, WIRE_PROTOCOL_3);
	refuse(b, 8, 0, PV, BAD_LEN, "startup length 2^32-1");
	/* 10001 bytes, all of them sent: one over the limit */
	memset(b, 'x', sizeof b);
	header(b, 10001, WIRE_PROTOCOL_3);
	refuse(b, 10001, 0, PV, BAD_LEN, "startup length 10001");
	/* a Query, a Terminate and a SASLInitialResponse as the first bytes */
	size_t n = wire_msg(b, sizeof b, 'Q', "SELECT 1", 9);
	refuse(b, n, 0, PV, BAD_LEN, "a Query before any startup");
	n = wire_msg(b, sizeof b, 'X', NULL, 0);
	refuse(b, n, 0, PV, BAD_LEN, "a Terminate before any startup");
	n = wire_msg(b, sizeof b, 'p', "SCRAM-SHA-256\0\xff\xff\xff\xff", 18);
	refuse(b, n, 0, PV, BAD_LEN, "a SASLInitialResponse before any startup");
	/* requests of the wrong length */
	header(b, 12, WIRE_CANCEL);
	put32(b + 8, 1);
	refuse(b, 12, 0, PV, BAD_STARTUP, "a CancelRequest of 12 bytes");
	header(b, 12, WIRE_SSL_REQUEST);
	put32(b + 8, 0);
	refuse(b, 12, 0, PV, BAD_STARTUP, "an SSLRequest of 12 bytes");
	/* a CancelRequest for nobody: closed without a word */
	header(b, 16, WIRE_CANCEL);
	put32(b + 8, 0x7fffffff);
	put32(b + 12, 12345);
	refuse(b, 16, 0, "", NULL, "a CancelRequest for no client");
	/* bad parameter lists */
	static const char no_term[] = "user\0postgres\0database\0postgres"; /* no final NUL */
	n = startup_raw(b, no_term, sizeof no_term);
	refuse(b, n, 0, PV, BAD_STARTUP, "startup without the final terminator");
	static const char no_value[] = "user\0postgres\0database\0";
	n = startup_raw(b, no_value, sizeof no_value - 1);
	refuse(b, n, 0, PV, BAD_STARTUP, "a parameter name without a value");
	static const char twice[] = "user\0postgres\0user\0admin\0";
	n = startup_raw(b, twice, sizeof twice);
	refuse(b, n, 0, PV, BAD_STARTUP, "user given twice");
	static const char empty_user[] = "user\0\0database\0postgres\0";
	n = startup_raw(b, empty_user, sizeof empty_user);
	refuse(b, n, 0, PV, BAD_STARTUP, "an empty user name");
	char long_user[128];
	memcpy(long_user, "user\0", 5);
	memset(long_user + 5, 'u', 64);
	memcpy(long_user + 69, "\0\0", 2);
	n = startup_raw(b, long_user, 71);
	refuse(b, n, 0, PV, BAD_STARTUP, "a user name of 64 bytes");
	size_t k = 8 + (size_t)snprintf((char *)b + 8, sizeof b - 8, "user") + 1;
	k += (size_t)snprintf((char *)b + k, sizeof b - k, "postgres") + 1;
	for (int i = 0; i < 69; i++) { /* 70 parameters: over the limit of 64 */
		k += (size_t)snprintf((char *)b + k, sizeof b - k, "p%d", i) + 1;
		k += (size_t)snprintf((char *)b + k, sizeof b - k, "v") + 1;
	}
	b[k++] = '\0';
	header(b, (uint32_t)k, WIRE_PROTOCOL_3);
	refuse(b, k, 0, PV, BAD_STARTUP, "70 startup parameters");
	static const char repl[] = "user\0postgres\0replication\0database\0";
	n = startup_raw(b, repl, sizeof repl);
	refuse(b, n, 0, "0A000", "replication connections are not supported",
	       "replication=database");
	/* options: -c name=value and --name=value are settings; any other switch is refused */
	static const char opts[] = "user\0postgres\0options\0-c work_mem=1GB -e\0";
	n = startup_raw(b, opts, sizeof opts);
	refuse(b, n, 0, "0A000", "startup option \"-e\" is not supported by pglane", "options=-e");
	static const char unknown[] = "user\0postgres\0nosuch_setting\0on\0";
	n = startup_raw(b, unknown, sizeof unknown);
	refuse(b, n, 0, "42704", "unrecognized configuration parameter \"nosuch_setting\"",
	       "an unknown start-up parameter");
	/* the boundary: exactly 10000 bytes, a padding parameter (a placeholder setting, as
	 * PostgreSQL takes any name with a dot), is a valid login */
	static const char head[] = "user\0postgres\0database\0postgres\0pglane.pad\0";
	memcpy(b + 8, head, sizeof head - 1);
	memset(b + 8 + sizeof head - 1, 'p', 10000 - 8 - (sizeof head - 1) - 2);
	b[9998] = '\0';
	b[9999] = '\0';
	header(b, 10000, WIRE_PROTOCOL_3);
	int fd = it_tcp_connect(it_pglane_current()->port);
	cr_assert(wire_send(fd, b, 10000));
	struct wire_reply *r = malloc(sizeof *r);
	cr_assert(r);
	r->len = 0;
	wire_read_some(fd, 9, 5000, r);
	close(fd);
	cr_expect_eq(wire_message_at(r, 0, NULL, 0, NULL, 0, NULL), 'R',
	             "a startup packet of exactly 10000 bytes was not taken (%zu bytes came)",
	             r->len);
	free(r);
	still_serving("bad startup packets");
}

IT_TEST(abuse, encryption_requests)
{
	start_abuse(NULL, 0);
	g_cases = 0;
	/* 10,000 SSLRequests in one write: 'N', 'N', then the third is refused */
	size_t n = 10000 * 8;
	uint8_t *many = malloc(n);
	cr_assert(many);
	for (size_t i = 0; i < 10000; i++)
		wire_request(many + 8 * i, WIRE_SSL_REQUEST);
	int fd = it_tcp_connect(it_pglane_current()->port);
	g_cases++;
	wire_send(fd, many, n);
	struct wire_reply *r = malloc(sizeof *r);
	cr_assert(r);
	wire_read_reply(fd, 5000, r);
	close(fd);
	cr_expect(r->closed, "10,000 SSLRequests: still open after 5 s");
	cr_expect(r->len >= 2 && r->data[0] == 'N' && r->data[1] == 'N',
	          "10,000 SSLRequests: the first two answers are not 'N' 'N'");
	char st[16], msg[256];
	cr_expect_eq(wire_message_at(r, 2, st, sizeof st, msg, sizeof msg, NULL), 'E',
	             "10,000 SSLRequests: no ErrorResponse after two answers (%zu bytes)", r->len);
	cr_expect_str_eq(st, PV, "%s", msg);
	cr_expect(strstr(msg, "too many encryption requests"), "%s", msg);
	free(many);
	/* GSSENCRequest twice, then an SSLRequest: the same limit over both kinds */
	uint8_t b[64];
	wire_request(b, WIRE_GSSENC);
	wire_request(b + 8, WIRE_GSSENC);
	wire_request(b + 16, WIRE_SSL_REQUEST);
	refuse(b, 24, 2, PV, "too many encryption requests", "GSSENC, GSSENC, SSL");
	/* three SSLRequests, each in its own write */
	fd = it_tcp_connect(it_pglane_current()->port);
	r->len = 0;
	for (int i = 0; i < 2; i++) {
		wire_send(fd, b + 16, 8);
		wire_read_some(fd, (size_t)i + 1, 2000, r);
	}
	refuse_fd(fd, b + 16, 8, PV, "too many encryption requests", "three SSLRequests apart");
	cr_expect(r->len >= 2 && r->data[0] == 'N' && r->data[1] == 'N',
	          "separate SSLRequests: %zu answers before the refusal", r->len);
	/* an SSLRequest with TLS off, then a StartupMessage: a normal login */
	fd = it_tcp_connect(it_pglane_current()->port);
	static const char *const kv[] = {"user", "postgres", "database", "postgres"};
	uint8_t s[128];
	size_t sn = wire_startup(s, sizeof s, kv, 2);
	wire_send(fd, b + 16, 8);
	r->len = 0;
	wire_read_some(fd, 1, 5000, r);
	wire_send(fd, s, sn);
	wire_read_some(fd, 10, 5000, r);
	close(fd);
	cr_expect(r->len > 1 && r->data[0] == 'N', "SSLRequest with TLS off: not 'N'");
	cr_expect_eq(wire_message_at(r, 1, NULL, 0, NULL, 0, NULL), 'R',
	             "the login after 'N' got no AuthenticationOk");
	free(r);
	still_serving("encryption requests");
}

/* ---- SCRAM ---- */

/* Read until a whole message is at r->data + *at; its type ('\0' on timeout or close), body in
 * *body (borrowed from r) and *len. *at moves past it. */
static char next_msg(int fd, struct wire_reply *r, size_t *at, const uint8_t **body, size_t *len)
{
	for (;;) {
		if (r->len >= *at + 5) {
			uint32_t l;
			memcpy(&l, r->data + *at + 1, 4);
			l = ntohl(l);
			if (l >= 4 && r->len >= *at + 1 + l) {
				char type = (char)r->data[*at];
				*body = r->data + *at + 5;
				*len = l - 4;
				*at += 1 + l;
				return type;
			}
		}
		size_t before = r->len;
		wire_read_some(fd, r->len + 1, 5000, r);
		if (r->len == before)
			return '\0';
	}
}

/* Expect an AuthenticationRequest with `code`; its data (NUL-terminated copy) into `out`. */
static void expect_auth(int fd, struct wire_reply *r, size_t *at, int code, char *out, size_t cap)
{
	const uint8_t *body;
	size_t len;
	char type = next_msg(fd, r, at, &body, &len);
	cr_assert_eq(type, 'R', "expected AuthenticationRequest %d, got '%c'", code,
	             type ? type : '-');
	uint32_t c;
	cr_assert_geq(len, 4u);
	memcpy(&c, body, 4);
	cr_assert_eq((int)ntohl(c), code, "AuthenticationRequest %d, expected %d", (int)ntohl(c),
	             code);
	if (out) {
		size_t k = len - 4 < cap - 1 ? len - 4 : cap - 1;
		memcpy(out, body + 4, k);
		out[k] = '\0';
	}
}

/* Log in as scram_user up to AuthenticationSASL; the reply buffer is kept in *r. */
static int sasl_start(struct wire_reply *r, size_t *at)
{
	int fd = it_tcp_connect(it_pglane_current()->port);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	static const char *const kv[] = {"user", "scram_user", "database", "postgres"};
	uint8_t s[128];
	size_t sn = wire_startup(s, sizeof s, kv, 2);
	cr_assert(wire_send(fd, s, sn));
	r->len = 0;
	*at = 0;
	char mechs[128];
	expect_auth(fd, r, at, 10, mechs, sizeof mechs);
	cr_assert_str_eq(mechs, "SCRAM-SHA-256", "offered: %s", mechs);
	return fd;
}

/* A SASLInitialResponse body: mechanism (with its NUL unless `no_nul`), a length field of
 * `declared`, then `data`. */
static size_t sasl_initial(uint8_t *out, size_t cap, const char *mech, bool no_nul,
                           int32_t declared, const char *data)
{
	uint8_t body[2048];
	size_t k = strlen(mech) + (no_nul ? 0 : 1);
	memcpy(body, mech, k);
	put32(body + k, (uint32_t)declared);
	k += 4;
	size_t dn = strlen(data);
	memcpy(body + k, data, dn);
	k += dn;
	return wire_msg(out, cap, 'p', body, k);
}

#define CLIENT_FIRST "n,,n=,r=abuseclientnonce0123456789"

IT_TEST(abuse, sasl_initial_response)
{
	start_abuse(NULL, 0);
	g_cases = 0;
	struct wire_reply *r = malloc(sizeof *r);
	cr_assert(r);
	size_t at;
	uint8_t b[4096];
	const char *cf = CLIENT_FIRST;
	int cfn = (int)strlen(cf);
	static const struct {
		const char *what, *mech;
		bool no_nul;
		int delta; /* declared length - real length (INT32_MIN: -2 as is) */
		const char *data, *state, *text;
	} cases[] = {
	        {"data length -2", "SCRAM-SHA-256", false, INT32_MIN, CLIENT_FIRST, PV,
	         BAD_SASL_INITIAL},
	        {"data length 1000 bytes over", "SCRAM-SHA-256", false, 1000, CLIENT_FIRST, PV,
	         BAD_SASL_INITIAL},
	        {"data length 1 short", "SCRAM-SHA-256", false, -1, CLIENT_FIRST, PV,
	         BAD_SASL_INITIAL},
	        {"no NUL after the mechanism", "SCRAM-SHA-256", true, 0, CLIENT_FIRST, PV,
	         BAD_SASL_INITIAL},
	        {"mechanism SCRAM-SHA-1", "SCRAM-SHA-1", false, 0, CLIENT_FIRST, PV,
	         "client selected an invalid SASL authentication mechanism"},
	        {"mechanism SCRAM-SHA-256-PLUS", "SCRAM-SHA-256-PLUS", false, 0,
	         "p=tls-server-end-point,,n=,r=abc", PV,
	         "client selected an invalid SASL authentication mechanism"},
	        {"empty mechanism", "", false, 0, CLIENT_FIRST, PV,
	         "client selected an invalid SASL authentication mechanism"},
	        {"client-first without r=", "SCRAM-SHA-256", false, 0, "n,,n=,", PV, BAD_SCRAM},
	        {"client-first without n,,", "SCRAM-SHA-256", false, 0, "n=,r=abuseclientnonce", PV,
	         BAD_SCRAM},
	        {"client-first with channel binding", "SCRAM-SHA-256", false, 0,
	         "p=tls-server-end-point,,n=,r=abuseclientnonce", PV, BAD_SCRAM},
	        {"client-first with an authzid", "SCRAM-SHA-256", false, 0,
	         "n,a=admin,n=,r=abuseclientnonce", PV, BAD_SCRAM},
	        {"client-first with a mandatory extension", "SCRAM-SHA-256", false, 0,
	         "n,,m=ext,n=,r=abuseclientnonce", PV, BAD_SCRAM},
	        {"client-first with an empty nonce", "SCRAM-SHA-256", false, 0, "n,,n=,r=", PV,
	         BAD_SCRAM},
	        {"empty client-first", "SCRAM-SHA-256", false, 0, "", PV, BAD_SCRAM},
	};
	(void)cfn;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int fd = sasl_start(r, &at);
		int32_t declared = cases[i].delta == INT32_MIN
		                           ? -2
		                           : (int32_t)strlen(cases[i].data) + cases[i].delta;
		size_t n = sasl_initial(b, sizeof b, cases[i].mech, cases[i].no_nul, declared,
		                        cases[i].data);
		refuse_fd(fd, b, n, cases[i].state, cases[i].text, cases[i].what);
	}
	/* a 300-character nonce, and a client-first over the 1024-byte SCRAM limit */
	char big[1500];
	snprintf(big, sizeof big, "n,,n=,r=");
	memset(big + 8, 'q', 300);
	big[308] = '\0';
	int fd = sasl_start(r, &at);
	size_t n = sasl_initial(b, sizeof b, "SCRAM-SHA-256", false, (int32_t)strlen(big), big);
	refuse_fd(fd, b, n, PV, BAD_SCRAM, "a 300-character client nonce");
	memset(big + 8, 'q', 1400);
	big[1408] = '\0';
	fd = sasl_start(r, &at);
	n = sasl_initial(b, sizeof b, "SCRAM-SHA-256", false, (int32_t)strlen(big), big);
	refuse_fd(fd, b, n, PV, BAD_SCRAM, "a 1400-byte client-first");
	/* a password message where the SASLInitialResponse belongs */
	fd = sasl_start(r, &at);
	n = wire_msg(b, sizeof b, 'p', "scram_pw", 9);
	refuse_fd(fd, b, n, PV, BAD_SASL_INITIAL, "a password message instead of SCRAM");
	/* other messages, lengths and packets during authentication */
	fd = sasl_start(r, &at);
	n = wire_msg(b, sizeof b, 'Q', "SELECT 1", 9);
	refuse_fd(fd, b, n, PV, NOT_AUTH, "a Query during authentication");
	fd = sasl_start(r, &at);
	b[0] = 'p';
	put32(b + 1, 8193);
	refuse_fd(fd, b, 5, PV, AUTH_LEN, "a message of 8193 bytes during authentication");
	fd = sasl_start(r, &at);
	put32(b + 1, 3);
	refuse_fd(fd, b, 5, PV, AUTH_LEN, "a message length of 3 during authentication");
	fd = sasl_start(r, &at);
	/* read as a typed message: type 0, and a length of 41 * 256 (over the 8192 allowed) */
	static const char *const kv[] = {"user", "postgres", "database", "postgres"};
	n = wire_startup(b, sizeof b, kv, 2);
	cr_assert_eq(n, 41u);
	refuse_fd(fd, b, n, PV, AUTH_LEN, "a second StartupMessage during authentication");
	free(r);
	still_serving("SASLInitialResponse abuse");
}

/* The client-first of CLIENT_FIRST sent; the server's full nonce into `nonce`. */
static int sasl_to_final(struct wire_reply *r, size_t *at, char *nonce, size_t cap)
{
	int fd = sasl_start(r, at);
	uint8_t b[512];
	size_t n = sasl_initial(b, sizeof b, "SCRAM-SHA-256", false, (int32_t)strlen(CLIENT_FIRST),
	                        CLIENT_FIRST);
	cr_assert(wire_send(fd, b, n));
	char sf[1100];
	expect_auth(fd, r, at, 11, sf, sizeof sf);
	cr_assert_eq(strncmp(sf, "r=abuseclientnonce0123456789", 28), 0, "server-first: %s", sf);
	const char *comma = strchr(sf, ',');
	cr_assert(comma);
	snprintf(nonce, cap, "%.*s", (int)(comma - sf - 2), sf + 2);
	return fd;
}

/* `fmt` with @N@ replaced by `nonce`. */
static void with_nonce(char *out, size_t cap, const char *fmt, const char *nonce)
{
	const char *at = strstr(fmt, "@N@");
	if (at)
		snprintf(out, cap, "%.*s%s%s", (int)(at - fmt), fmt, nonce, at + 3);
	else
		snprintf(out, cap, "%s", fmt);
}

#define ZERO_PROOF "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

IT_TEST(abuse, sasl_final_response)
{
	start_abuse(NULL, 0);
	g_cases = 0;
	struct wire_reply *r = malloc(sizeof *r);
	cr_assert(r);
	size_t at;
	char nonce[600], text[2048];
	uint8_t b[4096];
	static const struct {
		const char *what, *fmt; /* @N@: the server's nonce */
		const char *state, *text;
	} cases[] = {
	        {"a wrong proof", "c=biws,r=@N@,p=" ZERO_PROOF, "28P01",
	         "password authentication failed for user \"scram_user\""},
	        {"a nonce not the server's", "c=biws,r=@N@X,p=" ZERO_PROOF, PV, BAD_SCRAM},
	        {"the client's nonce only", "c=biws,r=abuseclientnonce0123456789,p=" ZERO_PROOF "",
	         PV, BAD_SCRAM},
	        {"proof in bad base64", "c=biws,r=@N@,p=!!!!notbase64!!!!", PV, BAD_SCRAM},
	        {"proof of 31 bytes",
	         "c=biws,r=@N@,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", PV, BAD_SCRAM},
	        {"proof without padding",
	         "c=biws,r=@N@,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", PV, BAD_SCRAM},
	        {"no proof", "c=biws,r=@N@", PV, BAD_SCRAM},
	        {"channel binding of 'y'", "c=eSws,r=@N@,p=" ZERO_PROOF, PV, BAD_SCRAM},
	        {"attributes out of order", "r=@N@,c=biws,p=" ZERO_PROOF, PV, BAD_SCRAM},
	        {"an extra attribute", "c=biws,r=@N@,p=" ZERO_PROOF ",x=1", PV, BAD_SCRAM},
	        {"garbage", "\x01\x02\x03", PV, BAD_SCRAM},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int fd = sasl_to_final(r, &at, nonce, sizeof nonce);
		with_nonce(text, sizeof text, cases[i].fmt, nonce);
		size_t n = wire_msg(b, sizeof b, 'p', text, strlen(text));
		refuse_fd(fd, b, n, cases[i].state, cases[i].text, cases[i].what);
	}
	/* a password message, and a second SASLInitialResponse, where the client-final belongs */
	int fd = sasl_to_final(r, &at, nonce, sizeof nonce);
	size_t n = wire_msg(b, sizeof b, 'p', "scram_pw", 9);
	refuse_fd(fd, b, n, PV, BAD_SCRAM, "a password message instead of the client-final");
	fd = sasl_to_final(r, &at, nonce, sizeof nonce);
	n = sasl_initial(b, sizeof b, "SCRAM-SHA-256", false, (int32_t)strlen(CLIENT_FIRST),
	                 CLIENT_FIRST);
	refuse_fd(fd, b, n, PV, BAD_SCRAM, "a second SASLInitialResponse");
	fd = sasl_to_final(r, &at, nonce, sizeof nonce);
	n = wire_msg(b, sizeof b, 'p', NULL, 0);
	refuse_fd(fd, b, n, PV, BAD_SCRAM, "an empty client-final");
	free(r);
	still_serving("client-final abuse");
}

/* ---- after login ---- */

IT_TEST(abuse, packets_after_login)
{
	struct it_pglane *p = start_abuse(NULL, 0);
	g_cases = 0;
	static const char *const kv[] = {"user", "postgres", "database", "postgres"};
	uint8_t b[128];
	size_t n = wire_startup(b, sizeof b, kv, 2);
	struct rawpg *c = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	refuse_fd(dup(c->fd), b, n, PV, "invalid frontend message type 0",
	          "a second StartupMessage after login");
	rawpg_vanish(c);
	uint32_t codes[] = {WIRE_SSL_REQUEST, WIRE_GSSENC, WIRE_CANCEL};
	const char *names[] = {"an SSLRequest after login", "a GSSENCRequest after login",
	                       "a CancelRequest packet inside a session"};
	for (int i = 0; i < 3; i++) {
		c = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
		uint8_t req[16];
		header(req, codes[i] == WIRE_CANCEL ? 16 : 8, codes[i]);
		put32(req + 8, 1);
		put32(req + 12, 2);
		refuse_fd(dup(c->fd), req, codes[i] == WIRE_CANCEL ? 16 : 8, PV,
		          "invalid frontend message type 0", names[i]);
		rawpg_vanish(c);
	}
	/* a session that did nothing wrong is untouched by all that */
	c = rawpg_connect(p->port, "postgres", "postgres", NULL, 0);
	char *v = rawpg_query_value(c, "SELECT 'fine'");
	cr_expect_str_eq(v, "fine");
	free(v);
	rawpg_close(c);
	still_serving("packets after login");
}

/* ---- slow and many logins ---- */

/* Send `bytes` one every 200 ms until pglane closes; the answer into r. The milliseconds from
 * `t0` to the close, or -1 when it stayed open (3 s after the last byte). */
static int64_t trickle(int fd, const uint8_t *bytes, size_t n, int64_t t0, struct wire_reply *r)
{
	r->len = 0;
	r->closed = false;
	for (size_t i = 0; i < n && !r->closed; i++) {
		if (!wire_send(fd, bytes + i, 1))
			break;
		int64_t until = it_now_ms() + 200;
		while (!r->closed && it_now_ms() < until)
			wire_read_some(fd, r->len + 1, (int)(until - it_now_ms()), r);
	}
	if (!r->closed)
		wire_read_some(fd, 0, 3000, r);
	return r->closed ? it_now_ms() - t0 : -1;
}

static void expect_login_timeout(const struct wire_reply *r, int64_t took, size_t skip,
                                 const char *what)
{
	g_cases++;
	cr_expect(took >= 900 && took <= 2500,
	          "%s: closed after %lld ms (-1: never), expected ~1 s", what, (long long)took);
	char st[16], msg[256];
	char type = wire_message_at(r, skip, st, sizeof st, msg, sizeof msg, NULL);
	cr_expect_eq(type, 'E', "%s: no ErrorResponse before the close (%zu bytes)", what, r->len);
	cr_expect_str_eq(st, PV, "%s: %s", what, msg);
	cr_expect(strstr(msg, "client_login_timeout"), "%s: %s", what, msg);
}

IT_TEST(abuse, slowloris_logins)
{
	start_abuse("client_login_timeout = \"1s\";", 0);
	g_cases = 0;
	struct wire_reply *r = malloc(sizeof *r);
	cr_assert(r);
	/* the startup packet, one byte every 200 ms (8 s for all of it) */
	static const char *const kv[] = {"user", "postgres", "database", "postgres"};
	uint8_t b[256];
	size_t n = wire_startup(b, sizeof b, kv, 2);
	int64_t t0 = it_now_ms();
	int fd = it_tcp_connect(it_pglane_current()->port);
	/* others log in meanwhile */
	PGconn *other = it_connect("postgres", NULL, "postgres");
	cr_expect_eq(it_query_ll(other, "SELECT 1"), 1);
	int64_t took = trickle(fd, b, n, t0, r);
	close(fd);
	expect_login_timeout(r, took, 0, "a startup packet at 5 bytes per second");
	/* the SASLInitialResponse, one byte every 200 ms, after a prompt startup */
	size_t at;
	fd = sasl_start(r, &at);
	t0 = it_now_ms() - 10;
	n = sasl_initial(b, sizeof b, "SCRAM-SHA-256", false, (int32_t)strlen(CLIENT_FIRST),
	                 CLIENT_FIRST);
	took = trickle(fd, b, n, t0, r);
	close(fd);
	expect_login_timeout(r, took, 0, "a SASLInitialResponse at 5 bytes per second");
	/* an SSLRequest, then nothing */
	fd = it_tcp_connect(it_pglane_current()->port);
	t0 = it_now_ms();
	uint8_t req[8];
	wire_request(req, WIRE_SSL_REQUEST);
	wire_send(fd, req, 8);
	wire_read_reply(fd, 3000, r);
	took = r->closed ? it_now_ms() - t0 : -1;
	close(fd);
	cr_expect(r->len >= 1 && r->data[0] == 'N', "SSLRequest not answered 'N'");
	expect_login_timeout(r, took, 1, "silence after an SSLRequest");
	cr_expect_eq(it_query_ll(other, "SELECT 2"), 2, "the logged-in client was dropped");
	PQfinish(other);
	free(r);
	still_serving("slowloris logins");
}

#define HALF_OPEN     1200
#define LOGINS_PER_IP 1000

IT_TEST(abuse, half_open_logins_per_address, .timeout = 90)
{
	/* the harness raised the soft limit to the hard one (65536 at most) for pglane and us */
	start_abuse(NULL, 0);
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	int count = HALF_OPEN;
	if (rl.rlim_cur < HALF_OPEN + 100) {
		count = (int)rl.rlim_cur - 100;
		cr_log_warn("RLIMIT_NOFILE is %llu: %d half-open logins instead of %d",
		            (unsigned long long)rl.rlim_cur, count, HALF_OPEN);
	}
	if (count <= LOGINS_PER_IP)
		cr_skip_test("RLIMIT_NOFILE %llu is too low to pass the limit of %d",
		             (unsigned long long)rl.rlim_cur, LOGINS_PER_IP);
	PGconn *established = it_connect("postgres", NULL, "postgres");
	int *fds = calloc((size_t)count, sizeof *fds);
	char *state = calloc((size_t)count, 1); /* 0 open, 1 refused as expected, 2 other */
	cr_assert(fds && state);
	for (int i = 0; i < count; i++)
		fds[i] = it_tcp_connect(it_pglane_current()->port);
	/* the ones over the limit are refused at once, the others wait */
	int want = count - LOGINS_PER_IP, refused = 0, other = 0;
	char first_msg[320] = "";
	int64_t deadline = it_now_ms() + 10000;
	while (refused + other < want && it_now_ms() < deadline) {
		for (int i = 0; i < count; i++) {
			if (state[i])
				continue;
			struct wire_reply one;
			one.len = 0;
			wire_read_some(fds[i], 0, 0, &one);
			if (one.len == 0 && !one.closed)
				continue;
			wire_read_some(fds[i], 0, 2000, &one); /* the rest, up to the close */
			char st[16], msg[256];
			char type = wire_message_at(&one, 0, st, sizeof st, msg, sizeof msg, NULL);
			bool ok = one.closed && type == 'E' && strcmp(st, "53300") == 0 &&
			          strstr(msg,
			                 "too many connections from this address are logging in");
			state[i] = ok ? 1 : 2;
			ok ? refused++ : other++;
			if (!first_msg[0])
				snprintf(first_msg, sizeof first_msg, "%c %s %s", type ? type : '-',
				         st, msg);
		}
		it_sleep_ms(50);
	}
	g_cases = 1;
	it_sleep_ms(300);
	int late = 0; /* no more than `want` may be refused */
	for (int i = 0; i < count; i++) {
		struct wire_reply one;
		one.len = 0;
		if (!state[i]) {
			wire_read_some(fds[i], 0, 0, &one);
			late += one.len > 0 || one.closed;
		}
	}
	cr_expect_eq(refused, want, "%d of %d logins refused as expected, %d otherwise (first: %s)",
	             refused, count, other, first_msg);
	cr_expect_eq(other + late, 0, "%d connections closed otherwise, %d more later", other,
	             late);
	/* the established client goes on; a new login is refused while the limit is reached */
	cr_expect_eq(it_query_ll(established, "SELECT 3"), 3);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            NULL);
	PGconn *c = it_connect_try(ci);
	cr_expect(strstr(it_conn_error(c), "53300"), "a new login at the limit: %s",
	          it_conn_error(c));
	PQfinish(c);
	for (int i = 0; i < count; i++)
		close(fds[i]);
	free(fds);
	free(state);
	/* the pending logins are forgotten when they hang up: logins work again */
	bool ok = false;
	for (int i = 0; i < 100 && !ok; i++) {
		c = it_connect_try(ci);
		ok = PQstatus(c) == CONNECTION_OK;
		PQfinish(c);
		if (!ok)
			it_sleep_ms(50);
	}
	cr_expect(ok, "logins still refused 5 s after the half-open ones hung up");
	PQfinish(established);
	still_serving("1200 half-open logins");
}

/* ---- the admin console and the HTTP port ---- */

/* `bytes` to the HTTP port: 400 or a close, within 6 s. */
static void http_garbage(int http, const void *bytes, size_t n, const char *what)
{
	g_cases++;
	char *head = NULL;
	int64_t t0 = it_now_ms();
	int st = adminq_http(http, bytes, n, 8000, &head, NULL);
	cr_expect(st == 400 || st == 0, "%s: answered %d: %s", what, st, head ? head : "");
	cr_expect_lt(it_now_ms() - t0, 6000, "%s: took %lld ms", what,
	             (long long)(it_now_ms() - t0));
	free(head);
}

/* `pkt` (a startup-phase packet) on a console session, padded to the length its bytes 1-4
 * spell as a typed message, then a Sync: ErrorResponse 08P01, ReadyForQuery, and the console
 * still answers. */
/* A startup-phase packet on a logged-in console session: its first byte is read as the
 * message type (0), which the console refuses at once (FATAL 08P01), as the relay does. */
static void console_type0(int port, const uint8_t *pkt, size_t n, const char *what)
{
	g_cases++;
	struct rawpg *c = rawpg_connect(port, "admin", "pglane", NULL, 0);
	cr_assert(wire_send(c->fd, pkt, n));
	struct rawpg_msg m = rawpg_next(c, 5000);
	char st[8] = "", text[256] = "";
	rawpg_error_fields(&m, st, sizeof st, text, sizeof text);
	cr_expect_eq(m.type, 'E', "%s: answered '%c'", what, m.type);
	cr_expect_str_eq(st, PV, "%s: %s", what, text);
	cr_expect(strstr(text, "invalid frontend message type 0"), "%s: %s", what, text);
	cr_expect(it_wait_closed(c->fd, 3000), "%s: the connection stays open", what);
	rawpg_close(c);
}

IT_TEST(abuse, admin_console_and_http_garbage)
{
	int http = it_http_port();
	struct it_pglane *p = start_abuse(NULL, http);
	g_cases = 0;
	int64_t deadline = it_now_ms() + 5000;
	while (adminq_http_get(http, "/healthz", NULL) != 200 && it_now_ms() < deadline)
		it_sleep_ms(20);
	/* Packets of the startup phase after login: type 0, refused from the type byte alone
	 * (as the relay does, see packets_after_login). */
	static const char *const kv[] = {"user", "admin", "database", "pglane"};
	uint8_t b[128];
	size_t n = wire_startup(b, sizeof b, kv, 2);
	console_type0(p->port, b, n, "console: a second StartupMessage");
	wire_request(b, WIRE_SSL_REQUEST);
	console_type0(p->port, b, 8, "console: an SSLRequest");
	struct rawpg *c;
	/* 64 KB of noise that starts with an unknown message type */
	size_t big = 64 * 1024;
	uint8_t *noise = malloc(big);
	cr_assert(noise);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < big; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		noise[i] = (uint8_t)x;
	}
	noise[0] = 0xfe;
	c = rawpg_connect(p->port, "admin", "pglane", NULL, 0);
	refuse_fd(dup(c->fd), noise, big, PV, "invalid frontend message type 254",
	          "console: 64 KB of noise");
	rawpg_vanish(c);
	/* a Terminate with a body, and a Query without its terminator */
	c = rawpg_connect(p->port, "admin", "pglane", NULL, 0);
	n = wire_msg(b, sizeof b, 'Q', "SHOW", 4);
	g_cases++;
	cr_assert(wire_send(c->fd, b, n));
	struct rawpg_msg m = rawpg_next(c, 5000);
	cr_expect_eq(m.type, 'E', "console: a Query without NUL answered '%c'", m.type);
	rawpg_close(c);
	PGconn *a = adminq_connect("admin");
	char *v = it_query_str(a, "SHOW VERSION");
	cr_expect_eq(strncmp(v, "pglane", 6), 0, "the console after garbage: %s", v);
	free(v);
	PQfinish(a);
	/* the HTTP port: a PostgreSQL client, a TLS client, and noise without NUL or line end */
	n = wire_startup(b, sizeof b, kv, 2);
	http_garbage(http, b, n, "HTTP port: a StartupMessage");
	wire_request(b, WIRE_SSL_REQUEST);
	http_garbage(http, b, 8, "HTTP port: an SSLRequest");
	memset(noise, 'z', big);
	http_garbage(http, noise, big, "HTTP port: 64 KB without a line end");
	free(noise);
	cr_expect_eq(adminq_http_get(http, "/healthz", NULL), 200, "/healthz after the garbage");
	still_serving("console and HTTP garbage");
}
