/* tests/integration/test_logs.c — pglane's log on stderr: text lines by default, one JSON
 * object per line with log.format = "json", and never a password. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

TestSuite(logs, .fini = it_pglane_fini, .timeout = 30);

/* A small JSON checker: advances *p over one value, false when it is not valid JSON. */
static bool json_value(const char **p);

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

static bool json_string(const char **p)
{
	if (**p != '"')
		return false;
	for ((*p)++; **p != '"'; (*p)++) {
		unsigned char c = (unsigned char)**p;
		if (c < 0x20)
			return false; /* raw control character, or the end of the line */
		if (c == '\\') {
			(*p)++;
			if (!strchr("\"\\/bfnrtu", **p) || !**p)
				return false;
		}
	}
	(*p)++;
	return true;
}

static bool json_value(const char **p)
{
	skip_ws(p);
	char c = **p;
	if (c == '"')
		return json_string(p);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		(*p)++;
		skip_ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		for (;;) {
			if (c == '{') {
				skip_ws(p);
				if (!json_string(p))
					return false;
				skip_ws(p);
				if (*(*p)++ != ':')
					return false;
			}
			if (!json_value(p))
				return false;
			skip_ws(p);
			if (**p == ',') {
				(*p)++;
				continue;
			}
			if (**p != close)
				return false;
			(*p)++;
			return true;
		}
	}
	if (c == '-' || isdigit((unsigned char)c)) {
		char *end;
		strtod(*p, &end);
		*p = end;
		return true;
	}
	for (const char *const *w = (const char *const[]){"true", "false", "null", NULL}; *w; w++) {
		if (strncmp(*p, *w, strlen(*w)) == 0) {
			*p += strlen(*w);
			return true;
		}
	}
	return false;
}

/* Start pglane, log in, run a query, one failed login, stop; return the log. */
static char *exercise(const char *log_block)
{
	char conf[1024];
	snprintf(conf, sizeof conf,
	         "%s\nauth = { type = \"scram-sha-256\"; file = \"users.txt\"; };\n"
	         "pool = { mode = \"transaction\"; size = 2; };\n" IT_DATABASES,
	         log_block);
	it_pglane_start_with_users(conf, "\"scram_user\" \"scram_pw\"\n");
	PGconn *c = it_connect("scram_user", "scram_pw", "postgres");
	cr_expect_eq(it_query_ll(c, "SELECT 1"), 1);
	PQfinish(c);
	char ci[512];
	it_conninfo(ci, sizeof ci, IT_HOST, it_pglane_current()->port, "scram_user", "bad_pw_123",
	            "postgres", NULL);
	c = it_connect_try(ci);
	cr_expect_neq(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
	it_pglane_finish();
	char *log = it_pglane_log();
	cr_expect(!strstr(log, "scram_pw"), "the log holds a password");
	cr_expect(!strstr(log, "bad_pw_123"), "the log holds a wrong password");
	return log;
}

IT_TEST(logs, json_lines)
{
	char *log = exercise("log = { format = \"json\"; level = \"debug\"; };");
	int lines = 0;
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		const char *p = line;
		bool ok = *p == '{' && json_value(&p);
		skip_ws(&p);
		cr_expect(ok && *p == '\0', "not one JSON object: %s", line);
		lines++;
	}
	cr_expect_geq(lines, 3, "only %d log lines at level debug", lines);
	free(log);
}

IT_TEST(logs, text_lines)
{
	char *log = exercise("log = { format = \"text\"; level = \"info\"; };");
	int lines = 0;
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		cr_expect_neq(line[0], '{', "a JSON line in text format: %s", line);
		lines++;
	}
	cr_expect_geq(lines, 1, "nothing logged at level info");
	free(log);
}
