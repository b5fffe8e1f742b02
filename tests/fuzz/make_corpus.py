#!/usr/bin/env python3
"""tests/fuzz/make_corpus.py — writes the seed corpus of every fuzz target into
tests/fuzz/corpus/<target>/ (small valid inputs and edge cases, each named for what it is).
Run it from anywhere; it replaces the seed files it writes and leaves others alone.
The SCRAM seeds are RFC 7677's exchange, checked here with hashlib/hmac."""
import base64
import hashlib
import hmac
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def be32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def be16(v):
    return struct.pack(">H", v)


def msg(t, body):
    return t.encode() + be32(len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def startup(pairs, version=3 << 16):
    body = be32(version) + b"".join(cstr(k) + cstr(v) for k, v in pairs) + b"\0"
    return be32(len(body) + 4) + body


SSL_REQUEST = be32(8) + be32(80877103)
GSS_REQUEST = be32(8) + be32(80877104)
CANCEL = be32(16) + be32(80877102) + be32(4242) + be32(0x12345678)
V3 = startup([("user", "alice"), ("database", "app"), ("application_name", "psql")])

# ---- fuzz_frame: byte 0 picks max_len (index % 17; bit 7: a startup packet first) ----
IDX_1024, IDX_STARTUP, IDX_UINT32 = 9, 10, 16
stream = (msg("Q", cstr("SELECT 1")) + msg("P", cstr("s1") + cstr("SELECT $1") + be16(0)) +
          msg("S", b"") + msg("X", b""))
write("fuzz_frame", "startup_then_messages", bytes([0x80 | IDX_STARTUP]) + V3 + stream)
write("fuzz_frame", "ssl_request_then_query", bytes([0x80 | IDX_1024]) + SSL_REQUEST +
      msg("Q", cstr("SELECT 1")))
write("fuzz_frame", "messages_huge_limit", bytes([IDX_UINT32]) + stream)
write("fuzz_frame", "truncated_body", bytes([IDX_1024]) + msg("Q", cstr("SELECT 1"))[:-3])
write("fuzz_frame", "len_below_4", bytes([IDX_1024]) + b"Q" + be32(3))
write("fuzz_frame", "len_2pow31", bytes([IDX_UINT32]) + b"Q" + be32(1 << 31))
write("fuzz_frame", "len_max", bytes([IDX_UINT32]) + b"Q" + be32(0xFFFFFFFF) + b"x")
write("fuzz_frame", "len_over_limit", bytes([5]) + msg("Q", cstr("SELECT 1")))
write("fuzz_frame", "startup_len_7", bytes([0x80 | IDX_STARTUP]) + be32(7) + be32(3 << 16))
write("fuzz_frame", "empty_bodies", bytes([IDX_1024]) + msg("S", b"") * 3 + msg("H", b""))

# ---- fuzz_startup: what a client sends first ----
write("fuzz_startup", "v3", V3)
write("fuzz_startup", "v3_user_only", startup([("user", "bob")]))
write("fuzz_startup", "v3_options", startup([("user", "u"), ("database", ""),
                                             ("options", "-c search_path=x"),
                                             ("client_encoding", "UTF8")]))
write("fuzz_startup", "ssl_request", SSL_REQUEST)
write("fuzz_startup", "gssenc_request", GSS_REQUEST)
write("fuzz_startup", "cancel", CANCEL)
write("fuzz_startup", "version_2", startup([("user", "a")], version=2 << 16))
write("fuzz_startup", "version_3_2", startup([("user", "a")], version=(3 << 16) | 2))
write("fuzz_startup", "no_user", startup([("database", "app")]))
write("fuzz_startup", "user_twice", startup([("user", "a"), ("user", "b")]))
write("fuzz_startup", "name_without_value", be32(17) + be32(3 << 16) + b"user\0al")
write("fuzz_startup", "user_63", startup([("user", "u" * 63)]))
write("fuzz_startup", "user_64", startup([("user", "u" * 64)]))
write("fuzz_startup", "params_64", startup([("user", "a")] + [("p%d" % i, "v") for i in range(63)]))
write("fuzz_startup", "length_mismatch", be32(100) + V3[4:])
write("fuzz_startup", "cancel_short", be32(12) + be32(80877102) + be32(1))

# ---- fuzz_messages: byte 0 = name buffer size (1 + b % 80) and Bind's available bytes ----
FULL = 0x80 | 63  # cap 64, all of Bind available


def m(name, body, sel=FULL):
    write("fuzz_messages", name, bytes([sel]) + body)


m("auth_ok", be32(0))
m("auth_md5", be32(5) + b"salt")
m("auth_sasl", be32(10) + cstr("SCRAM-SHA-256-PLUS") + cstr("SCRAM-SHA-256") + b"\0")
m("auth_sasl_continue", be32(11) + b"r=abc,s=c2FsdA==,i=4096")
m("error", b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0Dd\0Hh\0Fauth.c\0\0")
m("error_no_sqlstate", b"SERROR\0Mno code\0\0")
m("param_status", cstr("server_version") + cstr("16.2"))
m("key_data", be32(4242) + be32(0x7FFFFFFF))
m("ready", b"T")
m("password", cstr("md5" + "0" * 32))
m("sasl_initial", cstr("SCRAM-SHA-256") + be32(8) + b"n,,n=,r=")
m("sasl_initial_none", cstr("SCRAM-SHA-256") + be32(0xFFFFFFFF))
m("parse", cstr("s1") + cstr("/* lane: olap */ SELECT $1::int") + be16(1) + be32(23))
m("parse_params_unsigned", cstr("") + cstr("SELECT 1") + b"\xff\xff")
m("bind", cstr("portal") + cstr("stmt") + be16(0) + be16(1) + be32(1) + b"1" + be16(0))
m("bind_partial", cstr("portal") + cstr("stmt") + b"\0\0", sel=0x20)
m("describe", b"S" + cstr("s1"))
m("close_portal", b"P" + cstr(""))
m("discard_all", b"  DISCARD ALL ;  ")
m("deallocate_all", b"/* c */ deallocate prepare ALL")
m("deallocate_name", b"DEALLOCATE \"My\"\"Stmt\";")
m("deallocate_prepare_name", b"-- x\nDEALLOCATE prepare")
m("deallocate_long_name", b"DEALLOCATE " + b"n" * 90, sel=9)
m("lane_hint", b"  /*lane:OLAP*/ select 1")
m("lane_hint_nested", b"/* /* lane: x */ */ select 1")
m("sql_nul", b"DISCARD ALL\0; DROP TABLE t")
m("sql_high_bit", b"DEALLOCATE \xc3\xa9t\xc3\xa9")

# ---- SCRAM: RFC 7677's exchange (and PostgreSQL's empty user name) ----
PASSWORD, SALT_B64, ITER = b"pencil", "W22ZaJ0SNY7soEsUEjb6gQ==", 4096
CNONCE, SNONCE = "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
salted = hashlib.pbkdf2_hmac("sha256", PASSWORD, base64.b64decode(SALT_B64), ITER)
client_key = hmac.new(salted, b"Client Key", "sha256").digest()
stored_key = hashlib.sha256(client_key).digest()
server_key = hmac.new(salted, b"Server Key", "sha256").digest()
b64 = lambda b: base64.b64encode(b).decode()
assert b64(stored_key) == "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="


def exchange(user):
    bare = "n=%s,r=%s" % (user, CNONCE)
    server_first = "r=%s%s,s=%s,i=%d" % (CNONCE, SNONCE, SALT_B64, ITER)
    without_proof = "c=biws,r=%s%s" % (CNONCE, SNONCE)
    am = ("%s,%s,%s" % (bare, server_first, without_proof)).encode()
    sig = hmac.new(stored_key, am, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    server_sig = hmac.new(server_key, am, "sha256").digest()
    return ("n,," + bare, server_first, without_proof + ",p=" + b64(proof),
            "v=" + b64(server_sig))


def two(flags, cap, first, rest):
    first, rest = first.encode(), rest.encode()
    return bytes([flags, cap]) + be16(len(first)) + first + rest


rfc = exchange("user")
pg = exchange("")
assert rfc[2].endswith("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
assert pg[3] == "v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg="

S = "fuzz_scram_server"
write(S, "rfc7677", two(0, 0, rfc[0], rfc[2]))
write(S, "libpq_empty_user", two(0, 0, pg[0], pg[2]))
write(S, "wrong_proof", two(0, 0, pg[0], pg[2][:-5] + "AAAA="))
write(S, "cbind_y", two(0, 0, "y" + pg[0][1:], "c=eSws" + pg[2][6:]))
write(S, "cbind_p_refused", two(0, 0, "p=tls-server-end-point,," + pg[0][3:], pg[2]))
write(S, "authzid_refused", two(0, 0, "n,a=admin," + pg[0][3:], pg[2]))
write(S, "extension_refused", two(0, 0, pg[0] + ",m=ext", pg[2]))
write(S, "random_nonce", two(1, 0, pg[0], pg[2]))
write(S, "small_out_buffer", two(0, 40, pg[0], pg[2]))
write(S, "secret_text", two(0, 0, "SCRAM-SHA-256$4096:%s$%s:%s" % (SALT_B64, b64(stored_key),
                                                                    b64(server_key)), "Zm9vYmFy"))
write(S, "nonce_too_long", two(0, 0, "n,,n=,r=" + "x" * 300, "c=biws"))

C = "fuzz_scram_client"
write(C, "rfc7677", two(0, 0, rfc[1], rfc[3]))
write(C, "libpq_empty_user", two(4, 0, pg[1], pg[3]))
write(C, "pass_through_keys", two(1 | 4, 0, pg[1], pg[3]))
write(C, "server_error", two(4, 0, pg[1], "e=invalid-proof"))
write(C, "wrong_signature", two(4, 0, pg[1], "v=" + b64(bytes(32))))
write(C, "iterations_over_cap", two(4, 0, pg[1].replace("i=4096", "i=4097"), pg[3]))
write(C, "iterations_huge", two(4, 0, pg[1].replace("i=4096", "i=99999999999"), pg[3]))
write(C, "iterations_zero", two(4, 0, pg[1].replace("i=4096", "i=0"), pg[3]))
write(C, "nonce_not_extended", two(4, 0, "r=%s,s=%s,i=1" % (CNONCE, SALT_B64), pg[3]))
write(C, "nonce_2k", two(4, 0, "r=" + CNONCE + "x" * 2000 + ",s=" + SALT_B64 + ",i=1", ""))
write(C, "salt_bad_base64", two(4, 0, pg[1].replace(SALT_B64, "W22ZaJ0SNY7soEsUEjb6gQ="), pg[3]))
write(C, "small_out_buffer", two(4, 60, pg[1], pg[3]))

# ---- fuzz_admin: byte 0 = flags (1 full admin, 2 callbacks refuse, 4 PAUSE waits) ----
for subject in ["POOLS", "LANES", "STATS", "CLIENTS", "SERVERS", "DATABASES", "CONFIG",
                "VERSION", "SLOW", "REPLICATION", "SLOTS", "HELP"]:
    write("fuzz_admin", "show_" + subject.lower(), b"\x01SHOW " + subject.encode() + b";")
for name, flags, text in [
        ("show_unknown", 1, "show nothing"), ("show_two_words", 1, "SHOW POOLS extra"),
        ("empty", 1, " ;; "), ("set", 1, "SET application_name = 'x'"),
        ("pause_all", 1, "PAUSE"), ("pause_db_waits", 5, "PAUSE app"),
        ("pause_quoted", 1, 'PAUSE "my ""db"""'), ("resume", 1, "resume app"),
        ("resume_refused", 3, "RESUME app"), ("kill", 1, "KILL app"),
        ("kill_without_db", 1, "KILL"), ("reconnect", 1, "RECONNECT"),
        ("reload", 1, "RELOAD;"), ("reload_refused", 3, "RELOAD"),
        ("shutdown", 1, "SHUTDOWN"), ("stats_user_control", 0, "SHUTDOWN"),
        ("stats_user_show", 0, "show stats"), ("too_many_words", 1, "a b c d e"),
        ("unterminated_quote", 1, 'PAUSE "app'), ("long_word", 1, "PAUSE " + "d" * 70),
        ("nul_inside", 1, "SHOW\0POOLS"),
        ("set_key", 1, "SET pool.size = 3"), ("set_quoted", 3, "set log.level to 'debug';"),
        ("set_no_value", 1, "SET pool.size ="), ("kill_client", 1, "KILL_CLIENT 42"),
        ("kill_client_bad", 1, "KILL_CLIENT 0x2a"), ("disable", 1, "DISABLE app"),
        ("enable_refused", 3, "ENABLE app"), ("suspend_waits", 5, "SUSPEND"),
        ("wait_close", 5, "WAIT_CLOSE app"), ("shutdown_servers", 1, "SHUTDOWN WAIT_FOR_SERVERS"),
        ("shutdown_clients", 1, "shutdown wait_for_clients")]:
    write("fuzz_admin", name, bytes([flags]) + text.encode())

# ---- fuzz_config: the config file; after a line "----", the auth file ----
USERS = ('"alice" "secret"\n"bob" "md50123456789abcdef0123456789abcdef"\n'
         '"carol" "SCRAM-SHA-256$4096:%s$%s:%s"\n' % (SALT_B64, b64(stored_key), b64(server_key)))
FULL_CONF = """# every key
listen = { host = "0.0.0.0"; port = 7432; max_client_conn = 500; tls = { mode = "disable"; }; };
auth = { type = "scram-sha-256"; file = "users.txt"; };
admin = { users = [ "admin", "root" ]; stats_users = [ "grafana" ]; http_port = 9187; };
log = { format = "json"; level = "debug"; };
pool = {
  mode = "session"; size = 30; min_size = 2; max_prepared_statements = 50;
  statement_timeout = "3s"; idle_in_transaction_timeout = "10s"; client_idle_timeout = "5min";
  query_wait_timeout = "30s"; slow_query = "500ms"; server_lifetime = "2h";
  server_idle_timeout = "15min"; server_connect_timeout = 2500; client_login_timeout = "20s";
  server_reset_query = "RESET ALL"; track_parameters = [ "search_path", "work_mem" ];
};
databases = (
  { name = "app"; host = "db1.internal"; port = 5433; dbname = "app_prod"; user = "app_user";
    password = "s3cret"; default_lane = "olap";
    oltp = { size = 15; statement_timeout = "2s"; };
    olap = { mode = "transaction"; size = 4; statement_timeout = "30min";
             replicas = ( { host = "replica1"; port = 5434; }, { host = "replica2"; } );
             max_replica_lag = "45s"; fallback = false; };
  },
  { name = "*"; }
);
routes = ( { application_name = "metabase*"; lane = "olap"; },
           { user = "reporting"; database = "app"; lane = "olap"; } );
hba = ( { address = "127.0.0.1/32"; database = "all"; user = "all"; method = "trust"; },
        { address = "10.0.0.0/8"; method = "scram-sha-256"; },
        { address = "::1/128"; database = "app"; user = "alice"; method = "md5"; },
        { address = "all"; method = "reject"; } );
monitor = { interval = "5s"; user = "monitor"; password = "m0n"; };
"""
F = "fuzz_config"
write(F, "full", FULL_CONF + "----\n" + USERS)
write(F, "minimal", "databases = ( { name = \"app\"; } );\n")
write(F, "empty", "")
write(F, "md5_auth", 'auth = { type = "md5"; file = "users.txt"; };\n----\n' + USERS)
write(F, "errors", 'pool = { size = 0; min_size = -1; mode = "x"; bogus = 1; };\n'
      'listen = { port = 70000; tls = { mode = "require"; }; };\n'
      'databases = ( { name = "a"; }, { name = "a"; } );\n'
      'routes = ( { lane = "olap"; } );\n')
write(F, "syntax_error", "pool = { size = ; };\n")
write(F, "durations", 'pool = { statement_timeout = "366d"; slow_query = "1h"; '
      'client_idle_timeout = "-1s"; query_wait_timeout = "9999999999999ms"; };\n')
write(F, "userlist_only", "----\n" + USERS + '; comment\n# comment\n\n"dup" "x"\n"dup" "y"\n'
      '"quote""d" "a""b"\n"" "empty"\n"x" ""\n"bad\n"long" "SCRAM-SHA-256$1:x$y"\n')

# ---- fuzz_sql: flags byte (1: standard_conforming_strings off), then the text ----
F = "fuzz_sql"
SQL_SEEDS = {
    "select": "SELECT abalance FROM pgbench_accounts WHERE aid = 1;",
    "update": "UPDATE t SET a = 1 WHERE b = 2",
    "set_role": "SET ROLE tenant",
    "set_session_auth": "SET SESSION AUTHORIZATION bob",
    "set_forms": "SET TIME ZONE 'UTC'; SET NAMES 'UTF8'; SET SCHEMA 'x'; "
                 "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "set_local": "BEGIN; SET LOCAL work_mem = '1MB'; COMMIT",
    "set_default": "SET search_path TO DEFAULT",
    "reset_all": "RESET ALL",
    "set_config": "SELECT pg_catalog.set_config('search_path', 'x', false), "
                  "set_config($1, $2, true)",
    "advisory": "SELECT pg_advisory_lock(1), pg_try_advisory_lock_shared(2), "
                "pg_advisory_unlock_all()",
    "temp": "CREATE TEMP TABLE t (a int); SELECT * INTO TEMPORARY u FROM t",
    "hold": "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
    "prepare_listen_load": "PREPARE p AS SELECT 1; LISTEN x; LOAD 'y'; UNLISTEN *",
    "discard_all": "DISCARD ALL",
    "deallocate": "DEALLOCATE PREPARE \"My\"\"Stmt\"",
    "deallocate_all": "/* c */ deallocate all ;",
    "do_block": "DO $body$ BEGIN PERFORM set_config('a.b', 'c', false); END $body$",
    "quotes": "SELECT E'a\\'; SET ROLE r; --', $t$ ; $t$, \"x;\"; SET work_mem=1",
    "comments": "/* /* nested */ */ -- line\nSET /* in */ lock_timeout = 5",
    "lane_hint": "/* lane: olap */ SELECT 1",
}
for name, text in SQL_SEEDS.items():
    write(F, name, b"\x00" + text.encode())
write(F, "backslash_off", b"\x01SELECT 'a\\'; SET ROLE r; --'")
write(F, "nul_inside", b"\x00SELECT 1\x00; SET ROLE r")


# ---- fuzz_session: records: opcode, then 16-bit BE length-prefixed parts ----
def part(s):
    b = s.encode() if isinstance(s, str) else s
    return be16(len(b)) + b


F = "fuzz_session"
write(F, "startup_capture",
      b"\x00" + part("DateStyle") + part("ISO") +
      b"\x00" + part("search_path") + part("app") +
      b"\x01" + part("SET ROLE tenant") +
      b"\x02" + part("s") + part("role") + part("tenant") +
      b"\x03" +
      b"\x01" + part("RESET search_path") +
      b"\x02" + part("s") + part("DateStyle") + part("ISO, MDY") +
      b"\x82" + part("s") + part("role") + part("") +
      b"\x02" + part("s") + part("session_authorization") + part("app") +
      b"\x03" + b"\x04")
write(F, "pins",
      b"\x01" + part("SELECT pg_advisory_lock(1); LISTEN x") +
      b"\x02" + part("p") + part("advisory_lock") + part("") +
      b"\x02" + part("p") + part("listen") + part("") +
      b"\x03" +
      b"\x01" + part("UNLISTEN *") +
      b"\x02" + part("p") + part("advisory_lock") + part("") +
      b"\x03")
write(F, "quoting",
      b"\x00" + part("a.b") + part("it's \\ ; '") +
      b"\x01" + part("SET x.y = 1") +
      b"\x02" + part("s") + part("x.y") + part("E'\\'') ; --") +
      b"\x03")
