/* admin/console.c — parsing and dispatching admin commands. Words are case-insensitive;
 * a database name may be quoted. Stats users may only SHOW. */
#include "admin/console.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "protocol/msg.h"

#define MAX_WORDS 4
#define WORD_MAX  64

static const struct admin_ops *ops;

void admin_setup(const struct admin_ops *o)
{
	ops = o;
}

struct words {
	int n;
	char w[MAX_WORDS][WORD_MAX];
	bool quoted[MAX_WORDS];
};

/* Split `sql` into at most MAX_WORDS words; false when it does not fit or is malformed. */
static bool split(const char *sql, size_t len, struct words *out)
{
	memset(out, 0, sizeof(*out));
	size_t i = 0;
	for (;;) {
		while (i < len && (isspace((unsigned char)sql[i]) || sql[i] == ';'))
			i++;
		if (i >= len || sql[i] == '\0')
			return true;
		if (out->n == MAX_WORDS)
			return false;
		char *w = out->w[out->n];
		size_t n = 0;
		if (sql[i] == '"') {
			out->quoted[out->n] = true;
			for (i++;; i++) {
				if (i >= len)
					return false;
				if (sql[i] == '"') {
					if (i + 1 < len && sql[i + 1] == '"') {
						i++;
					} else {
						i++;
						break;
					}
				}
				if (n + 1 >= WORD_MAX)
					return false;
				w[n++] = sql[i];
			}
		} else {
			while (i < len && sql[i] && !isspace((unsigned char)sql[i]) &&
			       sql[i] != ';') {
				if (n + 1 >= WORD_MAX)
					return false;
				w[n++] = sql[i++];
			}
		}
		w[n] = '\0';
		out->n++;
	}
}

static bool is(const struct words *w, int i, const char *kw)
{
	return i < w->n && !w->quoted[i] && strcasecmp(w->w[i], kw) == 0;
}

static void show_version(const struct admin_ctx *ctx, struct admin_result *r)
{
	static const char *const cols[] = {"version"};
	admin_result_columns(r, cols, 1);
	admin_row_begin(r);
	char v[64];
	snprintf(v, sizeof(v), "pglane %s", ctx->version);
	admin_row_str(r, v);
	admin_row_end(r);
}

static void show_help(struct admin_result *r)
{
	static const char *const cols[] = {"command"};
	static const char *const lines[] = {
	        "SHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION",
	        "SHOW PEERS|PEER_POOLS",
	        "SHOW FDS|SOCKETS|ACTIVE_SOCKETS|LISTS|MEM|STATE",
	        "SHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS",
	        "SHOW LANES|SLOW|REPLICATION|SLOTS",
	        "PAUSE [db]",
	        "RESUME [db]",
	        "SUSPEND",
	        "DISABLE db",
	        "ENABLE db",
	        "RELOAD",
	        "SET key = value",
	        "KILL [db]",
	        "KILL_CLIENT id",
	        "RECONNECT [db]",
	        "WAIT_CLOSE [db]",
	        "SHUTDOWN [WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS]",
	};
	admin_result_columns(r, cols, 1);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		admin_row_begin(r);
		admin_row_str(r, lines[i]);
		admin_row_end(r);
	}
}

static void run_show(const struct admin_ctx *ctx, const struct words *w, struct admin_result *r)
{
	if (w->n != 2) {
		admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR,
		                   "SHOW needs a subject (SHOW HELP lists them)");
		return;
	}
	if (is(w, 1, "pools"))
		admin_show_pools(ctx, r);
	else if (is(w, 1, "lanes"))
		admin_show_lanes(ctx, r);
	else if (is(w, 1, "stats"))
		admin_show_stats(ctx, r);
	else if (is(w, 1, "stats_totals"))
		admin_show_stats_totals(ctx, r);
	else if (is(w, 1, "stats_averages"))
		admin_show_stats_averages(ctx, r);
	else if (is(w, 1, "totals"))
		admin_show_totals(ctx, r);
	else if (is(w, 1, "lists"))
		admin_show_lists(ctx, r, ops);
	else if (is(w, 1, "users"))
		admin_show_users(ctx, r);
	else if (is(w, 1, "state"))
		admin_show_state(ctx, r);
	else if (is(w, 1, "mem"))
		admin_show_mem(ctx, r, ops);
	else if (is(w, 1, "peers"))
		admin_show_peers(ctx, r, false, ops);
	else if (is(w, 1, "peer_pools"))
		admin_show_peers(ctx, r, true, ops);
	else if (is(w, 1, "fds"))
		admin_show_fds(ctx, r);
	else if (is(w, 1, "sockets") || is(w, 1, "active_sockets"))
		admin_show_sockets(ctx, r, ops);
	else if (is(w, 1, "clients"))
		admin_show_conns(ctx, r, false, ops);
	else if (is(w, 1, "servers"))
		admin_show_conns(ctx, r, true, ops);
	else if (is(w, 1, "databases"))
		admin_show_databases(ctx, r);
	else if (is(w, 1, "config"))
		admin_show_config(ctx, r);
	else if (is(w, 1, "version"))
		show_version(ctx, r);
	else if (is(w, 1, "slow"))
		admin_show_slow(ctx, r);
	else if (is(w, 1, "replication"))
		admin_show_replication(ctx, r);
	else if (is(w, 1, "slots"))
		admin_show_slots(ctx, r);
	else if (is(w, 1, "help"))
		show_help(r);
	else {
		admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR, "unknown SHOW subject: %s",
		                   w->w[1]);
		return;
	}
	admin_result_tag(r, "SHOW");
}

