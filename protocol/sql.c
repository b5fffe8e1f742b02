/* protocol/sql.c — what a statement text does to the session, by its leading keywords and a
 * few function names (protocol/sqllex.c tokens), and the lane hint. */
#include "protocol/sql.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "protocol/sqllex.h"

/* Settings were set that pglane cannot name: a look at every setting after it. */
#define SETS_UNNAMED (PROTO_SQL_SETS_ANY | PROTO_SQL_SETS_UNNAMED)

struct scan {
	struct proto_lexer lex;
	struct proto_tok tok;
	struct proto_sql_info *out;
	int statements;        /* statements seen so far */
	bool single_candidate; /* the first statement is DISCARD ALL / DEALLOCATE, nothing else */
};

static struct proto_tok *next(struct scan *s)
{
	proto_lex(&s->lex, &s->tok);
	return &s->tok;
}

static bool ends_statement(const struct proto_tok *t)
{
	return t->kind == PROTO_TOK_END || proto_tok_punct(t, ';');
}

/* A setting the text sets: remembered by name, or (no room, too long) as "some setting". */
static void add_setting(struct scan *s, const char *name, size_t len)
{
	struct proto_sql_info *o = s->out;
	if (len == 0 || len >= PROTO_SQL_SETTING_LEN || o->nsettings >= PROTO_SQL_MAX_SETTINGS) {
		o->effects |= SETS_UNNAMED;
		return;
	}
	for (unsigned i = 0; i < o->nsettings; i++)
		if (strcmp(o->settings[i], name) == 0)
			return;
	char *d = o->settings[o->nsettings++];
	for (size_t i = 0; i < len; i++)
		d[i] = (char)tolower((unsigned char)name[i]);
	d[len] = '\0';
	o->effects |= PROTO_SQL_SETS;
}

static void add_word_setting(struct scan *s, const char *name)
{
	add_setting(s, name, strlen(name));
}

/* set_config(name, value, is_local) after its name: a session setting unless is_local is
 * the literal true. The call's tokens are consumed; false when the statement ended in it. */
static bool set_config_call(struct scan *s)
{
	struct proto_tok *t = next(s);
	if (!proto_tok_punct(t, '('))
		return !ends_statement(t);
	char name[PROTO_SQL_SETTING_LEN];
	size_t name_len = 0;
	bool named = false, local = false;
	int arg = 0, depth = 0, arg_tokens = 0;
	for (;;) {
		t = next(s);
		if (ends_statement(t)) {
			s->out->effects |= SETS_UNNAMED;
			return false;
		}
		if (proto_tok_punct(t, '(') || proto_tok_punct(t, '[')) {
			depth++;
		} else if ((proto_tok_punct(t, ')') || proto_tok_punct(t, ']')) && depth > 0) {
			depth--;
		} else if (depth == 0 && (proto_tok_punct(t, ',') || proto_tok_punct(t, ')'))) {
			if (proto_tok_punct(t, ')'))
				break;
			arg++;
			arg_tokens = 0;
			continue;
		}
		arg_tokens++;
		if (arg == 0) {
			named = arg_tokens == 1 && t->kind == PROTO_TOK_STRING && !t->truncated &&
			        t->len < sizeof(name);
			if (named) {
				memcpy(name, t->text, t->len + 1);
				name_len = t->len;
			}
		} else if (arg == 2) {
			local = arg_tokens == 1 &&
			        (proto_tok_is(t, "true") ||
			         (t->kind == PROTO_TOK_STRING &&
			          (strcasecmp(t->text, "t") == 0 ||
			           strcasecmp(t->text, "true") == 0 ||
			           strcasecmp(t->text, "on") == 0 ||
			           strcasecmp(t->text, "yes") == 0 || strcmp(t->text, "1") == 0)));
		}
	}
	if (local && arg == 2)
		return true;
	if (named && arg == 2)
		add_setting(s, name, name_len);
	else
		s->out->effects |= SETS_UNNAMED;
	return true;
}

