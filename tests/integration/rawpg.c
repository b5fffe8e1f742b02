/* tests/integration/rawpg.c — the raw v3-protocol test client (see rawpg.h): login with trust,
 * messages built with protocol/'s writer into a growing output buffer, replies framed with
 * protocol/'s framer, reads with a timeout, and checks of message sequences. */
#include "tests/integration/rawpg.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/buf.h"
#include "protocol/frame.h"
#include "protocol/msg.h"
#include "protocol/startup.h"
#include "tests/integration/harness.h"

#define RAWPG_MAX_MESSAGE (64u << 20)

static int64_t now_ms(void)
{
	return it_now_ms();
}

/* ---- connection ---- */

static int tcp_connect(int port, char *err, size_t errn)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errn, "socket: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		snprintf(err, errn, "connect 127.0.0.1:%d: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void rawpg_free(struct rawpg *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

/* Make room for `n` more bytes of output. */
static void out_reserve(struct rawpg *c, size_t n)
{
	if (c->out_cap - c->out_len >= n)
		return;
	size_t cap = c->out_cap ? c->out_cap : 4096;
	while (cap - c->out_len < n)
		cap *= 2;
	uint8_t *p = realloc(c->out, cap);
	if (!p)
		abort();
	c->out = p;
	c->out_cap = cap;
}

/* A writer over the free part of the output buffer (at least `need` bytes). */
static void out_writer(struct rawpg *c, struct proto_writer *w, size_t need)
{
	out_reserve(c, need);
	proto_writer_init(w, c->out + c->out_len, c->out_cap - c->out_len);
}

static void out_commit(struct rawpg *c, struct proto_writer *w)
{
	if (!proto_writer_ok(w))
		abort(); /* the reserve was computed from the message's own sizes */
	c->out_len += w->len;
}

struct rawpg *rawpg_connect_try(int port, const char *user, const char *database,
                                const char **extra, size_t n, char *err, size_t errn)
{
	struct rawpg *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, errn, "out of memory");
		return NULL;
	}
	c->who = "rawpg";
	c->in_cap = 16384;
	c->in = malloc(c->in_cap);
	if (!c->in)
		abort();
	c->fd = tcp_connect(port, err, errn);
	if (c->fd < 0) {
		rawpg_free(c);
		return NULL;
	}
	struct proto_startup_param params[8];
	size_t np = 0, need = 64 + strlen(user) + strlen(database);
	for (size_t i = 0; i < n && np < 8; i++, np++) {
		params[np].name = extra[2 * i];
		params[np].value = extra[2 * i + 1];
		need += strlen(params[np].name) + strlen(params[np].value) + 2;
	}
	struct proto_writer w;
	out_writer(c, &w, need);
	proto_write_startup(&w, user, database, params, np);
	out_commit(c, &w);
	if (!rawpg_flush_out(c)) {
		snprintf(err, errn, "sending the startup packet failed");
		rawpg_free(c);
		return NULL;
	}
	int64_t deadline = now_ms() + RAWPG_TIMEOUT_MS;
	for (;;) {
		struct rawpg_msg m;
		int left = (int)(deadline - now_ms());
		enum rawpg_read_result r = rawpg_read(c, left > 0 ? left : 0, &m);
		if (r != RAWPG_OK) {
			snprintf(err, errn, "login: %s",
			         r == RAWPG_TIMEOUT  ? "no ReadyForQuery in time"
			         : r == RAWPG_CLOSED ? "connection closed"
			                             : "malformed message");
			rawpg_free(c);
			return NULL;
		}
		if (m.type == PROTO_BE_ERROR) {
			snprintf(err, errn, "login refused: %s %s", c->sqlstate, c->error);
			rawpg_free(c);
			return NULL;
		}
		if (m.type == PROTO_BE_AUTH) {
			int32_t code;
			const uint8_t *data;
			size_t dlen;
			if (!proto_parse_auth(m.body, m.len, &code, &data, &dlen) ||
			    code != PROTO_AUTH_OK) {
				snprintf(err, errn, "login asks for authentication %d (trust only)",
				         (int)code);
				rawpg_free(c);
				return NULL;
			}
		}
		if (m.type == PROTO_BE_READY)
			return c;
	}
}

