/* tests/unit/test_userlist.c — config/userlist: PgBouncer's userlist.txt format (quotes,
 * comments, blank lines, CRLF), secret kinds, sorted look-up, and "FILE:LINE: message" for
 * every malformed line. Files are written under a mkdtemp directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/userlist.h"

static char dir[256];
static char path[300];
static struct cfg_errors errs;

#define SCRAM_OK                                                                                   \
	"SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$"                                                     \
	"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"                                            \
	"K0w4ZqR7hSfKIIHHXzQK8CGVyCpYWtw9kOBVJbEDv3I="
#define MD5_OK "md5a8b2c9e2f6d1a4e1b86b6dbcf1a6e4f3"

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/pglane-users-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/users.txt", dir);
	memset(&errs, 0, sizeof(errs));
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

#define UTEST(name) Test(userlist, name, .init = setup, .fini = teardown)

static void write_bytes(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(text, 1, len, f), len);
	fclose(f);
}

static struct cfg_userlist *load(const char *text)
{
	write_bytes(text, strlen(text));
	return cfg_userlist_load(path, &errs);
}

static char *errors_text(void)
{
	static char out[CFG_MAX_ERRORS * 260];
	size_t pos = 0;
	out[0] = '\0';
	for (size_t i = 0; i < errs.n && pos < sizeof(out); i++)
		pos += (size_t)snprintf(out + pos, sizeof(out) - pos, "  %s\n", errs.msg[i]);
	return out;
}

/* Is "PATH:<want>" one of the errors? */
static bool has_error(const char *want)
{
	char full[PATH_MAX + 256];
	snprintf(full, sizeof(full), "%s:%s", path, want);
	for (size_t i = 0; i < errs.n; i++)
		if (strcmp(errs.msg[i], full) == 0)
			return true;
	return false;
}

UTEST(valid_file_comments_quotes_and_kinds)
{
	struct cfg_userlist *u = load("; PgBouncer style comment\n"
	                              "# another comment\n"
	                              "\n"
	                              "   \t\n"
	                              "\"zoe\" \"plain password\"\n"
	                              "  \"bob\"   \"" MD5_OK "\"  \n"
	                              "\"alice\"\t\"" SCRAM_OK "\"\r\n"
	                              "\"we\"\"ird\" \"pa\"\"ss\"\"\"\n"
	                              "\"carl\" \"md5A8B2C9E2F6D1A4E1B86B6DBCF1A6E4F3\"\n"
	                              "\"dan\" \"md5a8b2c9e2f6d1a4e1b86b6dbcf1a6e4f\"\n"
	                              "\"eve\" \"md5a8b2c9e2f6d1a4e1b86b6dbcf1a6e4f3x\"\n"
	                              "\"fay\" \"md5a8b2c9e2f6d1a4e1b86b6dbcf1a6e4g3\"\n"
	                              "\"joe\" \"last line without newline\"");
	cr_assert_not_null(u, "%s", errors_text());
	cr_expect_eq(errs.n, 0);
	cr_assert_eq(u->n, 9);

	static const struct {
		const char *name, *secret;
		enum cfg_secret_kind kind;
	} want[] = {
	        {"alice", SCRAM_OK, CFG_SECRET_SCRAM},
	        {"bob", MD5_OK, CFG_SECRET_MD5},
	        {"carl", "md5A8B2C9E2F6D1A4E1B86B6DBCF1A6E4F3", CFG_SECRET_PLAIN},
	        {"dan", "md5a8b2c9e2f6d1a4e1b86b6dbcf1a6e4f", CFG_SECRET_PLAIN},
	        {"eve", "md5a8b2c9e2f6d1a4e1b86b6dbcf1a6e4f3x", CFG_SECRET_PLAIN},
	        {"fay", "md5a8b2c9e2f6d1a4e1b86b6dbcf1a6e4g3", CFG_SECRET_PLAIN},
	        {"joe", "last line without newline", CFG_SECRET_PLAIN},
	        {"we\"ird", "pa\"ss\"", CFG_SECRET_PLAIN},
	        {"zoe", "plain password", CFG_SECRET_PLAIN},
	};
	for (size_t i = 0; i < u->n; i++) {
		cr_expect_str_eq(u->users[i].name, want[i].name, "sorted position %zu", i);
		cr_expect_str_eq(u->users[i].secret, want[i].secret, "%s", want[i].name);
		cr_expect_eq(u->users[i].kind, want[i].kind, "%s", want[i].name);
		const struct cfg_user *f = cfg_userlist_find(u, want[i].name);
		cr_expect_eq(f, &u->users[i], "find %s", want[i].name);
	}
	cr_expect_null(cfg_userlist_find(u, "mallory"));
	cr_expect_null(cfg_userlist_find(u, "ALICE"));
	cr_expect_null(cfg_userlist_find(u, ""));
	cr_expect_null(cfg_userlist_find(u, "we"));
	cfg_userlist_free(u);
}

