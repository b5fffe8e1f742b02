/* config/cfg.h — pglane's configuration: an immutable struct built from a libconfig file
 * (or from the built-in defaults), validated with messages that name the file, the line and
 * the key. A reload builds a new struct beside the old one; nothing here is global. */
#ifndef PGLANE_CONFIG_CFG_H
#define PGLANE_CONFIG_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_NAME_MAX 64 /* database, user and lane names: 63 bytes + NUL */

enum cfg_pool_mode { CFG_POOL_SESSION, CFG_POOL_TRANSACTION };
enum cfg_auth_type { CFG_AUTH_TRUST, CFG_AUTH_MD5, CFG_AUTH_SCRAM };
enum cfg_log_format { CFG_LOG_TEXT, CFG_LOG_JSON };
enum cfg_log_level { CFG_LOG_ERROR, CFG_LOG_WARNING, CFG_LOG_INFO, CFG_LOG_DEBUG };
/* TLS from clients, PgBouncer's client_tls_sslmode: allow and prefer both accept TLS and plain
 * text; require refuses plain text; verify-ca and verify-full also require a client certificate
 * that listen.tls.ca vouches for (the same check for both, as in PgBouncer). */
enum cfg_tls_mode {
	CFG_TLS_DISABLE,
	CFG_TLS_ALLOW,
	CFG_TLS_PREFER,
	CFG_TLS_REQUIRE,
	CFG_TLS_VERIFY_CA,
	CFG_TLS_VERIFY_FULL
};
enum cfg_lane_kind { CFG_LANE_OLTP, CFG_LANE_OLAP, CFG_LANE_COUNT };
/* What transaction mode does with state that cannot move to another server (session advisory
 * locks, temp tables, cursors WITH HOLD, SQL PREPARE, LISTEN, LOAD): keep the client on its
 * server while it lasts, refuse the statement, or let it stay behind (unsafe). */
enum cfg_pin_mode { CFG_PIN_PIN, CFG_PIN_REFUSE, CFG_PIN_ALLOW };
/* worker_cpu_affinity: auto pins worker i to the i-th CPU pglane may run on when there are
 * several workers and exactly as many CPUs (the default `workers = 0`); off never pins. */
enum cfg_cpu_affinity { CFG_AFFINITY_AUTO, CFG_AFFINITY_OFF };
/* TLS towards the servers, as libpq's sslmode: verify-ca checks the chain against a CA,
 * verify-full also the host name. */
enum cfg_sslmode {
	CFG_SSL_DISABLE,
	CFG_SSL_PREFER,
	CFG_SSL_REQUIRE,
	CFG_SSL_VERIFY_CA,
	CFG_SSL_VERIFY_FULL
};

/* Which server of a database's hosts will do, libpq's target_session_attrs: read-write (not
 * in hot standby and not default_transaction_read_only), any, read-only (either in hot standby
 * or read-only by default), primary (not in hot standby), standby (in hot standby), or
 * prefer-standby (a standby when one of the hosts is, else any). */
enum cfg_tsa {
	CFG_TSA_ANY,
	CFG_TSA_READ_WRITE,
	CFG_TSA_READ_ONLY,
	CFG_TSA_PRIMARY,
	CFG_TSA_STANDBY,
	CFG_TSA_PREFER_STANDBY,
	CFG_TSA_COUNT
};

/* Pool settings: `pool` holds the defaults, each lane a resolved copy (lane keys override
 * the defaults). Durations in milliseconds, 0 = off. */
struct cfg_pool {
	enum cfg_pool_mode mode;
	int size;
	int min_size;
	int max_prepared_statements;
	int64_t statement_timeout_ms;
	int64_t idle_in_transaction_timeout_ms;
	int64_t client_idle_timeout_ms;
	int64_t query_wait_timeout_ms;
	int64_t slow_query_ms;
	int64_t server_lifetime_ms;
	int64_t server_idle_timeout_ms;
	int64_t server_connect_timeout_ms;
	int64_t client_login_timeout_ms;
	char *server_reset_query; /* owned; "" = none */
	char **track_parameters;  /* owned; extra tracked parameter names */
	size_t ntrack_parameters;
	enum cfg_pin_mode pin_session_state;
	char **ignore_startup_parameters; /* owned; start-up parameters pglane drops */
	size_t nignore_startup_parameters;
	/* Caps (0 = none). The server caps count a database's (a user's) server connections
	 * across its lanes and users (databases); the client caps its logged-in clients. Set in
	 * `pool` (global), a database (max_db_*) or a user (max_user_*), never in a lane. */
	int max_db_connections;
	int max_user_connections;
	int max_db_client_connections;
	int max_user_client_connections;
	int reserve_pool_size;           /* extra servers for clients waiting > the timeout */
	int64_t reserve_pool_timeout_ms; /* default 5 s */
	char *server_check_query;        /* owned; "" = an empty query */
	int64_t server_check_delay_ms;   /* idle longer than this: checked before use; 30 s */
	bool server_round_robin;         /* idle servers handed out FIFO instead of LIFO */
	bool server_reset_query_always;  /* server_reset_query in transaction mode too */
	int64_t transaction_timeout_ms;  /* a transaction open longer is cancelled; 0 = off */
	int64_t cancel_wait_timeout_ms;  /* a cancel request waiting longer is dropped; 10 s */
	int64_t server_login_retry_ms;   /* after a failed server login (the cap of the retry
	                                    back-off); 500 ms */
	int64_t query_wait_notify_ms;    /* a NOTICE to a client waiting longer; 0 = off */
};