/* A control command taking an optional (or, `needs_db`, a required) database name. */
static void run_control(const struct words *w, struct admin_result *r, const char *tag,
                        bool (*fn)(const char *db, char *err, size_t cap), bool needs_db)
{
	if (w->n > 2 || (needs_db && w->n != 2)) {
		admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR, "usage: %s%s", tag,
		                   needs_db ? " db" : " [db]");
		return;
	}
	const char *db = w->n == 2 ? w->w[1] : NULL;
	char err[256] = "";
	if (!fn(db, err, sizeof(err))) {
		admin_result_error(r, PROTO_SQLSTATE_INVALID_CATALOG, "%s", err);
		return;
	}
	admin_result_tag(r, tag);
}

/* Session settings drivers send at connect, which are not pglane's: accepted, ignored. */
static bool driver_setting(const char *key)
{
	static const char *const names[] = {"application_name", "extra_float_digits",
	                                    "client_encoding",  "datestyle",
	                                    "timezone",         "standard_conforming_strings"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(key, names[i]) == 0)
			return true;
	return false;
}

/* SET key = value (or TO value; the value may be quoted with ' or "). */
static void run_set(const struct admin_ctx *ctx, const char *sql, size_t len,
                    struct admin_result *r)
{
	size_t i = 0;
	while (i < len && isspace((unsigned char)sql[i]))
		i++;
	i += 3; /* "set" */
	while (i < len && isspace((unsigned char)sql[i]))
		i++;
	char key[160], value[256];
	size_t n = 0;
	while (i < len && sql[i] && !isspace((unsigned char)sql[i]) && sql[i] != '=' &&
	       n + 1 < sizeof(key))
		key[n++] = sql[i++];
	key[n] = '\0';
	while (i < len && isspace((unsigned char)sql[i]))
		i++;
	if (i < len && sql[i] == '=')
		i++;
	else if (i + 2 <= len && strncasecmp(sql + i, "to", 2) == 0)
		i += 2;
	else
		n = 0;
	while (i < len && isspace((unsigned char)sql[i]))
		i++;
	size_t end = len;
	while (end > i && (isspace((unsigned char)sql[end - 1]) || sql[end - 1] == ';' ||
	                   sql[end - 1] == '\0'))
		end--;
	if (n == 0 || end == i || end - i >= sizeof(value)) {
		admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR, "usage: SET key = value");
		return;
	}
	if (end - i >= 2 && (sql[i] == '\'' || sql[i] == '"') && sql[end - 1] == sql[i]) {
		i++; /* 'value' or "value": the quotes go */
		end--;
	}
	memcpy(value, sql + i, end - i);
	value[end - i] = '\0';
	if (driver_setting(key)) {
		admin_result_tag(r, "SET");
		return;
	}
	if (!ctx->full) {
		admin_result_error(r, PROTO_SQLSTATE_INSUFFICIENT_PRIVILEGE,
		                   "admin.stats_users may only use SHOW");
		return;
	}
	char err[400] = "";
	if (!ops->set(key, value, err, sizeof(err))) {
		admin_result_error(r, PROTO_SQLSTATE_CANT_CHANGE_RUNTIME, "SET %s refused: %s", key,
		                   err);
		return;
	}
	admin_result_tag(r, "SET");
}

static void set_pending(struct admin_result *r, char kind, const char *db)
{
	if (admin_result_is_error(r))
		return;
	r->pending = true;
	r->pending_kind = kind;
	snprintf(r->pending_db, sizeof(r->pending_db), "%s", db ? db : "");
	admin_pending_poll(r);
}

static void run_kill_client(const struct words *w, struct admin_result *r)
{
	char *end = NULL;
	unsigned long id = w->n == 2 ? strtoul(w->w[1], &end, 10) : 0;
	if (w->n != 2 || !end || *end || id == 0 || id > UINT32_MAX) {
		admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR,
		                   "usage: KILL_CLIENT id (the id column of SHOW CLIENTS)");
		return;
	}
	char err[256] = "";
	if (!ops->kill_client((uint32_t)id, err, sizeof(err)))
		admin_result_error(r, PROTO_SQLSTATE_UNDEFINED_OBJECT, "%s", err);
	else
		admin_result_tag(r, "KILL_CLIENT");
}

