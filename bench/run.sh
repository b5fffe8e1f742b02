#!/usr/bin/env bash
# bench/run.sh PGLANE_BIN — what `make bench` runs: pgbench against direct PostgreSQL, PgBouncer
# and pglane (twice: workers = 1 and workers = BENCH_CORES) in one run, on this machine, printing
# TPS, latency, ratios, each proxy's CPU per transaction and TPS per proxy core beside the
# targets of issues 8 and 19. Measurement only: nothing here fails on a number.
#
# Set-up, all on 127.0.0.1 and in a temp dir, all stopped on exit (even on failure):
#   - a throwaway PostgreSQL (tests/pg.sh, max_connections raised to 400, ssl on with a
#     throwaway self-signed certificate), database bench10 (pgbench -i -s 10) owned by the SCRAM
#     role bench_user;
#   - Debian's PgBouncer: transaction mode, default_pool_size 20, auth_type scram-sha-256,
#     max_client_conn 12000, connection logging off, client TLS offered (client_tls_sslmode
#     allow, the same certificate); run as the cluster's system user when we are root (PgBouncer
#     refuses root);
#   - pglane with the same settings: transaction mode, pool size 20, auth scram-sha-256,
#     max_client_conn 12000, log level warning, max_prepared_statements at its default,
#     listen.tls mode allow with the same certificate. Two of them, each its own process, port,
#     directory and log, the same config but for `workers`: pglane1 (workers = 1) and pglaneN
#     (workers = BENCH_CORES; with worker_cpu_affinity at its default, auto, its workers are
#     pinned one per CPU when BENCH_CORES is the machine's CPU count).
#   Each proxy runs in a session of its own (setsid), as a service would: with the kernel's
#   autogroup scheduling (sched_autogroup_enabled) a proxy left in this script's session shares
#   one CPU share with pgbench's threads, which skews the comparison (PostgreSQL's backends each
#   have their own session already).
#   The proxies read the same auth file, holding bench_user's SCRAM secret as PostgreSQL stores
#   it, so they log in to PostgreSQL by SCRAM with the client's keys (pass-through). Server
#   connections are never TLS.
#
# Measurements:
#   - scenarios, each with -j 2, in interleaved rounds (each round: every scenario, each run
#     direct, then pgbouncer, then pglane1, then pglaneN; even rounds in the reverse order):
#     -S -M simple -c 16, -S -M extended -c 16, -S -M prepared -c 16, -S -M prepared -c 32
#     (more clients than the pool's 20: they wait, and with several workers idle servers move
#     between them), -S -c 256, -S -c 256 with TLS clients (PGSSLMODE=require: TLS between
#     pgbench and the proxy, or PostgreSQL for direct), TPC-B -c 32, -S -C -c 16, and -S -C -c 16
#     with TLS clients (a TLS connection storm: each transaction a new TLS handshake with the
#     proxy).
#     Per scenario: median TPS and latency, ratios (pglane / PgBouncer for both pglanes,
#     pglaneN / pglane1), each proxy's CPU µs per transaction (utime+stime from /proc/PID/stat
#     around each run, divided by the transactions pgbench processed), the proxy cores busy
#     (that CPU time / the run's wall time) and TPS per proxy core (TPS / cores busy, with TPS
#     taken over the same wall time, logins included: transactions per proxy CPU second, the
#     throughput one core of proxy CPU buys);
#   - added latency per hop at 1 client (-S -c 1 -j 1), median latency minus direct's;
#   - KiB of RSS per idle client: 2,000 logged-in idle clients (bench/idle_clients.c) through
#     PgBouncer and pglaneN;
#   - 10,000 clients at once over a pool of 20 (each logs in, runs select 1, closes), through
#     pglaneN (and, for reference, PgBouncer): error count and time.
#
# Environment: BENCH_CORES (the core count pglaneN gets as `workers`; default nproc: run it on a
# bigger machine with its core count), BENCH_ROUNDS (4: an even count, so each order runs as
# often), BENCH_SECONDS (15, per pgbench run), BENCH_IDLE_CLIENTS (2000), BENCH_MANY_CLIENTS
# (10000), BENCH_OUT (where to write the results; default bench/RESULTS.md for a full run, i.e.
# at least 3 rounds of at least 15 s, and nowhere for a shorter one), BENCH_SCENARIOS (the
# scenario ids to run, e.g. "s16 p16"; default all: s16 e16 p16 p32 s256 tls256 tpcb conn
# tlsconn) and BENCH_EXTRAS (0: skip the hop latency, idle-client memory and many-client runs;
# default 1). A run with either of the last two is not a full run.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
	echo "usage: bench/run.sh PGLANE_BIN (an executable pglane)" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

ROUNDS=${BENCH_ROUNDS:-4}
DURATION=${BENCH_SECONDS:-15}
IDLE_N=${BENCH_IDLE_CLIENTS:-2000}
MANY_N=${BENCH_MANY_CLIENTS:-10000}
CORES=${BENCH_CORES:-$(nproc)}
for v in ROUNDS DURATION IDLE_N MANY_N CORES; do
	case "${!v}" in
	'' | *[!0-9]* | 0)
		echo "bench: $v must be a positive integer, got '${!v}'" >&2
		exit 2
		;;
	esac
done
if [ -n "${BENCH_OUT+x}" ]; then
	OUT=$BENCH_OUT
elif [ "$ROUNDS" -ge 3 ] && [ "$DURATION" -ge 15 ]; then
	OUT=$here/RESULTS.md
else
	OUT=
fi