/* The pool keys, in the order cfg_print shows them; a user's `set` mask indexes this list. */
enum cfg_pool_key {
	CFG_PK_MODE,
	CFG_PK_SIZE,
	CFG_PK_MIN_SIZE,
	CFG_PK_RESERVE_POOL_SIZE,
	CFG_PK_MAX_PREPARED_STATEMENTS,
	CFG_PK_STATEMENT_TIMEOUT,
	CFG_PK_IDLE_IN_TRANSACTION_TIMEOUT,
	CFG_PK_CLIENT_IDLE_TIMEOUT,
	CFG_PK_QUERY_WAIT_TIMEOUT,
	CFG_PK_QUERY_WAIT_NOTIFY,
	CFG_PK_TRANSACTION_TIMEOUT,
	CFG_PK_SLOW_QUERY,
	CFG_PK_PIN_SESSION_STATE,
	CFG_PK_MAX_USER_CONNECTIONS,
	CFG_PK_MAX_USER_CLIENT_CONNECTIONS,
	CFG_PK_COUNT_USER, /* the keys above may be set per user */
};

/* A `users` entry (PgBouncer's [users]): pool keys that override, for this user, the lane's
 * value (precedence user > lane > database > global). Only the keys whose bit is in `set`
 * mean anything. */
struct cfg_user_settings {
	char *name; /* owned */
	struct cfg_pool pool;
	uint32_t set; /* bit (1u << enum cfg_pool_key) */
	int line;
};

struct cfg_endpoint {
	char *host; /* owned */
	int port;
};

struct cfg_lane {
	bool enabled; /* oltp always; olap when the database has an `olap` group */
	struct cfg_pool pool;
	struct cfg_endpoint *replicas; /* owned; olap only */
	size_t nreplicas;
	int64_t max_replica_lag_ms;
	bool fallback; /* use the primary when no replica is fresh enough */
};

struct cfg_database {
	char *name;      /* owned; "*" matches every database */
	char *host;      /* owned; as written: one host or a comma-separated list ("h1,h2") */
	int port;        /* the first host's port */
	char *port_list; /* owned; `port` as written when it was a string ("5432,5433"), else "" */
	/* host and port split into the servers to try, in order (at least one) */
	struct cfg_endpoint *hosts; /* owned */
	size_t nhosts;
	/* which of them will do; when not set: read-write with several hosts, else any */
	enum cfg_tsa target_session_attrs;
	char *dbname;   /* owned; "" = the name the client asked for */
	char *user;     /* owned; "" = the client's user */
	char *password; /* owned; "" = from the auth file */
	enum cfg_lane_kind default_lane;
	struct cfg_lane lanes[CFG_LANE_COUNT];
	int line; /* where it was defined, 0 for built-in */
	/* TLS to this database's servers, resolved: its own `sslmode` / `sslrootcert` keys, else
	 * server_tls.sslmode / server_tls.ca. */
	enum cfg_sslmode sslmode;
	char *sslrootcert;   /* owned; CA file, absolute; "" = none */
	char *connect_query; /* owned; run once on each new server connection; "" = none */
	/* auth_query look-ups for this database's clients, resolved: its own keys, else auth.*.
	 * auth_user "" = no look-ups; auth_dbname "" = the database itself. */
	char *auth_user;   /* owned */
	char *auth_query;  /* owned */
	char *auth_dbname; /* owned */
};

struct cfg_route {
	char *user;             /* owned; NULL = any */
	char *application_name; /* owned glob (fnmatch); NULL = any */
	char *database;         /* owned; NULL = any */
	enum cfg_lane_kind lane;
};

