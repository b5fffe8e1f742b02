/* proxy/handled.c — a client's SQL looked at before it goes to a server: the statements
 * pglane answers in the server's place (DISCARD ALL, DEALLOCATE ALL and DEALLOCATE of one of
 * the client's own statements: they act on the client's statements only, by simple Query or
 * by Parse/Bind/Execute, so that no other client's statement leaves a server), the ones
 * refused (pin_session_state = refuse), and the effects of the rest, noted on the server for
 * the look at its session after the transaction (proxy/session.c). */
#include <stdlib.h>
#include <string.h>

#include "config/log.h"
#include "protocol/extended.h"
#include "protocol/msg.h"
#include "proxy/client.h"
#include "proxy/client_msg.h"
#include "proxy/handled.h"
#include "proxy/prepared.h"
#include "proxy/requests.h"
#include "proxy/server.h"
#include "proxy/session.h"

/* The text of a Query or a Parse, when all of it is there. */
static const char *sql_text(const uint8_t *msg, size_t avail, size_t size, size_t *len)
{
	if (avail < size)
		return NULL;
	const uint8_t *body = msg + PROTO_HEADER_SIZE;
	size_t n = size - PROTO_HEADER_SIZE;
	if (msg[0] == PROTO_FE_QUERY) {
		*len = n;
		return (const char *)body;
	}
	const char *name;
	size_t rest;
	if (!proto_parse_parse(body, n, &name, &rest))
		return NULL;
	const char *text = proto_sql_parse_text(body + rest, n - rest, len);
	if (text)
		(*len)++; /* with its NUL, as a Query's: the scanner's fast path wants it */
	return text;
}

const struct proto_sql_info *proxy_handled_scan(const struct proxy_client *c, const uint8_t *msg,
                                                size_t avail, size_t size, struct proxy_scan *sc)
{
	if (sc->done)
		return &sc->info;
	sc->done = true;
	if (msg[0] == PROTO_FE_PARSE && avail >= size && c->unnamed_len == size &&
	    !c->unnamed_inflight && memcmp(c->unnamed, msg, size) == 0) {
		/* the unnamed statement parsed again (drivers' unprepared statements): read the
		 * first time */
		if (c->unnamed_info) {
			sc->info = *c->unnamed_info;
		} else {
			sc->info.kind = PROTO_SQL_OTHER;
			sc->info.effects = 0;
			sc->info.nsettings = 0;
		}
		return &sc->info;
	}
	size_t len = 0;
	const char *sql = sql_text(msg, avail, size, &len);
	if (!sql) {
		/* too large to look at (or malformed: the server says so): anything may happen */
		sc->info.kind = PROTO_SQL_OTHER;
		sc->info.effects = PROTO_SQL_SETS_ANY | PROTO_SQL_SETS_UNNAMED | PROTO_SQL_PINS_ANY;
		sc->info.nsettings = 0;
		return &sc->info;
	}
	const struct pool_str *scs = c->pc.params.v[POOL_PARAM_STANDARD_STRINGS];
	proto_sql_scan(sql, len, scs && strcmp(scs->s, "off") == 0, &sc->info);
	return &sc->info;
}

static const char *tag_of(uint8_t kind)
{
	switch (kind) {
	case PROTO_SQL_DISCARD_ALL:
		return "DISCARD ALL";
	case PROTO_SQL_DEALLOCATE_ALL:
		return "DEALLOCATE ALL";
	default:
		return "DEALLOCATE";
	}
}

/* Does pglane answer `info`'s statement for `c` (linked to `s`, or not when NULL)? Not when
 * the server must act: a pinned session's DISCARD ALL, DEALLOCATE ALL with SQL-prepared
 * statements, a DEALLOCATE of a name the client did not prepare by protocol, DISCARD ALL
 * inside a transaction block (the server refuses it) or anything in a failed transaction. */