BENCH_USER=bench_user
BENCH_PW=bench_pw
BENCH_DB=bench10
POOL_SIZE=20
MAX_CLIENT_CONN=12000
# the proxies: PgBouncer, pglane with one worker, pglane with a worker per core
PROXIES="pgbouncer pglane1 pglaneN"
TARGETS="direct $PROXIES"
# id|pgbench options|label (every run adds -j 2 -T DURATION; ids tls* run with PGSSLMODE=require)
SCENARIOS="s16|-S -M simple -c 16|-S -M simple -c 16
e16|-S -M extended -c 16|-S -M extended -c 16
p16|-S -M prepared -c 16|-S -M prepared -c 16
p32|-S -M prepared -c 32|-S -M prepared -c 32 (pool 20: clients wait)
s256|-S -c 256|-S -c 256
tls256|-S -c 256|-S -c 256, TLS
tpcb|-c 32|TPC-B -c 32
conn|-S -C -c 16|-S -C -c 16
tlsconn|-S -C -c 16|-S -C -c 16, TLS"
EXTRAS=${BENCH_EXTRAS:-1}
if [ -n "${BENCH_SCENARIOS:-}" ]; then
	SCENARIOS=$(while IFS='|' read -r id rest; do
		case " $BENCH_SCENARIOS " in *" $id "*) echo "$id|$rest" ;; esac
	done <<<"$SCENARIOS")
	[ -n "$SCENARIOS" ] || { echo "bench: BENCH_SCENARIOS names no scenario" >&2; exit 2; }
fi
if [ -n "${BENCH_SCENARIOS:-}" ] || [ "$EXTRAS" = 0 ]; then
	[ -n "${BENCH_OUT+x}" ] || OUT=
fi

log() { echo "bench: $*" >&2; }
die() {
	log "$*"
	exit 1
}

for cmd in pgbench psql pgbouncer cc pkg-config timeout ss openssl; do
	command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found (make deps installs it)"
done
pkg-config --exists libpq || die "libpq's pkg-config file not found (libpq-dev)"

# Many descriptors: 10,000 clients through pglane and the helper that opens them (inherited by
# both). 65536 when we may raise the hard limit (root with CAP_SYS_RESOURCE), else the hard limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] || [ "$NOFILE" -ge $((MANY_N + 1000)) ] ||
	log "warning: only $NOFILE descriptors (ulimit -n): the $MANY_N-client run will fail"

tmp=$(mktemp -d /tmp/pglane-bench-XXXXXX) || exit 1
chmod 755 "$tmp" # PostgreSQL and PgBouncer run as an unprivileged user under it when we are root
pgdir=$tmp/pg
pg_started=0
failed=0
PGB_PID=
PGB_WRAPPER=
PGL1_PID=
PGLN_PID=
HELPER_PID=

stop_pid() { # PID SIGNAL: signal it and wait up to 10 s, then SIGKILL
	local pid=$1 sig=$2
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill "-$sig" "$pid" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	stop_pid "$HELPER_PID" TERM
	stop_pid "$PGL1_PID" QUIT
	stop_pid "$PGLN_PID" QUIT
	stop_pid "$PGB_PID" TERM
	stop_pid "$PGB_WRAPPER" TERM
	wait 2>/dev/null
	if [ "$pg_started" = 1 ]; then
		"$root/tests/pg.sh" stop "$pgdir" >/dev/null || log "could not stop PostgreSQL in $pgdir"
	fi
	if [ "$failed" = 0 ]; then
		rm -rf "$tmp"
	else
		rm -rf "$pgdir/data"
		log "logs kept in $tmp"
	fi
}
trap cleanup EXIT
trap 'failed=1; exit 130' INT TERM

# ---- helpers ----

# A free TCP port on 127.0.0.1 (30000-32699: apart from the test harness ranges and below the
# ephemeral range), not one of those already taken in this run.
TAKEN=" "
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((30000 + RANDOM % 2700))
		case "$TAKEN" in *" $p "*) continue ;; esac
		if [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]; then
			TAKEN="$TAKEN$p "
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Wait up to 15 s for something to listen on 127.0.0.1:PORT; PID must stay alive meanwhile.
wait_listen() {
	local port=$1 pid=$2
	for _ in $(seq 1 150); do
		if [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]; then
			return 0
		fi
		[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# CPU time (user + system, clock ticks) of a process so far; empty when it is gone.
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) } # after "pid (comm) ": field 3 (state) onwards; utime and stime are 14 and 15
	echo "$s" | awk '{print $12 + $13}'
}

# Resident set size of a process, KiB.
rss_kib() {
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null
}

port_of() {
	case "$1" in
	direct) echo "$PG_PORT" ;;
	pgbouncer) echo "$PGB_PORT" ;;
	pglane1) echo "$PGL1_PORT" ;;
	pglaneN) echo "$PGLN_PORT" ;;
	esac
}

pid_of() {
	case "$1" in
	pgbouncer) echo "$PGB_PID" ;;
	pglane1) echo "$PGL1_PID" ;;
	pglaneN) echo "$PGLN_PID" ;;
	esac
}

conninfo_of() {
	echo "host=127.0.0.1 port=$(port_of "$1") dbname=$BENCH_DB user=$BENCH_USER" \
		"password=$BENCH_PW sslmode=disable gssencmode=disable"
}

