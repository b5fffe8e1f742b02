/* proxy/session.c — each client's session follows it from server to server (transaction
 * mode) and nothing of it reaches another client. On link, one query brings the server to
 * the client's settings (pool/session.h's apply SQL); after a transaction whose statements
 * may have changed the session (protocol/sql.h effects, noted as they go out, or a
 * ParameterStatus nothing explains), one query asks the server what it holds (the capture),
 * and the client's session takes the answer. State that cannot move pins the client to its
 * server (pin_session_state = "pin"), or its statement is refused ("refuse"). A server is
 * reset before another client uses it when a pinned client left it or its state is unsure.
 * While such a query of pglane's is in flight the client's messages wait (relay.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/log.h"
#include "protocol/msg.h"
#include "proxy/client.h"
#include "proxy/conn_log.h"
#include "proxy/io.h"
#include "proxy/link.h"
#include "proxy/requests.h"
#include "proxy/server.h"
#include "proxy/session.h"
#include "proxy/server_login.h"

#define SQL_START 1024
#define SQL_MAX   (1024 * 1024)

static bool txn_mode(const struct proxy_client *c)
{
	return pool_cfg(c->pc.pool)->mode == CFG_POOL_TRANSACTION;
}

static enum cfg_pin_mode pin_mode(const struct proxy_client *c)
{
	return pool_cfg(c->pc.pool)->pin_session_state;
}

/* Are pins looked for? Transaction mode with pin_session_state pin or refuse. */
static bool pin_checks(const struct proxy_client *c)
{
	return txn_mode(c) && pin_mode(c) != CFG_PIN_ALLOW;
}

/* The SQL built by `build` in a buffer that grows until it fits; NULL when out of memory or
 * too long. *len is its length (0: nothing to send). */
static char *build_sql(size_t (*build)(const void *, char *, size_t), const void *arg, size_t *len)
{
	for (size_t cap = SQL_START; cap <= SQL_MAX; cap *= 4) {
		char *sql = malloc(cap);
		if (!sql)
			return NULL;
		size_t n = build(arg, sql, cap);
		if (n != (size_t)-1) {
			*len = n;
			return sql;
		}
		free(sql);
	}
	return NULL;
}

/* Queue pglane's own Query `sql` (`len` bytes) to `s`, its answer swallowed; the message stays
 * in s->sync_msg until the next one (it is referenced by the output queue until written). */
static bool send_query(struct proxy_server *s, const char *sql, size_t len, unsigned flags)
{
	if (len > SQL_MAX)
		return false;
	uint8_t *m = malloc(PROTO_HEADER_SIZE + len + 1);
	if (!m)
		return false;
	uint32_t n = (uint32_t)(4 + len + 1);
	m[0] = PROTO_FE_QUERY;
	m[1] = (uint8_t)(n >> 24);
	m[2] = (uint8_t)(n >> 16);
	m[3] = (uint8_t)(n >> 8);
	m[4] = (uint8_t)n;
	memcpy(m + PROTO_HEADER_SIZE, sql, len);
	m[PROTO_HEADER_SIZE + len] = '\0';
	if (!proxy_out_ref(&s->conn, m, PROTO_HEADER_SIZE + len + 1)) {
		free(m);
		return false;
	}
	/* the previous one was answered, so written; this one is referenced from now on */
	free(s->sync_msg);
	s->sync_msg = m;
	s->sync_failed = false;
	s->sync_done = false;
	/* out now: the client's messages wait for its answer, nothing else will flush it */
	return proxy_req_push(s, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL, POOL_REQ_INTERNAL | flags) &&
	       proxy_out_flush(&s->conn) != PROXY_IO_ERROR;
}

struct apply_args {
	const struct pool_settings *want, *have;
	bool reset_all;
};

static size_t apply_build(const void *arg, char *out, size_t cap)
{
	const struct apply_args *a = arg;
	return pool_settings_apply_sql(a->want, a->have, a->reset_all, out, cap);
}