struct rawpg *rawpg_connect(int port, const char *user, const char *database, const char **extra,
                            size_t n)
{
	char err[512];
	struct rawpg *c = rawpg_connect_try(port, user, database, extra, n, err, sizeof err);
	cr_assert(c, "rawpg: %s@%s on 127.0.0.1:%d: %s", user, database, port, err);
	return c;
}

void rawpg_close(struct rawpg *c)
{
	if (!c)
		return;
	c->out_len = 0;
	struct proto_writer w;
	out_writer(c, &w, 16);
	proto_write_terminate(&w);
	out_commit(c, &w);
	rawpg_flush_out(c);
	rawpg_free(c);
}

void rawpg_vanish(struct rawpg *c)
{
	if (!c)
		return;
	shutdown(c->fd, SHUT_RDWR);
	rawpg_free(c);
}

const char *rawpg_param(const struct rawpg *c, const char *name)
{
	for (size_t i = 0; i < c->nparams; i++)
		if (strcmp(c->param_name[i], name) == 0)
			return c->param_value[i];
	return NULL;
}

/* ---- building messages ---- */

void rawpg_parse(struct rawpg *c, const char *name, const char *sql)
{
	struct proto_writer w;
	out_writer(c, &w, 16 + strlen(name) + strlen(sql));
	proto_begin(&w, PROTO_FE_PARSE);
	proto_put_cstr(&w, name);
	proto_put_cstr(&w, sql);
	proto_put_i16(&w, 0);
	proto_end(&w);
	out_commit(c, &w);
}

void rawpg_bind(struct rawpg *c, const char *portal, const char *stmt, const char *const *params,
                size_t n)
{
	size_t need = 32 + strlen(portal) + strlen(stmt);
	for (size_t i = 0; i < n; i++)
		need += 4 + (params[i] ? strlen(params[i]) : 0);
	struct proto_writer w;
	out_writer(c, &w, need);
	proto_begin(&w, PROTO_FE_BIND);
	proto_put_cstr(&w, portal);
	proto_put_cstr(&w, stmt);
	proto_put_i16(&w, 0); /* every parameter in text */
	proto_put_i16(&w, (int16_t)n);
	for (size_t i = 0; i < n; i++) {
		if (!params[i]) {
			proto_put_i32(&w, -1);
			continue;
		}
		size_t len = strlen(params[i]);
		proto_put_i32(&w, (int32_t)len);
		proto_put_bytes(&w, params[i], len);
	}
	proto_put_i16(&w, 0); /* every result column in text */
	proto_end(&w);
	out_commit(c, &w);
}

void rawpg_describe(struct rawpg *c, char kind, const char *name)
{
	struct proto_writer w;
	out_writer(c, &w, 16 + strlen(name));
	proto_begin(&w, PROTO_FE_DESCRIBE);
	proto_put_u8(&w, (uint8_t)kind);
	proto_put_cstr(&w, name);
	proto_end(&w);
	out_commit(c, &w);
}

void rawpg_execute(struct rawpg *c, const char *portal)
{
	struct proto_writer w;
	out_writer(c, &w, 16 + strlen(portal));
	proto_begin(&w, PROTO_FE_EXECUTE);
	proto_put_cstr(&w, portal);
	proto_put_i32(&w, 0);
	proto_end(&w);
	out_commit(c, &w);
}

void rawpg_close_msg(struct rawpg *c, char kind, const char *name)
{
	struct proto_writer w;
	out_writer(c, &w, 16 + strlen(name));
	proto_begin(&w, PROTO_FE_CLOSE);
	proto_put_u8(&w, (uint8_t)kind);
	proto_put_cstr(&w, name);
	proto_end(&w);
	out_commit(c, &w);
}

void rawpg_sync(struct rawpg *c)
{
	struct proto_writer w;
	out_writer(c, &w, 16);
	proto_write_sync(&w);
	out_commit(c, &w);
}

void rawpg_flush(struct rawpg *c)
{
	rawpg_raw(c, PROTO_FE_FLUSH, NULL, 0);
}

