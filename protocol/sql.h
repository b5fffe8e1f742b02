/* protocol/sql.h — the little pglane reads of SQL text: what a statement text does to the
 * session (settings it sets, state that ties a session to its server, the statements pglane
 * answers itself: DISCARD ALL and DEALLOCATE), and the lane hint comment at the start of a
 * statement. Pure code: a lexer that knows PostgreSQL's quoting (strings, escape strings,
 * quoted identifiers, dollar quotes, nested comments), no parser. */
#ifndef PGLANE_PROTOCOL_SQL_H
#define PGLANE_PROTOCOL_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/extended.h"

/* A text that is exactly one statement pglane can answer in the server's place. */
enum proto_sql_kind {
	PROTO_SQL_OTHER,
	PROTO_SQL_DISCARD_ALL,    /* DISCARD ALL */
	PROTO_SQL_DEALLOCATE_ALL, /* DEALLOCATE [PREPARE] ALL */
	PROTO_SQL_DEALLOCATE,     /* DEALLOCATE [PREPARE] name */
};

/* What a text may do to the session it runs in. Over-approximated: a bit set wrongly costs
 * pglane a look at the server's session; a bit missed would let state escape it. */
enum proto_sql_effect {
	PROTO_SQL_SETS = 1u << 0,          /* sets the settings listed in `settings` */
	PROTO_SQL_SETS_ANY = 1u << 1,      /* sets or resets settings it cannot name (RESET, DO,
	                                      SET x TO DEFAULT, set_config of a computed name) */
	PROTO_SQL_LOCK = 1u << 2,          /* takes a session-level advisory lock */
	PROTO_SQL_TEMP = 1u << 3,          /* creates a temporary table, view or sequence */
	PROTO_SQL_HOLD = 1u << 4,          /* declares a cursor WITH HOLD */
	PROTO_SQL_PREPARE = 1u << 5,       /* SQL PREPARE */
	PROTO_SQL_LISTEN = 1u << 6,        /* LISTEN */
	PROTO_SQL_LOAD = 1u << 7,          /* LOAD of a library */
	PROTO_SQL_PINS_ANY = 1u << 8,      /* may create any of the above (a DO block) */
	PROTO_SQL_UNPIN = 1u << 9,         /* may end such state: advisory unlocks, CLOSE, UNLISTEN,
	                                      DROP, DEALLOCATE, DISCARD */
	PROTO_SQL_DROPS_STMTS = 1u << 10,  /* DEALLOCATE ALL / DISCARD ALL: every prepared statement
	                                      of the session goes */
	PROTO_SQL_SETS_UNNAMED = 1u << 11, /* with SETS_ANY: among them settings it cannot name
	                                      at all (a DO block, set_config of a computed name), so
	                                      that even a look at every setting may miss one (a
	                                      placeholder such as myapp.x is listed nowhere) */
};
/* The effects that leave state on one server (pins). */
#define PROTO_SQL_PINS                                                                             \
	(PROTO_SQL_LOCK | PROTO_SQL_TEMP | PROTO_SQL_HOLD | PROTO_SQL_PREPARE | PROTO_SQL_LISTEN | \
	 PROTO_SQL_LOAD)

#define PROTO_SQL_MAX_SETTINGS 8  /* more named settings in one text: PROTO_SQL_SETS_ANY */
#define PROTO_SQL_SETTING_LEN  64 /* a setting name: 63 bytes + NUL (NAMEDATALEN) */

struct proto_sql_info {
	enum proto_sql_kind kind;
	unsigned effects; /* enum proto_sql_effect bits */
	/* PROTO_SQL_SETS: the settings set, lower case ("search_path", "role", "myapp.x") */
	unsigned nsettings;
	char settings[PROTO_SQL_MAX_SETTINGS][PROTO_SQL_SETTING_LEN];
	/* PROTO_SQL_DEALLOCATE: the statement name (unquoted: folded to lower case; quoted: as
	 * written) */
	char name[PROTO_MAX_NAME];
};

/* Read the statement text `sql` (`len` bytes, maybe not NUL-terminated; a NUL ends it) into
 * `out`. `backslash_quotes`: the session has standard_conforming_strings off, so a backslash
 * escapes a quote in an ordinary string. A text of one ordinary statement (no keyword below
 * first, none of set_config, advisory or temp in it) is told apart without lexing it. */
void proto_sql_scan(const char *sql, size_t len, bool backslash_quotes, struct proto_sql_info *out);
/* The same without the fast path: every text lexed (for tests and fuzzing: where the fast
 * path says "nothing", this must say nothing too). */
void proto_sql_scan_lexed(const char *sql, size_t len, bool backslash_quotes,
                          struct proto_sql_info *out);

/* The lane hint at the start of a statement: a block comment holding "lane: NAME" (spaces
 * optional, case-insensitive) before anything else but whitespace. The lowercased NAME goes
 * to `lane` (`cap` bytes); false when there is no such hint. */
bool proto_sql_lane_hint(const char *sql, size_t len, char *lane, size_t cap);

/* A statement that ends a transaction block, as PostgreSQL reads it in a failed one. */
enum proto_sql_txn_end {
	PROTO_SQL_TXN_NONE,      /* anything else (ROLLBACK TO, COMMIT PREPARED, two statements) */
	PROTO_SQL_TXN_COMMIT,    /* COMMIT / END [WORK | TRANSACTION] [AND [NO] CHAIN] */
	PROTO_SQL_TXN_ROLLBACK,  /* ROLLBACK / ABORT [WORK | TRANSACTION] [AND [NO] CHAIN] */
	PROTO_SQL_TXN_SAVEPOINT, /* ROLLBACK [WORK | TRANSACTION] TO, RELEASE: of a savepoint */
};
/* Is the text (`len` bytes, a NUL ends it) one COMMIT or ROLLBACK, comments, whitespace and a
 * final semicolon aside (or a savepoint's ROLLBACK TO or RELEASE)? */
enum proto_sql_txn_end proto_sql_txn_end(const char *sql, size_t len);

/* The query text of a Parse body (after the statement name): a pointer into it and its
 * length, or NULL when not NUL-terminated within `len`. */
const char *proto_sql_parse_text(const uint8_t *rest, size_t len, size_t *text_len);

#endif