bool proxy_session_apply(struct proxy_client *c, struct proxy_server *s)
{
	/* what another client's session may have left that nobody can name goes first */
	bool reset_all = s->unknown_owner && s->unknown_owner != c->id;
	struct apply_args a = {c->pc.session.current, s->ps.settings, reset_all};
	if (a.want == a.have && !reset_all) {
		c->pc.session.applied = true; /* in effect there already */
		return true;
	}
	size_t len = 0;
	char *sql = build_sql(apply_build, &a, &len);
	if (!sql)
		return false;
	bool ok = true;
	if (len == 0) {
		pool_settings_assign(&s->ps.settings, a.want);
	} else {
		ok = send_query(s, sql, len, POOL_REQ_APPLY);
		if (ok) {
			pool_settings_assign(&s->sync_target, a.want);
			s->syncing = SYNC_APPLY;
			s->sync_clears_unknown = reset_all;
			conn_debug(s, "applying the session of c%u: %s", c->id, sql);
		}
	}
	free(sql);
	return ok;
}

struct capture_args {
	const struct pool_dirty *d;
	const struct pool_settings *before;
	unsigned checks;
};

static size_t capture_build(const void *arg, char *out, size_t cap)
{
	const struct capture_args *a = arg;
	return pool_capture_sql(a->d, a->before, a->checks, out, cap);
}

static void capture_finished(struct proxy_client *c, struct proxy_server *s);

bool proxy_session_capture(struct proxy_client *c, struct proxy_server *s)
{
	struct pool_session *ss = &c->pc.session;
	bool pins = pin_checks(c);
	if (!pool_dirty_pending(&s->dirty, ss->pins, pins)) {
		pool_dirty_clear(&s->dirty);
		return false;
	}
	struct capture_args a = {&s->dirty, s->ps.settings,
	                         pool_capture_checks(&s->dirty, ss->pins, pins)};
	size_t len = 0;
	char *sql = build_sql(capture_build, &a, &len);
	if (!sql) {
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL,
		                   "out of memory following the session");
		return false;
	}
	pool_capture_begin(&s->cap, &s->dirty, a.checks, s->ps.settings);
	pool_dirty_clear(&s->dirty);
	if (len == 0) { /* nothing to ask (a LOAD): the answer is known */
		free(sql);
		s->syncing = SYNC_CAPTURE;
		s->sync_failed = false;
		capture_finished(c, s);
		return s->syncing != SYNC_NONE;
	}
	conn_debug(s, "asking for the session of c%u: %s", c->id, sql);
	bool ok = send_query(s, sql, len, POOL_REQ_CAPTURE);
	free(sql);
	if (!ok) {
		pool_capture_discard(&s->cap);
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL,
		                   "out of memory following the session");
		return false;
	}
	s->syncing = SYNC_CAPTURE;
	return true;
}

bool proxy_session_refused(const struct proxy_client *c, const struct proto_sql_info *info)
{
	return (info->effects & PROTO_SQL_PINS) && txn_mode(c) && pin_mode(c) == CFG_PIN_REFUSE;
}

void proxy_session_refusal(const struct proto_sql_info *info, char *out, size_t cap)
{
	static const struct {
		unsigned effect;
		const char *what;
	} whats[] = {
	        {PROTO_SQL_LOCK, "a session-level advisory lock"},
	        {PROTO_SQL_TEMP, "a temporary table, view or sequence"},
	        {PROTO_SQL_HOLD, "a cursor WITH HOLD"},
	        {PROTO_SQL_PREPARE, "PREPARE"},
	        {PROTO_SQL_LISTEN, "LISTEN"},
	        {PROTO_SQL_LOAD, "LOAD"},
	};
	const char *what = "this statement";
	for (size_t i = 0; i < sizeof(whats) / sizeof(whats[0]); i++)
		if (info->effects & whats[i].effect) {
			what = whats[i].what;
			break;
		}
	snprintf(out, cap,
	         "pglane: %s would keep state on one server connection, which this pool does not "
	         "allow (pin_session_state = \"refuse\"): use a transaction-level form where there "
	         "is one (pg_advisory_xact_lock, ON COMMIT DROP, a cursor without HOLD) or a "
	         "session-mode pool",
	         what);
}

