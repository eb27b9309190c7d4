"""`make bench`: every benchmark in one run, each against a baseline measured in the same run.

Writes the machine description, the summary table (target vs measured, pass/short) and the raw
figures between the markers in docs/benchmarks.md, the raw results to docs/benchmarks.json, and
the latency-vs-offered-load plot to docs/latency.png. The hand-written per-bench sections of
docs/benchmarks.md (below the markers) are left as they are.

    .venv/bin/python bench/run_all.py            # a few minutes on 2 cores
    .venv/bin/python bench/run_all.py --quick    # smaller sizes, to check the harness
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_callback  # noqa: E402
import bench_dispatch  # noqa: E402
import bench_e2e  # noqa: E402
import bench_engine  # noqa: E402
import bench_keywords  # noqa: E402
import bench_leaderboard  # noqa: E402
from sqlalchemy import text  # noqa: E402

from storage.db import make_engine, make_session_factory  # noqa: E402

DOC = REPO / "docs" / "benchmarks.md"
BEGIN, END = "<!-- make bench: begin -->", "<!-- make bench: end -->"
PG_SERVER = bench_callback.PG_SERVER


# -- machine ---------------------------------------------------------------------------------------


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.processor() or platform.machine())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    try:
        pg = make_engine(PG_SERVER)
        with pg.connect() as conn:
            postgres = conn.execute(text("show server_version")).scalar_one()
        pg.dispose()
    except Exception:  # noqa: BLE001 - an absent server is reported, not fatal
        postgres = None
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres,
        "kernel": platform.release(),
        "load_before": os.getloadavg(),
    }


# -- each bench --------------------------------------------------------------------------------------


def run_engine(n: int, repeat: int) -> dict:
    from bot.config import load_config
    from rules.engine import RuleEngine
    from rules.sensitive import SensitiveRule

    config = load_config()
    engine = bench_engine.RuleEngine.from_config(config.rules, config.group_rules())
    messages = bench_engine.make_messages(n)
    bench_engine.bench_engine(engine, messages[:2000], 1)
    wall, cpu = bench_engine.bench_engine(engine, messages, repeat)
    # Baseline: the sensitive scan alone over the same texts, the engine's cheapest whole component.
    scan = SensitiveRule(config.rules.sensitive).scan
    texts = [m.text for m in messages]
    base = bench_keywords.best_of(repeat, lambda: [scan(t) for t in texts])
    assert isinstance(engine, RuleEngine)
    return {"messages": n, "cpu_msg_s": cpu, "wall_msg_s": wall, "scan_only_msg_s": n / base,
            "ratio_to_scan": cpu / (n / base)}


def run_keywords(n: int, repeat: int) -> dict:
    from rules.config import CustomKeywords, SensitiveSettings
    from rules.sensitive import SensitiveRule

    messages = bench_keywords.make_messages(n)
    out = {"messages": n}
    for size in (100, 10_000):
        lists = (CustomKeywords(name=f"custom_{size}", words=bench_keywords.make_phrases(size)),)
        rule = SensitiveRule(SensitiveSettings(custom_keywords=lists))
        out[f"us_{size}"] = bench_keywords.best_of(repeat, bench_keywords.scan_all(rule, messages)) / n * 1e6
    out["ratio"] = out["us_10000"] / out["us_100"]
    return out


def week_count_ms(url: str, repeat: int) -> float:
    """Baseline for the leaderboard: one indexed count of the same week's client updates."""
    from datetime import date, timedelta

    year, week = (int(p) for p in bench_leaderboard.WEEK.split("-W"))
    monday = datetime.combine(date.fromisocalendar(year, week, 1), datetime.min.time(), UTC)
    engine = make_engine(url)
    timings = []
    with make_session_factory(engine)() as session:
        stmt = text("select count(*) from client_updates where sent_at >= :a and sent_at < :b")
        params = {"a": monday, "b": monday + timedelta(days=7)}
        session.execute(stmt, params)
        for _ in range(repeat):
            t0 = time.perf_counter()
            session.execute(stmt, params).scalar_one()
            timings.append((time.perf_counter() - t0) * 1000)
    engine.dispose()
    return statistics.median(timings)


def databases(pg: bool):
    """(name, throw-away database as a context manager yielding its URL): bench_callback's own."""
    yield "sqlite", lambda: bench_callback.database("sqlite")
    if pg:
        yield "postgresql", lambda: bench_callback.database("postgres")


def run_leaderboard(pg: bool, sizes: argparse.Namespace) -> list[dict]:
    out = []
    for name, make in databases(pg):
        loader = bench_leaderboard.load_sqlite if name == "sqlite" else bench_leaderboard.load_postgres
        with make() as url:
            result = bench_leaderboard.run(name, url, loader, sizes)
            result["week_count_median_ms"] = round(week_count_ms(url, sizes.repeat), 2)
        out.append(result)
    return out


def run_dispatch(pg: bool, messages: int, rate: float, backlog: int) -> list[dict]:
    from bot.config import load_config

    floor = load_config().outbox.poll_seconds / 2
    out = []
    for name, make in databases(pg):
        with make() as url, tempfile.TemporaryDirectory() as tmp:
            engine = bench_dispatch.fresh_database(url, Path(tmp))
            lat = asyncio.run(bench_dispatch.latency(engine, messages, rate))
            engine.dispose()
            engine = bench_dispatch.fresh_database(url, Path(tmp))
            bl = asyncio.run(bench_dispatch.backlog(engine, backlog))
            engine.dispose()
        out.append({"database": name, "latency": lat, "backlog": bl, "poll_floor_s": floor})
    return out


# -- report --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the harness, not the code")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch docs/")
    args = parser.parse_args()
    q = args.quick
    results: dict = {"machine": machine()}
    pg = results["machine"]["postgresql"] is not None
    kinds = ["sqlite", "postgres"] if pg else ["sqlite"]
    started = time.perf_counter()

    def step(name: str, fn, *a, **kw):
        t0 = time.perf_counter()
        print(f"== {name} ...", flush=True)
        results[name] = fn(*a, **kw)
        print(json.dumps(results[name], default=str)[:600], f"({time.perf_counter() - t0:.0f} s)", flush=True)

    step("keywords", run_keywords, 2_000 if q else 20_000, 2 if q else 5)
    step("engine", run_engine, 5_000 if q else 50_000, 2 if q else 3)
    step("callback", lambda: [
        bench_callback.run(kind, requests=500 if q else 5000, rate_seconds=2 if q else 10) for kind in kinds])
    sizes = argparse.Namespace(updates=20_000 if q else 1_000_000, deals=2_000 if q else 100_000,
                               violations=1_000 if q else 50_000, repeat=5 if q else 20)
    step("leaderboard", run_leaderboard, pg, sizes)
    step("dispatch", run_dispatch, pg, 40 if q else 400, 10.0, 200 if q else 2000)
    step("e2e", bench_e2e.run, kinds, 2_000 if q else 50_000, 5_000 if q else 1_000_000)
    results["machine"]["load_after"] = os.getloadavg()
    results["machine"]["minutes"] = round((time.perf_counter() - started) / 60, 1)

    from plot import plot_latency
    from report import render, write_doc

    section = render(results)
    print(section)
    if not args.no_write:
        (REPO / "docs" / "benchmarks.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
        plot_latency(results["callback"], REPO / "docs" / "latency.png")
        write_doc(DOC, section, BEGIN, END)


if __name__ == "__main__":
    main()
