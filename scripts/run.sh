#!/usr/bin/env bash
# scripts/run.sh [PGLANE_BIN] — what `make run` does once pglane is built: when nothing listens
# on 127.0.0.1:5432, start a throwaway PostgreSQL there (tests/pg.sh, in /tmp/pglane-run-pg,
# stopped and removed when pglane exits), print the commands to try, and run pglane in the
# foreground. pglane reads ./pglane.conf when it exists, else uses its built-in defaults:
# listen on 127.0.0.1:6432 and on the Unix socket /tmp/.s.PGSQL.6432, every database forwarded
# to 127.0.0.1:5432, transaction mode, auth trust.
set -euo pipefail

bin=${1:-build/pglane}
root=$(cd "$(dirname "$0")/.." && pwd)
pgdir=${PGLANE_RUN_PGDIR:-/tmp/pglane-run-pg}
pg_started=0

if [ ! -x "$bin" ]; then
	echo "run.sh: $bin is not built (make all)" >&2
	exit 1
fi

cleanup() {
	if [ "$pg_started" = 1 ]; then
		echo "run.sh: stopping the throwaway PostgreSQL"
		"$root/tests/pg.sh" stop "$pgdir" || true
		rm -rf "$pgdir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

listening() {
	(exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
}

if listening; then
	echo "run.sh: PostgreSQL already listens on 127.0.0.1:5432; pglane forwards to it"
else
	"$root/tests/pg.sh" start "$pgdir" 5432
	pg_started=1
	echo "run.sh: throwaway PostgreSQL on 127.0.0.1:5432 (user postgres, trust); it stops when pglane exits"
fi

if [ -f pglane.conf ]; then
	echo "run.sh: pglane uses ./pglane.conf (the commands below assume the built-in port 6432)"
fi

cat <<'EOF'

Try, in another terminal:
  psql -h 127.0.0.1 -p 6432 -U postgres postgres
  psql -h /tmp -p 6432 -U postgres postgres        (through the Unix socket)
  pgbench -i -h 127.0.0.1 -p 6432 -U postgres postgres
  pgbench -h 127.0.0.1 -p 6432 -U postgres -c 10 -T 10 -S postgres
Ctrl-C stops pglane.

EOF

# In the foreground, so that Ctrl-C reaches pglane; the traps run once it has exited.
"$bin"