/* The name a token gives a function or schema: a word, or a quoted identifier (as written,
 * so "set_config" names the function and "SET_CONFIG" does not); NULL otherwise. */
static const char *name_of(const struct proto_tok *t)
{
	if ((t->kind == PROTO_TOK_WORD || t->kind == PROTO_TOK_QIDENT) && !t->truncated)
		return t->text;
	return NULL;
}

/* Words anywhere in a statement that matter: function calls that set settings or take
 * advisory locks, SELECT ... INTO TEMP, the pg_temp schema. `create`: a CREATE statement (TEMP
 * and TEMPORARY make a temporary object); `declare`: a DECLARE (WITH HOLD before its FOR).
 * Consumes the statement up to its end. */
static void scan_rest(struct scan *s, bool create, bool declare)
{
	bool after_into = false, after_with = false;
	for (;;) {
		struct proto_tok *t = next(s);
		if (ends_statement(t))
			return;
		const char *w = name_of(t);
		bool word = t->kind == PROTO_TOK_WORD && w;
		if (w && strcmp(w, "set_config") == 0) {
			if (!set_config_call(s))
				return;
		} else if (w && (strcmp(w, "pg_advisory_lock") == 0 ||
		                 strcmp(w, "pg_advisory_lock_shared") == 0 ||
		                 strcmp(w, "pg_try_advisory_lock") == 0 ||
		                 strcmp(w, "pg_try_advisory_lock_shared") == 0)) {
			s->out->effects |= PROTO_SQL_LOCK;
		} else if (w && strncmp(w, "pg_advisory_unlock", 18) == 0) {
			s->out->effects |= PROTO_SQL_UNPIN;
		} else if (w && strcmp(w, "pg_temp") == 0) {
			s->out->effects |= PROTO_SQL_TEMP;
		} else if (word && (create || after_into) &&
		           (strcmp(w, "temp") == 0 || strcmp(w, "temporary") == 0)) {
			s->out->effects |= PROTO_SQL_TEMP;
		} else if (word && declare && after_with && strcmp(w, "hold") == 0) {
			s->out->effects |= PROTO_SQL_HOLD;
		} else if (word && declare && strcmp(w, "for") == 0) {
			declare = false; /* the query starts: a CTE may be named hold */
		}
		after_into = word && strcmp(w, "into") == 0;
		after_with = word && strcmp(w, "with") == 0;
	}
}

/* A setting's name after SET [SESSION]: a word or quoted identifier, maybe dotted
 * (myapp.tenant). `t` is its first token. Then the value: DEFAULT resets it. */
static void scan_set_name(struct scan *s, struct proto_tok *t)
{
	char name[PROTO_SQL_SETTING_LEN];
	size_t n = 0;
	for (;;) {
		if ((t->kind != PROTO_TOK_WORD && t->kind != PROTO_TOK_QIDENT) || t->truncated ||
		    n + t->len + 1 >= sizeof(name)) {
			s->out->effects |= SETS_UNNAMED;
			if (!ends_statement(t))
				scan_rest(s, false, false);
			return;
		}
		memcpy(name + n, t->text, t->len);
		n += t->len;
		t = next(s);
		if (!proto_tok_punct(t, '.'))
			break;
		name[n++] = '.';
		t = next(s);
	}
	name[n] = '\0';
	if (!proto_tok_is(t, "to") && !proto_tok_punct(t, '=')) {
		s->out->effects |= SETS_UNNAMED; /* not a form pglane knows */
		if (!ends_statement(t))
			scan_rest(s, false, false);
		return;
	}
	t = next(s);
	if (proto_tok_is(t, "default")) {
		s->out->effects |= PROTO_SQL_SETS_ANY; /* back to the reset value */
	} else {
		add_setting(s, name, n);
	}
	if (!ends_statement(t))
		scan_rest(s, false, false);
}

