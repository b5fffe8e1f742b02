#!/usr/bin/python3
"""tests/drivers/asyncpg_deallocate.py — asyncpg (Debian python3-asyncpg 0.27), default settings
(statement cache of 100, named statements __asyncpg_stmt_N__), against a PostgreSQL or a
pglane.

Three "worker" connections run their cached prepared statements in a loop (conn.fetchval with
an argument, some of them inside conn.transaction()), each checking the value returned, while
a fourth, the "deallocator", runs ROUNDS rounds of:
  - a statement new to it (fetchval, prepared and cached by asyncpg), then
  - one of: fetch("DEALLOCATE ALL")   extended protocol (Parse/Bind/Execute, a named statement)
            execute("DEALLOCATE ALL") simple Query (execute without arguments)
            execute("DISCARD ALL")    simple Query
            fetch("DISCARD ALL")      extended protocol
    (or the same in other spellings, see COMMANDS)
  - the round's statement again, and the first round's statement again.
The deallocator's own statements may fail after that, as they do on a direct connection: its
outcome per step (step:ok or step:SQLSTATE) is printed as one line to compare with a direct run:
  deallocator=r0.own:ok,r0.first:ok,r0.fetch(DEALLOCATE ALL):ok,r0.own:26000,...
The workers must never fail. Last line:
  executions=N failed=F rounds=R min_pids=P
(executions and failed: the workers'; min_pids: the fewest distinct backends a worker saw).
Unexpected failures are printed on lines starting with "FAIL" (the first 20). Exit status 0
when nothing unexpected failed, 1 otherwise.
"""

import argparse
import asyncio
import sys

import asyncpg

# Rounds 0-3 and 8-11 use the first four (a fetch of a text asyncpg has cached runs its cached
# statement, which the DEALLOCATE ALL it ran deallocated too); rounds 4-7 other spellings (new
# texts, so new statements).
COMMANDS = [
    ("fetch", "DEALLOCATE ALL"),
    ("execute", "DEALLOCATE ALL"),
    ("execute", "DISCARD ALL"),
    ("fetch", "DISCARD ALL"),
    ("fetch", "deallocate prepare all"),
    ("execute", "deallocate all;"),
    ("execute", "discard all;"),
    ("fetch", "Discard All"),
]


MAX_PRINTED = 20  # failures printed in full; the count covers them all


class Stats:
    def __init__(self):
        self.executions = 0
        self.failed = 0

    def fail(self, who, what):
        self.failed += 1
        if self.failed <= MAX_PRINTED:
            print(f"FAIL {who}: {what}", flush=True)


def outcome(exc):
    state = getattr(exc, "sqlstate", None)
    return state if state else type(exc).__name__


async def worker(n, args, stats, done, pids):
    who = f"worker {n}"
    conn = await asyncpg.connect(args.dsn)
    queries = [
        f"SELECT $1::int * 2 + {k}, pg_backend_pid() /* worker {n} q{k} */" for k in range(3)
    ]
    i = 0
    try:
        while not done.is_set() and i < args.max_execs:
            k = i % 3
            arg = n * 100000 + i
            stats.executions += 1
            try:
                if i % 5 == 4:
                    async with conn.transaction():
                        row = await conn.fetchrow(queries[k], arg)
                        row2 = await conn.fetchrow(queries[(k + 1) % 3], arg)
                        stats.executions += 1
                        if row2[0] != arg * 2 + (k + 1) % 3:
                            stats.fail(who, f"q{(k + 1) % 3}({arg}) returned {row2[0]}")
                else:
                    row = await conn.fetchrow(queries[k], arg)
            except Exception as exc:
                stats.fail(who, f"q{k}({arg}): {outcome(exc)} {type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''}")
                i += 1
                continue
            if row[0] != arg * 2 + k:
                stats.fail(who, f"q{k}({arg}) returned {row[0]}, want {arg * 2 + k}")
            pids.add(row[1])
            i += 1
            await asyncio.sleep(0.001)
    finally:
        await conn.close()


async def deallocator(args, stats, done, steps):
    conn = await asyncpg.connect(args.dsn)

    async def step(name, coro):
        try:
            await coro
            steps.append(f"{name}:ok")
        except Exception as exc:
            steps.append(f"{name}:{outcome(exc)}")

    try:
        await asyncio.sleep(0.2)  # let the workers prepare their statements everywhere
        first = "SELECT $1::int + 1000000 /* deallocator first */"
        for r in range(args.rounds):
            own = f"SELECT $1::int + {r} /* deallocator round {r} */"
            await step(f"r{r}.own", conn.fetchval(own, r))
            if r == 0:
                await step(f"r{r}.first", conn.fetchval(first, r))
            kind, sql = COMMANDS[r % 4 + (4 if r % 12 in range(4, 8) else 0)]
            name = f"r{r}.{kind}({sql})"
            if kind == "fetch":
                await step(name, conn.fetch(sql))
            else:
                await step(name, conn.execute(sql))
            await asyncio.sleep(0.02)  # the workers run on the servers meanwhile
            await step(f"r{r}.own", conn.fetchval(own, r))
            await step(f"r{r}.first", conn.fetchval(first, r))
            await asyncio.sleep(0.02)
    finally:
        done.set()
        try:
            await conn.close()
        except Exception:
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--max-execs", type=int, default=3000)
    args = ap.parse_args()

    stats = Stats()
    done = asyncio.Event()
    steps = []
    pids = [set() for _ in range(3)]
    tasks = [worker(n, args, stats, done, pids[n]) for n in range(3)]
    tasks.append(deallocator(args, stats, done, steps))
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    for res in results:
        if isinstance(res, BaseException):
            stats.fail("task", f"{type(res).__name__}: {res}")
    print("deallocator=" + ",".join(steps), flush=True)
    print(
        f"executions={stats.executions} failed={stats.failed} rounds={args.rounds} "
        f"min_pids={min(len(p) for p in pids)}",
        flush=True,
    )
    return 1 if stats.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
