/* tests/unit/test_sql_effects.c — protocol/sql's proto_sql_scan(): tables of statement texts
 * and what they do to the session (the settings they name, pins, unpins), through quoting,
 * comments and multi-statement texts; ordinary statements do nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/sql.h"

struct effect_case {
	const char *sql;
	unsigned effects;
	const char *settings; /* the named settings, comma-separated, "" for none */
};

static void settings_text(const struct proto_sql_info *i, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (unsigned k = 0; k < i->nsettings; k++)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", k ? "," : "", i->settings[k]);
}

static void check_effects(const struct effect_case *cases, size_t n, bool backslash)
{
	for (size_t k = 0; k < n; k++) {
		struct proto_sql_info info;
		/* a copy of exactly its size: ASan sees any read past the end */
		size_t len = strlen(cases[k].sql);
		char *copy = malloc(len ? len : 1);
		cr_assert_not_null(copy);
		memcpy(copy, cases[k].sql, len);
		proto_sql_scan(copy, len, backslash, &info);
		free(copy);
		char got[600];
		settings_text(&info, got, sizeof(got));
		cr_expect_eq(info.effects, cases[k].effects,
		             "case %zu `%s`: effects 0x%x, want 0x%x", k, cases[k].sql,
		             info.effects, cases[k].effects);
		cr_expect_str_eq(got, cases[k].settings, "case %zu `%s`", k, cases[k].sql);
	}
}

#define CHECK(t)           check_effects((t), sizeof(t) / sizeof((t)[0]), false)
#define SETS               PROTO_SQL_SETS
#define ANY                PROTO_SQL_SETS_ANY
#define DISCARD_ALL_EFFECT (PROTO_SQL_SETS_ANY | PROTO_SQL_UNPIN | PROTO_SQL_DROPS_STMTS)