void rawpg_query(struct rawpg *c, const char *sql)
{
	struct proto_writer w;
	out_writer(c, &w, 16 + strlen(sql));
	proto_write_query(&w, sql);
	out_commit(c, &w);
}

void rawpg_raw(struct rawpg *c, char type, const void *body, size_t len)
{
	struct proto_writer w;
	out_writer(c, &w, 16 + len);
	proto_begin(&w, (uint8_t)type);
	if (len)
		proto_put_bytes(&w, body, len);
	proto_end(&w);
	out_commit(c, &w);
}

void rawpg_bind_exec(struct rawpg *c, const char *stmt, const char *param)
{
	const char *params[1] = {param};
	rawpg_bind(c, "", stmt, params, param ? 1 : 0);
	rawpg_execute(c, "");
}

bool rawpg_flush_out(struct rawpg *c)
{
	size_t off = 0;
	int64_t deadline = now_ms() + RAWPG_TIMEOUT_MS;
	c->rows = 0;
	while (off < c->out_len) {
		ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && now_ms() < deadline) {
			struct pollfd p = {.fd = c->fd, .events = POLLOUT};
			poll(&p, 1, 100);
			continue;
		}
		c->out_len = 0;
		return false;
	}
	c->out_len = 0;
	return true;
}

void rawpg_send(struct rawpg *c)
{
	size_t n = c->out_len;
	cr_assert(rawpg_flush_out(c), "%s: sending %zu bytes failed: %s", c->who, n,
	          strerror(errno));
}

/* ---- reading ---- */

static void copy_text(char *dst, size_t n, const uint8_t *p, size_t len)
{
	if (len >= n)
		len = n - 1;
	memcpy(dst, p, len);
	dst[len] = '\0';
}

bool rawpg_row_value(const struct rawpg_msg *m, int col, char *buf, size_t n)
{
	if (m->type != PROTO_BE_DATA_ROW)
		return false;
	struct proto_reader r;
	proto_reader_init(&r, m->body, m->len);
	int16_t ncols = proto_get_i16(&r);
	if (r.failed || col < 0 || col >= ncols)
		return false;
	for (int i = 0; i <= col; i++) {
		int32_t len = proto_get_i32(&r);
		if (r.failed)
			return false;
		const uint8_t *p = NULL;
		if (len > 0) {
			p = proto_get_bytes(&r, (size_t)len);
			if (!p)
				return false;
		}
		if (i == col) {
			if (len < 0)
				snprintf(buf, n, "NULL");
			else
				copy_text(buf, n, p ? p : (const uint8_t *)"", (size_t)len);
		}
	}
	return true;
}

bool rawpg_error_fields(const struct rawpg_msg *m, char *sqlstate, size_t sn, char *msg, size_t mn)
{
	struct proto_error e;
	if ((m->type != PROTO_BE_ERROR && m->type != PROTO_BE_NOTICE) ||
	    !proto_parse_error(m->body, m->len, &e))
		return false;
	snprintf(sqlstate, sn, "%s", e.sqlstate ? e.sqlstate : "");
	snprintf(msg, mn, "%s", e.message ? e.message : "");
	return true;
}

/* Remember what a message says about the session. */
static void note_message(struct rawpg *c, const struct rawpg_msg *m)
{
	switch (m->type) {
	case PROTO_BE_READY:
		c->tx_status = m->len == 1 ? (char)m->body[0] : '?';
		break;
	case PROTO_BE_ERROR:
		if (!rawpg_error_fields(m, c->sqlstate, sizeof c->sqlstate, c->error,
		                        sizeof c->error)) {
			snprintf(c->sqlstate, sizeof c->sqlstate, "?????");
			snprintf(c->error, sizeof c->error, "malformed ErrorResponse");
		}
		break;
	case PROTO_BE_DATA_ROW:
		c->rows++;
		if (!rawpg_row_value(m, 0, c->value, sizeof c->value))
			snprintf(c->value, sizeof c->value, "(no column)");
		break;
	case PROTO_BE_COMMAND_COMPLETE:
		copy_text(c->tag, sizeof c->tag, m->body, m->len ? m->len - 1 : 0);
		break;
	case PROTO_BE_PARAM_STATUS: {
		const char *name, *value;
		if (!proto_parse_param_status(m->body, m->len, &name, &value))
			break;
		size_t i = 0;
		while (i < c->nparams && strcmp(c->param_name[i], name) != 0)
			i++;
		if (i == c->nparams) {
			if (c->nparams == RAWPG_MAX_PARAMS)
				break;
			c->nparams++;
		}
		snprintf(c->param_name[i], sizeof c->param_name[i], "%s", name);
		snprintf(c->param_value[i], sizeof c->param_value[i], "%s", value);
		break;
	}
	default:
		break;
	}
}