# Median of the numbers on stdin ("" when none).
median() {
	sort -g | awk '{v[NR] = $1} END {
		if (NR == 0) exit
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---- set-up ----

echo "bench: $ROUNDS round(s) of ${DURATION}s per run; logs in $tmp"
# the commit pglane was built from (taken now: the tree may move on during the run)
PGL_COMMIT=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- 2>/dev/null ||
	PGL_COMMIT="$PGL_COMMIT (working tree has uncommitted changes)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

cc -std=c17 -O2 -Wall -Wextra -D_GNU_SOURCE $(pkg-config --cflags libpq) \
	"$here/idle_clients.c" -o "$tmp/idle_clients" $(pkg-config --libs libpq) ||
	die "could not build bench/idle_clients.c"

PG_PORT=$(free_port) || die "no free port for PostgreSQL"
PGB_PORT=$(free_port) || die "no free port for PgBouncer"
PGL1_PORT=$(free_port) || die "no free port for pglane1"
PGLN_PORT=$(free_port) || die "no free port for pglaneN"

"$root/tests/pg.sh" start "$pgdir" "$PG_PORT" >"$tmp/pg-start.log" 2>&1 || {
	failed=1
	cat "$tmp/pg-start.log" >&2
	die "could not start PostgreSQL"
}
pg_started=1
PG_OWNER=$(stat -c %U "$pgdir/data")
PG_BINDIR=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PG_BINDIR/pg_ctl" ] || PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

as_owner() { # run a command as the cluster's system user (when we are root)
	if [ "$(id -u)" = 0 ] && [ "$PG_OWNER" != root ]; then
		(cd "$tmp" && runuser -u "$PG_OWNER" -- "$@")
	else
		"$@"
	fi
}

su_sql() {
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}

# 256 direct clients while both pools keep their 20 server connections: raise the limit.
if [ "$(su_sql -Atc 'show max_connections' postgres)" -lt 400 ]; then
	su_sql -c 'alter system set max_connections = 400' postgres >>"$tmp/setup.log" 2>&1 &&
		as_owner "$PG_BINDIR/pg_ctl" restart -D "$pgdir/data" -m fast -w -t 60 -s \
			-l "$pgdir/log" >>"$tmp/setup.log" 2>&1 || {
		failed=1
		die "could not raise max_connections (see $tmp/setup.log)"
	}
fi
MAX_CONN=$(su_sql -Atc 'show max_connections' postgres)

# A throwaway self-signed certificate for the TLS scenario, offered by every target: PostgreSQL
# gets its own copy (the key the cluster owner's, mode 0600), the proxies theirs.
mkdir -p "$tmp/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-keyout "$tmp/tls/server.key" -out "$tmp/tls/server.crt" >>"$tmp/setup.log" 2>&1 || {
	failed=1
	die "could not make a TLS certificate with openssl (see $tmp/setup.log)"
}
chmod 600 "$tmp/tls/server.key"
cp "$tmp/tls/server.crt" "$tmp/tls/server.key" "$pgdir/"
[ "$(id -u)" != 0 ] || chown "$PG_OWNER" "$pgdir/server.crt" "$pgdir/server.key"
# ssl on: reloadable; new sessions see it once the postmaster has reread the files
su_sql postgres >>"$tmp/setup.log" 2>&1 <<EOF
ALTER SYSTEM SET ssl_cert_file = '$pgdir/server.crt';
ALTER SYSTEM SET ssl_key_file = '$pgdir/server.key';
ALTER SYSTEM SET ssl = on;
SELECT pg_reload_conf();
EOF
PG_SSL=off
for _ in $(seq 1 50); do
	PG_SSL=$(su_sql -Atc 'show ssl' postgres 2>>"$tmp/setup.log")
	[ "$PG_SSL" = on ] && break
	sleep 0.1
done
[ "$PG_SSL" = on ] ||
	log "warning: PostgreSQL did not turn ssl on (see $tmp/setup.log): the TLS scenario's direct runs will fail"

export PGUSER=$BENCH_USER PGPASSWORD=$BENCH_PW PGDATABASE=$BENCH_DB PGHOST=127.0.0.1
export PGSSLMODE=disable PGGSSENCMODE=disable PGAPPNAME=bench
{
	su_sql postgres <<EOF &&
SET password_encryption = 'scram-sha-256';
CREATE ROLE $BENCH_USER LOGIN PASSWORD '$BENCH_PW';
CREATE DATABASE $BENCH_DB OWNER $BENCH_USER;
EOF
		timeout 600 pgbench -i -s 10 -q -p "$PG_PORT" "$BENCH_DB"
} >>"$tmp/setup.log" 2>&1 || {
	failed=1
	tail -n 20 "$tmp/setup.log" >&2
	die "could not create the $BENCH_DB database (see $tmp/setup.log)"
}
SECRET=$(su_sql -Atc "select rolpassword from pg_authid where rolname = '$BENCH_USER'" postgres)
case "$SECRET" in SCRAM-SHA-256\$*) ;; *) die "$BENCH_USER has no SCRAM secret" ;; esac

# PgBouncer: its own directory, readable by the user it runs as.
mkdir -p "$tmp/pgbouncer" "$tmp/pglane1" "$tmp/pglaneN"
printf '"%s" "%s"\n' "$BENCH_USER" "$SECRET" >"$tmp/pgbouncer/userlist.txt"
cp "$tmp/tls/server.crt" "$tmp/tls/server.key" "$tmp/pgbouncer/"
cat >"$tmp/pgbouncer/pgbouncer.ini" <<EOF
[databases]
$BENCH_DB = host=127.0.0.1 port=$PG_PORT dbname=$BENCH_DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
pidfile = $tmp/pgbouncer/pgbouncer.pid
auth_type = scram-sha-256
auth_file = $tmp/pgbouncer/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = $MAX_CLIENT_CONN
server_tls_sslmode = disable
log_connections = 0
log_disconnections = 0
client_tls_sslmode = allow
client_tls_cert_file = $tmp/pgbouncer/server.crt
client_tls_key_file = $tmp/pgbouncer/server.key
EOF
if [ "$(id -u)" = 0 ]; then
	chown -R "$PG_OWNER" "$tmp/pgbouncer"
	# runuser's PAM session sets the descriptor limit back to 1024: raise it again inside
	(cd "$tmp" && exec runuser -u "$PG_OWNER" -- sh -c \
		'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec setsid pgbouncer "$1"' sh \
		"$tmp/pgbouncer/pgbouncer.ini") >"$tmp/pgbouncer/pgbouncer.log" 2>&1 &
else
	setsid pgbouncer "$tmp/pgbouncer/pgbouncer.ini" >"$tmp/pgbouncer/pgbouncer.log" 2>&1 &
