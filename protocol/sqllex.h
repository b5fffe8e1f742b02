/* protocol/sqllex.h — a lexer for PostgreSQL's SQL text, enough to find statement boundaries
 * and keywords without being fooled by quoting: 'strings' ('' inside), E'escape strings'
 * (backslashes; in every string when standard_conforming_strings is off), "quoted
 * identifiers" ("" inside), $tag$dollar quotes$tag$, -- comments and nested block comments,
 * $1 parameters. Everything else is a word, a number or a one-character punctuation. */
#ifndef PGLANE_PROTOCOL_SQLLEX_H
#define PGLANE_PROTOCOL_SQLLEX_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/extended.h"

enum proto_tok_kind {
	PROTO_TOK_END,    /* the text is over (or a NUL byte was reached) */
	PROTO_TOK_WORD,   /* a keyword or unquoted identifier: text folded to lower case */
	PROTO_TOK_QIDENT, /* a quoted identifier: text as written, "" made one quote */
	PROTO_TOK_STRING, /* a string constant of any quoting: text is its content (escapes of
	                     an escape string left as written) */
	PROTO_TOK_NUMBER,
	PROTO_TOK_PARAM, /* $1 */
	PROTO_TOK_PUNCT, /* one character of an operator or punctuation: `punct` */
};

struct proto_tok {
	enum proto_tok_kind kind;
	char punct;
	bool truncated;    /* text was longer than PROTO_MAX_NAME - 1 bytes (or unterminated) */
	bool unterminated; /* a quote or dollar quote the text ended inside */
	size_t len;        /* bytes in text */
	char text[PROTO_MAX_NAME];
};

struct proto_lexer {
	const char *p, *end;
	bool backslash_quotes; /* standard_conforming_strings = off */
};

void proto_lexer_init(struct proto_lexer *l, const char *sql, size_t len, bool backslash_quotes);
/* The next token into `t`; PROTO_TOK_END (forever) at the end. */
void proto_lex(struct proto_lexer *l, struct proto_tok *t);
/* Skip whitespace, -- comments and (nested) block comments at the lexer's position. */
void proto_lex_skip_space(struct proto_lexer *l);
/* Is `t` the word `w` (lower case)? */
bool proto_tok_is(const struct proto_tok *t, const char *w);
/* Is `t` the punctuation `c`? */
bool proto_tok_punct(const struct proto_tok *t, char c);

#endif
