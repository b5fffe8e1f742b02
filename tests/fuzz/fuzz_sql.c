/* tests/fuzz/fuzz_sql.c — libFuzzer target for protocol/sql's statement scanner: what a
 * client's SQL text does to its session, as pglane reads it on the way to a server.
 *
 * Input: a flags byte (1: standard_conforming_strings off; 2: the text ends with a NUL, as a
 * Query's does), then the text (in a block of its exact size).
 *
 * Checked: only known effect bits; settings named are non-empty, lower-case, NUL-terminated
 * and fewer than PROTO_SQL_MAX_SETTINGS; a DEALLOCATE names its statement; the fast path
 * (one ordinary statement told apart without lexing) never says "nothing" where the lexed
 * scan finds something, and both agree whenever the fast path is not taken; the lane hint
 * reader stays within its buffer; the transaction-end reader (a failed block's COMMIT or
 * ROLLBACK, proxy/lost.c) stays within the text and gives a known kind. */
#include <string.h>

#include "protocol/sql.h"
#include "tests/fuzz/fuzz.h"

#define ALL_EFFECTS                                                                                \
	(PROTO_SQL_SETS | PROTO_SQL_SETS_ANY | PROTO_SQL_PINS | PROTO_SQL_PINS_ANY |               \
	 PROTO_SQL_UNPIN | PROTO_SQL_DROPS_STMTS | PROTO_SQL_SETS_UNNAMED)

static void check_info(const struct proto_sql_info *i)
{
	FUZZ_CHECK((i->effects & ~(unsigned)ALL_EFFECTS) == 0);
	FUZZ_CHECK(i->nsettings <= PROTO_SQL_MAX_SETTINGS);
	FUZZ_CHECK((i->nsettings > 0) == ((i->effects & PROTO_SQL_SETS) != 0));
	if (i->effects & PROTO_SQL_SETS_UNNAMED)
		FUZZ_CHECK(i->effects & PROTO_SQL_SETS_ANY);
	for (unsigned k = 0; k < i->nsettings; k++) {
		size_t n = strnlen(i->settings[k], PROTO_SQL_SETTING_LEN);
		FUZZ_CHECK(n > 0 && n < PROTO_SQL_SETTING_LEN);
		for (size_t j = 0; j < n; j++)
			FUZZ_CHECK(!(i->settings[k][j] >= 'A' && i->settings[k][j] <= 'Z'));
	}
	FUZZ_CHECK(i->kind == PROTO_SQL_OTHER || i->kind == PROTO_SQL_DISCARD_ALL ||
	           i->kind == PROTO_SQL_DEALLOCATE_ALL || i->kind == PROTO_SQL_DEALLOCATE);
	if (i->kind == PROTO_SQL_DEALLOCATE) {
		size_t n = strnlen(i->name, sizeof(i->name));
		FUZZ_CHECK(n > 0 && n < sizeof(i->name));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t flags = fuzz_byte(&in);
	bool backslash = flags & 1;
	size_t len;
	char *text = (char *)fuzz_rest(&in, &len);
	if (flags & 2) { /* ending with its NUL, as a Query's text: the fast path's vector search */
		char *t = realloc(text, len + 1);
		if (!t)
			abort();
		text = t;
		text[len++] = '\0';
	}
	static struct proto_sql_info fast, lexed;
	proto_sql_scan(text, len, backslash, &fast);
	proto_sql_scan_lexed(text, len, backslash, &lexed);
	check_info(&fast);
	check_info(&lexed);
	if (fast.effects == 0 && fast.kind == PROTO_SQL_OTHER) {
		/* the fast path may have said "nothing": the lexer must agree */
		FUZZ_CHECK(lexed.effects == 0 && lexed.kind == PROTO_SQL_OTHER);
	} else {
		FUZZ_CHECK(fast.effects == lexed.effects && fast.kind == lexed.kind &&
		           fast.nsettings == lexed.nsettings);
	}
	char lane[32];
	memset(lane, 0x5A, sizeof(lane));
	if (proto_sql_lane_hint(text, len, lane, 16))
		FUZZ_CHECK(strnlen(lane, 16) < 16);
	for (size_t i = 16; i < sizeof(lane); i++)
		FUZZ_CHECK(lane[i] == 0x5A);
	enum proto_sql_txn_end end = proto_sql_txn_end(text, len);
	FUZZ_CHECK(end == PROTO_SQL_TXN_NONE || end == PROTO_SQL_TXN_COMMIT ||
	           end == PROTO_SQL_TXN_ROLLBACK || end == PROTO_SQL_TXN_SAVEPOINT);
	free(text);
	return 0;
}