fi
PGB_WRAPPER=$!
wait_listen "$PGB_PORT" "$PGB_WRAPPER" || {
	failed=1
	tail -n 20 "$tmp/pgbouncer/pgbouncer.log" >&2
	die "PgBouncer did not start"
}
for _ in $(seq 1 50); do
	PGB_PID=$(cat "$tmp/pgbouncer/pgbouncer.pid" 2>/dev/null || true)
	[ -n "$PGB_PID" ] && break
	sleep 0.1
done
[ -n "$PGB_PID" ] && kill -0 "$PGB_PID" 2>/dev/null || die "no PgBouncer pid (pidfile)"

# start_pglane NAME PORT WORKERS: pglane with PgBouncer's settings and WORKERS event loops, in
# $tmp/NAME (config, auth file, TLS certificate, log); prints its pid.
start_pglane() {
	local name=$1 port=$2 workers=$3 dir=$tmp/$1
	cp "$tmp/pgbouncer/userlist.txt" "$dir/users.txt"
	cp "$tmp/tls/server.crt" "$tmp/tls/server.key" "$dir/"
	cat >"$dir/pglane.conf" <<EOF
# bench/run.sh: the same settings as PgBouncer's; $name
workers = $workers;
listen = { host = "127.0.0.1"; port = $port; max_client_conn = $MAX_CLIENT_CONN;
           unix_socket_dir = "";
           tls = { mode = "allow"; cert = "$dir/server.crt"; key = "$dir/server.key"; }; };
auth   = { type = "scram-sha-256"; file = "users.txt"; };
log    = { level = "warning"; };
pool   = { mode = "transaction"; size = $POOL_SIZE; };
databases = (
  { name = "$BENCH_DB"; host = "127.0.0.1"; port = $PG_PORT; dbname = "$BENCH_DB";
    sslmode = "disable"; oltp = { size = $POOL_SIZE; }; }
);
EOF
	setsid "$bin" -c "$dir/pglane.conf" >"$dir/pglane.log" 2>&1 &
	echo $!
}
PGL1_PID=$(start_pglane pglane1 "$PGL1_PORT" 1)
PGLN_PID=$(start_pglane pglaneN "$PGLN_PORT" "$CORES")
for t in pglane1 pglaneN; do
	wait_listen "$(port_of "$t")" "$(pid_of "$t")" || {
		failed=1
		tail -n 20 "$tmp/$t/pglane.log" >&2
		die "$t did not start"
	}
done

for t in $TARGETS; do
	n=$(timeout 30 psql -X -Atq -p "$(port_of "$t")" -c 'select count(*) from pgbench_branches' \
		2>>"$tmp/setup.log")
	[ "$n" = 10 ] || {
		failed=1
		die "$t: select count(*) from pgbench_branches gave '$n' (see $tmp/setup.log)"
	}
	# the TLS scenario's login: sslmode=require fails where TLS is not offered
	[ "$t" != direct ] || [ "$PG_SSL" = on ] || continue
	n=$(PGSSLMODE=require timeout 30 psql -X -Atq -p "$(port_of "$t")" -c 'select 1' \
		2>>"$tmp/setup.log")
	[ "$n" = 1 ] || {
		failed=1
		die "$t: no login with sslmode=require (see $tmp/setup.log)"
	}
done
PG_VERSION=$(su_sql -Atc 'show server_version' postgres)
PGB_VERSION=$(pgbouncer --version 2>/dev/null | head -n 1)
echo "bench: PostgreSQL $PG_VERSION on :$PG_PORT (max_connections $MAX_CONN)," \
	"$PGB_VERSION on :$PGB_PORT (pid $PGB_PID), pglane1 (workers = 1) on :$PGL1_PORT" \
	"(pid $PGL1_PID), pglaneN (workers = $CORES) on :$PGLN_PORT (pid $PGLN_PID)"

alive() { # TARGET: is its proxy still running?
	local pid
	pid=$(pid_of "$1")
	[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null
}

# ---- one pgbench run ----
# RAW holds one line per run: id round target ok tps latency_ms transactions failed cpu_us_per_tx
# cores tps_per_core (cores: the proxy's CPU seconds per second of the run; tps_per_core:
# transactions / wall time / cores = transactions per proxy CPU second, the throughput one core
# of proxy CPU buys; pgbench's own TPS leaves the initial logins out, so it is not used here)
RAW=$tmp/raw.tsv
FAILNOTES=$tmp/failures.md
: >"$RAW"
: >"$FAILNOTES"
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# sslmode_of ID: the PGSSLMODE of a scenario's clients (require for the tls* scenarios)
sslmode_of() {
	case "$1" in
	tls*) echo require ;;
	*) echo disable ;;
	esac
}

