/* tests/fuzz/fuzz_session.c — libFuzzer target for pool/session: settings sets built from
 * fuzzed start-up parameters and capture rows, the SQL that applies one set over another,
 * the capture query, and a client's session through captures.
 *
 * Input: a sequence of records, each an opcode byte then 16-bit-length-prefixed parts:
 *   0: start-up setting (name, value)
 *   1: a statement text the transaction ran (scanned: its effects are noted)
 *   2: a capture row (kind, name, value; an empty value part with bit 7 of the opcode is NULL)
 *   3: the capture ends: the session takes it
 *   4: DISCARD ALL answered by pglane
 *
 * Checked: the apply SQL from any set to any other lexes as complete tokens (no string left
 * open, so a value cannot escape its literal), is empty exactly when the sets are equal, and
 * applying a set over itself is nothing; the capture SQL lexes the same way; every set is
 * freed at the end (the count of live sets returns to where it was). */
#include <string.h>

#include "pool/session.h"
#include "protocol/sqllex.h"
#include "tests/fuzz/fuzz.h"

#define SQL_CAP   (1024 * 1024)
#define VALUE_MAX 1024 /* longer values are skipped: sizes are not what this target looks at */

static void check_sql_closed(const char *sql, size_t len)
{
	struct proto_lexer l;
	static struct proto_tok t;
	proto_lexer_init(&l, sql, len, false);
	int guard = 0;
	do {
		proto_lex(&l, &t);
		FUZZ_CHECK(!t.unterminated);
		FUZZ_CHECK(t.kind != PROTO_TOK_QIDENT);
		FUZZ_CHECK(!proto_tok_punct(&t, ';'));
	} while (t.kind != PROTO_TOK_END && ++guard < 1000000);
}

static char *cstr(struct fuzz_in *in)
{
	size_t n;
	uint8_t *p = fuzz_part(in, &n);
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	free(p);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	size_t alive = pool_settings_alive();
	static char sql[SQL_CAP];
	struct pool_session s;
	pool_session_init(&s);
	const struct pool_settings *backend = NULL;
	struct pool_dirty d = {0};
	struct pool_capture cap;
	bool capturing = false;
	static struct proto_sql_info info;
	for (int steps = 0; in.n > 0 && steps < 64; steps++) {
		uint8_t op = fuzz_byte(&in);
		switch (op & 7) {
		case 0: {
			char *name = cstr(&in), *value = cstr(&in);
			if (name[0] && strlen(name) < PROTO_SQL_SETTING_LEN && strlen(value) < VALUE_MAX)
				(void)pool_session_startup(&s, name, value);
			free(name);
			free(value);
			break;
		}
		case 1: {
			char *text = cstr(&in);
			proto_sql_scan(text, strlen(text), false, &info);
			pool_dirty_add(&d, &info);
			free(text);
			break;
		}
		case 2: {
			if (!capturing) {
				unsigned checks = pool_capture_checks(&d, s.pins, true);
				size_t n = pool_capture_sql(&d, checks, sql, sizeof(sql));
				FUZZ_CHECK(n != (size_t)-1);
				check_sql_closed(sql, n);
				pool_capture_begin(&cap, &d, checks, backend);
				pool_dirty_clear(&d);
				capturing = true;
			}
			char *k = cstr(&in), *name = cstr(&in), *value = cstr(&in);
			if (strlen(value) < VALUE_MAX)
				pool_capture_row(&cap, k, name,
				                 (op & 0x80) && !value[0] ? NULL : value, "app");
			free(k);
			free(name);
			free(value);
			break;
		}
		case 3:
			if (capturing && !cap.failed) {
				bool ok;
				(void)pool_session_captured(&s, &cap, &ok);
				pool_settings_assign(&backend, cap.settings);
			}
			if (capturing)
				pool_capture_discard(&cap);
			capturing = false;
			break;
		case 4:
			pool_session_discard_all(&s);
			break;
		default:
			break;
		}
		/* the backend is brought to the client's settings, and back */
		size_t n = pool_settings_apply_sql(s.current, backend, sql, sizeof(sql));
		FUZZ_CHECK(n != (size_t)-1);
		FUZZ_CHECK((n == 0) == (s.current == backend));
		check_sql_closed(sql, n);
		FUZZ_CHECK(pool_settings_apply_sql(backend, backend, sql, sizeof(sql)) == 0);
		n = pool_settings_apply_sql(backend, s.current, sql, sizeof(sql));
		FUZZ_CHECK(n != (size_t)-1);
		check_sql_closed(sql, n);
	}
	if (capturing)
		pool_capture_discard(&cap);
	pool_settings_put(backend);
	pool_session_free(&s);
	FUZZ_CHECK(pool_settings_alive() == alive);
	return 0;
}