bool proxy_session_fail(struct proxy_server *s, bool extended)
{
	static const char sql[] = "SELECT 1/0 AS \"pglane refused a statement\"";
	size_t avail;
	uint8_t *space = proxy_out_space(&s->conn, &avail);
	struct proto_writer w;
	proto_writer_init(&w, space, space ? avail : 0);
	unsigned flags = POOL_REQ_INTERNAL | POOL_REQ_FAILS;
	if (!extended) {
		proto_write_query(&w, sql);
		return proto_writer_ok(&w) && proxy_out_commit(&s->conn, w.len) &&
		       proxy_req_push(s, PROTO_FE_QUERY, POOL_REQ_SKIP, NULL, flags);
	}
	/* unnamed statement and portal, no Sync: the server skips the rest of the batch up to the
	 * client's Sync, which rolls the batch (or fails the transaction block) */
	proto_write_parse_head(&w, "", sizeof(sql) + 2);
	proto_put_cstr(&w, sql);
	proto_put_i16(&w, 0);
	proto_begin(&w, PROTO_FE_BIND);
	proto_put_cstr(&w, "");
	proto_put_cstr(&w, "");
	proto_put_i16(&w, 0);
	proto_put_i16(&w, 0);
	proto_put_i16(&w, 0);
	proto_end(&w);
	proto_begin(&w, PROTO_FE_EXECUTE);
	proto_put_cstr(&w, "");
	proto_put_i32(&w, 0);
	proto_end(&w);
	s->led.unnamed_client = 0;
	return proto_writer_ok(&w) && proxy_out_commit(&s->conn, w.len) &&
	       proxy_req_push(s, PROTO_FE_PARSE, POOL_REQ_SKIP, NULL, flags) &&
	       proxy_req_push(s, PROTO_FE_BIND, POOL_REQ_SKIP, NULL, flags) &&
	       proxy_req_push(s, PROTO_FE_EXECUTE, POOL_REQ_SKIP, NULL, flags);
}

void proxy_session_note(struct proxy_server *s, const struct proto_sql_info *info)
{
	if (!info->effects)
		return;
	pool_dirty_add(&s->dirty, info);
	s->pin_effects |= info->effects & (PROTO_SQL_PINS | PROTO_SQL_PINS_ANY);
}