# run_pgbench ID ROUND TARGET OPTIONS...: one run, appended to RAW.
run_pgbench() {
	local id=$1 round=$2 t=$3 pid c0 c1 w0 w1 out rc tps lat tx nfail cpu cores per ok
	shift 3
	pid=$(pid_of "$t")
	out=$tmp/runs/$id.$round.$t.log
	mkdir -p "$tmp/runs"
	if ! alive "$t"; then
		echo "$t is not running" >"$out"
		printf '%s\t%s\t%s\t0\t\t\t0\t\t\t\t\n' "$id" "$round" "$t" >>"$RAW"
		return
	fi
	c0=
	[ -z "$pid" ] || c0=$(cpu_ticks "$pid")
	w0=$(date +%s%N)
	PGSSLMODE=$(sslmode_of "$id") timeout -k 10 $((DURATION * 3 + 120)) \
		pgbench -p "$(port_of "$t")" -T "$DURATION" "$@" "$BENCH_DB" >"$out" 2>&1
	rc=$?
	w1=$(date +%s%N)
	c1=
	[ -z "$pid" ] || c1=$(cpu_ticks "$pid")
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$out" | head -n 1)
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$out" | head -n 1)
	tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out" | head -n 1)
	nfail=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out" | head -n 1)
	ok=1
	if [ "$rc" != 0 ] || [ -z "$tps" ] || [ -z "${tx:-}" ] || [ "${tx:-0}" = 0 ] ||
		[ "${nfail:-0}" != 0 ] || grep -q 'aborted\|error' "$out"; then
		ok=0
	fi
	cpu="" cores="" per=""
	if [ -n "$c0" ] && [ -n "$c1" ] && [ "${tx:-0}" -gt 0 ]; then
		cpu=$(awk -v d=$((c1 - c0)) -v us="$TICK_US" -v n="$tx" 'BEGIN {printf "%.2f", d * us / n}')
		# wall time in µs (date's ns / 1000); the cores busy, and TPS per busy core
		cores=$(awk -v d=$((c1 - c0)) -v us="$TICK_US" -v w=$(((w1 - w0) / 1000)) \
			'BEGIN {printf "%.3f", d * us / w}')
		per=$(awk -v d=$((c1 - c0)) -v us="$TICK_US" -v n="$tx" \
			'BEGIN {if (d > 0) printf "%.0f", n * 1000000 / (d * us)}')
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$round" "$t" "$ok" \
		"${tps:-}" "${lat:-}" "${tx:-0}" "${nfail:-}" "$cpu" "$cores" "$per" >>"$RAW"
	printf 'bench:   %-6s round %s %-9s %s tps %s ms%s%s\n' "$id" "$round" "$t" "${tps:--}" \
		"${lat:--}" "${cpu:+ cpu $cpu us/tx, $cores cores, $per tps/core}" \
		"$([ "$ok" = 1 ] || echo " FAILED (exit $rc)")"
	if [ "$ok" != 1 ]; then
		# why: the first error pgbench printed, and how many clients gave up
		local why aborted
		why=$(grep -m 1 -i 'error\|fatal' "$out" | cut -c 1-200)
		aborted=$(grep -c 'aborted in command' "$out")
		printf -- '- `%s` round %s, %s: exit %s, %s client(s) aborted, %s transactions; %s\n' \
			"$id" "$round" "$t" "$rc" "$aborted" "${tx:-0}" "${why:-no tps line (no transaction in the run)}" \
			>>"$FAILNOTES"
		echo "bench:     ${why:-no transaction was processed}" >&2
	fi
}

# ---- idle clients: KiB of RSS per idle client ----
# idle_rss TARGET: 2,000 idle clients held open; prints "KIB_PER_CLIENT CONNECTED ERRORS".
idle_rss() {
	local t=$1 pid before after out ready line
	pid=$(pid_of "$t")
	out=$tmp/idle.$t.log
	sleep 1
	before=$(rss_kib "$pid")
	"$tmp/idle_clients" -n "$IDLE_N" -p 100 -t 300 "$(conninfo_of "$t")" >"$out" 2>&1 &
	HELPER_PID=$!
	ready=
	for _ in $(seq 1 3000); do
		ready=$(grep '^ready ' "$out" 2>/dev/null || true)
		[ -n "$ready" ] && break
		kill -0 "$HELPER_PID" 2>/dev/null || break
		sleep 0.1
	done
	sleep 2
	after=$(rss_kib "$pid")
	stop_pid "$HELPER_PID" TERM
	wait "$HELPER_PID" 2>/dev/null
	HELPER_PID=
	line=$(grep '^connected=' "$out" | tail -n 1)
	local conn errs
	conn=$(echo "$line" | sed -n 's/.*connected=\([0-9]*\).*/\1/p')
	errs=$(echo "$line" | awk -F'[ =]' '{print $4 + $6 + $8}')
	if [ -z "$ready" ] || [ -z "$before" ] || [ -z "$after" ] || [ "${conn:-0}" = 0 ]; then
		echo "- ${conn:-0} ${errs:-?}"
		return
	fi
	echo "$(awk -v a="$after" -v b="$before" -v n="$conn" 'BEGIN {printf "%.2f", (a - b) / n}')" \
		"$conn" "${errs:-0}" "$before" "$after"
}

# ---- many clients: MANY_N at once over a pool of 20 ----
# many_clients TARGET: prints the helper's summary line (or "failed").
many_clients() {
	local t=$1 out=$tmp/many.$1.log line
	timeout -k 10 660 "$tmp/idle_clients" -n "$MANY_N" -p 200 -t 300 -q "$(conninfo_of "$t")" \
		>"$out" 2>&1
	line=$(grep '^connected=' "$out" | tail -n 1)
	echo "${line:-failed}"
}

# ---- the runs ----

# skipped (BENCH_EXTRAS=0): reported as not run
# the idle-client and many-client runs go through PgBouncer and pglaneN (a worker per core)
declare -A IDLE=([pgbouncer]="- 0 0 0 0" [pglaneN]="- 0 0 0 0") MANY=([pglaneN]=- [pgbouncer]=-)
if [ "$EXTRAS" != 0 ]; then
	echo "bench: added latency per hop (-S -c 1 -j 1), memory per idle client, then the scenarios"
	for round in $(seq 1 "$ROUNDS"); do
		for t in $TARGETS; do
			run_pgbench hop "$round" "$t" -S -c 1 -j 1
		done
	done
	for t in pgbouncer pglaneN; do
		IDLE[$t]=$(idle_rss "$t")
		echo "bench: $t with $IDLE_N idle clients: ${IDLE[$t]} (KiB/client connected errors rss_before rss_after)"
	done
fi

# round_order ROUND: the targets in the order a round runs them: as listed in odd rounds,
# reversed in even ones, so that no target always runs first or right after another (the
# paired ratios compare runs of one round; a fixed order put pglaneN always just after pglane1)
round_order() {
	if [ $(($1 % 2)) = 1 ]; then echo "$TARGETS"; else echo "$TARGETS" | tr ' ' '\n' | tac | tr '\n' ' '; fi
}

for round in $(seq 1 "$ROUNDS"); do
	order=$(round_order "$round")
	while IFS='|' read -r id opts label; do
		for t in $order; do
			# shellcheck disable=SC2086 # the options are words
			run_pgbench "$id" "$round" "$t" -j 2 $opts
		done
	done <<<"$SCENARIOS"