/* SET ... (the SET consumed). */
static void scan_set(struct scan *s)
{
	struct proto_tok *t = next(s);
	if (proto_tok_is(t, "local") || proto_tok_is(t, "transaction") ||
	    proto_tok_is(t, "constraints")) {
		scan_rest(s, false, false); /* ends with the transaction */
		return;
	}
	if (proto_tok_is(t, "session")) {
		t = next(s);
		if (proto_tok_is(t, "authorization")) {
			add_word_setting(s, "session_authorization");
			add_word_setting(s, "role");
			scan_rest(s, false, false);
			return;
		}
		if (proto_tok_is(t, "characteristics")) {
			add_word_setting(s, "default_transaction_isolation");
			add_word_setting(s, "default_transaction_read_only");
			add_word_setting(s, "default_transaction_deferrable");
			scan_rest(s, false, false);
			return;
		}
	}
	static const struct {
		const char *word, *setting;
	} special[] = {
	        {"role", "role"},          {"time", "timezone"}, {"names", "client_encoding"},
	        {"schema", "search_path"}, {"xml", "xmloption"},
	};
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		if (!proto_tok_is(t, special[i].word))
			continue;
		/* SET TIME ZONE DEFAULT / LOCAL, SET NAMES DEFAULT: back to the reset value */
		struct proto_lexer at = s->lex;
		struct proto_tok *v = next(s);
		if (proto_tok_is(v, "zone") || proto_tok_is(v, "option"))
			v = next(s);
		if (proto_tok_is(v, "default") || proto_tok_is(v, "local"))
			s->out->effects |= PROTO_SQL_SETS_ANY;
		else
			add_word_setting(s, special[i].setting);
		s->lex = at;
		scan_rest(s, false, false);
		return;
	}
	if (ends_statement(t)) {
		s->out->effects |= PROTO_SQL_SETS_ANY;
		return;
	}
	scan_set_name(s, t);
}

/* DISCARD ... and DEALLOCATE ...: a single statement pglane may answer itself. `first`
 * tells whether it is the text's first statement. */
static void scan_discard(struct scan *s, bool first)
{
	struct proto_tok *t = next(s);
	if (proto_tok_is(t, "all")) {
		s->out->effects |= PROTO_SQL_SETS_ANY | PROTO_SQL_UNPIN | PROTO_SQL_DROPS_STMTS;
		t = next(s);
		if (first && ends_statement(t))
			s->out->kind = PROTO_SQL_DISCARD_ALL;
	} else if (proto_tok_is(t, "temp") || proto_tok_is(t, "temporary")) {
		s->out->effects |= PROTO_SQL_UNPIN;
		t = next(s);
	}
	if (!ends_statement(t))
		scan_rest(s, false, false);
}

static void scan_deallocate(struct scan *s, bool first)
{
	s->out->effects |= PROTO_SQL_UNPIN;
	struct proto_tok *t = next(s);
	/* PREPARE is an optional noise word, and also a valid statement name */
	if (proto_tok_is(t, "prepare")) {
		struct proto_lexer at = s->lex;
		struct proto_tok *n = next(s);
		if (ends_statement(n)) {
			s->lex = at;
			s->tok.kind = PROTO_TOK_WORD;
			memcpy(s->tok.text, "prepare", sizeof("prepare"));
			s->tok.len = strlen("prepare");
			s->tok.truncated = false;
		}
		t = &s->tok;
	}
	enum proto_sql_kind kind = PROTO_SQL_OTHER;
	if (proto_tok_is(t, "all")) {
		s->out->effects |= PROTO_SQL_DROPS_STMTS;
		kind = PROTO_SQL_DEALLOCATE_ALL;
	} else if ((t->kind == PROTO_TOK_WORD || t->kind == PROTO_TOK_QIDENT) && t->len > 0 &&
	           !t->truncated) {
		memcpy(s->out->name, t->text, t->len + 1);
		kind = PROTO_SQL_DEALLOCATE;
	}
	if (ends_statement(t))
		return;
	t = next(s);
	if (ends_statement(t)) {
		if (first)
			s->out->kind = kind;
		return;
	}
	scan_rest(s, false, false);
}

