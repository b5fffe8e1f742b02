/* admin/result.h — what an admin command answers, built in wire format: an optional
 * RowDescription (columns typed as PgBouncer types them), DataRows, and the command tag; or an
 * error. The bytes live in growable buffers, since a SHOW CLIENTS may be long. */
#ifndef PGLANE_ADMIN_RESULT_H
#define PGLANE_ADMIN_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct admin_buf {
	uint8_t *data; /* owned */
	size_t len;
	size_t cap;
	bool failed; /* out of memory: the result is unusable */
};

struct admin_result {
	int ncols;             /* 0: no rows (a command like PAUSE) */
	struct admin_buf desc; /* RowDescription */
	struct admin_buf rows; /* DataRows */
	uint64_t nrows;
	size_t row_start; /* offset of the DataRow being built */
	int row_fields;
	char tag[64];        /* CommandComplete tag */
	char sqlstate[6];    /* set on error */
	char message[512];   /* the error */
	bool pending;        /* the answer comes later (PAUSE waits for servers) */
	char pending_db[64]; /* ... of this database ("" = all) */
	char pending_kind;   /* ADMIN_PENDING_* (admin/console.h) */
};

void admin_result_init(struct admin_result *r);
void admin_result_free(struct admin_result *r);
/* The columns of the rows to come. */
void admin_result_columns(struct admin_result *r, const char *const *names, int n);
/* ... with their types: one letter a column as PgBouncer's tupdesc, s text, i int4, q int8,
 * N numeric, b bytea (values are sent as text either way). */
void admin_result_columns_typed(struct admin_result *r, const char *const *names, const char *types,
                                int n);
void admin_row_begin(struct admin_result *r);
void admin_row_str(struct admin_result *r, const char *v); /* NULL: SQL NULL */
void admin_row_int(struct admin_result *r, int64_t v);
void admin_row_uint(struct admin_result *r, uint64_t v);
void admin_row_double(struct admin_result *r, double v, int decimals);
void admin_row_bool(struct admin_result *r, bool v);
void admin_row_end(struct admin_result *r);
/* The command ended well: its tag (SHOW answers "SHOW"). */
void admin_result_tag(struct admin_result *r, const char *tag);
/* The command failed. */
void admin_result_error(struct admin_result *r, const char *sqlstate, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
bool admin_result_is_error(const struct admin_result *r);

/* Append bytes to a buffer (sets failed when out of memory). */
void admin_buf_put(struct admin_buf *b, const void *p, size_t n);
void admin_buf_free(struct admin_buf *b);

#endif
