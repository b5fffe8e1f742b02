#!/usr/bin/env bash
# tests/pg.sh — a throwaway PostgreSQL cluster for the integration tests, `make run` and the
# benchmark. It listens on 127.0.0.1 only, keeps its socket, data and log under DIR, and is set
# up with the fixtures the tests rely on (roles for every server-side login method, the `bench`
# database initialised by pgbench).
#
#   tests/pg.sh start DIR PORT   initdb DIR/data, start on 127.0.0.1:PORT, create the fixtures
#   tests/pg.sh stop DIR         stop it (the files stay; `rm -rf DIR` removes them)
#   tests/pg.sh restart DIR [MODE]
#                                pg_ctl restart -m MODE (fast unless given) -w of the cluster in
#                                DIR/data: same port, settings and data; it is started when it was
#                                not running (e.g. after its postmaster was killed)
#   tests/pg.sh standby PRIMARY_DIR DIR PORT [SLOT]
#                                a streaming standby of the cluster running from PRIMARY_DIR:
#                                pg_basebackup -R -X stream into DIR/data (with SLOT: -C -S SLOT,
#                                a physical slot on the primary that the caller drops), started
#                                on 127.0.0.1:PORT, socket in DIR, cluster_name (the
#                                application_name the primary sees) standby_PORT, reporting its
#                                positions every second; stopped with `tests/pg.sh stop DIR`
#
# The cluster is ready for replication: wal_level = logical, 10 WAL senders and slots, and
# replication connections of postgres from 127.0.0.1 trusted.
#
# PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the system user `pglane`
# (created when missing; `nobody` if that fails) and DIR is handed to that user.
#
# Fixtures (passwords as shown; pg_hba.conf method in brackets):
#   postgres              [trust]          superuser
#   scram_user/scram_pw   [scram-sha-256]  SCRAM secret
#   md5_user/md5_pw       [md5]            MD5 secret
#   clear_user/clear_pw   [password]       SCRAM secret, server asks for the cleartext password
#   pass_user/pass_pw     [scram-sha-256]  SCRAM secret (tests put only its secret in pglane's file)
#   database bench        pgbench -i -s 2, tables readable and writable by every role
set -euo pipefail

die() {
	echo "pg.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: tests/pg.sh start DIR PORT | tests/pg.sh stop DIR |" \
		"tests/pg.sh restart DIR [MODE] | tests/pg.sh standby PRIMARY_DIR DIR PORT [SLOT]" >&2
	exit 2
}

# The directory with initdb and pg_ctl: pg_config's, else the newest /usr/lib/postgresql/*/bin.
find_bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return
		fi
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return
		fi
	done
	die "initdb/pg_ctl not found (pg_config --bindir, /usr/lib/postgresql/*/bin): install postgresql"
}

# The unprivileged user PostgreSQL runs as when we are root.
PG_OS_USER=
pick_os_user() {
	[ "$(id -u)" = 0 ] || return 0
	if ! id -u pglane >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin pglane >/dev/null 2>&1 || true
	fi
	if id -u pglane >/dev/null 2>&1; then
		PG_OS_USER=pglane
	elif id -u nobody >/dev/null 2>&1; then
		PG_OS_USER=nobody
	else
		die "running as root and neither user 'pglane' (useradd failed) nor 'nobody' exists"
	fi
}

# Run a command as the cluster's owner, from inside DIR (the caller's cwd may be unreadable).
as_pg() {
	if [ -n "$PG_OS_USER" ]; then
		(cd "$DIR" && runuser -u "$PG_OS_USER" -- "$@")
	else
		(cd "$DIR" && "$@")
	fi
}

# psql as the superuser over TCP; quiet, stops at the first error.
pg_sql() {
	local db=$1
	shift
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d "$db" "$@"
}

check_port() {
	case "$PORT" in
	'' | *[!0-9]*) die "PORT must be a number, got '$PORT'" ;;
	esac
}