static bool handled_for(const struct proxy_client *c, const struct proxy_server *s,
                        const struct proto_sql_info *info)
{
	if (!info || info->kind == PROTO_SQL_OTHER || !proxy_prepared_mode(c) ||
	    (s && s->led.tx_status == PROTO_TX_FAILED))
		return false;
	switch (info->kind) {
	case PROTO_SQL_DEALLOCATE:
		return proxy_prepared_lookup(c, info->name) != NULL;
	case PROTO_SQL_DEALLOCATE_ALL:
		return !(c->pc.session.pins & POOL_PIN_PREPARE);
	case PROTO_SQL_DISCARD_ALL:
		return !c->pc.session.pins && (!s || s->led.tx_status == PROTO_TX_IDLE);
	default:
		return false;
	}
}

/* What the statement does to the client's session (it is answered by pglane). */
static bool handled_effect(struct proxy_client *c, struct proxy_server *s, uint8_t kind,
                           const char *name)
{
	switch (kind) {
	case PROTO_SQL_DEALLOCATE:
		proxy_prepared_forget(c, name);
		return true;
	case PROTO_SQL_DEALLOCATE_ALL:
		proxy_prepared_forget_all(c);
		return true;
	case PROTO_SQL_DISCARD_ALL:
		proxy_prepared_forget_all(c);
		pool_session_discard_all(&c->pc.session);
		/* linked: the server gets the start-up settings before the client goes on */
		return !s || proxy_session_apply(c, s);
	default:
		return true;
	}
}

static void portal_clear(struct proxy_client *c)
{
	free(c->handled_portal);
	free(c->handled_name);
	c->handled_portal = NULL;
	c->handled_name = NULL;
}

static bool portal_set(struct proxy_client *c, const char *portal,
                       const struct proto_sql_info *info)
{
	portal_clear(c);
	c->handled_portal = strdup(portal);
	c->handled_name = strdup(info->name);
	c->handled_kind = (uint8_t)info->kind;
	return c->handled_portal && c->handled_name;
}

static bool is_handled_portal(const struct proxy_client *c, const char *portal)
{
	return c->handled_portal && strcmp(c->handled_portal, portal) == 0;
}

void proxy_handled_client_free(struct proxy_client *c)
{
	portal_clear(c);
	free(c->unnamed_info);
	c->unnamed_info = NULL;
}

/* The info of the statement a Bind or Describe names. */
static const struct proto_sql_info *statement_info(const struct proxy_client *c, const char *name)
{
	if (!name[0])
		return c->unnamed_len ? c->unnamed_info : NULL;
	struct pool_stmt *st = proxy_prepared_lookup(c, name);
	return st ? st->info : NULL;
}

/* Answer `fake` for a message: queued behind the server's answers when linked, written at
 * once when not. */
static enum proxy_msg_result reply(struct proxy_client *c, struct proxy_server *s, size_t size,
                                   uint8_t type, enum pool_fake fake, const char *text)
{
	if (!s) /* a refused Query ends with its ReadyForQuery (POOL_FAKE_QUERY has one) */
		return proxy_prepared_answer(c, size, fake, text,
		                             fake == POOL_FAKE_REFUSED && type == PROTO_FE_QUERY);
	if (!proxy_req_fake(s, type, fake, NULL, text))
		return MSG_ERROR;
	return proxy_prepared_consumed(c, size);
}

/* A statement failed by pglane (`fake`, an error, with `text`): the error, and what an error
 * does there — the rest of an extended-protocol batch skipped up to its Sync, a transaction
 * block failed, an implicit one rolled back (proxy_session_fail) — without running it
 * anywhere. */
__attribute__((noinline)) static enum proxy_msg_result fail(struct proxy_client *c,
                                                            struct proxy_server *s, size_t size,
                                                            uint8_t type, enum pool_fake fake,
                                                            const char *text)
{
	bool extended = type != PROTO_FE_QUERY;
	if (!s) {
		enum proxy_msg_result r = reply(c, s, size, type, fake, text);
		if (r == MSG_DONE && extended) {
			c->discarding = true; /* up to the Sync, answered then */
			c->discard_extended = true;
		}
		return r;
	}
	if (s->led.tx_status == PROTO_TX_FAILED && !extended)
		return MSG_FORWARD; /* the server refuses it unrun (25P02), as PostgreSQL would */
	enum proxy_msg_result r = MSG_DONE;
	if (!extended && s->led.tx_status == PROTO_TX_BLOCK && !proxy_session_fail(s, false))
		return MSG_ERROR;
	r = reply(c, s, size, type, fake, text);
	if (r == MSG_DONE && extended) {
		if (!proxy_session_fail(s, true))
			return MSG_ERROR;
		s->led.ext_error = true; /* the client's messages up to its Sync are not sent */
	}
	return r;
}