Test(sql_effects, ordinary_statements_do_nothing)
{
	static const struct effect_case cases[] = {
	        {"SELECT abalance FROM pgbench_accounts WHERE aid = 1;", 0, ""},
	        {"select 1", 0, ""},
	        {"UPDATE t SET a = 1 WHERE b = 2", 0, ""},
	        {"INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2", 0, ""},
	        {"BEGIN; UPDATE t SET x = 1; COMMIT;", 0, ""},
	        {"/* lane: olap */ SELECT count(*) FROM big", 0, ""},
	        {"SELECT 'set_config(''a'', ''b'', false)'", 0, ""},
	        {"SELECT $$ SET ROLE admin $$", 0, ""},
	        {"SELECT 1 -- ; SET ROLE admin", 0, ""},
	        {"SELECT 1 /* ; SET ROLE admin */", 0, ""},
	        {"SELECT \"set_config\" FROM t", 0, ""},
	        {"SELECT 'a;b', \"c;d\"; SELECT 2", 0, ""},
	        {"EXECUTE p(1)", 0, ""},
	        {"FETCH 1 FROM c", 0, ""},
	        {"SELECT pg_advisory_xact_lock(1)", 0, ""},
	        {"SELECT set_config('request.jwt', $1, true)", 0, ""},
	        {"SELECT set_config('a.b', 'c', 'on')", 0, ""},
	        {"SET LOCAL search_path = x", 0, ""},
	        {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", 0, ""},
	        {"SET CONSTRAINTS ALL DEFERRED", 0, ""},
	        {"BEGIN ISOLATION LEVEL SERIALIZABLE", 0, ""},
	        {"SELECT temperature FROM weather", 0, ""},
	        {"PREPARE TRANSACTION 'x'", 0, ""},
	        {"DISCARD PLANS", 0, ""},
	        {"CALL proc(1)", 0, ""},
	        {"", 0, ""},
	        {";", 0, ""},
	        {"-- nothing", 0, ""},
	};
	CHECK(cases);
}

Test(sql_effects, set_names_its_setting)
{
	static const struct effect_case cases[] = {
	        {"SET search_path = a, b", SETS, "search_path"},
	        {"set work_mem to '8MB'", SETS, "work_mem"},
	        {"SET SESSION statement_timeout = 5", SETS, "statement_timeout"},
	        {"SET \"DateStyle\" = 'German'", SETS, "datestyle"},
	        {"SET DateStyle TO ISO, MDY", SETS, "datestyle"},
	        {"SET myapp.tenant = '42'", SETS, "myapp.tenant"},
	        {"SET \"MyApp\".\"Tenant\" TO 1", SETS, "myapp.tenant"},
	        {"SET ROLE r1", SETS, "role"},
	        {"SET ROLE NONE", SETS, "role"},
	        {"SET SESSION AUTHORIZATION bob", SETS, "session_authorization,role"},
	        {"SET SESSION AUTHORIZATION DEFAULT", SETS, "session_authorization,role"},
	        {"SET TIME ZONE 'Asia/Tokyo'", SETS, "timezone"},
	        {"SET TIME ZONE 5", SETS, "timezone"},
	        {"SET NAMES 'LATIN1'", SETS, "client_encoding"},
	        {"SET SCHEMA 'x'", SETS, "search_path"},
	        {"SET XML OPTION DOCUMENT", SETS, "xmloption"},
	        {"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", SETS,
	         "default_transaction_isolation,default_transaction_read_only,"
	         "default_transaction_deferrable"},
	        {"BEGIN; SET search_path = x; SET work_mem = 1; COMMIT", SETS,
	         "search_path,work_mem"},
	        {"SET search_path = x; SET search_path = y", SETS, "search_path"},
	        {"  /* c */ -- d\n SeT  lock_timeout=1000", SETS, "lock_timeout"},
	        {"SELECT 1; SET role r", SETS, "role"},
	        {"SELECT set_config('lock_timeout', '1234ms', false)", SETS, "lock_timeout"},
	        {"select pg_catalog.set_config('Search_Path', 'x', false)", SETS, "search_path"},
	        {"SELECT set_config('a.b', $1, $2)", SETS, "a.b"},
	        {"SELECT set_config('a.b', 'x', 'off')", SETS, "a.b"},
	        {"SELECT set_config('a.b', f(1, (2)), false), 1", SETS, "a.b"},
	        {"WITH x AS (SELECT set_config('role', 'r', false)) SELECT * FROM x", SETS, "role"},
	};
	CHECK(cases);
}

Test(sql_effects, resets_and_unknown_names_are_any)
{
	static const struct effect_case cases[] = {
	        {"RESET search_path", ANY, ""},
	        {"RESET ALL", ANY, ""},
	        {"RESET ROLE", ANY, ""},
	        {"SET search_path TO DEFAULT", ANY, ""},
	        {"SET work_mem = default", ANY, ""},
	        {"SET TIME ZONE LOCAL", ANY, ""},
	        {"SET TIME ZONE DEFAULT", ANY, ""},
	        {"SET NAMES DEFAULT", ANY, ""},
	        {"SELECT set_config($1, 'x', false)", ANY, ""},
	        {"SELECT set_config(name, value, false) FROM t", ANY, ""},
	        {"SELECT set_config('a.b', 'x')", ANY, ""},
	        {"SELECT set_config('a.b'", ANY, ""},
	        {"SET", ANY, ""},
	        {"SET x", ANY, ""},
	        {"SET 'x' = 1", ANY, ""},
	        {"DO $$BEGIN PERFORM 1; END$$", ANY | PROTO_SQL_PINS_ANY, ""},
	        {"DISCARD ALL; SELECT 1", DISCARD_ALL_EFFECT, ""},
	        {"SET a1=1; SET a2=1; SET a3=1; SET a4=1; SET a5=1; SET a6=1; SET a7=1; SET a8=1;",
	         SETS, "a1,a2,a3,a4,a5,a6,a7,a8"},
	        {"SET a1=1; SET a2=1; SET a3=1; SET a4=1; SET a5=1; SET a6=1; SET a7=1; SET a8=1; "
	         "SET a9=1",
	         SETS | ANY, "a1,a2,a3,a4,a5,a6,a7,a8"},
	};
	CHECK(cases);
}

Test(sql_effects, state_that_pins)
{
	static const struct effect_case cases[] = {
	        {"SELECT pg_advisory_lock(1)", PROTO_SQL_LOCK, ""},
	        {"SELECT pg_catalog.pg_try_advisory_lock(1, 2)", PROTO_SQL_LOCK, ""},
	        {"select PG_ADVISORY_LOCK_SHARED(3)", PROTO_SQL_LOCK, ""},
	        {"SELECT pg_try_advisory_lock_shared($1)", PROTO_SQL_LOCK, ""},
	        {"CREATE TEMP TABLE t (a int)", PROTO_SQL_TEMP, ""},
	        {"create temporary table t as select 1", PROTO_SQL_TEMP, ""},
	        {"CREATE LOCAL TEMPORARY SEQUENCE s", PROTO_SQL_TEMP, ""},
	        {"CREATE OR REPLACE TEMP VIEW v AS SELECT 1", PROTO_SQL_TEMP, ""},
	        {"CREATE TABLE pg_temp.t (a int)", PROTO_SQL_TEMP, ""},
	        {"SELECT * INTO TEMP t FROM x", PROTO_SQL_TEMP, ""},
	        {"SELECT * INTO TEMPORARY TABLE t FROM x", PROTO_SQL_TEMP, ""},
	        {"DECLARE c CURSOR WITH HOLD FOR SELECT 1", PROTO_SQL_HOLD, ""},
	        {"BEGIN; DECLARE c NO SCROLL CURSOR WITH HOLD FOR SELECT 1; COMMIT", PROTO_SQL_HOLD,
	         ""},
	        {"PREPARE p(int) AS SELECT $1", PROTO_SQL_PREPARE, ""},
	        {"LISTEN chan", PROTO_SQL_LISTEN, ""},
	        {"LOAD 'auto_explain'", PROTO_SQL_LOAD, ""},
	        {"SELECT 1; LISTEN x; SELECT pg_advisory_lock(2)",
	         PROTO_SQL_LISTEN | PROTO_SQL_LOCK, ""},
	        {"/* lane: oltp */ listen \"Chan\"", PROTO_SQL_LISTEN, ""},
	};
	CHECK(cases);
}

Test(sql_effects, not_pins)
{
	static const struct effect_case cases[] = {
	        {"DECLARE c CURSOR FOR SELECT 1", 0, ""},
	        {"DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1", 0, ""},
	        {"DECLARE c CURSOR FOR WITH hold AS (SELECT 1) SELECT * FROM hold", 0, ""},
	        {"CREATE TABLE t (a int)", 0, ""},
	        {"CREATE FUNCTION f() RETURNS void AS $$ CREATE TEMP TABLE x(); $$ LANGUAGE sql", 0,
	         ""},
	        {"SELECT * INTO t FROM x", 0, ""},
	        {"SELECT 'temp'", 0, ""},
	        {"NOTIFY chan, 'x'", 0, ""},
	};
	CHECK(cases);
}

Test(sql_effects, what_may_unpin)
{
	static const struct effect_case cases[] = {
	        {"SELECT pg_advisory_unlock(1)", PROTO_SQL_UNPIN, ""},
	        {"SELECT pg_advisory_unlock_all()", PROTO_SQL_UNPIN, ""},
	        {"select pg_advisory_unlock_shared(1)", PROTO_SQL_UNPIN, ""},
	        {"CLOSE c", PROTO_SQL_UNPIN, ""},
	        {"CLOSE ALL", PROTO_SQL_UNPIN, ""},
	        {"UNLISTEN *", PROTO_SQL_UNPIN, ""},
	        {"DROP TABLE t", PROTO_SQL_UNPIN, ""},
	        {"DISCARD TEMP", PROTO_SQL_UNPIN, ""},
	        {"DEALLOCATE p", PROTO_SQL_UNPIN, ""},
	        {"DEALLOCATE ALL", PROTO_SQL_UNPIN | PROTO_SQL_DROPS_STMTS, ""},
	        {"DISCARD ALL", DISCARD_ALL_EFFECT, ""},
	};
	CHECK(cases);
}

/* Quoting that hides or shows a statement boundary. */
Test(sql_effects, quoting_and_boundaries)
{
	static const struct effect_case cases[] = {
	        {"SELECT 'it''s'; SET ROLE r", SETS, "role"},
	        {"SELECT E'a\\'; SET ROLE r; --'", 0, ""},
	        {"SELECT e'\\\\'; SET ROLE r", SETS, "role"},
	        {"SELECT \"a\"\"; SET ROLE r\"", 0, ""},
	        {"SELECT $tag$ ; SET ROLE r; $x$ $tag$; SET work_mem=1", SETS, "work_mem"},
	        {"SELECT $1; SET ROLE r", SETS, "role"},
	        {"SELECT a$b; SET ROLE r", SETS, "role"},
	        {"SELECT /* /* */ ; SET ROLE r */ 1", 0, ""},
	        {"SELECT 1 /* unterminated ; SET ROLE r", 0, ""},
	        {"SELECT 'unterminated ; SET ROLE r", 0, ""},
	        {"SELECT 1;\nSET ROLE r", SETS, "role"},
	        {"SELECT 1\n;SET ROLE r", SETS, "role"},
	        {"SELECT U&'\\0041'; SET ROLE r", SETS, "role"},
	};
	CHECK(cases);
}

/* standard_conforming_strings off: a backslash escapes the quote in an ordinary string. */
Test(sql_effects, backslash_quotes)
{
	static const struct effect_case off[] = {
	        {"SELECT 'a\\'; SET ROLE r; --'", 0, ""},
	        {"SELECT 'a\\\\'; SET ROLE r", SETS, "role"},
	};
	check_effects(off, sizeof(off) / sizeof(off[0]), true);
	static const struct effect_case on[] = {
	        {"SELECT 'a\\'; SET ROLE r; --'", SETS, "role"},
	};
	check_effects(on, sizeof(on) / sizeof(on[0]), false);
}

/* The fast path never says "nothing" where the scanner would say something: every text of
 * the tables above, cut at every length, agrees with a scan that starts past a leading
 * space (the fast path only looks at texts that start with a letter after comments). */
Test(sql_effects, cuts_agree_with_full_scan)
{
	static const char *const texts[] = {
	        "SELECT set_config('a', 'b', false)",
	        "SELECT 1; SET ROLE r",
	        "SELECT pg_advisory_lock(1)",
	        "SELECT * INTO TEMP t FROM x",
	        "select * from pg_temp.t",
	};
	for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
		size_t len = strlen(texts[k]);
		struct proto_sql_info whole;
		proto_sql_scan(texts[k], len, false, &whole);
		cr_assert_neq(whole.effects, 0, "`%s`", texts[k]);
		char buf[128];
		snprintf(buf, sizeof(buf), "(%s)", texts[k]); /* starts with '(': never fast */
		struct proto_sql_info slow;
		proto_sql_scan(buf, strlen(buf), false, &slow);
		cr_assert_eq(whole.effects & ~PROTO_SQL_SETS, slow.effects & ~PROTO_SQL_SETS,
		             "`%s`", texts[k]);
	}
}

Test(sql_effects, nul_ends_the_text)
{
	static const char q[] = "SELECT 1\0; SET ROLE r";
	struct proto_sql_info info;
	proto_sql_scan(q, sizeof(q), false, &info);
	cr_assert_eq(info.effects, 0);
	static const char q2[] = "SET ROLE r\0";
	proto_sql_scan(q2, sizeof(q2), false, &info);
	cr_assert_eq(info.effects, SETS);
}
