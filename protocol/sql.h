/* protocol/sql.h — the little pglane reads of SQL text: whether a simple Query is one of
 * the statements that touch prepared statements (DISCARD ALL, DEALLOCATE), and the lane hint
 * comment at the start of a statement. Leading whitespace and comments are skipped. */
#ifndef PGLANE_PROTOCOL_SQL_H
#define PGLANE_PROTOCOL_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum proto_sql_kind {
	PROTO_SQL_OTHER,
	PROTO_SQL_DISCARD_ALL,    /* DISCARD ALL */
	PROTO_SQL_DEALLOCATE_ALL, /* DEALLOCATE [PREPARE] ALL */
	PROTO_SQL_DEALLOCATE,     /* DEALLOCATE [PREPARE] name */
};

/* What the simple Query text `sql` (`len` bytes, maybe not NUL-terminated) is. Only a single
 * statement counts (an optional ';' and whitespace may follow). For DEALLOCATE the statement
 * name (unquoted: folded to lower case; quoted: as written) goes to `name` (`cap` bytes);
 * a name that does not fit makes it OTHER. */
enum proto_sql_kind proto_sql_classify(const char *sql, size_t len, char *name, size_t cap);

/* The lane hint at the start of a statement: a block comment holding "lane: NAME" (spaces
 * optional, case-insensitive) before anything else but whitespace. The lowercased NAME goes
 * to `lane` (`cap` bytes); false when there is no such hint. */
bool proto_sql_lane_hint(const char *sql, size_t len, char *lane, size_t cap);

/* The query text of a Parse body (after the statement name): a pointer into it and its
 * length, or NULL when not NUL-terminated within `len`. */
const char *proto_sql_parse_text(const uint8_t *rest, size_t len, size_t *text_len);

#endif