enum rawpg_read_result rawpg_read(struct rawpg *c, int timeout_ms, struct rawpg_msg *out)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		struct proto_frame f;
		enum proto_frame_result fr = proto_frame_next(
		        c->in + c->in_off, c->in_len - c->in_off, RAWPG_MAX_MESSAGE, &f);
		if (fr == PROTO_FRAME_BAD)
			return RAWPG_BAD;
		if (fr == PROTO_FRAME_OK) {
			out->type = (char)f.type;
			out->body = f.body;
			out->len = f.body_len;
			c->in_off += f.size;
			note_message(c, out);
			return RAWPG_OK;
		}
		/* Need more: keep the partial message at the front, make room, receive. */
		if (c->in_off) {
			memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		if (c->in_cap - c->in_len < 8192) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 16384;
			uint8_t *p = realloc(c->in, cap);
			if (!p)
				abort();
			c->in = p;
			c->in_cap = cap;
		}
		int64_t left = deadline - now_ms();
		if (left < 0)
			left = 0;
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			if (now_ms() >= deadline)
				return RAWPG_TIMEOUT;
			continue;
		}
		if (r < 0)
			return RAWPG_CLOSED;
		ssize_t got = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			return RAWPG_CLOSED;
		c->in_len += (size_t)got;
	}
}

static bool is_async(char type)
{
	return type == PROTO_BE_NOTICE || type == PROTO_BE_PARAM_STATUS ||
	       type == PROTO_BE_NOTIFICATION;
}

/* The next non-asynchronous message, never failing the test. */
static enum rawpg_read_result read_sync(struct rawpg *c, int timeout_ms, struct rawpg_msg *m)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int64_t left = deadline - now_ms();
		enum rawpg_read_result r = rawpg_read(c, left > 0 ? (int)left : 0, m);
		if (r != RAWPG_OK || !is_async(m->type))
			return r;
	}
}

static const char *result_name(enum rawpg_read_result r)
{
	switch (r) {
	case RAWPG_OK:
		return "ok";
	case RAWPG_TIMEOUT:
		return "timed out";
	case RAWPG_CLOSED:
		return "connection closed";
	case RAWPG_BAD:
		return "malformed message";
	}
	return "?";
}

struct rawpg_msg rawpg_next(struct rawpg *c, int timeout_ms)
{
	struct rawpg_msg m;
	enum rawpg_read_result r = read_sync(c, timeout_ms, &m);
	cr_assert_eq(r, RAWPG_OK, "%s: reading a message: %s after %d ms", c->who, result_name(r),
	             timeout_ms);
	return m;
}

/* "'E' (42601 syntax error at ...)" or "'D'" into buf. */
static void describe_msg(const struct rawpg *c, const struct rawpg_msg *m, char *buf, size_t n)
{
	if (m->type == PROTO_BE_ERROR)
		snprintf(buf, n, "'E' (%s %s)", c->sqlstate, c->error);
	else if (m->type == PROTO_BE_DATA_ROW)
		snprintf(buf, n, "'D' (%s)", c->value);
	else if (m->type == PROTO_BE_READY)
		snprintf(buf, n, "'Z' (%c)", c->tx_status);
	else
		snprintf(buf, n, "'%c'", m->type);
}

struct rawpg_msg rawpg_expect(struct rawpg *c, char type)
{
	struct rawpg_msg m = rawpg_next(c, RAWPG_TIMEOUT_MS);
	char what[400];
	describe_msg(c, &m, what, sizeof what);
	cr_assert_eq(m.type, type, "%s: expected '%c', got %s", c->who, type, what);
	return m;
}