/* A statement refused (pin_session_state = refuse). */
static enum proxy_msg_result refuse(struct proxy_client *c, struct proxy_server *s, size_t size,
                                    uint8_t type, const struct proto_sql_info *info)
{
	char why[320];
	proxy_session_refusal(info, why, sizeof(why));
	return fail(c, s, size, type, POOL_FAKE_REFUSED, why);
}

static enum proxy_msg_result on_query(struct proxy_client *c, struct proxy_server *s,
                                      const uint8_t *msg, size_t avail, size_t size,
                                      struct proxy_scan *sc)
{
	const struct proto_sql_info *info = proxy_handled_scan(c, msg, avail, size, sc);
	if (proxy_session_refused(c, info))
		return refuse(c, s, size, PROTO_FE_QUERY, info);
	if (!handled_for(c, s, info))
		return MSG_FORWARD;
	if (!s && info->kind == PROTO_SQL_DISCARD_ALL && !proxy_client_params_reset(c))
		return MSG_ERROR; /* PostgreSQL reports the values DISCARD ALL reset, before its
		                     answer */
	enum proxy_msg_result r =
	        reply(c, s, size, PROTO_FE_QUERY, POOL_FAKE_QUERY, tag_of(info->kind));
	if (r == MSG_DONE && !handled_effect(c, s, (uint8_t)info->kind, info->name))
		return MSG_ERROR;
	return r;
}

static enum proxy_msg_result on_parse(struct proxy_client *c, struct proxy_server *s,
                                      const uint8_t *msg, size_t avail, size_t size,
                                      struct proxy_scan *sc)
{
	const struct proto_sql_info *info = proxy_handled_scan(c, msg, avail, size, sc);
	if (proxy_session_refused(c, info))
		return refuse(c, s, size, PROTO_FE_PARSE, info);
	if (info->kind == PROTO_SQL_OTHER || !proxy_prepared_mode(c) || avail < size)
		return MSG_FORWARD;
	/* never sent: a Bind that pglane does not answer has it prepared where it runs */
	enum proxy_parse_kept k = proxy_prepared_keep_parse(c, msg, size, info);
	if (k == PARSE_KEPT_ERROR)
		return MSG_ERROR;
	if (k == PARSE_KEPT_BUSY)
		return MSG_NO_ROOM; /* its previous unnamed statement is still being sent */
	if (k == PARSE_KEPT_DUPLICATE)
		return MSG_FORWARD; /* the name is taken: the usual path says so */
	return reply(c, s, size, PROTO_FE_PARSE, POOL_FAKE_PARSE_COMPLETE, NULL);
}

static enum proxy_msg_result on_bind(struct proxy_client *c, struct proxy_server *s,
                                     const uint8_t *msg, size_t avail, size_t size)
{
	const char *portal, *name;
	size_t end;
	if (!proto_parse_bind_names(msg + PROTO_HEADER_SIZE, avail - PROTO_HEADER_SIZE, &portal,
	                            &name, &end))
		return MSG_FORWARD;
	const struct proto_sql_info *info = statement_info(c, name);
	if (is_handled_portal(c, portal))
		portal_clear(c); /* bound again to something else */
	if (!handled_for(c, s, info)) {
		if (s && info)
			proxy_session_note(s, info);
		return MSG_FORWARD;
	}
	if (!portal_set(c, portal, info))
		return MSG_ERROR;
	return reply(c, s, size, PROTO_FE_BIND, POOL_FAKE_BIND_COMPLETE, NULL);
}