done

if [ "$EXTRAS" != 0 ]; then
	for t in pglaneN pgbouncer; do
		MANY[$t]=$(many_clients "$t")
		echo "bench: $MANY_N clients through $t: ${MANY[$t]}"
	done
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report ----

# med ID TARGET COLUMN: median over the successful rounds ("" if none); fails ID TARGET: how
# many rounds failed.
med() {
	awk -F'\t' -v id="$1" -v t="$2" -v col="$3" '$1 == id && $3 == t && $4 == 1 && $col != "" {print $col}' \
		"$RAW" | median
}
fails() {
	awk -F'\t' -v id="$1" -v t="$2" '$1 == id && $3 == t && $4 != 1' "$RAW" | wc -l
}
# paired IDA TA IDB TB COL: A's COL / B's COL in each round where both runs succeeded, one
# "ROUND RATIO" line per round. The ratios of the report are medians of these paired rounds.
paired() {
	awk -F'\t' -v ia="$1" -v ta="$2" -v ib="$3" -v tb="$4" -v col="$5" '
		$4 == 1 && $col != "" && $1 == ia && $3 == ta { a[$2] = $col }
		$4 == 1 && $col != "" && $1 == ib && $3 == tb { b[$2] = $col }
		END { for (r in a) if ((r in b) && b[r] > 0) printf "%d %.6f\n", r, a[r] / b[r] }' \
		"$RAW" | sort -n
}
pratio() { # the median paired ratio, two decimals, "-" when no round has both
	local m
	m=$(paired "$@" | awk '{print $2}' | median)
	if [ -z "$m" ]; then echo -; else awk -v v="$m" 'BEGIN {printf "%.2f", v}'; fi
}
prounds() { # each round's paired ratio, "(r1 r2 r3)", or nothing when there is one round or none
	paired "$@" | awk '{v = v (NR > 1 ? " " : "") sprintf("%.2f", $2)} END {if (NR > 1) print "(" v ")"}'
}
fmt() { # NUMBER DECIMALS: rounded, "-" when missing
	if [ -z "$1" ]; then echo -; else awk -v v="$1" -v d="$2" 'BEGIN {printf "%.*f", d, v}'; fi
}
# ge A B / le A B: "met" or "not met" (or "-" when A is missing)
ge() {
	if [ -z "$1" ] || [ "$1" = - ]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN {print (a >= b) ? "met" : "NOT MET"}'; fi
}
le() {
	if [ -z "$1" ] || [ "$1" = - ]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN {print (a <= b) ? "met" : "NOT MET"}'; fi
}

declare -A TPS LAT CPU CORES_BUSY PER_CORE NFAIL
# shellcheck disable=SC2034 # CPU, CORES_BUSY and PER_CORE are read through proxies()
while IFS='|' read -r id opts label; do
	for t in $TARGETS; do
		TPS[$id.$t]=$(med "$id" "$t" 5)
		LAT[$id.$t]=$(med "$id" "$t" 6)
		CPU[$id.$t]=$(med "$id" "$t" 9)
		CORES_BUSY[$id.$t]=$(med "$id" "$t" 10)
		PER_CORE[$id.$t]=$(med "$id" "$t" 11)
		NFAIL[$id.$t]=$(fails "$id" "$t")
	done
done <<<"$SCENARIOS
hop|x|x"

# a cell: the median, or "fails" when every round failed, with "(k of n failed)" otherwise
cell() {
	local id=$1 t=$2 v=$3
	if [ -z "$v" ]; then
		echo fails
	elif [ "${NFAIL[$id.$t]}" != 0 ]; then
		echo "$v (${NFAIL[$id.$t]}/$ROUNDS failed)"
	else
		echo "$v"
	fi
}

# three numbers of the proxies, "PgBouncer / pglane1 / pglaneN": proxies ARRAY ID DECIMALS
proxies() {
	local -n arr=$1
	echo "$(fmt "${arr[$2.pgbouncer]}" "$3") / $(fmt "${arr[$2.pglane1]}" "$3") /" \
		"$(fmt "${arr[$2.pglaneN]}" "$3")"
}
ratio_cell() { # IDA TA IDB TB COL: the median paired ratio and each round's
	local r l
	r=$(pratio "$@")
	l=$(prounds "$@")
	echo "$r${l:+ $l}"
}

