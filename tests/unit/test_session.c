/* tests/unit/test_session.c — pool/session: interned settings sets, the SQL that brings a
 * backend to a client's settings (resets before sets, role and session authorization in the
 * right order, quoting), the capture query and the reading of its rows, and a client's
 * session through tables of statements and the state they leave. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pool/session.h"
#include "protocol/sql.h"

static const struct pool_settings *make(const char *const *pairs, size_t n)
{
	const struct pool_settings *s = NULL;
	for (size_t i = 0; i + 1 < 2 * n; i += 2)
		cr_assert(pool_settings_set(&s, pairs[i], pairs[i + 1]));
	return s;
}

#define MAKE(...)                                                                                  \
	make((const char *const[]){__VA_ARGS__},                                                   \
	     sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *) / 2)

Test(session, sets_are_interned_and_counted)
{
	size_t before = pool_settings_alive();
	const struct pool_settings *a = MAKE("search_path", "x", "work_mem", "8MB");
	const struct pool_settings *b = MAKE("Work_Mem", "8MB", "SEARCH_PATH", "x");
	cr_assert_eq(a, b, "same content, same pointer");
	cr_assert_eq(pool_settings_count(a), 2);
	cr_assert_str_eq(pool_settings_name(a, 0), "search_path");
	cr_assert_str_eq(pool_settings_get(a, "work_mem"), "8MB");
	cr_assert_null(pool_settings_get(a, "nope"));
	cr_assert(pool_settings_set(&b, "work_mem", NULL));
	cr_assert_neq(a, b);
	cr_assert_eq(pool_settings_count(b), 1);
	cr_assert(pool_settings_set(&b, "search_path", NULL));
	cr_assert_null(b, "the empty set is NULL");
	const struct pool_settings *c = a;
	cr_assert(pool_settings_set(&c, "work_mem", "8MB")); /* no change: same reference */
	cr_assert_eq(c, a);
	pool_settings_put(a);
	cr_assert_eq(pool_settings_alive(), before);
}

struct apply_case {
	const char *want[8]; /* name, value pairs, NULL-terminated */
	const char *have[8];
	const char *sql;
};

static const struct pool_settings *from(const char *const *pairs)
{
	const struct pool_settings *s = NULL;
	for (size_t i = 0; pairs[i]; i += 2)
		cr_assert(pool_settings_set(&s, pairs[i], pairs[i + 1]));
	return s;
}