/* One statement; false when the text is over. */
static bool scan_statement(struct scan *s)
{
	struct proto_tok *t = next(s);
	if (t->kind == PROTO_TOK_END)
		return false;
	if (proto_tok_punct(t, ';'))
		return true;
	bool first = s->statements++ == 0;
	struct proto_sql_info *o = s->out;
	if (t->kind != PROTO_TOK_WORD || t->truncated) {
		scan_rest(s, false, false);
		return true;
	}
	const char *w = t->text;
	if (strcmp(w, "set") == 0) {
		scan_set(s);
		return true;
	}
	if (strcmp(w, "discard") == 0) {
		scan_discard(s, first);
		return true;
	}
	if (strcmp(w, "deallocate") == 0) {
		scan_deallocate(s, first);
		return true;
	}
	bool create = false, declare = false;
	if (strcmp(w, "reset") == 0) {
		o->effects |= PROTO_SQL_SETS_ANY;
	} else if (strcmp(w, "prepare") == 0) {
		t = next(s);
		if (ends_statement(t))
			return true;
		if (!proto_tok_is(t, "transaction"))
			o->effects |= PROTO_SQL_PREPARE;
	} else if (strcmp(w, "declare") == 0) {
		declare = true;
	} else if (strcmp(w, "close") == 0 || strcmp(w, "unlisten") == 0 ||
	           strcmp(w, "drop") == 0) {
		o->effects |= PROTO_SQL_UNPIN;
	} else if (strcmp(w, "listen") == 0) {
		o->effects |= PROTO_SQL_LISTEN;
	} else if (strcmp(w, "load") == 0) {
		o->effects |= PROTO_SQL_LOAD;
	} else if (strcmp(w, "create") == 0) {
		create = true;
	} else if (strcmp(w, "do") == 0) {
		o->effects |= SETS_UNNAMED | PROTO_SQL_PINS_ANY;
	}
	scan_rest(s, create, declare);
	return true;
}

/* ---- the fast path: one ordinary statement ---- */

/* Keywords that start a statement the scanner must look at; `w` is lower case. */
static bool special_first_word(const char *w, size_t n)
{
	switch (n) {
	case 2:
		return memcmp(w, "do", 2) == 0;
	case 3:
		return memcmp(w, "set", 3) == 0;
	case 4:
		return memcmp(w, "drop", 4) == 0 || memcmp(w, "load", 4) == 0;
	case 5:
		return memcmp(w, "reset", 5) == 0 || memcmp(w, "close", 5) == 0;
	case 6:
		return memcmp(w, "listen", 6) == 0 || memcmp(w, "create", 6) == 0;
	case 7:
		return memcmp(w, "discard", 7) == 0 || memcmp(w, "prepare", 7) == 0 ||
		       memcmp(w, "declare", 7) == 0;
	case 8:
		return memcmp(w, "unlisten", 8) == 0;
	case 10:
		return memcmp(w, "deallocate", 10) == 0;
	default:
		return false;
	}
}

/* Does [p, end) hold `w` (lower case) in any letter case? */
static bool has_at(const char *p, const char *end, const char *w, size_t n)
{
	if ((size_t)(end - p) < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] + ('a' - 'A')) : p[i];
		if (c != w[i])
			return false;
	}
	return true;
}

/* The fast path looks for the bytes that tell the trigger words apart from most text: the '_'
 * of set_config, the 'v' of advisory, the 'm' of temp (either case), and ';'. */
#define STOPS "_vVmM;"
static const bool stops[256] = {['_'] = true, ['v'] = true, ['V'] = true, ['m'] = true,
                                ['M'] = true, [';'] = true, [0] = true};