static enum proxy_msg_result on_target(struct proxy_client *c, struct proxy_server *s,
                                       const uint8_t *msg, size_t size)
{
	uint8_t kind;
	const char *name;
	if (!proto_parse_target(msg + PROTO_HEADER_SIZE, size - PROTO_HEADER_SIZE, &kind, &name))
		return MSG_FORWARD;
	if (kind == PROTO_DESCRIBE_PORTAL) {
		if (!is_handled_portal(c, name))
			return MSG_FORWARD;
		if (msg[0] == PROTO_FE_CLOSE) {
			portal_clear(c);
			return reply(c, s, size, msg[0], POOL_FAKE_CLOSE_COMPLETE, NULL);
		}
		return reply(c, s, size, msg[0], POOL_FAKE_NO_DATA, NULL);
	}
	const struct proto_sql_info *info = statement_info(c, name);
	if (msg[0] != PROTO_FE_DESCRIBE || !info || info->kind == PROTO_SQL_OTHER ||
	    !proxy_prepared_mode(c))
		return MSG_FORWARD;
	/* the server may not have it: pglane knows it takes no parameter and returns no row */
	return reply(c, s, size, msg[0], POOL_FAKE_STATEMENT_DESC, NULL);
}

static enum proxy_msg_result on_execute(struct proxy_client *c, struct proxy_server *s,
                                        const uint8_t *msg, size_t size)
{
	struct proto_reader r;
	proto_reader_init(&r, msg + PROTO_HEADER_SIZE, size - PROTO_HEADER_SIZE);
	const char *portal = proto_get_cstr(&r, NULL);
	if (!portal || !is_handled_portal(c, portal))
		return MSG_FORWARD;
	uint8_t kind = c->handled_kind;
	if (kind == PROTO_SQL_DISCARD_ALL && c->executed_unsynced)
		/* PostgreSQL refuses it after another Execute of the batch, and rolls the batch
		 * back; the server need not have seen that Execute (pglane may have answered it) */
		return fail(c, s, size, PROTO_FE_EXECUTE, POOL_FAKE_IN_PIPELINE, tag_of(kind));
	if (!s && kind == PROTO_SQL_DISCARD_ALL && !proxy_client_params_reset(c))
		return MSG_ERROR; /* the reset values, as by simple Query */
	enum proxy_msg_result res =
	        reply(c, s, size, PROTO_FE_EXECUTE, POOL_FAKE_COMMAND, tag_of(kind));
	if (res == MSG_DONE && !handled_effect(c, s, kind, c->handled_name))
		return MSG_ERROR;
	return res;
}

/* Could a Bind, Describe, Execute or Close concern a statement or portal pglane looks at? Not
 * when no statement of the client's does anything to the session and no portal is pglane's:
 * then the message is not parsed here at all (the common case). */
static bool maybe_handled(const struct proxy_client *c)
{
	return c->handled_portal || c->unnamed_info || pool_stmt_map_has_info(c->stmts);
}

static enum proxy_msg_result handle(struct proxy_client *c, struct proxy_server *s,
                                    const uint8_t *msg, size_t avail, size_t size,
                                    struct proxy_scan *sc)
{
	if (msg[0] != PROTO_FE_QUERY && msg[0] != PROTO_FE_PARSE && !maybe_handled(c))
		return MSG_FORWARD;
	switch (msg[0]) {
	case PROTO_FE_QUERY:
		return on_query(c, s, msg, avail, size, sc);
	case PROTO_FE_PARSE:
		return on_parse(c, s, msg, avail, size, sc);
	case PROTO_FE_BIND:
		return on_bind(c, s, msg, avail, size);
	case PROTO_FE_DESCRIBE:
	case PROTO_FE_CLOSE:
		return avail < size ? MSG_FORWARD : on_target(c, s, msg, size);
	case PROTO_FE_EXECUTE:
		return avail < size ? MSG_FORWARD : on_execute(c, s, msg, size);
	default:
		return MSG_FORWARD;
	}
}

enum proxy_msg_result proxy_handled_unlinked(struct proxy_client *c, const uint8_t *msg,
                                             size_t avail, size_t size, struct proxy_scan *sc)
{
	return handle(c, NULL, msg, avail, size, sc);
}

enum proxy_msg_result proxy_handled_linked(struct proxy_client *c, struct proxy_server *s,
                                           const uint8_t *msg, size_t avail, size_t size,
                                           struct proxy_scan *sc)
{
	enum proxy_msg_result r = handle(c, s, msg, avail, size, sc);
	if (r == MSG_FORWARD && msg[0] == PROTO_FE_QUERY)
		proxy_session_note(s, proxy_handled_scan(c, msg, avail, size, sc));
	return r;
}