UTEST(empty_file_is_an_empty_list)
{
	struct cfg_userlist *u = load("");
	cr_assert_not_null(u, "%s", errors_text());
	cr_expect_eq(u->n, 0);
	cr_expect_null(cfg_userlist_find(u, "alice"));
	cfg_userlist_free(u);

	u = load("; only comments\n\n# here\n");
	cr_assert_not_null(u, "%s", errors_text());
	cr_expect_eq(u->n, 0);
	cfg_userlist_free(u);

	cr_expect_null(cfg_userlist_find(NULL, "alice"));
	cfg_userlist_free(NULL);
}

UTEST(many_users_sorted_for_bsearch)
{
	size_t cap = 1000 * 40, pos = 0;
	char *text = malloc(cap);
	cr_assert_not_null(text);
	for (int i = 999; i >= 0; i--)
		pos += (size_t)snprintf(text + pos, cap - pos, "\"user%04d\" \"pw%d\"\n", i, i);
	struct cfg_userlist *u = load(text);
	free(text);
	cr_assert_not_null(u, "%s", errors_text());
	cr_assert_eq(u->n, 1000);
	for (size_t i = 1; i < u->n; i++)
		cr_expect_lt(strcmp(u->users[i - 1].name, u->users[i].name), 0);
	char name[32], secret[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "user%04d", i);
		snprintf(secret, sizeof(secret), "pw%d", i);
		const struct cfg_user *f = cfg_userlist_find(u, name);
		cr_assert_not_null(f, "%s", name);
		cr_expect_str_eq(f->secret, secret);
	}
	cr_expect_null(cfg_userlist_find(u, "user1000"));
	cr_expect_null(cfg_userlist_find(u, "user"));
	cfg_userlist_free(u);
}

UTEST(malformed_lines)
{
	static const struct {
		const char *line;
		const char *want; /* after "PATH:2: " */
	} cases[] = {
	        {"alice \"x\"", "expected \"user\" \"secret\""},
	        {"'alice' 'x'", "expected \"user\" \"secret\""},
	        {"\"alice\"", "missing secret after the user name"},
	        {"\"alice\"   ", "missing secret after the user name"},
	        {"\"alice\" x", "expected a quoted secret after the user name"},
	        {"\"alice \"secret\"", "expected a quoted secret after the user name"},
	        {"\"alice\" \"secret", "unterminated quoted field"},
	        {"\"alice", "unterminated quoted field"},
	        {"\"alice\" \"a\"\"", "unterminated quoted field"},
	        {"\"alice\" \"secret\" extra", "unexpected text after the secret"},
	        {"\"alice\" \"secret\"\"\" \"x\"", "unexpected text after the secret"},
	        {"\"\" \"x\"", "empty user name"},
	        {"\"bob\" \"\"", "empty secret for user \"bob\""},
	        {"\"0123456789012345678901234567890123456789012345678901234567890123\" \"x\"",
	         "user name longer than 63 bytes"},
	        {"\"carol\" \"SCRAM-SHA-256$bad\"",
	         "malformed SCRAM secret for user \"carol\" (expected "
	         "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)"},
	        {"\"carol\" \"SCRAM-SHA-256$0:c2FsdA==$a2V5:a2V5\"",
	         "malformed SCRAM secret for user \"carol\" (expected "
	         "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)"},
	        {"\"carol\" \"SCRAM-SHA-256$4096:c2FsdA==$a2V5\"",
	         "malformed SCRAM secret for user \"carol\" (expected "
	         "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)"},
	        {"\"carol\" \"SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5!\"",
	         "malformed SCRAM secret for user \"carol\" (expected "
	         "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)"},
	};
	char text[512], want[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "\"ok\" \"fine\"\n%s\n\"ok2\" \"fine\"\n",
		         cases[i].line);
		struct cfg_userlist *u = load(text);
		cr_expect_null(u, "accepted: %s", cases[i].line);
		cfg_userlist_free(u);
		snprintf(want, sizeof(want), "2: %s", cases[i].want);
		cr_expect(has_error(want), "%s: want \"%s\", got\n%s", cases[i].line, want,
		          errors_text());
		cr_expect_eq(errs.n, 1, "%s\n%s", cases[i].line, errors_text());
	}
}