/* The next stop byte at or after `p`, or `end`. A text that ends with its NUL is searched by
 * strcspn (the C library's vector code), any other byte by byte. */
static const char *next_stop(const char *p, const char *end, bool terminated)
{
	if (terminated)
		return p + strcspn(p, STOPS);
	while (p < end && !stops[(uint8_t)*p])
		p++;
	return p;
}

/* Is the rest after a ';' only whitespace and more ';'? */
static bool only_trailing(const char *p, const char *end)
{
	for (; p < end && *p != '\0'; p++)
		if (*p != ';' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			return false;
	return true;
}

/* Does the word `w` (lower case, `n` bytes) stand in [start, end) with its byte `at` at `p`? */
static bool word_around(const char *start, const char *end, const char *p, const char *w, size_t n,
                        size_t at)
{
	return (size_t)(p - start) >= at && has_at(p - at, end, w, n);
}

/* True when the text is one statement that starts with an ordinary keyword and holds none of
 * the words the scanner reacts to (set_config, pg_advisory_*, temp, pg_temp), quoted or not:
 * its scan could find nothing. False means "scan it" (never "it does something"). */
static bool plain_statement(const char *sql, size_t len)
{
	struct proto_lexer l;
	proto_lexer_init(&l, sql, len, false);
	proto_lex_skip_space(&l);
	const char *p = l.p, *end = l.end;
	char w[12];
	size_t n = 0;
	for (; p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')); p++) {
		if (n == sizeof(w))
			return false; /* no ordinary keyword is that long: scan it */
		w[n++] = (char)(*p | 0x20);
	}
	if (n == 0 || (p < end && (*p == '_' || *p == '$' || (*p >= '0' && *p <= '9') ||
	                           (unsigned char)*p >= 0x80)))
		return false;
	if (special_first_word(w, n))
		return false;
	bool terminated = len > 0 && sql[len - 1] == '\0';
	for (;; p++) {
		p = next_stop(p, end, terminated);
		if (p >= end || *p == '\0')
			return true;
		switch (*p) {
		case '_':
			if (word_around(sql, end, p, "set_config", 10, 3))
				return false;
			break;
		case 'v':
		case 'V':
			if (word_around(sql, end, p, "advisory", 8, 2))
				return false;
			break;
		case 'm':
		case 'M':
			if (word_around(sql, end, p, "temp", 4, 2))
				return false;
			break;
		default: /* ';' */
			return only_trailing(p + 1, end);
		}
	}
}

void proto_sql_scan(const char *sql, size_t len, bool backslash_quotes, struct proto_sql_info *out)
{
	if (plain_statement(sql, len)) {
		out->kind = PROTO_SQL_OTHER;
		out->effects = 0;
		out->nsettings = 0;
		out->name[0] = '\0';
		return;
	}
	proto_sql_scan_lexed(sql, len, backslash_quotes, out);
}

void proto_sql_scan_lexed(const char *sql, size_t len, bool backslash_quotes,
                          struct proto_sql_info *out)
{
	out->kind = PROTO_SQL_OTHER;
	out->effects = 0;
	out->nsettings = 0;
	out->name[0] = '\0';
	struct scan s = {.out = out};
	proto_lexer_init(&s.lex, sql, len, backslash_quotes);
	while (scan_statement(&s))
		;
	if (s.statements != 1)
		out->kind = PROTO_SQL_OTHER;
}

/* ---- lane hint ---- */

bool proto_sql_lane_hint(const char *sql, size_t len, char *lane, size_t cap)
{
	const char *p = sql, *end = sql + len;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (end - p < 4 || p[0] != '/' || p[1] != '*')
		return false;
	struct proto_lexer l;
	proto_lexer_init(&l, p + 2, (size_t)(end - p - 2), false);
	proto_lex_skip_space(&l);
	p = l.p;
	if (end - p < 4 || strncasecmp(p, "lane", 4) != 0)
		return false;
	p += 4;
	if (p < end &&
	    (isalnum((unsigned char)*p) || *p == '_' || *p == '$' || (unsigned char)*p >= 0x80))
		return false;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p >= end || *p != ':')
		return false;
	p++;
	while (p < end && isspace((unsigned char)*p))
		p++;
	size_t n = 0;
	while (p < end && (isalnum((unsigned char)*p) || *p == '_')) {
		if (n + 1 >= cap)
			return false;
		lane[n++] = (char)tolower((unsigned char)*p++);
	}
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (n == 0 || end - p < 2 || p[0] != '*' || p[1] != '/')
		return false;
	lane[n] = '\0';
	return true;
}