void proxy_session_reported(struct proxy_server *s, const char *name)
{
	const struct pool_dirty *d = &s->dirty;
	if (s->syncing != SYNC_NONE || (d->effects & PROTO_SQL_SETS_ANY))
		return;
	char lname[PROTO_SQL_SETTING_LEN];
	size_t n = strnlen(name, sizeof(lname) - 1);
	for (size_t i = 0; i < n; i++)
		lname[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
	lname[n] = '\0';
	bool role = false;
	for (unsigned i = 0; i < d->nnames; i++) {
		if (strcmp(d->names[i], lname) == 0)
			return; /* the statement that set it was seen */
		role = role || strcmp(d->names[i], "role") == 0 ||
		       strcmp(d->names[i], "session_authorization") == 0;
	}
	if (role && strcmp(lname, "is_superuser") == 0)
		return;
	if (strcmp(lname, "in_hot_standby") == 0)
		return; /* the server's, not the session's */
	const struct cfg_log_field f[] = {
	        {.key = "server", .num = s->id, .is_num = true},
	        {.key = "parameter", .str = name},
	};
	cfg_log_event(CFG_LOG_INFO, "session_unexplained", f, 2);
	pool_dirty_add_effects(&s->dirty, PROTO_SQL_SETS_ANY | PROTO_SQL_SETS_UNNAMED);
}

void proxy_session_row(struct proxy_server *s, const struct proto_frame *f)
{
	if (s->syncing != SYNC_CAPTURE || s->cap.failed)
		return;
	char *v[3] = {NULL, NULL, NULL};
	for (int i = 0; i < 3; i++) {
		const uint8_t *p;
		size_t n;
		bool null;
		if (!proto_parse_data_column(f->body, f->body_len, i, &p, &n, &null) ||
		    memchr(p, 0, n)) {
			s->cap.failed = true;
			goto out;
		}
		if (null)
			continue;
		v[i] = malloc(n + 1);
		if (!v[i]) {
			s->cap.failed = true;
			goto out;
		}
		memcpy(v[i], p, n);
		v[i][n] = '\0';
	}
	pool_capture_row(&s->cap, v[0], v[1], v[2],
	                 s->ps.pool ? proxy_server_user(s->ps.pool) : NULL);
out:
	for (int i = 0; i < 3; i++)
		free(v[i]);
}

void proxy_session_error(struct proxy_server *s, const struct proto_frame *f)
{
	struct proto_error e;
	if (!proto_parse_error(f->body, f->body_len, &e))
		memset(&e, 0, sizeof(e));
	s->sync_failed = true;
	snprintf(s->sync_sqlstate, sizeof(s->sync_sqlstate), "%s",
	         e.sqlstate ? e.sqlstate : PROTO_SQLSTATE_INTERNAL);
	snprintf(s->sync_error, sizeof(s->sync_error), "%s",
	         e.message ? e.message : "(no message)");
}

void proxy_session_ready(struct proxy_server *s, uint8_t tx_status)
{
	s->sync_done = true;
	if (tx_status != PROTO_TX_IDLE && !s->sync_failed) {
		s->sync_failed = true;
		snprintf(s->sync_sqlstate, sizeof(s->sync_sqlstate), "%s", PROTO_SQLSTATE_INTERNAL);
		snprintf(s->sync_error, sizeof(s->sync_error),
		         "the server was in a transaction (status %c)", tx_status);
	}
}

static void log_pin(struct proxy_client *c, const char *event, const char *reason)
{
	struct pool *p = c->pc.pool;
	char client[32];
	snprintf(client, sizeof(client), "c%u", c->id);
	const struct cfg_log_field f[] = {
	        {.key = "client", .str = client},
	        {.key = "database", .str = p->db->name},
	        {.key = "user", .str = p->user->name},
	        {.key = "lane", .str = cfg_lane_name(p->lane)},
	        {.key = "address", .str = c->addr},
	        {.key = "reason", .str = reason},
	};
	cfg_log_event(CFG_LOG_INFO, event, f, (int)(sizeof(f) / sizeof(f[0])));
}

/* The client's pins changed from `before`: counts, log events, what its server needs. */
static void pins_changed(struct proxy_client *c, struct proxy_server *s, unsigned before,
                         unsigned fresh)
{
	unsigned now = c->pc.session.pins;
	for (int i = 0; i < POOL_PIN_KINDS; i++)
		if (fresh & (1u << i))
			log_pin(c, "pin", pool_pin_name(i));
	pool_pins_count(fresh);
	if (!before && now)
		c->pc.pool->n_pinned++;
	if (before && !now) {
		c->pc.pool->n_pinned--;
		char was[128];
		pool_pin_names(before, was, sizeof(was));
		log_pin(c, "unpin", was);
		s->pin_reset = true; /* what is left of it goes before anyone else comes */
	}
	if (now & POOL_PIN_LOAD)
		s->loaded = true;
}

static void capture_finished(struct proxy_client *c, struct proxy_server *s)
{
	s->syncing = SYNC_NONE;
	if (s->sync_failed || s->cap.failed) {
		conn_warning(s, "could not read its session back (%s): closed once released",
		             s->sync_failed ? s->sync_error : "malformed answer");
		s->ps.close_on_release = true;
		pool_capture_discard(&s->cap);
		return;
	}
	pool_settings_assign(&s->ps.settings, s->cap.settings);
	if (s->cap.unnamed) /* it may hold more than it said: only its client's */
		s->unknown_owner = c ? c->id : UINT32_MAX;
	if (!c) {
		if (s->cap.pins)
			s->pin_reset = true;
		if (s->cap.pins & POOL_PIN_LOAD)
			s->loaded = true;
		pool_capture_discard(&s->cap);
		return;
	}
	unsigned before = c->pc.session.pins;
	bool ok;
	unsigned fresh = pool_session_captured(&c->pc.session, &s->cap, &ok);
	pool_capture_discard(&s->cap);
	if (!ok) {
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL,
		                   "out of memory following the session");
		return;
	}
	pins_changed(c, s, before, fresh);
	/* a reset took start-up values away: they come back before the client goes on */
	if (!proxy_session_apply(c, s))
		proxy_client_close(c, PROTO_SQLSTATE_INTERNAL,
		                   "out of memory following the session");
}

