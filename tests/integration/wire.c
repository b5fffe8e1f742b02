/* tests/integration/wire.c — raw startup-phase bytes and bounded reads of what pglane answers
 * (see wire.h). */
#include "tests/integration/wire.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define REFUSAL_WAIT_MS 5000

static void put_u32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return ntohl(v);
}

size_t wire_startup(uint8_t *out, size_t cap, const char *const *kv, size_t n)
{
	size_t len = 8;
	for (size_t i = 0; i < 2 * n; i++) {
		size_t k = strlen(kv[i]) + 1;
		if (len + k + 1 > cap)
			return 0;
		memcpy(out + len, kv[i], k);
		len += k;
	}
	out[len++] = '\0';
	put_u32(out, (uint32_t)len);
	put_u32(out + 4, WIRE_PROTOCOL_3);
	return len;
}

void wire_request(uint8_t out[8], uint32_t code)
{
	put_u32(out, 8);
	put_u32(out + 4, code);
}

size_t wire_msg(uint8_t *out, size_t cap, char type, const void *body, size_t n)
{
	if (n + 5 > cap)
		return 0;
	out[0] = (uint8_t)type;
	put_u32(out + 1, (uint32_t)n + 4);
	if (n)
		memcpy(out + 5, body, n);
	return n + 5;
}

bool wire_send(int fd, const void *buf, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t w = send(fd, (const char *)buf + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		off += (size_t)w;
	}
	return true;
}

void wire_read_some(int fd, size_t want, int timeout_ms, struct wire_reply *r)
{
	int64_t start = it_now_ms(), deadline = start + timeout_ms;
	r->closed = false;
	while (r->len < want || want == 0) {
		int64_t left = deadline - it_now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int k = poll(&p, 1, left > 0 ? (int)left : 0); /* one look even when time is up */
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (left <= 0)
				break;
			continue;
		}
		uint8_t sink[4096];
		uint8_t *to = r->len < sizeof r->data ? r->data + r->len : sink;
		size_t room = r->len < sizeof r->data ? sizeof r->data - r->len : sizeof sink;
		ssize_t got = recv(fd, to, room, 0);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0) {
			r->closed = true;
			break;
		}
		if (to != sink)
			r->len += (size_t)got;
	}
	r->took_ms = it_now_ms() - start;
}

void wire_read_reply(int fd, int timeout_ms, struct wire_reply *r)
{
	r->len = 0;
	wire_read_some(fd, 0, timeout_ms, r);
}

char wire_message_at(const struct wire_reply *r, size_t skip, char *sqlstate, size_t sn, char *msg,
                     size_t mn, size_t *next)
{
	if (sqlstate && sn)
		sqlstate[0] = '\0';
	if (msg && mn)
		msg[0] = '\0';
	if (r->len < skip + 5)
		return '\0';
	const uint8_t *m = r->data + skip;
	uint32_t len = get_u32(m + 1);
	if (len < 4 || len > r->len - skip - 1)
		return '\0';
	if (next)
		*next = skip + 1 + len;
	if (m[0] == 'E' || m[0] == 'N') {
		/* fields: a code byte, a NUL-terminated value; a zero byte ends them */
		const uint8_t *p = m + 5, *end = m + 1 + len;
		while (p < end && *p) {
			char code = (char)*p++;
			const uint8_t *nul = memchr(p, '\0', (size_t)(end - p));
			if (!nul)
				break;
			if (code == 'C' && sqlstate)
				snprintf(sqlstate, sn, "%s", (const char *)p);
			if (code == 'M' && msg)
				snprintf(msg, mn, "%s", (const char *)p);
			p = nul + 1;
		}
	}
	return (char)m[0];
}

void wire_expect_refusal_fd(int fd, const void *bytes, size_t n, size_t skip, const char *sqlstate,
                            const char *text, const char *what)
{
	if (n)
		wire_send(fd, bytes, n); /* pglane may close before all of it arrives */
	struct wire_reply *r = malloc(sizeof *r);
	cr_assert(r);
	wire_read_reply(fd, REFUSAL_WAIT_MS, r);
	close(fd);
	cr_expect(r->closed, "%s: the connection is still open after %d ms (%zu bytes came)", what,
	          REFUSAL_WAIT_MS, r->len);
	if (sqlstate && !*sqlstate) {
		cr_expect_eq(r->len, skip, "%s: %zu bytes came before the close, expected %zu",
		             what, r->len, skip);
	} else if (sqlstate) {
		char st[16], msg[512];
		char type = wire_message_at(r, skip, st, sizeof st, msg, sizeof msg, NULL);
		cr_expect_eq(type, 'E', "%s: the answer is '%c' (%zu bytes), not an ErrorResponse",
		             what, type ? type : '-', r->len);
		cr_expect_str_eq(st, sqlstate, "%s: SQLSTATE %s (%s), expected %s", what, st, msg,
		                 sqlstate);
		if (text)
			cr_expect(strstr(msg, text), "%s: message \"%s\", expected \"%s\"", what,
			          msg, text);
	}
	free(r);
}

void wire_expect_refusal(int port, const void *bytes, size_t n, size_t skip, const char *sqlstate,
                         const char *text, const char *what)
{
	wire_expect_refusal_fd(it_tcp_connect(port), bytes, n, skip, sqlstate, text, what);
}

void wire_still_serving(const char *after, int cases)
{
	cr_assert(it_pglane_alive(), "pglane died after %s", after);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "postgres", NULL, "postgres",
	            NULL);
	PGconn *c = it_connect_try(ci);
	cr_expect_eq(PQstatus(c), CONNECTION_OK, "after %s: %s", after, it_conn_error(c));
	if (PQstatus(c) == CONNECTION_OK)
		cr_expect_eq(it_query_ll(c, "SELECT 6 * 7"), 42, "after %s", after);
	PQfinish(c);
	cr_log_info("%s: %d cases, pglane still serving", after, cases);
}
