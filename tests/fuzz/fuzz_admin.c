/* tests/fuzz/fuzz_admin.c — libFuzzer target for admin/console: admin_execute() on fuzzed
 * command text, as a client of the `pglane` admin database sends it.
 *
 * Input: a flags byte, then the command (not NUL-terminated, in a block of its exact size).
 * Flag 0x01: the user is in admin.users (else stats_users: SHOW only); 0x02: the process
 * callbacks refuse (with a message); 0x04: a PAUSE is still waiting for its servers.
 *
 * The process side is stubbed: struct admin_ops callbacks that return fixed values and emit
 * two fixed connections for SHOW CLIENTS / SHOW SERVERS (this is a harness for the parser and
 * the answer builder, not a test of the server). The config is the built-in one, the pool
 * registry is empty, and the replication table and slow log hold one fixed entry each so that
 * SHOW REPLICATION, SLOTS and SLOW build rows. Every answer is checked as wire bytes: one
 * RowDescription, then nrows DataRows of that many columns. */
#include <stdbool.h>
#include <string.h>

#include "admin/console.h"
#include "admin/result.h"
#include "config/cfg.h"
#include "pool/health.h"
#include "pool/slowlog.h"
#include "protocol/buf.h"
#include "protocol/frame.h"
#include "tests/fuzz/fuzz.h"

static struct cfg *cfg;
static uint8_t flags;
static bool did_shutdown;

static void stub_conns(admin_conn_emit emit, void *arg, const char *type)
{
	struct admin_conn_info c = {.type = type,
	                            .user = "alice",
	                            .database = "app",
	                            .lane = "oltp",
	                            .state = "active",
	                            .addr = "10.0.0.1",
	                            .port = 5512,
	                            .local_addr = "127.0.0.1",
	                            .local_port = 6432,
	                            .connect_time_ms = 1700000000000,
	                            .request_time_ms = 1700000000500,
	                            .wait_us = 1500000,
	                            .id = 42,
	                            .link = 7,
	                            .remote_pid = 4242,
	                            .tls = true,
	                            .application_name = "psql"};
	emit(&c, arg);
	struct admin_conn_info d = {.type = type, .user = "bob", .state = "login"};
	emit(&d, arg); /* unlinked, no times, NULL strings */
}

static void stub_clients(admin_conn_emit emit, void *arg)
{
	stub_conns(emit, arg, "C");
}

static void stub_servers(admin_conn_emit emit, void *arg)
{
	stub_conns(emit, arg, "S");
}

static bool stub_control(const char *db, char *err, size_t cap)
{
	FUZZ_CHECK(!db || strlen(db) < 64);
	if (flags & 0x02) {
		snprintf(err, cap, "database \"%s\" refused", db ? db : "(all)");
		return false;
	}
	return true;
}

static bool stub_pending_done(char kind, const char *db)
{
	FUZZ_CHECK(kind == ADMIN_PENDING_PAUSE || kind == ADMIN_PENDING_SUSPEND ||
	           kind == ADMIN_PENDING_WAIT_CLOSE);
	FUZZ_CHECK(!db || strlen(db) < 64);
	return !(flags & 0x04);
}

static bool stub_kill_client(uint32_t id, char *err, size_t cap)
{
	FUZZ_CHECK(id != 0);
	if (flags & 0x02) {
		snprintf(err, cap, "client not found: %u", id);
		return false;
	}
	return true;
}

static bool stub_disable(const char *db, bool on, char *err, size_t cap)
{
	(void)on;
	return stub_control(db, err, cap);
}

static bool stub_suspend(char *err, size_t cap)
{
	return stub_control(NULL, err, cap);
}

static bool stub_set(const char *key, const char *value, char *err, size_t cap)
{
	FUZZ_CHECK(key[0] && strlen(key) < 160 && strlen(value) < 256);
	if (flags & 0x02) {
		snprintf(err, cap, "%s: unknown key", key);
		return false;
	}
	return true;
}

static bool stub_reload(char *err, size_t cap)
{
	if (flags & 0x02) {
		snprintf(err, cap, "%s", "pglane.conf:3: pool.size: must be at least 1");
		return false;
	}
	return true;
}

static void stub_shutdown(int mode)
{
	FUZZ_CHECK(mode >= 0 && mode <= 2);
	did_shutdown = true;
}