UTEST(long_secret)
{
	size_t n = 1100;
	char *text = malloc(n + 32);
	cr_assert_not_null(text);
	strcpy(text, "\"alice\" \"");
	memset(text + 9, 'x', 1025);
	strcpy(text + 9 + 1025, "\"\n");
	struct cfg_userlist *u = load(text);
	cr_expect_null(u);
	cr_expect(has_error("1: secret for user \"alice\" longer than 1024 bytes"), "%s",
	          errors_text());
	text[9 + 1024] = '"';
	text[9 + 1025] = '\n';
	text[9 + 1026] = '\0';
	u = load(text);
	cr_expect_not_null(u, "1024 bytes is fine: %s", errors_text());
	cfg_userlist_free(u);
	free(text);
}

UTEST(duplicates_and_every_error_with_its_line)
{
	struct cfg_userlist *u = load("\"alice\" \"a\"\n"       /* 1 */
	                              "; comment\n"             /* 2 */
	                              "\n"                      /* 3 */
	                              "bad line\n"              /* 4 */
	                              "\"bob\" \"b\"\n"         /* 5 */
	                              "\"alice\" \"again\"\n"   /* 6 */
	                              "\"carol\"\n"             /* 7 */
	                              "\"bob\" \"b2\"\n"        /* 8 */
	                              "\"alice\" \"third\"\n"); /* 9 */
	cr_assert_null(u);
	cr_expect_eq(errs.n, 5, "%s", errors_text());
	cr_expect(has_error("4: expected \"user\" \"secret\""), "%s", errors_text());
	cr_expect(has_error("7: missing secret after the user name"), "%s", errors_text());
	cr_expect(has_error("6: duplicate user \"alice\" (first on line 1)"), "%s", errors_text());
	cr_expect(has_error("9: duplicate user \"alice\" (first on line 1)"), "%s", errors_text());
	cr_expect(has_error("8: duplicate user \"bob\" (first on line 5)"), "%s", errors_text());
}

UTEST(nul_byte_and_missing_file)
{
	write_bytes("\"alice\" \"a\0b\"\n\"bob\" \"x\"\n", 24);
	struct cfg_userlist *u = cfg_userlist_load(path, &errs);
	cr_expect_null(u);
	cr_expect(has_error("1: NUL byte in line"), "%s", errors_text());
	cr_expect_eq(errs.n, 1);

	char missing[PATH_MAX + 16], want[PATH_MAX + 64];
	snprintf(missing, sizeof(missing), "%s/none.txt", dir);
	u = cfg_userlist_load(missing, &errs);
	cr_expect_null(u);
	cr_assert_eq(errs.n, 1);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", missing);
	cr_expect_str_eq(errs.msg[0], want);
	cr_expect_null(cfg_userlist_load(missing, NULL), "errs may be NULL");
}

UTEST(too_many_errors)
{
	char text[4096] = "";
	size_t pos = 0;
	for (int i = 0; i < CFG_MAX_ERRORS + 5; i++)
		pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "bad%d\n", i);
	struct cfg_userlist *u = load(text);
	cr_assert_null(u);
	cr_assert_eq(errs.n, CFG_MAX_ERRORS);
	cr_expect(has_error("1: expected \"user\" \"secret\""));
	cr_expect(has_error("31: expected \"user\" \"secret\""));
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s: 6 more errors not shown", path);
	cr_expect_str_eq(errs.msg[CFG_MAX_ERRORS - 1], want);
}

/* The kinds of a secret that did not come from the file (auth_query's answer). */
UTEST(secret_kind_of_a_lone_secret)
{
	cr_expect_eq(cfg_secret_kind_of(MD5_OK), CFG_SECRET_MD5);
	cr_expect_eq(cfg_secret_kind_of(SCRAM_OK), CFG_SECRET_SCRAM);
	cr_expect_eq(cfg_secret_kind_of("md5a8b2"), CFG_SECRET_PLAIN);
	cr_expect_eq(cfg_secret_kind_of("MD5A8B2C9E2F6D1A4E1B86B6DBCF1A6E4F3"), CFG_SECRET_PLAIN);
	cr_expect_eq(cfg_secret_kind_of("plain"), CFG_SECRET_PLAIN);
	cr_expect(cfg_secret_well_formed(SCRAM_OK));
	cr_expect(cfg_secret_well_formed(MD5_OK));
	cr_expect(cfg_secret_well_formed("plain"));
	cr_expect_not(cfg_secret_well_formed("SCRAM-SHA-256$4096:c2FsdA=="));
	cr_expect_not(cfg_secret_well_formed("SCRAM-SHA-256$0:c2FsdA==$a:b"));
}
