/* pool/session.h — a client's session as pglane keeps it in transaction mode, and what a
 * server's backend holds: settings (every session-level parameter: start-up parameters, SET,
 * SET ROLE, set_config(..., false)), pins (state that cannot move to another server), and the
 * SQL that brings a backend to a client's settings or asks it what a transaction changed.
 *
 * Settings are sets of (name, value) pairs, names in lower case, interned: two equal sets
 * are the same pointer, the empty set is NULL. A value is what SHOW gives (or the raw
 * start-up value), applied with set_config(name, value, false) after a reset of the name, so
 * that a partial value (DateStyle = 'ISO') lands as on a fresh connection. `role` and
 * `session_authorization` are settings too: absent means the login user.
 *
 * After a transaction whose statements may have changed the session (protocol/sql.h's
 * effects, gathered in a struct pool_dirty), the backend is asked (pool_capture_sql): the
 * named settings' values (current_setting), or, when pglane cannot name them (RESET, DO),
 * every setting whose source is the session; and whether it holds state that pins. The rows
 * of that answer (pool_capture_row) give the backend's settings and pins; the client's session
 * follows (pool_session_captured), start-up values coming back where a reset took them away. */
#ifndef PGLANE_POOL_SESSION_H
#define PGLANE_POOL_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool/params.h"
#include "protocol/sql.h"

/* ---- settings ---- */

struct pool_settings; /* interned, immutable, reference-counted */

/* `*s` with `name` = `value` (value NULL: without `name`); the old reference is dropped, the
 * new one held. False when out of memory (`*s` unchanged). */
__attribute__((warn_unused_result)) bool pool_settings_set(const struct pool_settings **s,
                                                           const char *name, const char *value);
/* A new reference (NULL stays NULL). */
const struct pool_settings *pool_settings_ref(const struct pool_settings *s);
void pool_settings_put(const struct pool_settings *s);
/* Replace `*dst` with a reference to `src`. */
void pool_settings_assign(const struct pool_settings **dst, const struct pool_settings *src);
size_t pool_settings_count(const struct pool_settings *s);
const char *pool_settings_name(const struct pool_settings *s, size_t i);
const char *pool_settings_value(const struct pool_settings *s, size_t i);
/* The value of `name` (lower case), or NULL. */
const char *pool_settings_get(const struct pool_settings *s, const char *name);
/* Sets alive, for tests. */
size_t pool_settings_alive(void);

/* The SQL that turns a backend holding `have` into one holding `want`: one SELECT of
 * set_config calls (session_authorization first, role last, each changed name reset before
 * it is set), NUL-terminated in `out`. `reset_all`: the backend may hold settings nobody can
 * name (another client's DO block set a placeholder): "RESET ALL;" first, then every setting
 * of `want` (`have` counts only for role and session_authorization, which RESET ALL keeps).
 * Returns its length, 0 when there is nothing to do, (size_t)-1 when `cap` is too small. */
size_t pool_settings_apply_sql(const struct pool_settings *want, const struct pool_settings *have,
                               bool reset_all, char *out, size_t cap);

/* ---- pins ---- */

enum pool_pin {
	POOL_PIN_LOCK = 1u << 0,    /* advisory_lock */
	POOL_PIN_TEMP = 1u << 1,    /* temp_object */
	POOL_PIN_HOLD = 1u << 2,    /* held_cursor */
	POOL_PIN_PREPARE = 1u << 3, /* prepared_statement (SQL PREPARE) */
	POOL_PIN_LISTEN = 1u << 4,  /* listen */
	POOL_PIN_LOAD = 1u << 5,    /* load (never undone: the server is closed after) */
};
#define POOL_PIN_KINDS 6
/* The reason's name of pin bit number `i` (0 .. POOL_PIN_KINDS - 1). */
const char *pool_pin_name(int i);
/* "advisory_lock,listen" for a set of pins ("" for none), NUL-terminated in `out`. */
void pool_pin_names(unsigned pins, char *out, size_t cap);
/* The pins a statement's effects may create (protocol/sql.h bits). */
unsigned pool_pin_from_effects(unsigned effects);