# issue 19: pglaneN must not lose TPS to pglane1 anywhere, and win where the proxy is the
# bottleneck (many clients, TLS, connection storms)
WIN=1.05
report=$tmp/report.md
workers=$tmp/workers.md
targets=$tmp/targets.md
targets19=$tmp/targets19.md
: >"$targets"
: >"$targets19"
target_line() { # WHAT MEASURED TARGET VERDICT [FILE]
	printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" >>"${5:-$targets}"
}
{
	echo "| scenario (-j 2, ${DURATION}s) | direct TPS | PgBouncer TPS | pglane1 TPS | pglaneN TPS | latency ms direct / PgBouncer / pglane1 / pglaneN | PgBouncer / direct | pglane1 / direct | pglaneN / direct | pglane1 / PgBouncer (≥ 1.15) | pglaneN / PgBouncer |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	while IFS='|' read -r id opts label; do
		b=${TPS[$id.pgbouncer]}
		r_lb=$(pratio "$id" pglane1 "$id" pgbouncer 5)
		r_ld=$(pratio "$id" pglane1 "$id" direct 5)
		r_cpu=$(pratio "$id" pglane1 "$id" pgbouncer 9)
		printf '| `%s` | %s | %s | %s | %s | %s / %s / %s / %s | %s | %s | %s | %s | %s |\n' "$label" \
			"$(cell "$id" direct "$(fmt "${TPS[$id.direct]}" 0 | sed 's/^-$//')")" \
			"$(cell "$id" pgbouncer "$(fmt "$b" 0 | sed 's/^-$//')")" \
			"$(cell "$id" pglane1 "$(fmt "${TPS[$id.pglane1]}" 0 | sed 's/^-$//')")" \
			"$(cell "$id" pglaneN "$(fmt "${TPS[$id.pglaneN]}" 0 | sed 's/^-$//')")" \
			"$(fmt "${LAT[$id.direct]}" 3)" "$(fmt "${LAT[$id.pgbouncer]}" 3)" \
			"$(fmt "${LAT[$id.pglane1]}" 3)" "$(fmt "${LAT[$id.pglaneN]}" 3)" \
			"$(pratio "$id" pgbouncer "$id" direct 5)" "$r_ld" \
			"$(pratio "$id" pglaneN "$id" direct 5)" "$(ratio_cell "$id" pglane1 "$id" pgbouncer 5)" \
			"$(ratio_cell "$id" pglaneN "$id" pgbouncer 5)"
		if [ -n "$b" ]; then
			target_line "pglane1 TPS / PgBouncer's, \`$label\`" "$r_lb" "≥ 1.15" "$(ge "$r_lb" 1.15)"
			target_line "pglane1 CPU per tx / PgBouncer's, \`$label\`" "$r_cpu" "≤ 0.70" "$(le "$r_cpu" 0.70)"
		else
			target_line "pglane1 TPS / PgBouncer's, \`$label\`" "PgBouncer fails" "≥ 1.15 where PgBouncer works" "n/a"
		fi
		if [ "$id" = s16 ]; then
			target_line "pglane1 TPS / direct, \`$label\`" "$r_ld" "≥ 0.75" "$(ge "$r_ld" 0.75)"
		fi
	done <<<"$SCENARIOS"
} >"$report"
{
	echo "| scenario | pglaneN / pglane1 TPS (≥ 1.00; ≥ $WIN at \`-c 256\`, TLS, \`-C\`, TLS \`-C\`) | CPU µs/tx PgBouncer / pglane1 / pglaneN | CPU pglane1 / PgBouncer (≤ 0.70) | proxy cores busy PgBouncer / pglane1 / pglaneN | TPS per proxy core PgBouncer / pglane1 / pglaneN |"
	echo "|---|---:|---:|---:|---:|---:|"
	while IFS='|' read -r id opts label; do
		r_nl=$(pratio "$id" pglaneN "$id" pglane1 5)
		printf '| `%s` | %s | %s | %s | %s | %s |\n' "$label" \
			"$(ratio_cell "$id" pglaneN "$id" pglane1 5)" "$(proxies CPU "$id" 1)" \
			"$(ratio_cell "$id" pglane1 "$id" pgbouncer 9)" "$(proxies CORES_BUSY "$id" 2)" \
			"$(proxies PER_CORE "$id" 0)"
		case "$id" in
		s256 | tls* | conn) want=$WIN ;; # tls*: tls256 and tlsconn
		*) want=1.00 ;;
		esac
		target_line "pglaneN (workers = $CORES) TPS / pglane1's, \`$label\`" "$r_nl" "≥ $want" \
			"$(ge "$r_nl" "$want")" "$targets19"
	done <<<"$SCENARIOS"
} >"$workers"

r_prep=$(pratio p16 pglane1 s16 pglane1 5)
target_line "pglane1 \`-M prepared\` TPS / its own \`-M simple\` (-c 16)" "$r_prep" "≥ 1.50" "$(ge "$r_prep" 1.5)"

hop_d=${LAT[hop.direct]}
hop_cell() { # TARGET: median latency and the added µs
	local v=${LAT[hop.$1]}
	if [ -z "$v" ]; then
		echo "fails | -"
	elif [ "$1" = direct ]; then
		echo "$(fmt "$v" 3) | -"
	else
		echo "$(fmt "$v" 3) | $(awk -v a="$v" -v b="${hop_d:-}" 'BEGIN { if (b == "") print "-"; else printf "%+.0f", (a - b) * 1000 }')"
	fi
}

idle_kib() { set -- ${IDLE[$1]}; echo "$1"; }
idle_desc() {
	set -- ${IDLE[$1]}
	if [ "$1" = - ]; then
		echo "failed: $2 connected, $3 errors"
	else
		echo "$1 KiB/client ($2 connected, $3 errors; RSS $4 → $5 KiB)"
	fi
}
k_pgl=$(idle_kib pglaneN)
target_line "KiB per idle client, pglaneN ($IDLE_N clients)" "$k_pgl" "≤ 2" "$(le "$k_pgl" 2)"

many_errs() { # summary line -> total errors, "-" if it did not run
	case "$1" in
	connected=*) echo "$1" | awk -F'[ =]' '{print $4 + $6 + $8}' ;;
	*) echo - ;;
	esac
}
many_desc() {
	case "$1" in
	connected=*) echo "$1" | awk -F'[ =]' '{printf "%s connected, %d errors (connect %s, query %s, dropped %s); log in %ss, select 1 %ss, total %ss", $2, $4 + $6 + $8, $4, $6, $8, $10, $12, $14}' ;;
	*) echo "did not finish" ;;
	esac
}
e_pgl=$(many_errs "${MANY[pglaneN]}")
m_ok=-
[ "$e_pgl" = - ] || m_ok=$([ "$e_pgl" = 0 ] && echo met || echo "NOT MET")
target_line "$MANY_N clients over a pool of 20 through pglaneN, errors" "$e_pgl" "0" "$m_ok"

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
declare -A PGL_ERRLINES
for t in pglane1 pglaneN; do
	PGL_ERRLINES[$t]=$(grep -c . "$tmp/$t/pglane.log" 2>/dev/null || true)
done