Test(session, apply_sql)
{
	static const struct apply_case cases[] = {
	        {{NULL}, {NULL}, ""},
	        {{"search_path", "a, \"B c\"", NULL},
	         {NULL},
	         "SELECT pg_catalog.set_config(E'search_path', E'a, \"B c\"', false)"},
	        {{NULL},
	         {"work_mem", "8MB", NULL},
	         "SELECT pg_catalog.set_config(E'work_mem', NULL, false)"},
	        /* a partial value lands on the default: reset, then set */
	        {{"datestyle", "ISO", NULL},
	         {"datestyle", "German, DMY", NULL},
	         "SELECT pg_catalog.set_config(E'datestyle', NULL, false), "
	         "pg_catalog.set_config(E'datestyle', E'ISO', false)"},
	        {{"a.b", "it's \\", NULL},
	         {NULL},
	         "SELECT pg_catalog.set_config(E'a.b', E'it''s \\\\', false)"},
	        /* back to the login user first, the role last */
	        {{"role", "r2", "work_mem", "1MB", NULL},
	         {"role", "r1", NULL},
	         "SELECT pg_catalog.set_config(E'role', NULL, false), "
	         "pg_catalog.set_config(E'work_mem', E'1MB', false), "
	         "pg_catalog.set_config(E'role', E'r2', false)"},
	        {{"role", "r1", "session_authorization", "bob", NULL},
	         {"role", "r1", NULL},
	         "SELECT pg_catalog.set_config(E'role', NULL, false), "
	         "pg_catalog.set_config(E'session_authorization', E'bob', false), "
	         "pg_catalog.set_config(E'role', E'r1', false)"},
	        {{"work_mem", "1MB", NULL},
	         {"session_authorization", "bob", "role", "r", NULL},
	         "SELECT pg_catalog.set_config(E'session_authorization', NULL, false), "
	         "pg_catalog.set_config(E'role', NULL, false), "
	         "pg_catalog.set_config(E'work_mem', E'1MB', false)"},
	        {{"x.a", "1", "x.c", "3", NULL},
	         {"x.b", "2", "x.c", "3", NULL},
	         "SELECT pg_catalog.set_config(E'x.a', E'1', false), "
	         "pg_catalog.set_config(E'x.b', NULL, false)"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct pool_settings *w = from(cases[k].want), *h = from(cases[k].have);
		char sql[1024];
		size_t n = pool_settings_apply_sql(w, h, sql, sizeof(sql));
		cr_assert_neq(n, (size_t)-1, "case %zu", k);
		cr_assert_str_eq(sql, cases[k].sql, "case %zu", k);
		cr_assert_eq(n, strlen(cases[k].sql));
		/* too small a buffer is an error, never a cut statement */
		if (n > 0)
			cr_assert_eq(pool_settings_apply_sql(w, h, sql, n), (size_t)-1, "case %zu",
			             k);
		pool_settings_put(w);
		pool_settings_put(h);
	}
}

static void dirty_of(struct pool_dirty *d, const char *sql)
{
	struct proto_sql_info info;
	proto_sql_scan(sql, strlen(sql), false, &info);
	pool_dirty_add(d, &info);
}

Test(session, capture_sql_named_full_and_pins)
{
	struct pool_dirty d = {0};
	char sql[2048];
	dirty_of(&d, "SET search_path = x");
	cr_assert_eq(pool_capture_sql(&d, 0, sql, sizeof(sql)), strlen(sql));
	cr_assert_str_eq(sql, "SELECT 's', E'search_path', "
	                      "pg_catalog.current_setting(E'search_path', true)");
	dirty_of(&d, "SELECT pg_advisory_lock(1)");
	unsigned checks = pool_capture_checks(&d, 0, true);
	cr_assert_eq(checks, POOL_PIN_LOCK);
	cr_assert_eq(pool_capture_checks(&d, 0, false), 0);
	pool_capture_sql(&d, checks, sql, sizeof(sql));
	cr_assert(strstr(sql, " UNION ALL SELECT 'p', 'advisory_lock', NULL WHERE EXISTS ("));
	dirty_of(&d, "RESET ALL");
	pool_capture_sql(&d, 0, sql, sizeof(sql));
	cr_assert(strstr(sql, "FROM pg_catalog.pg_settings WHERE source"));
	cr_assert_null(strstr(sql, "E'search_path'"), "full capture lists every name");
	pool_dirty_clear(&d);
	cr_assert_not(pool_dirty_pending(&d, 0, true));
	cr_assert_eq(pool_capture_sql(&d, 0, sql, sizeof(sql)), 0);
}

Test(session, dirty_pending_rules)
{
	struct pool_dirty d = {0};
	dirty_of(&d, "SELECT 1");
	cr_assert_not(pool_dirty_pending(&d, 0, true));
	dirty_of(&d, "CLOSE c");
	cr_assert_not(pool_dirty_pending(&d, 0, true), "nothing pinned: nothing to unpin");
	cr_assert(pool_dirty_pending(&d, POOL_PIN_HOLD, true));
	cr_assert_eq(pool_capture_checks(&d, POOL_PIN_HOLD | POOL_PIN_LOAD, true), POOL_PIN_HOLD);
	cr_assert_not(pool_dirty_pending(&d, POOL_PIN_HOLD, false), "allow: pins not looked for");
	pool_dirty_clear(&d);
	dirty_of(&d, "LISTEN x");
	cr_assert(pool_dirty_pending(&d, 0, true));
	cr_assert_not(pool_dirty_pending(&d, 0, false));
	pool_dirty_clear(&d);
	dirty_of(&d, "LOAD 'x'");
	cr_assert(pool_dirty_pending(&d, 0, true));
	cr_assert_eq(pool_capture_checks(&d, 0, true), 0, "LOAD has no check");
	pool_dirty_clear(&d);
	dirty_of(&d, "SET work_mem = 1");
	cr_assert(pool_dirty_pending(&d, 0, false), "settings are followed in every mode");
	pool_dirty_clear(&d);
	for (int i = 0; i < POOL_DIRTY_NAMES + 1; i++) {
		char sql[64];
		snprintf(sql, sizeof(sql), "SET x.n%d = 1", i);
		dirty_of(&d, sql);
	}
	cr_assert_eq(d.nnames, POOL_DIRTY_NAMES);
	cr_assert(d.effects & PROTO_SQL_SETS_ANY, "too many names: ask for all");
}

/* A transaction's statements, then the backend's answer as rows, then the session. */
struct row {
	const char *kind, *name, *value;
};

static unsigned capture(struct pool_session *s, const struct pool_settings **backend,
                        const char *sql, const struct row *rows, size_t nrows)
{
	struct pool_dirty d = {0};
	dirty_of(&d, sql);
	unsigned checks = pool_capture_checks(&d, s->pins, true);
	struct pool_capture cap;
	pool_capture_begin(&cap, &d, checks, *backend);
	for (size_t i = 0; i < nrows; i++)
		pool_capture_row(&cap, rows[i].kind, rows[i].name, rows[i].value, "app");
	cr_assert_not(cap.failed);
	bool ok;
	unsigned fresh = pool_session_captured(s, &cap, &ok);
	cr_assert(ok);
	pool_settings_assign(backend, cap.settings);
	pool_capture_discard(&cap);
	return fresh;
}

Test(session, a_session_through_statements)
{
	struct pool_session s;
	pool_session_init(&s);
	cr_assert(pool_session_startup(&s, "DateStyle", "ISO"));
	cr_assert(pool_session_startup(&s, "search_path", "app"));
	cr_assert_str_eq(pool_settings_get(s.current, "datestyle"), "ISO");
	const struct pool_settings *backend = pool_settings_ref(s.current);

	/* SET ROLE: named capture */
	static const struct row r1[] = {{"s", "role", "tenant"}};
	capture(&s, &backend, "SET ROLE tenant", r1, 1);
	cr_assert_str_eq(pool_settings_get(s.current, "role"), "tenant");
	cr_assert_str_eq(pool_settings_get(s.current, "search_path"), "app");

	/* a rolled-back SET: the backend says the old value */
	static const struct row r2[] = {{"s", "work_mem", "4MB"}};
	capture(&s, &backend, "BEGIN; SET work_mem = '64MB'; ROLLBACK", r2, 1);
	cr_assert_str_eq(pool_settings_get(s.current, "work_mem"), "4MB");

	/* RESET search_path: the full list lacks it; the start-up value comes back */
	static const struct row r3[] = {{"s", "DateStyle", "ISO, MDY"},
	                                {"s", "work_mem", "4MB"},
	                                {"s", "role", "tenant"},
	                                {"s", "session_authorization", "app"},
	                                {"s", "transaction_isolation", "read committed"}};
	capture(&s, &backend, "RESET search_path", r3, 5);
	cr_assert_str_eq(pool_settings_get(s.current, "search_path"), "app");
	cr_assert_str_eq(pool_settings_get(s.current, "datestyle"), "ISO, MDY");
	cr_assert_null(pool_settings_get(s.current, "session_authorization"), "the login user");
	cr_assert_null(pool_settings_get(s.current, "transaction_isolation"));
	cr_assert_null(pool_settings_get(backend, "search_path"), "the backend has none");
	char sql[512];
	cr_assert_gt(pool_settings_apply_sql(s.current, backend, sql, sizeof(sql)), 0);
	cr_assert_str_eq(sql, "SELECT pg_catalog.set_config(E'search_path', E'app', false)");

	/* RESET ROLE */
	static const struct row r4[] = {{"s", "role", "none"}};
	capture(&s, &backend, "SET ROLE NONE", r4, 1);
	cr_assert_null(pool_settings_get(s.current, "role"));

	/* pins: found, then gone */
	static const struct row r5[] = {{"p", "advisory_lock", NULL}};
	cr_assert_eq(capture(&s, &backend, "SELECT pg_advisory_lock(1)", r5, 1), POOL_PIN_LOCK);
	cr_assert_eq(s.pins, POOL_PIN_LOCK);
	cr_assert_eq(capture(&s, &backend, "SELECT 1", NULL, 0), 0);
	cr_assert_eq(s.pins, POOL_PIN_LOCK, "nothing looked for: still pinned");
	capture(&s, &backend, "SELECT pg_advisory_unlock(1)", NULL, 0);
	cr_assert_eq(s.pins, 0);
	cr_assert_eq(capture(&s, &backend, "LOAD 'auto_explain'", NULL, 0), POOL_PIN_LOAD);
	capture(&s, &backend, "DISCARD ALL; SELECT 1", r3, 3);
	cr_assert_eq(s.pins, POOL_PIN_LOAD, "a library stays loaded");

	pool_session_discard_all(&s);
	cr_assert_eq(s.current, s.startup);
	cr_assert_eq(s.pins, 0);
	pool_settings_put(backend);
	pool_session_free(&s);
}

Test(session, malformed_rows_fail_the_capture)
{
	struct pool_dirty d = {0};
	dirty_of(&d, "SET a.b = 1");
	struct pool_capture cap;
	pool_capture_begin(&cap, &d, 0, NULL);
	pool_capture_row(&cap, "x", "a.b", "1", "app");
	cr_assert(cap.failed);
	pool_capture_discard(&cap);
	pool_capture_begin(&cap, &d, 0, NULL);
	pool_capture_row(&cap, "s", "", "1", "app");
	cr_assert(cap.failed);
	pool_capture_discard(&cap);
	pool_capture_begin(&cap, &d, 0, NULL);
	pool_capture_row(&cap, "p", "no_such_pin", NULL, "app");
	cr_assert_not(cap.failed);
	cr_assert_eq(cap.pins, 0);
	pool_capture_discard(&cap);
}

Test(session, pin_names)
{
	char out[128];
	pool_pin_names(0, out, sizeof(out));
	cr_assert_str_eq(out, "");
	pool_pin_names(POOL_PIN_LOCK | POOL_PIN_LISTEN, out, sizeof(out));
	cr_assert_str_eq(out, "advisory_lock,listen");
	pool_pin_names(POOL_PIN_LOCK | POOL_PIN_LISTEN, out, 5);
	cr_assert_str_eq(out, "");
	cr_assert_str_eq(pool_pin_name(3), "prepared_statement");
}
