/* protocol/sql.h — the little pglane reads of SQL text: whether a simple Query is one of
 * the statements that touch prepared statements (DISCARD ALL, DEALLOCATE), and the lane hint
 * comment at the start of a statement. Leading whitespace and comments are skipped. */
#ifndef PGLANE_PROTOCOL_SQL_H
#define PGLANE_PROTOCOL_SQL_H

#include <stdbool.h>
#include <stddef.h>

enum proto_sql_kind {
	PROTO_SQL_OTHER,
	PROTO_SQL_DISCARD_ALL,	   /* DISCARD ALL */
	PROTO_SQL_DEALLOCATE_ALL, /* DEALLOCATE [PREPARE] ALL */
	PROTO_SQL_DEALLOCATE,	   /* DEALLOCATE [PREPARE] name */
};

/* What the simple Query text `sql` (`len` bytes, maybe not NUL-terminated) is. Only a single
 * statement counts (an optional ';' and whitespace may follow). For DEALLOCATE the statement
 * name (unquoted: folded to lower case; quoted: as written) goes to `name` (`cap` bytes);
 * a name that does not fit makes it OTHER. */
enum proto_sql_kind proto_sql_classify(const char *sql, size_t len, char *name, size_t cap);

#endif
