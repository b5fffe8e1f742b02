/* tests/unit/test_sql.c — protocol/sql: DISCARD ALL and DEALLOCATE recognised through
 * whitespace and comments, names folded or quoted, and everything else left as OTHER; the
 * effects of statements on the session (tables of statements and what they leave) in
 * test_sql_effects.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/sql.h"

#define NAME_CAP 64

struct sql_case {
	const char *sql;
	enum proto_sql_kind kind;
	const char *name; /* for PROTO_SQL_DEALLOCATE */
};

/* The kind of `len` bytes of `sql`; a DEALLOCATE's name goes to `name` (`cap` bytes). */
static enum proto_sql_kind classify_n(const char *sql, size_t len, char *name, size_t cap)
{
	static struct proto_sql_info info;
	proto_sql_scan(sql, len, false, &info);
	if (info.kind == PROTO_SQL_DEALLOCATE && name) {
		size_t n = strnlen(info.name, cap - 1);
		memcpy(name, info.name, n);
		name[n] = '\0';
	}
	return info.kind;
}

/* Classify a NUL-terminated `sql` (len = strlen) into a fresh name buffer. */
static enum proto_sql_kind classify(const char *sql, char *name, size_t cap)
{
	return classify_n(sql, strlen(sql), name, cap);
}

static void check_table(const struct sql_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[NAME_CAP];
		memset(name, 'x', sizeof(name));
		enum proto_sql_kind k = classify(cases[i].sql, name, sizeof(name));
		cr_assert_eq(k, cases[i].kind, "case %zu: \"%s\" gave %d, want %d", i, cases[i].sql,
		             (int)k, (int)cases[i].kind);
		if (cases[i].kind == PROTO_SQL_DEALLOCATE)
			cr_assert_str_eq(name, cases[i].name, "case %zu: \"%s\"", i, cases[i].sql);
	}
}

#define CHECK_TABLE(t) check_table((t), sizeof(t) / sizeof((t)[0]))

Test(sql, discard_all_spellings)
{
	static const struct sql_case cases[] = {
	        {"DISCARD ALL", PROTO_SQL_DISCARD_ALL, NULL},
	        {"discard all;", PROTO_SQL_DISCARD_ALL, NULL},
	        {"Discard All ;  \n", PROTO_SQL_DISCARD_ALL, NULL},
	        {"  \t\r\n\fDISCARD\t\nALL", PROTO_SQL_DISCARD_ALL, NULL},
	        {"-- x\nDISCARD ALL", PROTO_SQL_DISCARD_ALL, NULL},
	        {"--\n--y\n  DISCARD ALL", PROTO_SQL_DISCARD_ALL, NULL},
	        {"/* c */DISCARD ALL", PROTO_SQL_DISCARD_ALL, NULL},
	        {"/* /* */ */ DISCARD ALL", PROTO_SQL_DISCARD_ALL, NULL},
	        {"/*/**//**/*/DISCARD ALL", PROTO_SQL_DISCARD_ALL, NULL},
	        {"/**/DISCARD/* between */ALL", PROTO_SQL_DISCARD_ALL, NULL},
	        {"DISCARD -- between\nALL", PROTO_SQL_DISCARD_ALL, NULL},
	        {"DISCARD ALL -- after", PROTO_SQL_DISCARD_ALL, NULL},
	        {"DISCARD ALL /* after */ ; /* and after */ -- end", PROTO_SQL_DISCARD_ALL, NULL},
	        {"DISCARD ALL;-- no newline", PROTO_SQL_DISCARD_ALL, NULL},
	};
	CHECK_TABLE(cases);
}