{
	echo "# pglane benchmark results"
	echo
	echo "Written by \`make bench\` (bench/run.sh); overwritten by each full run."
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: $(nproc) CPUs, $CPU_MODEL, kernel $(uname -r); core count (BENCH_CORES): $CORES, pglaneN runs with workers = $CORES"
	echo "- load average (1/5/15 min) at start: $LOAD_START; at end: $LOAD_END (the machine is shared)"
	echo "- scheduler: autogroup $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo unknown) (1: on); each proxy runs in a session of its own (setsid), as a service would"
	echo "- PostgreSQL $PG_VERSION (max_connections $MAX_CONN, fsync off), $PGB_VERSION, pglane commit $PGL_COMMIT"
	echo "- pgbench scale 10, database $BENCH_DB, SCRAM role $BENCH_USER; every proxy: transaction mode, pool size 20, client and server login by SCRAM-SHA-256 from the same auth file, max_client_conn $MAX_CLIENT_CONN, client TLS offered (PgBouncer client_tls_sslmode allow, pglane listen.tls mode allow; a throwaway self-signed RSA-2048 certificate), server connections without TLS; pglane log level warning, PgBouncer log_connections/log_disconnections off"
	echo "- pglane1: pglane with workers = 1; pglaneN: the same config with workers = $CORES (worker_cpu_affinity auto: pinned one per CPU when that is the CPU count, $(nproc) here); each its own process and port"
	echo "- TLS scenario: pgbench with PGSSLMODE=require, TLS from pgbench to the proxy; direct: TLS to PostgreSQL (ssl $PG_SSL on the throwaway cluster)"
	echo "- $ROUNDS interleaved rounds of ${DURATION}s per run (each round: every scenario, each direct → PgBouncer → pglane1 → pglaneN, even rounds in the reverse order); the medians of the rounds are shown; pgbench, PostgreSQL and the proxies share the same $(nproc) cores"
	echo "- ratios: the median over the rounds of the ratio within each round (the runs of a round are back to back); with several rounds, each round's ratio follows in parentheses"
	echo "- CPU µs/tx: the proxy process's utime+stime (/proc/PID/stat, every thread, $(getconf CLK_TCK) ticks/s) over the run ÷ transactions processed; proxy cores busy: that CPU time ÷ the run's wall time; TPS per proxy core: TPS ÷ cores busy, the throughput one core of proxy CPU buys, with TPS taken as transactions ÷ the same wall time (logins included; pgbench's TPS leaves them out), so = transactions ÷ proxy CPU seconds = 10⁶ ÷ CPU µs/tx"
	echo
	echo "## Scenarios"
	echo
	cat "$report"
	echo
	echo "\"fails\": every round failed; \"(k/n failed)\": the median is of the other rounds. PgBouncer 1.18 has no prepared statement support in transaction mode: at \`-M prepared\` pgbench's clients meet \"prepared statement ... does not exist / already exists\" and abort."
	echo
	if [ -s "$FAILNOTES" ]; then
		echo "Failed runs:"
		echo
		cat "$FAILNOTES"
		echo
	fi
	echo "## Workers (issue 19): pglaneN (workers = $CORES) beside pglane1 and PgBouncer"
	echo
	cat "$workers"
	echo
	echo "| target | measured | wanted | verdict |"
	echo "|---|---:|---:|---|"
	cat "$targets19"
	echo
	if [ "$EXTRAS" = 0 ]; then
		echo "Added latency per hop, memory per idle client, $MANY_N clients at once: not run (BENCH_EXTRAS=0)."
		echo
	else
		echo "## Added latency per hop (\`pgbench -S -c 1 -j 1\`)"
		echo
		echo "| path | latency ms (median) | added µs vs direct |"
		echo "|---|---:|---:|"
		for t in $TARGETS; do
			echo "| $t | $(hop_cell "$t") |"
		done
		echo
		echo "## Memory per idle client ($IDLE_N logged-in idle clients, VmRSS before and after)"
		echo
		echo "- PgBouncer: $(idle_desc pgbouncer)"
		echo "- pglaneN (workers = $CORES): $(idle_desc pglaneN)"
		echo
		echo "## $MANY_N clients at once over a pool of 20 (each logs in, runs \`select 1\`, closes)"
		echo
		echo "- pglaneN (workers = $CORES): $(many_desc "${MANY[pglaneN]}")"
		echo "- PgBouncer (reference): $(many_desc "${MANY[pgbouncer]}")"
		echo
	fi
	echo "## Targets (issue 8; pglane1, one core, and pglaneN for the many-client runs)"
	echo
	echo "| target | measured | wanted | verdict |"
	echo "|---|---:|---:|---|"
	cat "$targets"
	echo
	echo "## Every run"
	echo
	echo "| scenario | round | path | ok | TPS | latency ms | transactions | failed tx | CPU µs/tx | cores busy | TPS per core |"
	echo "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"
	awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3,
		($4 == 1 ? "yes" : "no"), ($5 == "" ? "-" : sprintf("%.1f", $5)), $6, $7, $8, $9, $10, $11}' "$RAW"
	for t in pglane1 pglaneN; do
		[ "${PGL_ERRLINES[$t]:-0}" != 0 ] || continue
		echo
		echo "## $t log (level warning): ${PGL_ERRLINES[$t]} line(s), the first 20"
		echo
		echo '```'
		head -n 20 "$tmp/$t/pglane.log"
		echo '```'
	done
} >"$tmp/RESULTS.md"

echo
cat "$tmp/RESULTS.md"
if [ -n "$OUT" ]; then
	cp "$tmp/RESULTS.md" "$OUT" && echo && echo "bench: results written to $OUT"
else
	echo
	echo "bench: a short run (BENCH_ROUNDS < 3 or BENCH_SECONDS < 15): results not written (set BENCH_OUT=FILE to keep them)"
fi
# both pglanes must have survived everything
for t in pglane1 pglaneN; do
	alive "$t" || {
		failed=1
		log "$t is no longer running; its log:"
		tail -n 30 "$tmp/$t/pglane.log" >&2
	}
done
[ "$failed" = 0 ] || exit 1
exit 0
