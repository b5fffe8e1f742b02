/* protocol/sqllex.c — tokens of SQL text, with PostgreSQL's quoting rules (scan.l). */
#include "protocol/sqllex.h"

#include <string.h>

void proto_lexer_init(struct proto_lexer *l, const char *sql, size_t len, bool backslash_quotes)
{
	l->p = sql;
	l->end = sql + len;
	l->backslash_quotes = backslash_quotes;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (unsigned char)c >= 0x80;
}

static bool ident_cont(char c)
{
	return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* Is the rest of the text at least `n` bytes, none of them NUL? */
static bool have(const struct proto_lexer *l, size_t n)
{
	return (size_t)(l->end - l->p) >= n;
}

void proto_lex_skip_space(struct proto_lexer *l)
{
	for (;;) {
		while (l->p < l->end && is_space(*l->p))
			l->p++;
		if (have(l, 2) && l->p[0] == '-' && l->p[1] == '-') {
			while (l->p < l->end && *l->p != '\n' && *l->p != '\0')
				l->p++;
			continue;
		}
		if (have(l, 2) && l->p[0] == '/' && l->p[1] == '*') {
			int depth = 0;
			while (l->p < l->end && *l->p != '\0') {
				if (have(l, 2) && l->p[0] == '/' && l->p[1] == '*') {
					depth++;
					l->p += 2;
				} else if (have(l, 2) && l->p[0] == '*' && l->p[1] == '/') {
					l->p += 2;
					if (--depth == 0)
						break;
				} else {
					l->p++;
				}
			}
			continue;
		}
		return;
	}
}

static void put(struct proto_tok *t, char c)
{
	if (t->len + 1 < sizeof(t->text))
		t->text[t->len++] = c;
	else
		t->truncated = true;
}

/* A quoted run ending at `q` (doubled: one `q`); backslashes escape the next byte when
 * `backslash`. The opening quote is consumed already. */
static void quoted(struct proto_lexer *l, struct proto_tok *t, char q, bool backslash)
{
	while (l->p < l->end && *l->p != '\0') {
		char c = *l->p++;
		if (backslash && c == '\\') {
			put(t, c);
			if (l->p < l->end && *l->p != '\0')
				put(t, *l->p++);
			continue;
		}
		if (c != q) {
			put(t, c);
			continue;
		}
		if (l->p < l->end && *l->p == q) {
			put(t, q);
			l->p++;
			continue;
		}
		return;
	}
	t->truncated = true; /* unterminated: the server will say so */
	t->unterminated = true;
}

/* At '$': a dollar quote $tag$...$tag$ (tag: identifier characters but '$', not starting
 * with a digit), else a parameter $n or a lone '$'. */
static void dollar(struct proto_lexer *l, struct proto_tok *t)
{
	const char *tag = l->p;
	const char *q = l->p + 1;
	if (q < l->end && ident_start(*q))
		while (q < l->end && ident_cont(*q) && *q != '$')
			q++;
	if (q < l->end && *q == '$') {
		size_t taglen = (size_t)(q + 1 - tag);
		t->kind = PROTO_TOK_STRING;
		l->p = q + 1;
		while (l->p < l->end && *l->p != '\0') {
			if (*l->p == '$' && have(l, taglen) && memcmp(l->p, tag, taglen) == 0) {
				l->p += taglen;
				return;
			}
			put(t, *l->p++);
		}
		t->truncated = true;
		t->unterminated = true;
		return;
	}
	l->p++;
	if (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
		t->kind = PROTO_TOK_PARAM;
		while (l->p < l->end && *l->p >= '0' && *l->p <= '9')
			put(t, *l->p++);
		return;
	}
	t->kind = PROTO_TOK_PUNCT;
	t->punct = '$';
}

void proto_lex(struct proto_lexer *l, struct proto_tok *t)
{
	t->len = 0;
	t->truncated = false;
	t->unterminated = false;
	t->punct = 0;
	proto_lex_skip_space(l);
	if (l->p >= l->end || *l->p == '\0') {
		t->kind = PROTO_TOK_END;
		t->text[0] = '\0';
		return;
	}
	char c = *l->p;
	if ((c == 'e' || c == 'E') && have(l, 2) && l->p[1] == '\'') {
		t->kind = PROTO_TOK_STRING;
		l->p += 2;
		quoted(l, t, '\'', true);
	} else if (ident_start(c)) {
		t->kind = PROTO_TOK_WORD;
		while (l->p < l->end && ident_cont(*l->p))
			put(t, lower(*l->p++));
	} else if (c == '\'') {
		t->kind = PROTO_TOK_STRING;
		l->p++;
		quoted(l, t, '\'', l->backslash_quotes);
	} else if (c == '"') {
		t->kind = PROTO_TOK_QIDENT;
		l->p++;
		quoted(l, t, '"', false);
	} else if (c == '$') {
		dollar(l, t);
	} else if (c >= '0' && c <= '9') {
		t->kind = PROTO_TOK_NUMBER;
		while (l->p < l->end && (ident_cont(*l->p) || *l->p == '.'))
			put(t, *l->p++);
	} else {
		t->kind = PROTO_TOK_PUNCT;
		t->punct = c;
		l->p++;
	}
	t->text[t->len] = '\0';
}

bool proto_tok_is(const struct proto_tok *t, const char *w)
{
	return t->kind == PROTO_TOK_WORD && !t->truncated && strcmp(t->text, w) == 0;
}

bool proto_tok_punct(const struct proto_tok *t, char c)
{
	return t->kind == PROTO_TOK_PUNCT && t->punct == c;
}