struct cfg_hba {
	/* owned: a CIDR ("127.0.0.1/32", "::1/128") matching TCP clients, "local" matching
	 * Unix-socket clients, or "all" matching both */
	char *address;
	char *database; /* owned; "all" = any */
	char *user;     /* owned; "all" = any */
	/* owned: "trust" | "md5" | "scram-sha-256" | "reject" | "cert" | "peer" (peer only with
	 * address "local") */
	char *method;
};

/* Peering (PgBouncer's peer_id and [peers]): several pglanes behind one load balancer forward
 * each other the cancel requests that reached the wrong one. Ids are 1..CFG_PEER_ID_MAX
 * (11 bits of the cancel key; PgBouncer allows up to 16383); 0 = peering off. */
#define CFG_PEER_ID_MAX 2047
struct cfg_peer {
	int id;     /* 1..CFG_PEER_ID_MAX, never the own peer_id, unique */
	char *host; /* owned; an IP address, a host name or a Unix socket directory ("/...") */
	int port;   /* 6432 when not set */
	int line;   /* where it was defined */
};

struct cfg {
	char *path;  /* owned; NULL when built-in defaults */
	int workers; /* event loops (threads); 0 = one per core (restart only) */
	enum cfg_cpu_affinity worker_cpu_affinity; /* restart only */
	struct {
		char *host;
		int port;
		int max_client_conn;
		/* A Unix socket `.s.PGSQL.<port>` in this directory ("" = none), its mode and
		 * group ("" = the process's). */
		char *unix_socket_dir; /* owned; default "/tmp" */
		int unix_socket_mode;  /* default 0777 */
		char *unix_socket_group;
		struct {
			enum cfg_tls_mode mode;
			char *cert;
			char *key;
			char *ca;
			/* OpenSSL protocol list as PgBouncer's: "secure" (TLSv1.2 and 1.3), "all",
			 * "legacy" or "tlsv1.2,tlsv1.3"...; ciphers an OpenSSL cipher list,
			 * "default" = OpenSSL's. */
			char *protocols; /* owned */
			char *ciphers;   /* owned */
		} tls;
	} listen;
	struct {
		enum cfg_auth_type type;
		char *file; /* owned; "" = none (trust only); relative to the config file */
		/* Look-ups of users missing from the file (every database's default). */
		char *auth_user;   /* owned; "" = none */
		char *auth_query;  /* owned */
		char *auth_dbname; /* owned; "" = the client's database */
	} auth;
	struct {
		char **users;
		size_t nusers;
		char **stats_users;
		size_t nstats_users;
		int http_port;
		/* How long SUSPEND waits for buffers to drain, and the deadline of the waiting
		 * shutdowns (SHUTDOWN WAIT_FOR_SERVERS|WAIT_FOR_CLIENTS, SIGINT, SIGTERM): past it
		 * pglane exits as SIGQUIT would. 0 = none (PgBouncer's). */
		int64_t suspend_timeout_ms;  /* 10 s */
		int64_t shutdown_timeout_ms; /* 0 */
	} admin;
	struct {
		enum cfg_log_format format;
		enum cfg_log_level level;
		/* PgBouncer's logfile (reopened on SIGHUP or RELOAD, for logrotate; "" = stderr
		 * only), syslog with its ident and facility, the log_connections /
		 * log_disconnections / log_pooler_errors switches, and log_stats: a line per
		 * stats_period with the averages of that period (which SHOW STATS also gives). */
		char *file; /* owned; absolute (relative to the config file) */
		bool syslog;
		char *syslog_ident;    /* owned; "pglane" */
		char *syslog_facility; /* owned; "daemon", "user", "local0".."local7" */
		bool connections;
		bool disconnections;
		bool pooler_errors;
		bool stats;
		int64_t stats_period_ms; /* 60 s */
	} log;
	struct cfg_pool pool;
	struct cfg_database *databases; /* owned; at least one (built-in "*" when none given) */
	size_t ndatabases;
	struct cfg_route *routes;
	size_t nroutes;
	struct cfg_hba *hba;
	size_t nhba;
	struct {
		int64_t interval_ms;
		char *user;
		char *password;
	} monitor;
	/* TLS towards the servers: the defaults of every database's sslmode and sslrootcert, and
	 * the client certificate pglane presents (cert and key both set, or neither). Paths are
	 * absolute (relative ones resolved against the config file's directory); "" = none. */
	struct {
		enum cfg_sslmode sslmode;
		char *ca;        /* owned */
		char *cert;      /* owned */
		char *key;       /* owned */
		char *protocols; /* owned; as listen.tls.protocols */
		char *ciphers;   /* owned */
	} server_tls;
	struct cfg_user_settings *users; /* owned; the `users` list */
	size_t nusers;
	int peer_id;            /* this pglane's id among its peers; 0 = off; restart-only */
	struct cfg_peer *peers; /* owned; the other pglanes (RELOAD may change them) */
	size_t npeers;
};