Test(sql, discard_other_forms_are_other)
{
	static const struct sql_case cases[] = {
	        {"DISCARD PLANS", PROTO_SQL_OTHER, NULL},
	        {"DISCARD TEMP", PROTO_SQL_OTHER, NULL},
	        {"DISCARD SEQUENCES", PROTO_SQL_OTHER, NULL},
	        {"DISCARD", PROTO_SQL_OTHER, NULL},
	        {"DISCARD;", PROTO_SQL_OTHER, NULL},
	        {"DISCARDALL", PROTO_SQL_OTHER, NULL},
	        {"DISCARD ALLX", PROTO_SQL_OTHER, NULL},
	        {"DISCARD ALL_", PROTO_SQL_OTHER, NULL},
	        {"DISCARD ALL$", PROTO_SQL_OTHER, NULL},
	        {"DISCARD ALL x", PROTO_SQL_OTHER, NULL},
	        {"DISCARD ALL; SELECT 1", PROTO_SQL_OTHER, NULL},
	        {"discardx all", PROTO_SQL_OTHER, NULL},
	        {"DISCARD \"ALL\"", PROTO_SQL_OTHER, NULL},
	        {"SELECT 1; DISCARD ALL", PROTO_SQL_OTHER, NULL},
	        {"SELECT 'DISCARD ALL'", PROTO_SQL_OTHER, NULL},
	        {"/* DISCARD ALL */", PROTO_SQL_OTHER, NULL},
	        {"-- DISCARD ALL", PROTO_SQL_OTHER, NULL},
	        {"/* unterminated DISCARD ALL", PROTO_SQL_OTHER, NULL},
	        {"/* /* */ DISCARD ALL", PROTO_SQL_OTHER, NULL}, /* still inside the outer */
	        {"/ * */ DISCARD ALL", PROTO_SQL_OTHER, NULL},
	        {"- - x\nDISCARD ALL", PROTO_SQL_OTHER, NULL},
	};
	CHECK_TABLE(cases);
}

Test(sql, deallocate_names)
{
	static const struct sql_case cases[] = {
	        {"DEALLOCATE s1", PROTO_SQL_DEALLOCATE, "s1"},
	        {"deallocate s1;", PROTO_SQL_DEALLOCATE, "s1"},
	        {"DEALLOCATE PREPARE s1", PROTO_SQL_DEALLOCATE, "s1"},
	        {"deallocate prepare S1 ; ", PROTO_SQL_DEALLOCATE, "s1"},
	        {"DEALLOCATE MyStmt", PROTO_SQL_DEALLOCATE, "mystmt"},
	        {"DEALLOCATE \"MyStmt\"", PROTO_SQL_DEALLOCATE, "MyStmt"},
	        {"DEALLOCATE \"a\"\"b\"", PROTO_SQL_DEALLOCATE, "a\"b"},
	        {"DEALLOCATE \"\"\"\"", PROTO_SQL_DEALLOCATE, "\""},
	        {"DEALLOCATE \"\"\"x\"\"\"", PROTO_SQL_DEALLOCATE, "\"x\""},
	        {"DEALLOCATE \"with space; and -- /* */\"", PROTO_SQL_DEALLOCATE,
	         "with space; and -- /* */"},
	        {"DEALLOCATE PREPARE \"Q\";", PROTO_SQL_DEALLOCATE, "Q"},
	        {"DEALLOCATE _s$1", PROTO_SQL_DEALLOCATE, "_s$1"},
	        {"DEALLOCATE pglane_42", PROTO_SQL_DEALLOCATE, "pglane_42"},
	        {"DEALLOCATE s\xc3\xa9", PROTO_SQL_DEALLOCATE, "s\xc3\xa9"},
	        {"DEALLOCATE \"ALL\"", PROTO_SQL_DEALLOCATE, "ALL"},
	        {"DEALLOCATE \"all\"", PROTO_SQL_DEALLOCATE, "all"},
	        {"DEALLOCATE allx", PROTO_SQL_DEALLOCATE, "allx"},
	        {"DEALLOCATE all_of_them", PROTO_SQL_DEALLOCATE, "all_of_them"},
	        {"DEALLOCATE PREPARE prepare", PROTO_SQL_DEALLOCATE, "prepare"},
	        {"DEALLOCATE PREPARE preparex", PROTO_SQL_DEALLOCATE, "preparex"},
	        {"DEALLOCATE preparex", PROTO_SQL_DEALLOCATE, "preparex"},
	        {"/* a */ -- b\n DEALLOCATE /* c */ PREPARE -- d\n s1 /* e */ ; -- f",
	         PROTO_SQL_DEALLOCATE, "s1"},
	        {"DEALLOCATE\"q\"", PROTO_SQL_DEALLOCATE, "q"},
	};
	CHECK_TABLE(cases);
}

Test(sql, deallocate_all)
{
	static const struct sql_case cases[] = {
	        {"DEALLOCATE ALL", PROTO_SQL_DEALLOCATE_ALL, NULL},
	        {"deallocate all;", PROTO_SQL_DEALLOCATE_ALL, NULL},
	        {"DEALLOCATE PREPARE ALL", PROTO_SQL_DEALLOCATE_ALL, NULL},
	        {"  deallocate /**/ prepare -- x\n all ; ", PROTO_SQL_DEALLOCATE_ALL, NULL},
	};
	CHECK_TABLE(cases);
}

