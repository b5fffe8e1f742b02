/* tests/integration/test_copy.c — COPY through pglane: ~10 MB in with PQputCopyData and back
 * out with PQgetCopyData (row count and checksum), and COPYs that fail (bad data, CopyFail
 * from the client) leaving the client usable. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

TestSuite(copy, .fini = it_pglane_fini, .timeout = 90);

#define COPY_ROWS 100000

/* FNV-1a over every byte, for comparing what went in with what came out. */
static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Row i in COPY text format: "i\t<~90 deterministic chars>\n". */
static int copy_row(char *buf, size_t n, int i)
{
	char pad[91];
	for (int k = 0; k < 90; k++)
		pad[k] = (char)('a' + (i * 7 + k * 13) % 26);
	pad[90 - (i % 10)] = '\0';
	return snprintf(buf, n, "%d\t%s\n", i, pad);
}

static void make_table(const char *name)
{
	PGconn *admin = it_connect_admin();
	char sql[256];
	snprintf(sql, sizeof sql,
	         "DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int PRIMARY KEY, payload text)",
	         name, name);
	it_exec_ok(admin, sql);
	PQfinish(admin);
}

IT_TEST(copy, copy_in_and_out_10mb)
{
	make_table("it_copy");
	it_pglane_start_simple("transaction", 2, NULL);
	PGconn *c = it_connect("postgres", NULL, "postgres");

	PGresult *r = PQexec(c, "COPY it_copy (id, payload) FROM STDIN");
	cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN, "%s", PQresultErrorMessage(r));
	PQclear(r);
	uint64_t h_in = 14695981039346656037ULL;
	size_t bytes_in = 0;
	char chunk[65536];
	size_t used = 0;
	for (int i = 1; i <= COPY_ROWS; i++) {
		char row[128];
		int n = copy_row(row, sizeof row, i);
		h_in = fnv(h_in, row, (size_t)n);
		bytes_in += (size_t)n;
		if (used + (size_t)n > sizeof chunk) {
			cr_assert_eq(PQputCopyData(c, chunk, (int)used), 1, "%s",
			             PQerrorMessage(c));
			used = 0;
		}
		memcpy(chunk + used, row, (size_t)n);
		used += (size_t)n;
	}
	if (used)
		cr_assert_eq(PQputCopyData(c, chunk, (int)used), 1, "%s", PQerrorMessage(c));
	cr_assert_eq(PQputCopyEnd(c, NULL), 1, "%s", PQerrorMessage(c));
	bool to;
	r = it_result_wait(c, 30000, &to);
	cr_assert(!to, "COPY FROM STDIN did not finish within 30 s");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	cr_expect_str_eq(PQcmdTuples(r), "100000");
	PQclear(r);
	cr_expect(bytes_in > 9000000, "only %zu bytes sent", bytes_in);

	/* What PostgreSQL holds, asked directly. */
	PGconn *admin = it_connect_admin();
	char *v = it_query_str(admin, "SELECT count(*) || ' ' || sum(id) || ' ' || "
	                              "sum(length(payload)) FROM it_copy");
	char want[128];
	long long payload = (long long)bytes_in;
	for (int i = 1; i <= COPY_ROWS; i++) {
		char digits[16];
		payload -= snprintf(digits, sizeof digits, "%d", i) + 2; /* id, tab, newline */
	}
	snprintf(want, sizeof want, "%d %lld %lld", COPY_ROWS,
	         (long long)COPY_ROWS * (COPY_ROWS + 1) / 2, payload);
	cr_expect_str_eq(v, want);
	free(v);
	PQfinish(admin);

	/* And back out, byte for byte. */
	r = PQexec(c, "COPY (SELECT id, payload FROM it_copy ORDER BY id) TO STDOUT");
	cr_assert_eq(PQresultStatus(r), PGRES_COPY_OUT, "%s", PQresultErrorMessage(r));
	PQclear(r);
	uint64_t h_out = 14695981039346656037ULL;
	size_t bytes_out = 0, rows_out = 0;
	int64_t deadline = it_now_ms() + 30000;
	for (;;) {
		char *buf = NULL;
		int n = PQgetCopyData(c, &buf, 0);
		if (n < 0)
			break;
		h_out = fnv(h_out, buf, (size_t)n);
		bytes_out += (size_t)n;
		rows_out++;
		PQfreemem(buf);
		cr_assert(it_now_ms() < deadline, "COPY TO STDOUT still running after 30 s");
	}
	r = PQgetResult(c);
	cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	while ((r = PQgetResult(c)) != NULL)
		PQclear(r);
	cr_expect_eq(rows_out, (size_t)COPY_ROWS);
	cr_expect_eq(bytes_out, bytes_in);
	cr_expect_eq(h_out, h_in, "COPY out differs from what went in");
	cr_expect_eq(it_query_ll(c, "SELECT count(*) FROM it_copy"), COPY_ROWS);
	PQfinish(c);
}