/* Errors collected while loading: each "FILE:LINE: KEY: message". */
#define CFG_MAX_ERRORS 32
struct cfg_errors {
	size_t n;
	char msg[CFG_MAX_ERRORS][256];
};

/* Load and validate `path` (NULL: built-in defaults). On any error returns NULL with every
 * problem found in `errs`; on success a new config the caller frees with cfg_free(). */
__attribute__((warn_unused_result)) struct cfg *cfg_load(const char *path, struct cfg_errors *errs);
void cfg_free(struct cfg *c);
/* Print the resolved settings (libconfig syntax, every key, secrets masked) to `out`. */
void cfg_print(const struct cfg *c, FILE *out);
/* The database entry for a client's database name: an exact name, else "*", else NULL. */
const struct cfg_database *cfg_database_find(const struct cfg *c, const char *name);
/* The peer with id `id`; NULL when none. */
const struct cfg_peer *cfg_peer_find(const struct cfg *c, int id);
/* The `users` entry for `name`; NULL when none. */
const struct cfg_user_settings *cfg_user_settings_find(const struct cfg *c, const char *name);
/* The settings a pool of `user` in lane `lane` runs with: a shallow copy of the lane's pool
 * settings (its strings still owned by `c`) with the user's overrides laid over. */
void cfg_pool_resolve(const struct cfg *c, const struct cfg_lane *lane, const char *user,
                      struct cfg_pool *out);
/* Does client TLS mode `m` refuse plain-text clients (require, verify-ca, verify-full)? */
bool cfg_tls_required(enum cfg_tls_mode m);
/* Does it ask clients for a certificate that listen.tls.ca must vouch for? */
bool cfg_tls_verifies(enum cfg_tls_mode m);
const char *cfg_tls_mode_name(enum cfg_tls_mode m);
/* A TLS protocol list in PgBouncer's syntax into the lowest and highest TLS 1.x minor version
 * (0..3): "secure" and "default" = 1.2-1.3, "all" and "legacy" = 1.0-1.3, or versions
 * "tlsv1.0".."tlsv1.3" separated by commas, colons or spaces, case-insensitive, which must be
 * consecutive (OpenSSL takes a range). False for anything else. */
bool cfg_tls_protocols_parse(const char *s, int *min_minor, int *max_minor);
/* Is `user` in admin.users (`*full` true) or admin.stats_users (`*full` false)? */
bool cfg_is_admin(const struct cfg *c, const char *user, bool *full);
/* The longest duration accepted anywhere (365 days), so that `now + timeout` cannot overflow. */
#define CFG_DURATION_MAX_MS ((int64_t)365 * 24 * 3600 * 1000)
/* Parse a duration ("250ms", "2s", "5min", "1h", or a bare integer in ms; "0" = off). No sign,
 * no spaces, no fraction; false for anything else or for more than CFG_DURATION_MAX_MS. */
__attribute__((warn_unused_result)) bool cfg_duration_parse(const char *s, int64_t *ms);
const char *cfg_lane_name(enum cfg_lane_kind k);
const char *cfg_pool_mode_name(enum cfg_pool_mode m);
/* "pin", "refuse", "allow". */
const char *cfg_pin_mode_name(enum cfg_pin_mode m);
/* "auto", "off". */
const char *cfg_cpu_affinity_name(enum cfg_cpu_affinity a);
/* Is `name` in the pool's ignore_startup_parameters (case-insensitive)? */
bool cfg_ignores_startup_parameter(const struct cfg_pool *p, const char *name);
/* "disable", "prefer", "require", "verify-ca", "verify-full" ("?" out of range). */
const char *cfg_sslmode_name(enum cfg_sslmode m);
/* "any", "read-write", "read-only", "primary", "standby", "prefer-standby". */
const char *cfg_tsa_name(enum cfg_tsa t);

/* ---- config/cfg_hosts.c: several hosts per database ---- */
#define CFG_HOSTS_MAX 16
/* Split `hosts` ("h1,h2", spaces around names ignored) and `ports` (NULL or "": every host
 * on `port`; else one port for all, or a comma-separated list as long as the host list) into
 * *out (owned array, free each host then the array) of *n endpoints. False with a message in
 * `err` for an empty name, a bad or missing port, lists of different lengths or more than
 * CFG_HOSTS_MAX hosts (nothing allocated then). */
