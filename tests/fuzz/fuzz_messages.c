/* tests/fuzz/fuzz_messages.c — libFuzzer target for the message-body parsers of
 * protocol/msg.h and protocol/extended.h and the SQL readers of protocol/sql.h. The first byte
 * sets the size of the name buffers the SQL readers fill (1..80 bytes) and how much of the body
 * Bind "has arrived"; the rest is one message body, given to every parser in a block of its
 * exact size (ASan sees any read past it). Checks that every pointer handed out lies in the
 * body, strings end inside it, and sizes add up. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "protocol/extended.h"
#include "protocol/msg.h"
#include "protocol/sql.h"
#include "tests/fuzz/fuzz.h"

#define NAME_CAP_MAX 80

static const uint8_t *body;
static size_t body_len;

/* A NUL-terminated string handed out by a parser: inside the body. */
static void check_str(const char *s)
{
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(fuzz_inside(s, strlen(s) + 1, body, body_len));
}

static void check_opt_str(const char *s)
{
	if (s)
		check_str(s);
}

static void check_auth(void)
{
	int32_t code = 0;
	const uint8_t *data = NULL;
	size_t n = 0;
	if (!proto_parse_auth(body, body_len, &code, &data, &n))
		return;
	FUZZ_CHECK(body_len >= 4 && data == body + 4 && n == body_len - 4);
	if (code == PROTO_AUTH_MD5)
		FUZZ_CHECK(n == 4);
	if (code == PROTO_AUTH_OK || code == PROTO_AUTH_CLEARTEXT)
		FUZZ_CHECK(n == 0);
	if (code == PROTO_AUTH_SASL) {
		FUZZ_CHECK(n >= 2 && data[n - 1] == 0 && data[n - 2] == 0);
		(void)proto_sasl_has_mechanism(data, n, PROTO_SCRAM_MECHANISM);
		(void)proto_sasl_has_mechanism(data, n, "SCRAM-SHA-256-PLUS");
		(void)proto_sasl_has_mechanism(data, n, "");
	}
}

static void check_error(void)
{
	struct proto_error e;
	if (!proto_parse_error(body, body_len, &e)) {
		FUZZ_CHECK(!e.severity && !e.severity_nonlocal && !e.sqlstate && !e.message &&
		           !e.detail && !e.hint);
		return;
	}
	FUZZ_CHECK(body_len >= 1 && body[body_len - 1] == 0);
	check_opt_str(e.severity);
	check_opt_str(e.severity_nonlocal);
	check_opt_str(e.sqlstate);
	check_opt_str(e.message);
	check_opt_str(e.detail);
	check_opt_str(e.hint);
}

static void check_simple(void)
{
	const char *name = NULL, *value = NULL;
	if (proto_parse_param_status(body, body_len, &name, &value)) {
		check_str(name);
		check_str(value);
		FUZZ_CHECK(value + strlen(value) + 1 == (const char *)body + body_len);
	}
	int32_t pid, key;
	if (proto_parse_key_data(body, body_len, &pid, &key))
		FUZZ_CHECK(body_len == 8);
	uint8_t tx;
	if (proto_parse_ready(body, body_len, &tx))
		FUZZ_CHECK(body_len == 1 && (tx == 'I' || tx == 'T' || tx == 'E'));
	const char *pw = NULL;
	if (proto_parse_password(body, body_len, &pw)) {
		check_str(pw);
		FUZZ_CHECK(pw == (const char *)body && strlen(pw) + 1 == body_len);
	}
	const char *mech = NULL;
	const uint8_t *data = NULL;
	size_t n = 0;
	if (proto_parse_sasl_initial(body, body_len, &mech, &data, &n)) {
		check_str(mech);
		if (data) {
			FUZZ_CHECK(fuzz_inside(data, n, body, body_len));
			FUZZ_CHECK(data + n == body + body_len);
		} else {
			FUZZ_CHECK(n == 0);
		}
	}
}

/* The SQL readers on `sql` (`len` bytes, not NUL-terminated) with name buffers of `cap`. */
static void check_sql(const char *text, size_t len, size_t cap)
{
	static struct proto_sql_info info;
	proto_sql_scan(text, len, cap & 1, &info);
	FUZZ_CHECK(info.kind == PROTO_SQL_OTHER || info.kind == PROTO_SQL_DISCARD_ALL ||
	           info.kind == PROTO_SQL_DEALLOCATE_ALL || info.kind == PROTO_SQL_DEALLOCATE);
	if (info.kind == PROTO_SQL_DEALLOCATE)
		FUZZ_CHECK(strnlen(info.name, sizeof(info.name)) > 0 &&
		           strnlen(info.name, sizeof(info.name)) < sizeof(info.name));
	FUZZ_CHECK(info.nsettings <= PROTO_SQL_MAX_SETTINGS);

	char lane[NAME_CAP_MAX + 16];
	memset(lane, 0x5A, sizeof(lane));
	if (proto_sql_lane_hint(text, len, lane, cap)) {
		size_t n = strnlen(lane, cap);
		FUZZ_CHECK(n > 0 && n < cap);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(islower((unsigned char)lane[i]) ||
			           isdigit((unsigned char)lane[i]) || lane[i] == '_' ||
			           (unsigned char)lane[i] >= 0x80);
	}
	for (size_t i = cap; i < sizeof(lane); i++)
		FUZZ_CHECK(lane[i] == 0x5A);
}

static void check_extended(size_t avail, size_t cap)
{
	const char *name = NULL;
	size_t rest_off = 0;
	if (proto_parse_parse(body, body_len, &name, &rest_off)) {
		check_str(name);
		FUZZ_CHECK(name == (const char *)body && rest_off == strlen(name) + 1);
		FUZZ_CHECK(rest_off <= body_len);
		FUZZ_CHECK(strlen(name) <= PROTO_MAX_NAME);
		size_t text_len = 0;
		const char *text =
		        proto_sql_parse_text(body + rest_off, body_len - rest_off, &text_len);
		FUZZ_CHECK(text); /* a well-formed Parse holds a NUL-terminated query */
		FUZZ_CHECK(text == (const char *)body + rest_off && strlen(text) == text_len);
		check_sql(text, text_len, cap);
	}

	const char *portal = NULL, *statement = NULL;
	size_t names_end = 0;
	if (proto_parse_bind_names(body, avail, &portal, &statement, &names_end)) {
		check_str(portal);
		check_str(statement);
		FUZZ_CHECK(portal == (const char *)body);
		FUZZ_CHECK(statement == portal + strlen(portal) + 1);
		FUZZ_CHECK(names_end == strlen(portal) + strlen(statement) + 2);
		FUZZ_CHECK(names_end <= avail);
	}

	uint8_t kind = 0;
	if (proto_parse_target(body, body_len, &kind, &name)) {
		check_str(name);
		FUZZ_CHECK(kind == PROTO_DESCRIBE_STATEMENT || kind == PROTO_DESCRIBE_PORTAL);
		FUZZ_CHECK(name + strlen(name) + 1 == (const char *)body + body_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t sel = fuzz_byte(&in);
	size_t cap = 1 + (size_t)(sel % NAME_CAP_MAX);
	uint8_t *b = fuzz_rest(&in, &body_len);
	body = b;
	/* Bind read from its first bytes: all of it, or a prefix picked by the selector */
	size_t avail = sel & 0x80 ? body_len : body_len * (sel & 0x7F) / 0x7F;

	check_auth();
	check_error();
	check_simple();
	check_extended(avail, cap);
	check_sql((const char *)body, body_len, cap);

	free(b);
	body = NULL;
	return 0;
}