const char *proto_sql_parse_text(const uint8_t *rest, size_t len, size_t *text_len)
{
	const uint8_t *nul = memchr(rest, 0, len);
	if (!nul)
		return NULL;
	*text_len = (size_t)(nul - rest);
	return (const char *)rest;
}

/* ---- a transaction's end ---- */

/* Past whitespace and comments (nested block comments) from `p`; `end` bounds it. */
static const char *txn_skip(const char *p, const char *end)
{
	while (p < end && *p) {
		if (isspace((unsigned char)*p)) {
			p++;
		} else if (p + 1 < end && p[0] == '-' && p[1] == '-') {
			while (p < end && *p && *p != '\n')
				p++;
		} else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
			int depth = 0;
			do {
				if (p + 1 < end && p[0] == '/' && p[1] == '*') {
					depth++;
					p += 2;
				} else if (p + 1 < end && p[0] == '*' && p[1] == '/') {
					depth--;
					p += 2;
				} else {
					p++;
				}
			} while (depth > 0 && p < end && *p);
		} else {
			break;
		}
	}
	return p;
}

/* The word at `*p` (letters and underscores), lower-cased into `w`; *p moves past it and the
 * blanks after. False when there is none. */
static bool txn_word(const char **p, const char *end, char *w, size_t cap)
{
	size_t n = 0;
	const char *q = *p;
	while (q < end && (isalpha((unsigned char)*q) || *q == '_')) {
		if (n + 1 < cap)
			w[n++] = (char)tolower((unsigned char)*q);
		q++;
	}
	w[n] = '\0';
	if (q == *p)
		return false;
	*p = txn_skip(q, end);
	return true;
}

enum proto_sql_txn_end proto_sql_txn_end(const char *sql, size_t len)
{
	const char *p = sql, *end = sql + len;
	char w[16];
	p = txn_skip(p, end);
	if (!txn_word(&p, end, w, sizeof(w)))
		return PROTO_SQL_TXN_NONE;
	enum proto_sql_txn_end kind;
	if (strcmp(w, "release") == 0)
		return PROTO_SQL_TXN_SAVEPOINT;
	if (strcmp(w, "commit") == 0 || strcmp(w, "end") == 0)
		kind = PROTO_SQL_TXN_COMMIT;
	else if (strcmp(w, "rollback") == 0 || strcmp(w, "abort") == 0)
		kind = PROTO_SQL_TXN_ROLLBACK;
	else
		return PROTO_SQL_TXN_NONE;
	/* only WORK / TRANSACTION and AND [NO] CHAIN may follow (ROLLBACK ... TO: a savepoint) */
	while (txn_word(&p, end, w, sizeof(w))) {
		if (kind == PROTO_SQL_TXN_ROLLBACK && strcmp(w, "to") == 0)
			return PROTO_SQL_TXN_SAVEPOINT;
		if (strcmp(w, "work") != 0 && strcmp(w, "transaction") != 0 &&
		    strcmp(w, "and") != 0 && strcmp(w, "no") != 0 && strcmp(w, "chain") != 0)
			return PROTO_SQL_TXN_NONE;
	}
	if (p < end && *p == ';')
		p = txn_skip(p + 1, end);
	return p >= end || *p == '\0' ? kind : PROTO_SQL_TXN_NONE;
}