static const struct admin_ops ops = {
        .clients = stub_clients,
        .servers = stub_servers,
        .pause = stub_control,
        .pending_done = stub_pending_done,
        .resume = stub_control,
        .kill = stub_control,
        .reconnect = stub_control,
        .reload = stub_reload,
        .shutdown = stub_shutdown,
        .kill_client = stub_kill_client,
        .disable = stub_disable,
        .suspend = stub_suspend,
        .wait_close = stub_control,
        .set = stub_set,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct cfg_errors errs;
	cfg = cfg_load(NULL, &errs);
	if (!cfg)
		abort();
	admin_setup(&ops);

	struct pool_health *h = pool_health_get("app", "db1.example", 5432, false);
	if (!h)
		abort();
	h->role = POOL_ROLE_PRIMARY;
	h->healthy = true;
	h->checked_at_ms = 1700000000000;
	h->nstandbys = 1;
	snprintf(h->standbys[0].name, sizeof(h->standbys[0].name), "replica1");
	snprintf(h->standbys[0].addr, sizeof(h->standbys[0].addr), "10.0.0.2");
	snprintf(h->standbys[0].state, sizeof(h->standbys[0].state), "streaming");
	h->standbys[0].replay_lag_ms = 12;
	h->standbys[0].lag_bytes = -1;
	h->nslots = 1;
	snprintf(h->slots[0].name, sizeof(h->slots[0].name), "slot1");
	snprintf(h->slots[0].type, sizeof(h->slots[0].type), "physical");
	h->slots[0].retained_bytes = 4096;
	struct pool_health *u = pool_health_get("app", "db2.example", 5432, true);
	if (!u)
		abort();
	snprintf(u->error, sizeof(u->error), "connection refused");

	struct pool_slow e = {.at_ms = 1700000000123, .duration_ms = 1234.5, .wait_ms = 0.25};
	snprintf(e.database, sizeof(e.database), "app");
	snprintf(e.user, sizeof(e.user), "alice");
	snprintf(e.lane, sizeof(e.lane), "olap");
	snprintf(e.query, sizeof(e.query), "SELECT pg_sleep(1)");
	pool_slowlog_add(&e);
	return 0;
}

/* The answer as wire bytes: a RowDescription of ncols columns, nrows DataRows of as many. */
static void check_result(const struct admin_result *r)
{
	FUZZ_CHECK(!r->desc.failed && !r->rows.failed);
	if (admin_result_is_error(r)) {
		FUZZ_CHECK(strlen(r->sqlstate) == 5 && r->message[0]);
		return;
	}
	if (r->ncols == 0) {
		FUZZ_CHECK(r->nrows == 0 && r->rows.len == 0);
		return;
	}
	struct proto_frame f;
	FUZZ_CHECK(proto_frame_next(r->desc.data, r->desc.len, UINT32_MAX, &f) == PROTO_FRAME_OK);
	FUZZ_CHECK(f.type == 'T' && f.size == r->desc.len && f.body_len >= 2);
	FUZZ_CHECK(((f.body[0] << 8) | f.body[1]) == r->ncols);
	const uint8_t *p = r->rows.data;
	size_t n = r->rows.len;
	uint64_t rows = 0;
	while (n > 0) {
		FUZZ_CHECK(proto_frame_next(p, n, UINT32_MAX, &f) == PROTO_FRAME_OK);
		FUZZ_CHECK(f.type == 'D');
		struct proto_reader rd;
		proto_reader_init(&rd, f.body, f.body_len);
		FUZZ_CHECK(proto_get_i16(&rd) == r->ncols);
		for (int i = 0; i < r->ncols; i++) {
			int32_t len = proto_get_i32(&rd);
			if (len > 0)
				(void)proto_get_bytes(&rd, (size_t)len);
			FUZZ_CHECK(len >= -1);
		}
		FUZZ_CHECK(!rd.failed && proto_reader_left(&rd) == 0);
		p += f.size;
		n -= f.size;
		rows++;
	}
	FUZZ_CHECK(rows == r->nrows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	flags = fuzz_byte(&in);
	size_t len;
	uint8_t *sql = fuzz_rest(&in, &len);
	struct admin_ctx ctx = {.full = flags & 0x01,
	                        .cfg = cfg,
	                        .now_us = 1000000000,
	                        .started_ms = 1700000000000,
	                        .version = "fuzz"};
	struct admin_result r;
	admin_result_init(&r);
	did_shutdown = false;

	admin_execute(&ctx, (const char *)sql, len, &r);
	if (r.pending) {
		FUZZ_CHECK(flags & 0x04);
		FUZZ_CHECK(!admin_pending_poll(&r));
		flags &= (uint8_t)~0x04;
		FUZZ_CHECK(admin_pending_poll(&r) && !r.pending);
	}
	check_result(&r);
	if (did_shutdown)
		FUZZ_CHECK(ctx.full && strcmp(r.tag, "SHUTDOWN") == 0);
	admin_result_free(&r);
	free(sql);
	return 0;
}