IT_TEST(copy, copy_bad_data_leaves_client_usable)
{
	make_table("it_copy_bad");
	it_pglane_start_simple("transaction", 1, NULL);
	PGconn *c = it_connect("postgres", NULL, "postgres");
	PGconn *other = it_connect("postgres", NULL, "postgres");

	PGresult *r = PQexec(c, "COPY it_copy_bad FROM STDIN");
	cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN, "%s", PQresultErrorMessage(r));
	PQclear(r);
	const char *data = "1\tgood\nnot-a-number\tbad\n3\tnever\n";
	cr_assert_eq(PQputCopyData(c, data, (int)strlen(data)), 1);
	cr_assert_eq(PQputCopyEnd(c, NULL), 1);
	bool to;
	r = it_result_wait(c, 10000, &to);
	cr_assert(!to, "no answer to a bad COPY within 10 s");
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	cr_expect_str_eq(it_sqlstate(r), "22P02", "%s", PQresultErrorMessage(r));
	PQclear(r);
	cr_expect_eq(PQtransactionStatus(c), PQTRANS_IDLE);
	cr_expect_eq(it_query_ll(c, "SELECT count(*) FROM it_copy_bad"), 0);
	/* The single server was released in a clean state. */
	cr_expect_eq(it_query_ll(other, "SELECT 11"), 11);

	/* The client gives up itself: CopyFail. */
	r = PQexec(c, "COPY it_copy_bad FROM STDIN");
	cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN, "%s", PQresultErrorMessage(r));
	PQclear(r);
	cr_assert_eq(PQputCopyData(c, "5\tfive\n", 7), 1);
	cr_assert_eq(PQputCopyEnd(c, "client gave up"), 1);
	r = it_result_wait(c, 10000, &to);
	cr_assert(!to, "no answer to CopyFail within 10 s");
	cr_expect_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	cr_expect_str_eq(it_sqlstate(r), "57014", "%s", PQresultErrorMessage(r));
	cr_expect(strstr(PQresultErrorMessage(r), "client gave up"), "%s", PQresultErrorMessage(r));
	PQclear(r);
	cr_expect_eq(it_query_ll(c, "SELECT count(*) FROM it_copy_bad"), 0);
	cr_expect_eq(it_query_ll(other, "SELECT 12"), 12);

	/* COPY inside an explicit transaction, committed. */
	it_exec_ok(c, "BEGIN");
	r = PQexec(c, "COPY it_copy_bad FROM STDIN");
	cr_assert_eq(PQresultStatus(r), PGRES_COPY_IN, "%s", PQresultErrorMessage(r));
	PQclear(r);
	cr_assert_eq(PQputCopyData(c, "7\tseven\n8\teight\n", 16), 1);
	cr_assert_eq(PQputCopyEnd(c, NULL), 1);
	r = it_result_wait(c, 10000, &to);
	cr_expect_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	it_exec_ok(c, "COMMIT");
	cr_expect_eq(it_query_ll(other, "SELECT count(*) FROM it_copy_bad"), 2);
	PQfinish(other);
	PQfinish(c);
}