__attribute__((warn_unused_result)) bool cfg_hosts_parse(const char *hosts, const char *ports,
                                                         int port, struct cfg_endpoint **out,
                                                         size_t *n, char *err, size_t errcap);
/* Free an endpoint array. */
void cfg_endpoints_free(struct cfg_endpoint *v, size_t n);
/* Does a server in hot standby (`standby`) that is read-only by default (`read_only`) suit
 * `t`? prefer-standby takes any server here (the caller prefers standbys first). */
bool cfg_tsa_accepts(enum cfg_tsa t, bool standby, bool read_only);

/* ---- config/cfg_set.c: the console's SET ---- */
/* One `SET key = value`: a flattened key as SHOW CONFIG prints it ("pool.size",
 * "databases.app.oltp.size", "users.report.size", "log.connections") and its text. */
struct cfg_override {
	char key[160];
	char value[256];
	int type; /* how the value was read (libconfig's type), 0 until a load chose it */
};
/* The file at `path` as cfg_load reads it, with ov[0..n-1] set in it before it is validated
 * (exactly as RELOAD validates it). The value of the last override is read as an integer, a
 * boolean or a string, whichever the loader accepts (its type is stored); the others keep
 * theirs (one still 0 gets the likeliest: an integer when it reads as one, a boolean for
 * true/false/on/off/yes/no, else a string). NULL with the loader's messages in `errs` (an unknown
 * key is "unknown key"). The file is not written. */
__attribute__((warn_unused_result)) struct cfg *cfg_load_with_overrides(const char *path,
                                                                        struct cfg_override *ov,
                                                                        size_t n,
                                                                        struct cfg_errors *errs);

/* A PgBouncer setting name in o->key ("default_pool_size", "query_timeout", "log_stats")
 * becomes its pglane key ("pool.size", ...), and a plain number of seconds for a duration
 * becomes milliseconds; true when o->key was such a name (nothing changed otherwise). */
bool cfg_override_from_pgbouncer(struct cfg_override *o);

/* ---- config/cfg_flat.c: flat key/value view, reload diff, restart check ---- */
struct cfg_kv {
	char *key;   /* owned: "listen.port", "databases.app.oltp.size", "routes[0]" */
	char *value; /* owned: as cfg_print shows it, without quoting */
};
struct cfg_kvs {
	struct cfg_kv *v; /* owned */
	size_t n;
};
/* Every setting of `c` as "dotted.key" = "value" text, in a stable order: listen.*, auth.*,
 * admin.*, log.*, pool.*, then per database "databases.<name>.host" ... and per enabled lane
 * "databases.<name>.<lane>.<pool key>" (olap also .replicas "host:port,host:port",
 * .max_replica_lag, .fallback), then "routes[i]" = "user=x application_name=y database=z
 * lane=olap" (only the set fields), "hba[i]" = "address=a database=d user=u method=m",
 * monitor.*, server_tls.sslmode/ca/cert/key, users.*, then "peer_id" and "peers[i]" = "id=2
 * host=h port=6433". Each database also has "databases.<name>.sslmode"
 * and ".sslrootcert" (after .default_lane, before its lanes). Durations with units ("2s", "0"),
 * booleans "true"/"false", lists comma-separated, passwords "***" when set, "" when not. False when
 * out of memory (nothing allocated then). */
__attribute__((warn_unused_result)) bool cfg_flatten(const struct cfg *c, struct cfg_kvs *out);
/* Free what `kv` owns and clear it. */
void cfg_kvs_free(struct cfg_kvs *kv);
/* The differences between `a` (old) and `b` (new): one line per key "key: old -> new",
 * "key: (none) -> new" for added and "key: old -> (none)" for removed keys, in `b`'s order,
 * then the removed ones in `a`'s order. Empty values read `""`, passwords "***" (a changed
 * password is a line "*** -> ***"). Returns the number of lines (0 = same); *lines (owned array
 * of owned strings, free with cfg_lines_free) is NULL when 0. (size_t)-1 when out of memory. */
__attribute__((warn_unused_result)) size_t cfg_diff(const struct cfg *a, const struct cfg *b,
                                                    char ***lines);
void cfg_lines_free(char **lines, size_t n);
/* Does going from `a` to `b` change something a running pglane cannot apply without a restart
 * (listen.host, listen.port, listen.tls.mode/cert/key/ca, admin.http_port,
 * pool.track_parameters, peer_id)? Writes those keys, comma-separated, into `what` (`cap` bytes,
 * truncated if need be; may be NULL) and returns true when so. */
bool cfg_needs_restart(const struct cfg *a, const struct cfg *b, char *what, size_t cap);

#endif