/* ---- what a transaction may have changed ---- */

#define POOL_DIRTY_NAMES 16

struct pool_dirty {
	unsigned effects; /* protocol/sql.h bits, accumulated */
	unsigned nnames;
	char names[POOL_DIRTY_NAMES][PROTO_SQL_SETTING_LEN];
};

/* Add a statement's effects (more names than fit: PROTO_SQL_SETS_ANY). */
void pool_dirty_add(struct pool_dirty *d, const struct proto_sql_info *info);
/* Add bare effect bits. */
void pool_dirty_add_effects(struct pool_dirty *d, unsigned effects);
/* Does anything need asking? `pinned` are the client's pins (unpin hints matter then);
 * `pin_checks` whether pins are looked for at all (pin_session_state is not "allow", and
 * transaction mode). */
bool pool_dirty_pending(const struct pool_dirty *d, unsigned pinned, bool pin_checks);
void pool_dirty_clear(struct pool_dirty *d);

/* ---- asking the backend ---- */

/* The pins whose state the capture looks for (LOAD is never looked for: it cannot go). */
unsigned pool_capture_checks(const struct pool_dirty *d, unsigned pinned, bool pin_checks);
/* The capture query for `d` over a backend that held `before`: one SELECT of rows (kind,
 * name, value) — kind 's' a setting (value NULL: not set), 'p' a pin that is there (name its
 * reason) — NUL-terminated in `out`. A look at every setting also names the placeholders
 * (a.b) of `before` and `d`: pg_settings lists none. Returns its length, (size_t)-1 when `cap`
 * is too small. */
size_t pool_capture_sql(const struct pool_dirty *d, const struct pool_settings *before,
                        unsigned checks, char *out, size_t cap);

struct pool_capture {
	const struct pool_settings *settings; /* owned reference: the backend's, being built */
	unsigned checks;                      /* pins looked for */
	unsigned pins;                        /* pins found */
	bool full;                            /* every session setting was listed */
	bool unnamed; /* settings nobody can name may have been set: the backend may hold more */
	bool failed;  /* out of memory or a malformed row */
};

/* Begin reading an answer: `before` is what the backend held before the transaction,
 * `login_user` the user the backend logged in as. */
void pool_capture_begin(struct pool_capture *cap, const struct pool_dirty *d, unsigned checks,
                        const struct pool_settings *before);
/* One row of the answer (`value` NULL for SQL NULL). `login_user` turns
 * session_authorization back into "not set". */
void pool_capture_row(struct pool_capture *cap, const char *kind, const char *name,
                      const char *value, const char *login_user);
/* Forget an answer that will not be used. */
void pool_capture_discard(struct pool_capture *cap);

/* ---- a client's session ---- */

struct pool_session {
	const struct pool_settings *startup; /* owned: its reset values, from the start-up */
	const struct pool_settings *current; /* owned: what its session holds now */
	unsigned pins;                       /* enum pool_pin bits */
	bool applied;                        /* `current` was in effect on a backend once */
};

void pool_session_init(struct pool_session *s);
void pool_session_free(struct pool_session *s);
/* A start-up parameter (also the first current value). False when out of memory. */
__attribute__((warn_unused_result)) bool pool_session_startup(struct pool_session *s,
                                                              const char *name, const char *value);
/* A capture was read: the backend holds `cap->settings`, and the client holds them too,
 * but for start-up settings a full capture no longer lists (a reset took them away: they
 * come back, as PostgreSQL's RESET would give them); pins follow what was looked for.
 * Returns the pins that are new. False in *ok when out of memory (the session is then
 * unchanged). */
unsigned pool_session_captured(struct pool_session *s, const struct pool_capture *cap, bool *ok);
/* DISCARD ALL answered by pglane: back to the start-up settings, no pins. */
void pool_session_discard_all(struct pool_session *s);

/* ---- counters ---- */

/* Pins made since start, by reason (bit number). */
uint64_t pool_pins_total(int i);
/* This slot's pins_total made the sum of workers 0..n-1's (a merged view, pool/view.h). */
void pool_pins_total_gather(unsigned n);
void pool_pins_count(unsigned new_pins);

#endif