Test(sql, deallocate_other)
{
	static const struct sql_case cases[] = {
	        {"DEALLOCATE s1; SELECT 1", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE s1 s2", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE ALL; SELECT 1", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE ALL x", PROTO_SQL_OTHER, NULL},
	        {"deallocatex s1", PROTO_SQL_OTHER, NULL},
	        {"deallocate_ s1", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE ;", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE \"\"", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE \"unterminated", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE \"a\"\"", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE 'a'", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE s-1", PROTO_SQL_OTHER, NULL},
	        {"DEALLOCATE \"a\"b", PROTO_SQL_OTHER, NULL},
	        {"SELECT 'DEALLOCATE ALL'", PROTO_SQL_OTHER, NULL},
	        {"SELECT 1; DEALLOCATE s1", PROTO_SQL_OTHER, NULL},
	        {"PREPARE s1 AS SELECT 1", PROTO_SQL_OTHER, NULL},
	        {"EXECUTE s1", PROTO_SQL_OTHER, NULL},
	        {"/* DEALLOCATE s1 */ SELECT 1", PROTO_SQL_OTHER, NULL},
	        {"/* DEALLOCATE s1", PROTO_SQL_OTHER, NULL},
	};
	CHECK_TABLE(cases);
}

Test(sql, empty_and_only_comments)
{
	static const struct sql_case cases[] = {
	        {"", PROTO_SQL_OTHER, NULL},
	        {"   \n\t", PROTO_SQL_OTHER, NULL},
	        {";", PROTO_SQL_OTHER, NULL},
	        {"-- only", PROTO_SQL_OTHER, NULL},
	        {"-- only\n", PROTO_SQL_OTHER, NULL},
	        {"/* only */", PROTO_SQL_OTHER, NULL},
	        {"/* /* nested */ only */  -- and this", PROTO_SQL_OTHER, NULL},
	        {"/*", PROTO_SQL_OTHER, NULL},
	        {"/* /* */", PROTO_SQL_OTHER, NULL},
	        {"-", PROTO_SQL_OTHER, NULL},
	        {"/", PROTO_SQL_OTHER, NULL},
	};
	CHECK_TABLE(cases);
	/* zero length with a pointer to something that would match */
	char name[NAME_CAP];
	cr_assert_eq(classify_n("DISCARD ALL", 0, name, sizeof(name)), PROTO_SQL_OTHER);
}

/* PostgreSQL ignores empty statements: "DISCARD ALL;;" is one statement. */
Test(sql, empty_statements_do_not_count)
{
	char name[NAME_CAP];
	cr_assert_eq(classify("DISCARD ALL;;", name, sizeof(name)), PROTO_SQL_DISCARD_ALL);
	cr_assert_eq(classify(";DISCARD ALL", name, sizeof(name)), PROTO_SQL_DISCARD_ALL);
	cr_assert_eq(classify("DEALLOCATE s1;;", name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "s1");
	cr_assert_eq(classify("DEALLOCATE s1; ; SELECT 1", name, sizeof(name)), PROTO_SQL_OTHER);
}

Test(sql, name_longer_than_pglane_reads)
{
	static char sql[PROTO_MAX_NAME + 32];
	memcpy(sql, "DEALLOCATE ", 11);
	memset(sql + 11, 'n', PROTO_MAX_NAME - 1);
	sql[11 + PROTO_MAX_NAME - 1] = '\0';
	char name[PROTO_MAX_NAME];
	cr_assert_eq(classify(sql, name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_eq(strlen(name), PROTO_MAX_NAME - 1);
	sql[11 + PROTO_MAX_NAME - 1] = 'n';
	sql[11 + PROTO_MAX_NAME] = '\0';
	cr_assert_eq(classify(sql, name, sizeof(name)), PROTO_SQL_OTHER);
}

Test(sql, long_name_with_room)
{
	char sql[300], name[256];
	memcpy(sql, "DEALLOCATE ", 11);
	memset(sql + 11, 'N', 200);
	sql[211] = '\0';
	cr_assert_eq(classify(sql, name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_eq(strlen(name), 200);
	for (size_t i = 0; i < 200; i++)
		cr_assert_eq(name[i], 'n', "folded at %zu", i);
}

Test(sql, length_shorter_than_string)
{
	char name[NAME_CAP];
	const char *sql = "DISCARD ALL; SELECT 1";
	/* only "DISCARD ALL;" is the text */
	cr_assert_eq(classify_n(sql, 12, name, sizeof(name)), PROTO_SQL_DISCARD_ALL);
	cr_assert_eq(classify_n(sql, 11, name, sizeof(name)), PROTO_SQL_DISCARD_ALL);
	cr_assert_eq(classify_n(sql, 10, name, sizeof(name)), PROTO_SQL_OTHER);
	cr_assert_eq(classify_n(sql, 13, name, sizeof(name)), PROTO_SQL_DISCARD_ALL);
	cr_assert_eq(classify_n(sql, 14, name, sizeof(name)), PROTO_SQL_OTHER);

	/* "DEALLOCATE s12": the name ends where the text ends */
	const char *d = "DEALLOCATE s12";
	cr_assert_eq(classify_n(d, 13, name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "s1");
	cr_assert_eq(classify_n(d, 12, name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "s");
	cr_assert_eq(classify_n(d, 11, name, sizeof(name)), PROTO_SQL_OTHER);
	cr_assert_eq(classify_n(d, 10, name, sizeof(name)), PROTO_SQL_OTHER);

	/* a quoted name cut before its closing quote */
	const char *q = "DEALLOCATE \"ab\"";
	cr_assert_eq(classify_n(q, strlen(q) - 1, name, sizeof(name)), PROTO_SQL_OTHER);
	/* cut between the two quotes of an escaped pair: the first one closes */
	const char *e = "DEALLOCATE \"a\"\"b\"";
	cr_assert_eq(classify_n(e, 14, name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "a");

	/* a keyword cut short is no keyword */
	cr_assert_eq(classify_n("DISCARD ALL", 10, name, sizeof(name)), PROTO_SQL_OTHER);
	cr_assert_eq(classify_n("DEALLOCATE ALL", 13, name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "al");
	/* a comment cut short is unterminated */
	cr_assert_eq(classify_n("/* */ DISCARD ALL", 4, name, sizeof(name)), PROTO_SQL_OTHER);
}

Test(sql, not_nul_terminated)
{
	/* the bytes after `len` are not a terminator and must not be read as text */
	char buf[32];
	char name[NAME_CAP];
	memset(buf, 'z', sizeof(buf));
	memcpy(buf, "DEALLOCATE abc", 14);
	cr_assert_eq(classify_n(buf, 14, name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "abc");
	memcpy(buf, "DISCARD ALL", 11);
	cr_assert_eq(classify_n(buf, 11, name, sizeof(name)), PROTO_SQL_DISCARD_ALL);
}

Test(sql, nul_terminator_is_the_end)
{
	char name[NAME_CAP];
	/* a Query body includes its NUL: len counts it */
	static const char q1[] = "DISCARD ALL";
	cr_assert_eq(classify_n(q1, sizeof(q1), name, sizeof(name)), PROTO_SQL_DISCARD_ALL);
	static const char q2[] = "DEALLOCATE s1;";
	cr_assert_eq(classify_n(q2, sizeof(q2), name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "s1");
	static const char q3[] = "DEALLOCATE PREPARE ALL -- c";
	cr_assert_eq(classify_n(q3, sizeof(q3), name, sizeof(name)), PROTO_SQL_DEALLOCATE_ALL);
	static const char q4[] = "DEALLOCATE \"Q\" ";
	cr_assert_eq(classify_n(q4, sizeof(q4), name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "Q");
	/* a NUL where a keyword should be is not one */
	static const char q5[] = "DISCARD";
	cr_assert_eq(classify_n(q5, sizeof(q5), name, sizeof(name)), PROTO_SQL_OTHER);
	static const char q6[] = "";
	cr_assert_eq(classify_n(q6, sizeof(q6), name, sizeof(name)), PROTO_SQL_OTHER);
}

Test(sql, every_cut_of_a_statement)
{
	/* every cut, copied to a buffer of exactly its size (ASan sees any read past len),
	 * classifies as the text it holds */
	static const char sql[] = "/* c */ DEALLOCATE PREPARE \"a\"\"b\" ; -- x";
	for (size_t n = 0; n < sizeof(sql) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		cr_assert_not_null(copy);
		memcpy(copy, sql, n);
		char name[NAME_CAP];
		enum proto_sql_kind k = classify_n(copy, n, name, sizeof(name));
		free(copy);
		cr_assert_neq(k, PROTO_SQL_DEALLOCATE_ALL, "cut at %zu", n);
		cr_assert_neq(k, PROTO_SQL_DISCARD_ALL, "cut at %zu", n);
		if (n >= 20 && n <= 25) { /* "DEALLOCATE P" .. "DEALLOCATE PREPAR" */
			cr_assert_eq(k, PROTO_SQL_DEALLOCATE, "cut at %zu", n);
			cr_assert_eq(strlen(name), n - 19);
			cr_assert_eq(strncmp(name, "prepar", n - 19), 0, "cut at %zu", n);
		} else if (n == 30) { /* ... PREPARE "a" */
			cr_assert_eq(k, PROTO_SQL_DEALLOCATE, "cut at %zu", n);
			cr_assert_str_eq(name, "a");
		} else if (n >= 33 && n != 37) { /* 37 ends in a lone '-' */
			cr_assert_eq(k, PROTO_SQL_DEALLOCATE, "cut at %zu", n);
			cr_assert_str_eq(name, "a\"b");
		} else if (n == 26 || n == 27) {
			/* "DEALLOCATE PREPARE" and a space: the statement named "prepare"
			 * (see deallocate_statement_named_prepare) */
			cr_assert_eq(k, PROTO_SQL_DEALLOCATE, "cut at %zu", n);
			cr_assert_str_eq(name, "prepare");
		} else {
			cr_assert_eq(k, PROTO_SQL_OTHER, "cut at %zu gave %d", n, (int)k);
		}
	}
}

/* PostgreSQL's grammar: DEALLOCATE [PREPARE] name, and PREPARE is an unreserved keyword,
 * so "DEALLOCATE prepare" deallocates the statement named "prepare". */
Test(sql, deallocate_statement_named_prepare)
{
	char name[NAME_CAP];
	cr_assert_eq(classify("DEALLOCATE prepare", name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "prepare");
	cr_assert_eq(classify("DEALLOCATE PREPARE;", name, sizeof(name)), PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "prepare");
}

/* Bytes >= 0x80 continue an identifier in PostgreSQL's lexer (identifier() agrees), so a
 * keyword followed by one is not that keyword. */
Test(sql, keyword_followed_by_high_bit_byte)
{
	char name[NAME_CAP];
	cr_assert_eq(classify("DEALLOCATE prepare\xc3\xa9", name, sizeof(name)),
	             PROTO_SQL_DEALLOCATE);
	cr_assert_str_eq(name, "prepare\xc3\xa9");
	cr_assert_eq(classify("DEALLOCATE\xc3\xa9", name, sizeof(name)), PROTO_SQL_OTHER);
}

/* The statements that end a failed transaction block, as PostgreSQL reads them. */
Test(sql, transaction_end)
{
	static const struct {
		const char *sql;
		enum proto_sql_txn_end want;
	} cases[] = {
	        {"COMMIT", PROTO_SQL_TXN_COMMIT},
	        {"commit;", PROTO_SQL_TXN_COMMIT},
	        {"  End Transaction ; ", PROTO_SQL_TXN_COMMIT},
	        {"/* x /* nested */ */ COMMIT WORK -- done\n", PROTO_SQL_TXN_COMMIT},
	        {"COMMIT AND NO CHAIN", PROTO_SQL_TXN_COMMIT},
	        {"ROLLBACK", PROTO_SQL_TXN_ROLLBACK},
	        {"abort", PROTO_SQL_TXN_ROLLBACK},
	        {"rollback transaction;", PROTO_SQL_TXN_ROLLBACK},
	        {"ROLLBACK TO SAVEPOINT a", PROTO_SQL_TXN_SAVEPOINT},
	        {"rollback work to a", PROTO_SQL_TXN_SAVEPOINT},
	        {"RELEASE SAVEPOINT a", PROTO_SQL_TXN_SAVEPOINT},
	        {"release a", PROTO_SQL_TXN_SAVEPOINT},
	        {"COMMIT PREPARED 'x'", PROTO_SQL_TXN_NONE},
	        {"ROLLBACK PREPARED 'x'", PROTO_SQL_TXN_NONE},
	        {"COMMIT; SELECT 1", PROTO_SQL_TXN_NONE},
	        {"SELECT 1", PROTO_SQL_TXN_NONE},
	        {"committed", PROTO_SQL_TXN_NONE},
	        {"", PROTO_SQL_TXN_NONE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(proto_sql_txn_end(cases[i].sql, strlen(cases[i].sql)), cases[i].want,
		             "\"%s\"", cases[i].sql);
	/* a NUL ends the text (a Parse's) */
	cr_assert_eq(proto_sql_txn_end("COMMIT\0garbage", 14), PROTO_SQL_TXN_COMMIT);
}
