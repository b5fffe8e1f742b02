#!/usr/bin/python3
"""tests/drivers/psycopg_prepare.py — psycopg 3 (Debian python3-psycopg 3.1.7), in its default
settings, against a PostgreSQL or a pglane: THREADS threads, each with its own connection
(autocommit off, prepare_threshold 5), run checkable queries (each returns its argument
transformed in a known way and pg_backend_pid()).

Cases (--case):
  rollback  every thread prepares statements (threshold and prepare=True), commits, and rolls
            back three times: twice with conn.rollback() and once with cur.execute("ROLLBACK").
            With prepared statements on the connection, psycopg then sends DEALLOCATE ALL with
            PQsendQueryParams (extended protocol: Parse/Bind/Execute/Sync), see
            psycopg/connection.py _rollback_gen() and _preparing.py _should_discard()/clear().
            It does the same, inside the transaction, after a statement whose command tag starts
            with "DROP " (each thread runs one DROP TABLE IF EXISTS of a table that does not
            exist).
  rotate    more distinct statements than conn.prepared_max (thread 0 keeps the default 100 and
            runs 108 distinct statements; the others lower it to 8 and cycle over 20), all with
            prepare=True: psycopg evicts the oldest and sends DEALLOCATE _pg3_N, again over the
            extended protocol (_preparing.py _rotate(), cursor.py get_maintenance_commands()).

The script counts, at libpq's PQsendQueryParams (psycopg.pq.PGconn.send_query_params, patched
at class level), every DEALLOCATE psycopg sends, so the test can check those paths really ran.
A thread that saw one backend only after its planned executions goes on in the same pattern
(at most EXTRA_MAX more) until it meets a second, so that every thread's statements really move
between servers however the scheduler deals the threads; those executions are counted in
`executions` and in `extra`. Output, last line:
  executions=N extra=E failed=F dealloc_all=A dealloc_name=D min_pids=P
(min_pids: the fewest distinct backends one thread saw). Unexpected failures are printed on
lines starting with "FAIL" (the first 20). Exit status: 0 when nothing failed, 1 otherwise.
"""

import argparse
import sys
import threading
import traceback

import psycopg
import psycopg.pq

LOCK = threading.Lock()
STATS = {"executions": 0, "extra": 0, "failed": 0, "dealloc_all": 0, "dealloc_name": 0}
EXTRA_MAX = 120  # executions a thread may add to meet a second backend


def note(key, n=1):
    with LOCK:
        STATS[key] += n


MAX_PRINTED = 20  # failures printed in full; the count covers them all


def fail(who, what):
    with LOCK:
        STATS["failed"] += 1
        if STATS["failed"] <= MAX_PRINTED:
            print(f"FAIL {who}: {what}", flush=True)


def count_deallocates():
    """Count the DEALLOCATE commands psycopg sends with PQsendQueryParams."""
    cls = psycopg.pq.PGconn
    orig = cls.send_query_params

    def counted(self, command, *args, **kwargs):
        text = bytes(command).strip().upper()
        if text == b"DEALLOCATE ALL":
            note("dealloc_all")
        elif text.startswith(b"DEALLOCATE "):
            note("dealloc_name")
        return orig(self, command, *args, **kwargs)

    cls.send_query_params = counted
    if cls.send_query_params is not counted:
        print("FAIL setup: cannot count at psycopg.pq.PGconn.send_query_params", flush=True)
        sys.exit(1)