static void run_disable(const struct words *w, struct admin_result *r, bool on)
{
	const char *tag = on ? "DISABLE" : "ENABLE";
	if (w->n != 2) {
		admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR, "usage: %s db", tag);
		return;
	}
	char err[256] = "";
	if (!ops->disable(w->w[1], on, err, sizeof(err)))
		admin_result_error(r, PROTO_SQLSTATE_INVALID_CATALOG, "%s", err);
	else
		admin_result_tag(r, tag);
}

static void run_shutdown(const struct words *w, struct admin_result *r)
{
	int mode = 0;
	if (w->n == 2 && is(w, 1, "wait_for_servers"))
		mode = 1;
	else if (w->n == 2 && is(w, 1, "wait_for_clients"))
		mode = 2;
	else if (w->n != 1) {
		admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR,
		                   "usage: SHUTDOWN [WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS]");
		return;
	}
	admin_result_tag(r, "SHUTDOWN");
	ops->shutdown(mode);
}

void admin_execute(const struct admin_ctx *ctx, const char *sql, size_t len, struct admin_result *r)
{
	struct words w;
	if (!split(sql, len, &w)) {
		admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR,
		                   "not an admin command (try SHOW HELP)");
		return;
	}
	if (w.n == 0) {
		admin_result_tag(r, ""); /* an empty query */
		return;
	}
	if (is(&w, 0, "show")) {
		run_show(ctx, &w, r);
		return;
	}
	if (is(&w, 0, "set")) {
		run_set(ctx, sql, len, r);
		return;
	}
	static const char *const controls[] = {"pause",     "resume",   "reload",      "kill",
	                                       "reconnect", "shutdown", "kill_client", "disable",
	                                       "enable",    "suspend",  "wait_close"};
	bool control = false;
	for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++)
		control = control || is(&w, 0, controls[i]);
	if (!control) {
		admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR,
		                   "unknown admin command \"%s\" (try SHOW HELP)", w.w[0]);
		return;
	}
	if (!ctx->full) {
		admin_result_error(r, PROTO_SQLSTATE_INSUFFICIENT_PRIVILEGE,
		                   "admin.stats_users may only use SHOW");
		return;
	}
	if (is(&w, 0, "pause")) {
		run_control(&w, r, "PAUSE", ops->pause, false);
		set_pending(r, ADMIN_PENDING_PAUSE, w.n == 2 ? w.w[1] : NULL);
	} else if (is(&w, 0, "wait_close")) {
		run_control(&w, r, "WAIT_CLOSE", ops->wait_close, false);
		set_pending(r, ADMIN_PENDING_WAIT_CLOSE, w.n == 2 ? w.w[1] : NULL);
	} else if (is(&w, 0, "suspend")) {
		char err[256] = "";
		if (w.n != 1)
			admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR, "usage: SUSPEND");
		else if (!ops->suspend(err, sizeof(err)))
			admin_result_error(r, "55000", "%s", err);
		else
			admin_result_tag(r, "SUSPEND");
		set_pending(r, ADMIN_PENDING_SUSPEND, NULL);
	} else if (is(&w, 0, "kill_client")) {
		run_kill_client(&w, r);
	} else if (is(&w, 0, "disable")) {
		run_disable(&w, r, true);
	} else if (is(&w, 0, "enable")) {
		run_disable(&w, r, false);
	} else if (is(&w, 0, "resume")) {
		run_control(&w, r, "RESUME", ops->resume, false);
	} else if (is(&w, 0, "kill")) {
		run_control(&w, r, "KILL", ops->kill, false);
	} else if (is(&w, 0, "reconnect")) {
		run_control(&w, r, "RECONNECT", ops->reconnect, false);
	} else if (is(&w, 0, "reload")) {
		char err[400] = "";
		if (w.n != 1)
			admin_result_error(r, PROTO_SQLSTATE_SYNTAX_ERROR, "usage: RELOAD");
		else if (!ops->reload(err, sizeof(err)))
			admin_result_error(r, "F0000", "RELOAD refused, the old config stays: %s",
			                   err);
		else
			admin_result_tag(r, "RELOAD");
	} else {
		run_shutdown(&w, r);
	}
}

bool admin_pending_poll(struct admin_result *r)
{
	if (!r->pending)
		return true;
	if (!ops->pending_done(r->pending_kind, r->pending_db[0] ? r->pending_db : NULL))
		return false;
	r->pending = false;
	return true;
}