static void apply_finished(struct proxy_client *c, struct proxy_server *s)
{
	s->syncing = SYNC_NONE;
	const struct pool_settings *target = s->sync_target;
	s->sync_target = NULL;
	if (!s->sync_failed) {
		pool_settings_assign(&s->ps.settings, target);
		pool_settings_put(target);
		if (s->sync_clears_unknown)
			s->unknown_owner = 0;
		if (c)
			c->pc.session.applied = true;
		return;
	}
	pool_settings_put(target); /* the statement failed whole: the server is as it was */
	conn_warning(s, "could not apply the session of %s%u: %s %s", c ? "c" : "gone ",
	             c ? c->id : 0, s->sync_sqlstate, s->sync_error);
	if (!c)
		return;
	char msg[300];
	if (!c->pc.session.applied || !txn_mode(c)) {
		/* its start-up parameters: PostgreSQL would have refused the login */
		snprintf(msg, sizeof(msg), "%s (a start-up parameter pglane applied)",
		         s->sync_error);
		proxy_client_fatal(c, s->sync_sqlstate, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "pglane could not bring this session's settings to a server: %s",
	         s->sync_error);
	proxy_server_release(s);
	proxy_link_fail_waiting(c, s->sync_sqlstate, msg);
}

void proxy_session_finish(struct proxy_client *c, struct proxy_server *s)
{
	if (!s->sync_done || s->syncing == SYNC_NONE)
		return;
	s->sync_done = false;
	if (s->syncing == SYNC_APPLY)
		apply_finished(c, s);
	else
		capture_finished(c, s);
}

void proxy_session_client_gone(struct proxy_client *c, struct proxy_server *s)
{
	unsigned pins = c->pc.session.pins;
	if (pins)
		s->pin_reset = true;
	if (pins & POOL_PIN_LOAD)
		s->loaded = true;
}

const char *proxy_session_reset_sql(struct proxy_server *s, const struct cfg_pool *pc, bool *clears,
                                    bool *close)
{
	*clears = false;
	/* a library LOADed stays in the backend whatever the reset */
	*close = s->loaded || (pc->mode == CFG_POOL_SESSION && (s->pin_effects & PROTO_SQL_LOAD));
	const struct pool_dirty *d = &s->dirty;
	if (s->pin_reset || (d->effects & (PROTO_SQL_PINS | PROTO_SQL_PINS_ANY)) ||
	    (pc->mode == CFG_POOL_SESSION && s->pin_effects)) {
		*clears = true;
		return "DISCARD ALL";
	}
	if ((d->effects & (PROTO_SQL_SETS | PROTO_SQL_SETS_ANY)) || s->unknown_owner)
		return "SET SESSION AUTHORIZATION DEFAULT; RESET ALL";
	return NULL;
}

void proxy_session_reset_sent(struct proxy_server *s)
{
	pool_dirty_clear(&s->dirty);
	pool_settings_assign(&s->ps.settings, NULL);
	s->unknown_owner = 0;
	s->pin_reset = false;
	s->pin_effects = 0;
}

void proxy_session_client_free(struct proxy_client *c)
{
	if (c->pc.session.pins && c->pc.pool)
		c->pc.pool->n_pinned--;
	pool_session_free(&c->pc.session);
}

void proxy_session_server_free(struct proxy_server *s)
{
	pool_capture_discard(&s->cap);
	pool_settings_put(s->sync_target);
	s->sync_target = NULL;
	free(s->sync_msg);
	s->sync_msg = NULL;
	s->syncing = SYNC_NONE;
}