bool rawpg_check_seq(struct rawpg *c, const char *types, int timeout_ms, char *why, size_t whyn)
{
	char seen[128] = "";
	size_t ns = 0;
	for (const char *t = types; *t; t++) {
		struct rawpg_msg m;
		enum rawpg_read_result r = read_sync(c, timeout_ms, &m);
		if (r != RAWPG_OK) {
			snprintf(why, whyn, "expected \"%s\", got \"%s\" then %s", types, seen,
			         result_name(r));
			return false;
		}
		if (ns + 1 < sizeof seen) {
			seen[ns++] = m.type;
			seen[ns] = '\0';
		}
		if (m.type != *t) {
			char what[400];
			describe_msg(c, &m, what, sizeof what);
			snprintf(why, whyn, "expected \"%s\", got \"%s\" (the last one %s)", types,
			         seen, what);
			return false;
		}
	}
	return true;
}

void rawpg_expect_seq(struct rawpg *c, const char *types)
{
	char why[600];
	bool ok = rawpg_check_seq(c, types, RAWPG_TIMEOUT_MS, why, sizeof why);
	cr_assert(ok, "%s: %s", c->who, why);
}

char rawpg_until_ready(struct rawpg *c)
{
	int64_t deadline = now_ms() + RAWPG_TIMEOUT_MS;
	for (;;) {
		struct rawpg_msg m;
		int64_t left = deadline - now_ms();
		enum rawpg_read_result r = rawpg_read(c, left > 0 ? (int)left : 0, &m);
		cr_assert_eq(r, RAWPG_OK, "%s: waiting for ReadyForQuery: %s", c->who,
		             result_name(r));
		if (m.type == PROTO_BE_READY)
			return c->tx_status;
	}
}

bool rawpg_quiet(struct rawpg *c, int ms)
{
	struct rawpg_msg m;
	enum rawpg_read_result r = rawpg_read(c, ms, &m);
	if (r == RAWPG_OK)
		cr_log_warn("%s: unexpected message '%c' (%zu bytes)", c->who, m.type, m.len);
	return r == RAWPG_TIMEOUT;
}

/* ---- whole exchanges ---- */

char *rawpg_query_value(struct rawpg *c, const char *sql)
{
	rawpg_query(c, sql);
	rawpg_send(c);
	char why[600];
	bool ok = rawpg_check_seq(c, "TDCZ", RAWPG_TIMEOUT_MS, why, sizeof why);
	cr_assert(ok, "%s: `%s`: %s", c->who, sql, why);
	char *v = strdup(c->value);
	cr_assert(v);
	return v;
}

void rawpg_prepare(struct rawpg *c, const char *name, const char *sql)
{
	rawpg_parse(c, name, sql);
	rawpg_sync(c);
	rawpg_send(c);
	char why[600];
	bool ok = rawpg_check_seq(c, "1Z", RAWPG_TIMEOUT_MS, why, sizeof why);
	cr_assert(ok, "%s: Parse(\"%s\", `%s`) Sync: %s", c->who, name, sql, why);
}

char *rawpg_exec_value(struct rawpg *c, const char *stmt, const char *param)
{
	rawpg_bind_exec(c, stmt, param);
	rawpg_sync(c);
	rawpg_send(c);
	char why[600];
	bool ok = rawpg_check_seq(c, "2DCZ", RAWPG_TIMEOUT_MS, why, sizeof why);
	cr_assert(ok, "%s: Bind(\"%s\", %s) Execute Sync: %s", c->who, stmt,
	          param ? param : "no parameter", why);
	char *v = strdup(c->value);
	cr_assert(v);
	return v;
}

const char *rawpg_exec_error(struct rawpg *c, const char *stmt, const char *param)
{
	static char state[6];
	rawpg_bind_exec(c, stmt, param);
	rawpg_sync(c);
	rawpg_send(c);
	char why[600];
	bool ok = rawpg_check_seq(c, "EZ", RAWPG_TIMEOUT_MS, why, sizeof why);
	cr_assert(ok, "%s: Bind(\"%s\", %s) Execute Sync should fail: %s", c->who, stmt,
	          param ? param : "no parameter", why);
	snprintf(state, sizeof state, "%s", c->sqlstate);
	return state;
}