# Make DIR (absolute from now on) ready for a new DIR/data owned by the cluster's user: no
# cluster may be running from it; an old data directory is removed.
prepare_dir() {
	local bindir=$1
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	if [ -f "$DIR/data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" status -D "$DIR/data" >/dev/null 2>&1; then
		die "a PostgreSQL is already running from $DIR/data (tests/pg.sh stop $DIR)"
	fi
	if [ -e "$DIR/data" ]; then
		[ -f "$DIR/data/PG_VERSION" ] || die "$DIR/data exists and is not a PostgreSQL data directory"
		rm -rf "$DIR/data"
	fi
	if [ -n "$PG_OS_USER" ]; then
		chown "$PG_OS_USER" "$DIR"
		chmod 700 "$DIR"
		runuser -u "$PG_OS_USER" -- test -w "$DIR" ||
			die "user $PG_OS_USER cannot write $DIR: a parent directory is not searchable (chmod o+x it)"
	fi
}

cmd_start() {
	local bindir log
	check_port
	bindir=$(find_bindir)
	pick_os_user
	prepare_dir "$bindir"

	log="$DIR/initdb.log"
	if ! as_pg "$bindir/initdb" -D "$DIR/data" -U postgres -A trust --nosync -E UTF8 \
		--locale=C >"$log" 2>&1; then
		cat "$log" >&2
		die "initdb failed (log above, $log)"
	fi

	cat >>"$DIR/data/postgresql.conf" <<EOF

# tests/pg.sh: a throwaway cluster on 127.0.0.1 only
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d '
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
EOF
	cat >"$DIR/data/pg_hba.conf" <<EOF
# tests/pg.sh: one login method per fixture role, TCP on 127.0.0.1 only
local   all  postgres                trust
host    all  postgres    127.0.0.1/32 trust
host    replication postgres 127.0.0.1/32 trust
host    all  md5_user    127.0.0.1/32 md5
host    all  clear_user  127.0.0.1/32 password
host    all  all         127.0.0.1/32 scram-sha-256
EOF

	if ! as_pg "$bindir/pg_ctl" start -w -t 60 -s -D "$DIR/data" -l "$DIR/log" >/dev/null 2>&1; then
		tail -n 30 "$DIR/log" >&2 || true
		die "PostgreSQL did not start on 127.0.0.1:$PORT (log above, $DIR/log)"
	fi

	if ! pg_sql postgres >"$DIR/fixtures.log" 2>&1 <<'EOF'; then
SET password_encryption = 'scram-sha-256';
CREATE ROLE scram_user LOGIN PASSWORD 'scram_pw';
CREATE ROLE clear_user LOGIN PASSWORD 'clear_pw';
CREATE ROLE pass_user LOGIN PASSWORD 'pass_pw';
SET password_encryption = 'md5';
CREATE ROLE md5_user LOGIN PASSWORD 'md5_pw';
RESET password_encryption;
CREATE DATABASE bench;
EOF
		cat "$DIR/fixtures.log" >&2
		die "creating the fixture roles failed"
	fi
	if ! pgbench -i -s 2 -q -h 127.0.0.1 -p "$PORT" -U postgres bench >"$DIR/pgbench-init.log" 2>&1; then
		cat "$DIR/pgbench-init.log" >&2
		die "pgbench -i failed"
	fi
	if ! pg_sql bench >>"$DIR/fixtures.log" 2>&1 <<'EOF'; then
GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC;
EOF
		cat "$DIR/fixtures.log" >&2
		die "granting the bench tables failed"
	fi
	echo "pg.sh: PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$PORT ($DIR)"
}

cmd_standby() {
	local bindir pport slot=()
	check_port
	bindir=$(find_bindir)
	pick_os_user
	[ -f "$PRIMARY/data/postmaster.pid" ] || die "no PostgreSQL is running from $PRIMARY/data"
	pport=$(sed -n 4p "$PRIMARY/data/postmaster.pid")
	case "$pport" in
	'' | *[!0-9]*) die "no port in $PRIMARY/data/postmaster.pid" ;;
	esac
	prepare_dir "$bindir"
	[ -z "$SLOT" ] || slot=(-C -S "$SLOT")

	if ! as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$DIR/data" \
		-R -X stream -c fast --no-sync "${slot[@]}" >"$DIR/basebackup.log" 2>&1; then
		cat "$DIR/basebackup.log" >&2
		die "pg_basebackup from 127.0.0.1:$pport failed (log above)"
	fi
	# later settings win over the ones copied from the primary
	cat >>"$DIR/data/postgresql.conf" <<EOF

# tests/pg.sh: a standby of 127.0.0.1:$pport
port = $PORT
unix_socket_directories = '$DIR'
cluster_name = 'standby_$PORT'
wal_receiver_status_interval = 1s
EOF
	if ! as_pg "$bindir/pg_ctl" start -w -t 60 -s -D "$DIR/data" -l "$DIR/log" >/dev/null 2>&1; then
		tail -n 30 "$DIR/log" >&2 || true
		die "the standby did not start on 127.0.0.1:$PORT (log above, $DIR/log)"
	fi
	echo "pg.sh: standby of 127.0.0.1:$pport on 127.0.0.1:$PORT ($DIR)"
}

cmd_stop() {
	local bindir
	[ -d "$DIR/data" ] || return 0
	bindir=$(find_bindir)
	pick_os_user
	DIR=$(cd "$DIR" && pwd)
	as_pg "$bindir/pg_ctl" status -D "$DIR/data" >/dev/null 2>&1 || return 0
	if ! as_pg "$bindir/pg_ctl" stop -D "$DIR/data" -m fast -w -t 30 -s >/dev/null 2>&1; then
		as_pg "$bindir/pg_ctl" stop -D "$DIR/data" -m immediate -w -t 30 -s >/dev/null 2>&1 ||
			die "could not stop PostgreSQL in $DIR/data"
	fi
}

cmd_restart() {
	local bindir
	case "$MODE" in
	smart | fast | immediate) ;;
	*) die "MODE must be smart, fast or immediate, got '$MODE'" ;;
	esac
	[ -f "$DIR/data/PG_VERSION" ] || die "no PostgreSQL data directory in $DIR/data"
	bindir=$(find_bindir)
	pick_os_user
	DIR=$(cd "$DIR" && pwd)
	if ! as_pg "$bindir/pg_ctl" restart -D "$DIR/data" -m "$MODE" -w -t 60 -s -l "$DIR/log" \
		>/dev/null 2>&1; then
		tail -n 30 "$DIR/log" >&2 || true
		die "PostgreSQL in $DIR/data did not restart (log above, $DIR/log)"
	fi
}

[ $# -ge 2 ] || usage
DIR=$2
case "$1" in
start)
	[ $# -eq 3 ] || usage
	PORT=$3
	cmd_start
	;;
stop)
	[ $# -eq 2 ] || usage
	cmd_stop
	;;
restart)
	[ $# -eq 2 ] || [ $# -eq 3 ] || usage
	MODE=${3:-fast}
	cmd_restart
	;;
standby)
	[ $# -eq 4 ] || [ $# -eq 5 ] || usage
	PRIMARY=$(cd "$2" && pwd) || die "no directory $2"
	DIR=$3
	PORT=$4
	SLOT=${5:-}
	cmd_standby
	;;
*) usage ;;
esac
