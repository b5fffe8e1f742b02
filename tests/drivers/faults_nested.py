#!/usr/bin/python3
"""tests/drivers/faults_nested.py — issue 18: a driver's nested transaction whose server dies,
then the same connection goes on. psycopg 3 (Debian python3-psycopg) or asyncpg (Debian
python3-asyncpg), in their default settings, against a pglane (or PostgreSQL itself).

The victim connection runs
    outer transaction: INSERT (TAG, 'outer')
      inner transaction (a SAVEPOINT): INSERT (TAG, 'inner'); SELECT pg_backend_pid()
        --mode idle:     a second connection of the script runs pg_terminate_backend(pid), waits
                         until the backend is gone, then the victim runs another INSERT
        --mode inflight: the victim runs SELECT pg_terminate_backend(pg_backend_pid())
(psycopg: `with conn.transaction(): with conn.transaction():`; asyncpg: `async with
conn.transaction(): async with conn.transaction():`). That must raise a database error; the
driver's own savepoint/transaction exits then run (their errors are the driver's business).
Then the SAME connection must run SELECT 1 and see 1, and no row with tag TAG may be in the
table.

Output, last line:
  raised=R sqlstate=S select1=V rows=N closed=C pid_changed=P
Exit status 0 when raised=1 select1=1 rows=0 closed=0 pid_changed=1, 1 otherwise (with a line
starting "FAIL" saying what).
"""

import argparse
import asyncio
import sys
import time

WAIT_GONE_S = 3.0


def summary(res):
    line = " ".join(f"{k}={res[k]}" for k in
                    ("raised", "sqlstate", "select1", "rows", "closed", "pid_changed"))
    print(line, flush=True)
    ok = (res["raised"] == 1 and res["select1"] == 1 and res["rows"] == 0
          and res["closed"] == 0 and res["pid_changed"] == 1)
    if not ok:
        print(f"FAIL unexpected outcome: {line}", flush=True)
    return 0 if ok else 1


def run_psycopg(args):
    import psycopg

    res = {"raised": 0, "sqlstate": "-", "select1": 0, "rows": -1, "closed": 0,
           "pid_changed": 0}
    conn = psycopg.connect(args.dsn)
    killer = psycopg.connect(args.dsn, autocommit=True)
    ins = f"INSERT INTO {args.table} VALUES (%s, %s)"
    pid = None
    try:
        with conn.transaction():
            conn.execute(ins, (args.tag, "outer"))
            with conn.transaction():
                conn.execute(ins, (args.tag, "inner"))
                pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
                if args.mode == "inflight":
                    conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
                else:
                    killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    deadline = time.monotonic() + WAIT_GONE_S
                    while time.monotonic() < deadline and killer.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                            (pid,)).fetchone()[0]:
                        time.sleep(0.02)
                    time.sleep(0.1)
                    conn.execute(ins, (args.tag, "after"))
    except psycopg.Error as e:
        res["raised"] = 1
        res["sqlstate"] = e.sqlstate or "-"
        print(f"raised {type(e).__name__}: {e}".strip(), flush=True)
    res["closed"] = int(conn.closed)
    if not conn.closed:
        try:
            res["select1"] = conn.execute("SELECT 1").fetchone()[0]
            res["pid_changed"] = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0]
                                     != pid)
            conn.commit()
        except psycopg.Error as e:
            print(f"FAIL SELECT 1 after the error: {e}", flush=True)
    res["rows"] = killer.execute(f"SELECT count(*) FROM {args.table} WHERE tag = %s",
                                 (args.tag,)).fetchone()[0]
    conn.close()
    killer.close()
    return summary(res)


async def asyncpg_main(args):
    import asyncpg

    res = {"raised": 0, "sqlstate": "-", "select1": 0, "rows": -1, "closed": 0,
           "pid_changed": 0}
    conn = await asyncpg.connect(args.dsn)
    killer = await asyncpg.connect(args.dsn)
    ins = f"INSERT INTO {args.table} VALUES ($1, $2)"
    pid = None
    try:
        async with conn.transaction():
            await conn.execute(ins, args.tag, "outer")
            async with conn.transaction():
                await conn.execute(ins, args.tag, "inner")
                pid = await conn.fetchval("SELECT pg_backend_pid()")
                if args.mode == "inflight":
                    await conn.fetchval("SELECT pg_terminate_backend(pg_backend_pid())")
                else:
                    await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
                    deadline = time.monotonic() + WAIT_GONE_S
                    while time.monotonic() < deadline and await killer.fetchval(
                            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                        await asyncio.sleep(0.02)
                    await asyncio.sleep(0.1)
                    await conn.execute(ins, args.tag, "after")
    except asyncpg.PostgresError as e:
        res["raised"] = 1
        res["sqlstate"] = e.sqlstate or "-"
        print(f"raised {type(e).__name__}: {e}".strip(), flush=True)
    except (asyncpg.InterfaceError, ConnectionError, OSError) as e:
        print(f"FAIL not a database error: {type(e).__name__}: {e}", flush=True)
    res["closed"] = int(conn.is_closed())
    if not conn.is_closed():
        try:
            res["select1"] = await conn.fetchval("SELECT 1")
            res["pid_changed"] = int(await conn.fetchval("SELECT pg_backend_pid()") != pid)
        except Exception as e:  # noqa: BLE001 - report whatever the driver raised
            print(f"FAIL SELECT 1 after the error: {type(e).__name__}: {e}", flush=True)
    res["rows"] = await killer.fetchval(
        f"SELECT count(*) FROM {args.table} WHERE tag = $1", args.tag)
    await conn.close()
    await killer.close()
    return summary(res)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", choices=("psycopg", "asyncpg"), required=True)
    ap.add_argument("--mode", choices=("idle", "inflight"), required=True)
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--table", required=True, help="a table (tag text, what text)")
    ap.add_argument("--tag", required=True)
    args = ap.parse_args()
    if args.driver == "psycopg":
        return run_psycopg(args)
    return asyncio.run(asyncpg_main(args))


if __name__ == "__main__":
    sys.exit(main())
