"""Weekly leaderboard query over 1,000,000 client updates and 100,000 deals, SQLite and PostgreSQL.

Loads a year of activity (200 reps, 4 groups; bulk insert: executemany on SQLite, COPY on
PostgreSQL), runs ANALYZE, then times `handlers.leaderboard.build` for a mid-year week — the queries
the Monday post runs (this week and last week, deals + reports + violations, names) — per group
and company-wide. Run:

    .venv/bin/python bench/bench_leaderboard.py [--updates 1000000] [--deals 100000] [--repeat 20]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bot.config import load_config
from handlers import leaderboard
from storage.db import make_engine, make_session_factory
from storage.models import Base

START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_SECONDS = 365 * 24 * 3600
GROUPS = ["wr-sales-east", "wr-sales-south", "wr-sales-north", "wr-sales-west"]
REPS = [f"rep{i:03d}" for i in range(200)]
WEEK = "2026-W26"


def rows(n: int, prefix: str, seed: int):
    """(msgid, chat_id, sender, sent_at, extra) spread evenly over 2026; each rep stays in one group."""
    rng = random.Random(seed)
    for i in range(n):
        rep = rng.randrange(len(REPS))
        at = START + timedelta(seconds=rng.randrange(YEAR_SECONDS))
        yield f"{prefix}{i}", GROUPS[rep % len(GROUPS)], REPS[rep], at, rng


def load_sqlite(url: str, updates: int, deals: int, violations: int) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    fmt = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy's SQLite DATETIME stores (naive UTC here)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("BEGIN")
        cur.executemany(
            "INSERT INTO client_updates (msgid, chat_id, sender, sent_at, complete) VALUES (?, ?, ?, ?, ?)",
            ((m, c, s, at.strftime(fmt), rng.random() < 0.8) for m, c, s, at, rng in rows(updates, "u", 1)),
        )
        cur.executemany(
            "INSERT INTO deals (msgid, chat_id, sender, sent_at, amount_yuan) VALUES (?, ?, ?, ?, ?)",
            ((m, c, s, at.strftime(fmt), rng.randrange(1, 500) * 1000) for m, c, s, at, rng in rows(deals, "d", 2)),
        )
        _sqlite_violations(cur, violations, fmt)
        cur.execute("COMMIT")
        cur.execute("ANALYZE")
    finally:
        raw.close()
    engine.dispose()


def _sqlite_violations(cur, n: int, fmt: str) -> None:
    data = list(rows(n, "v", 3))
    cur.executemany(
        "INSERT INTO messages (msgid, chat_id, sender, sent_at, msgtype, source, masked_text, text_hmac, is_report,"
        " created_at) VALUES (?, ?, ?, ?, 'text', 'replay', '', '', 0, ?)",
        ((m, c, s, at.strftime(fmt), at.strftime(fmt)) for m, c, s, at, _ in data),
    )
    cur.executemany(
        "INSERT INTO violations (message_id, msgid, chat_id, sender, rule, detail, kinds, missing, action,"
        " facts, occurred_at, status, created_at) SELECT id, msgid, chat_id, sender, ?, '', '[]', '[]',"
        " 'warn_member', '{}', sent_at, ?, sent_at FROM messages WHERE msgid = ?",
        ((rng.choice(["posting_window", "frequency", "template"]), "void" if rng.random() < 0.1 else "open", m)
         for m, _, _, _, rng in data),
    )


def load_postgres(url: str, updates: int, deals: int, violations: int) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy("COPY client_updates (msgid, chat_id, sender, sent_at, complete) FROM STDIN") as copy:
            for m, c, s, at, rng in rows(updates, "u", 1):
                copy.write_row((m, c, s, at, rng.random() < 0.8))
        with cur.copy("COPY deals (msgid, chat_id, sender, sent_at, amount_yuan) FROM STDIN") as copy:
            for m, c, s, at, rng in rows(deals, "d", 2):
                copy.write_row((m, c, s, at, rng.randrange(1, 500) * 1000))
        with cur.copy(
            "COPY messages (msgid, chat_id, sender, sent_at, msgtype, source, masked_text, text_hmac, is_report,"
            " created_at) FROM STDIN"
        ) as copy:
            data = list(rows(violations, "v", 3))
            for m, c, s, at, _ in data:
                copy.write_row((m, c, s, at, "text", "replay", "", "", False, at))
        cur.execute(
            "INSERT INTO violations (message_id, msgid, chat_id, sender, rule, detail, kinds, missing, action,"
            " facts, occurred_at, status, created_at) SELECT id, msgid, chat_id, sender,"
            " (ARRAY['posting_window','frequency','template'])[1 + id % 3], '', '[]', '[]', 'warn_member',"
            " '{}', sent_at, CASE WHEN id % 10 = 0 THEN 'void' ELSE 'open' END, sent_at FROM messages"
        )
        raw.commit()
    finally:
        raw.close()
    # VACUUM sets the visibility map that index-only scans need (autovacuum does it in service).
    vacuum = engine.execution_options(isolation_level="AUTOCOMMIT")
    with vacuum.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def time_queries(url: str, repeat: int) -> dict[str, float]:
    config = load_config()
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    out: dict[str, float] = {}
    for scope in (None, GROUPS[0]):
        timings, cpu = [], []
        with sessions() as session:
            board = leaderboard.build(session, config, week=WEEK, chat_id=scope)  # warm the cache once
            assert board.standings, "no data in the benchmark week"
            for _ in range(repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                leaderboard.build(session, config, week=WEEK, chat_id=scope)
                timings.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                session.rollback()
        name = "company" if scope is None else "group"
        out[f"{name}_median_ms"] = round(statistics.median(timings), 1)
        out[f"{name}_min_ms"] = round(min(timings), 1)
        # Client-side CPU (for SQLite: the whole query), less disturbed by other load on a shared machine.
        out[f"{name}_client_cpu_median_ms"] = round(statistics.median(cpu), 1)
    engine.dispose()
    return out


def run(name: str, url: str, loader, args) -> dict:
    t0 = time.perf_counter()
    loader(url, args.updates, args.deals, args.violations)
    load_s = time.perf_counter() - t0
    result = {"database": name, "load_seconds": round(load_s, 1), **time_queries(url, args.repeat)}
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--violations", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    print(json.dumps({"python": platform.python_version(), "machine": platform.machine(), "week": WEEK}))
    if args.only != "postgres":
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", load_sqlite, args)
    if args.only != "sqlite":
        name = f"groupbot_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.pg).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run("postgresql", args.pg.rsplit("/", 1)[0] + "/" + name, load_postgres, args)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