class Client:
    """One thread's connection and its checks."""

    def __init__(self, dsn, who):
        self.dsn = dsn
        self.who = who
        self.pids = set()
        self.conn = psycopg.connect(dsn)

    def run(self, sql, arg, want, prepare=None):
        """Execute sql with one argument; the first column must equal `want`."""
        note("executions")
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, (arg,), prepare=prepare)
                rows = cur.fetchall()
        except Exception as exc:  # any driver or server error is a failure here
            fail(self.who, f"{sql!r} ({arg!r}): {type(exc).__name__}: {exc}".strip())
            self.recover()
            return
        if len(rows) != 1 or rows[0][0] != want:
            fail(self.who, f"{sql!r} ({arg!r}) returned {rows!r}, want {want!r}")
            return
        self.pids.add(rows[0][1])

    def command(self, sql):
        """A statement without parameters or result rows."""
        note("executions")
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        except Exception as exc:
            fail(self.who, f"{sql!r}: {type(exc).__name__}: {exc}".strip())
            self.recover()

    def end(self, how):
        """Commit or roll back the current transaction (psycopg's own calls)."""
        try:
            if how == "commit":
                self.conn.commit()
            elif how == "rollback":
                self.conn.rollback()
            else:  # ROLLBACK sent as a statement: psycopg sees its command status
                with self.conn.cursor() as cur:
                    cur.execute("ROLLBACK")
        except Exception as exc:
            fail(self.who, f"{how}: {type(exc).__name__}: {exc}".strip())
            self.recover()

    def recover(self):
        try:
            self.conn.rollback()
        except Exception:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = psycopg.connect(self.dsn)

    def close(self):
        self.conn.close()


def planned_then_until_two(c, n):
    """0..n-1, then on (counted as extra, at most EXTRA_MAX) while c has seen one backend."""
    yield from range(n)
    i = n
    while len(c.pids) < 2 and i < n + EXTRA_MAX:
        note("extra")
        yield i
        i += 1


# Queries: (sql, argument, expected first column). %s is the argument.
def q_int(i):
    return ("SELECT %s::int + 1000, pg_backend_pid()", i, i + 1000)


def q_text(i):
    return ("SELECT %s::text || '-t', pg_backend_pid()", str(i), f"{i}-t")


def q_mul(i):
    return ("SELECT %s::int * 3, pg_backend_pid()", i, i * 3)


def case_rollback(dsn, t, execs):
    c = Client(dsn, f"thread {t}")
    ends = {9: "rollback", 21: "rollback", 33: "statement"}
    for i in planned_then_until_two(c, execs):
        kind = i % 3
        if kind == 0:
            sql, arg, want = q_int(t * 1000 + i)
            c.run(sql, arg, want)  # prepared by psycopg after 5 executions
        elif kind == 1:
            sql, arg, want = q_text(t * 1000 + i)
            c.run(sql, arg, want, prepare=True)  # prepared at once
        else:
            sql, arg, want = q_mul(t * 1000 + i)
            c.run(sql, arg, want)
        if i == 26:  # command tag DROP TABLE: DEALLOCATE ALL inside the transaction
            c.command(f"DROP TABLE IF EXISTS drivers_psycopg_absent_{t}")
        if i in ends:
            c.end(ends[i])
        elif i % 2 == 1:
            c.end("commit")
    c.end("commit")
    c.close()
    return c.pids


def case_rotate(dsn, t, execs):
    c = Client(dsn, f"thread {t}")
    if t == 0:
        distinct, n = 108, 108  # the default prepared_max (100) is passed
    else:
        c.conn.prepared_max = 8
        distinct, n = 20, execs
    for i in planned_then_until_two(c, n):
        k = i % distinct
        # a distinct statement text per k; the argument varies per execution
        sql = f"SELECT %s::int + {k}, pg_backend_pid() /* rotate {k} */"
        arg = t * 1000 + i
        c.run(sql, arg, arg + k, prepare=True)
        if i % 3 == 2:
            c.end("commit")
    c.end("commit")
    c.close()
    return c.pids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--case", choices=["rollback", "rotate"], required=True)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--execs", type=int, default=40)
    args = ap.parse_args()

    count_deallocates()
    fn = case_rollback if args.case == "rollback" else case_rotate
    pids = [None] * args.threads

    def worker(t):
        try:
            pids[t] = fn(args.dsn, t, args.execs)
        except Exception:
            fail(f"thread {t}", "unexpected exception:\n" + traceback.format_exc())

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
        if th.is_alive():
            fail("main", "a thread did not finish within 60 s")
    min_pids = min((len(p) for p in pids if p is not None), default=0)
    print(
        f"executions={STATS['executions']} extra={STATS['extra']} failed={STATS['failed']} "
        f"dealloc_all={STATS['dealloc_all']} dealloc_name={STATS['dealloc_name']} "
        f"min_pids={min_pids}",
        flush=True,
    )
    sys.exit(1 if STATS["failed"] else 0)


if __name__ == "__main__":
    main()
