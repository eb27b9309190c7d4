"""Outbound dispatch benchmark: commit-to-receipt latency, and draining a backlog at WeCom's ceiling.

The WeCom simulator runs under uvicorn in a thread on 127.0.0.1 (the same as the flow tests); the
dispatcher is the real one (`bot.senders.service.Outbound`) against a real database.

1. Latency (wall clock): alerts are committed at a steady rate that stays under every limit
   (at 10 commits/s: robot posts over 50 robots ≈ 10/min each, manager alerts over 8 managers
   = 15/min each) while the dispatcher runs as
   it does in the service (`poll_seconds` from config.yaml). Latency = the simulator's receipt time
   minus the commit time of the row. Target: p99 < 1 s.
2. Backlog (simulated clock): 10,000 robot posts queued at once for 50 robots. The robots' limit
   (20 per rolling minute each, with groupbot's 1-second margin) allows at most 1,000 a minute in
   total, so the drain needs ≥ 9 minutes of WeCom time. The dispatcher and the simulator share a
   manual clock that moves only when the dispatcher has nothing due, to the moment the next row is
   due; the simulated makespan therefore measures pacing alone (ceiling = the theoretical
   minimum), and the wall-clock time shows how much faster than the ceiling the dispatcher could
   go, i.e. that in real time it is never the bottleneck.

    .venv/bin/python bench/bench_dispatch.py                       # SQLite file
    .venv/bin/python bench/bench_dispatch.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.config import load_config  # noqa: E402
from bot.senders.service import Outbound  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.simulator.api import create_simulator_app  # noqa: E402
from bot.simulator.clock import ManualClock, advance_to_next_due  # noqa: E402
from bot.simulator.serve import serve_in_thread  # noqa: E402
from bot.simulator.state import SimulatorState, Status  # noqa: E402
from handlers.context import system_clock  # noqa: E402
from storage import outbox  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.models import Base  # noqa: E402

ROBOTS = {f"robot{n:02d}": f"bench-key-{n:04d}" for n in range(50)}
TAG = re.compile(r"#\d{5}")
MANAGERS = ["lisi", "wangfang", "zhaolei", "liuyang", "chenjing", "sunli", "zhoujie", "wuhao"]


def fresh_database(url: str | None, tmp: Path):
    url = url or f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return engine


def settings_for(state: SimulatorState, api_base: str) -> Settings:
    return Settings(wecom_api_base=api_base, corp_id=state.corp_id, app_secret=state.app.secret,
                    agent_id=state.app.agent_id, robot_keys=json.dumps(ROBOTS))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def latency(engine, count: int, rate: float) -> dict:
    config = load_config()
    factory = make_session_factory(engine)
    state = SimulatorState(robots=ROBOTS, clock=system_clock)
    committed: dict[str, datetime] = {}
    with serve_in_thread(create_simulator_app(state)) as server:
        out = Outbound(config, settings_for(state, server.api_base), factory)
        task = asyncio.create_task(out.run())
        await asyncio.sleep(0.5)
        start = time.perf_counter()
        for n in range(count):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            tag = f"#{n:05d}"
            if n % 5 == 4:  # one in five is a manager alert: 15/min per manager at 10 commits/s
                channel, target = "app", MANAGERS[(n // 5) % len(MANAGERS)]
                body = {"msgtype": "markdown", "markdown": {"content": f"**【违规提醒】华东销售群** {tag}"}}
            else:
                channel, target = "robot", f"robot{n % 50:02d}"
                body = {"msgtype": "text", "text": {"content": f"张伟，温馨提醒：请在工作时段发送。{tag}"}}

            def commit(key=f"lat{n}", channel=channel, target=target, body=body) -> None:
                with factory() as session:
                    outbox.enqueue(session, key=key, channel=channel, target=target, payload=body,
                                   now=system_clock(), not_before=system_clock())
                    session.commit()

            await asyncio.to_thread(commit)
            committed[tag] = datetime.now(UTC)
        deadline = time.perf_counter() + 30
        while len(state.query(status="delivered")) < count and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        out.stop()
        await task
    received = {TAG.search(r.content).group(0): r.at for r in state.query(status="delivered")}
    lat = [(received[tag] - at).total_seconds() for tag, at in committed.items() if tag in received]
    return {
        "sent": count, "received": len(lat), "p50": percentile(lat, 50), "p95": percentile(lat, 95),
        "p99": percentile(lat, 99), "max": max(lat), "mean": statistics.fmean(lat),
    }


async def backlog(engine, count: int) -> dict:
    config = load_config()
    factory = make_session_factory(engine)
    clock = ManualClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    state = SimulatorState(robots=ROBOTS, clock=clock)
    t0 = clock()
    with factory() as session:
        for n in range(count):
            outbox.enqueue(session, key=f"bl{n}", channel="robot", target=f"robot{n % 50:02d}", now=t0, not_before=t0,
                           payload={"msgtype": "text", "text": {"content": f"本周排行榜 #{n:05d}"}})
        session.commit()
    with serve_in_thread(create_simulator_app(state)) as server:
        out = Outbound(config, settings_for(state, server.api_base), factory, clock=clock)
        wall = time.perf_counter()
        while True:
            outcome = await out.dispatcher.run_once()
            if not outcome.total and not advance_to_next_due(clock, factory, min_step=0.001):
                break
        wall = time.perf_counter() - wall
        await out.client.aclose()
    records = state.query(api="webhook/send")
    delivered = [r for r in records if r.status == Status.DELIVERED]
    per_robot: dict[str, list[datetime]] = defaultdict(list)
    for r in delivered:
        per_robot[r.target].append(r.at)
    worst = 0
    for times in per_robot.values():
        times.sort()
        j = 0
        for i, t in enumerate(times):
            while times[j] <= t - timedelta(seconds=60):
                j += 1
            worst = max(worst, i - j + 1)
    makespan = (max(r.at for r in delivered) - t0).total_seconds()
    per_robot_count = count // 50
    # WeCom's own ceiling: 20 at t=0, then 20 more every 60 s; groupbot's pacing uses 61 s.
    wecom_min = (math.ceil(per_robot_count / 20) - 1) * 60
    ours_min = wecom_min / 60 * 61
    return {
        "queued": count, "delivered": len(delivered), "distinct": len(Counter(r.content for r in delivered)),
        "rate_limited_45009": sum(1 for r in records if r.status == Status.RATE_LIMITED),
        "makespan_s": makespan, "wecom_minimum_s": wecom_min, "paced_minimum_s": ours_min,
        "of_wecom_ceiling": wecom_min / makespan if makespan else 1.0,
        "max_per_robot_in_60s": worst, "wall_s": wall, "sends_per_wall_s": len(delivered) / wall,
        "ceiling_per_s": 50 * 20 / 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--latency-messages", type=int, default=400)
    parser.add_argument("--rate", type=float, default=10.0, help="latency run: commits per second")
    parser.add_argument("--backlog", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = fresh_database(args.database_url, Path(tmp))
        lat = asyncio.run(latency(engine, args.latency_messages, args.rate))
        print(f"database: {engine.dialect.name}")
        print("latency commit -> simulator receipt: "
              + ", ".join(f"{k}={v:.3f}s" if isinstance(v, float) else f"{k}={v}" for k, v in lat.items()))
        engine = fresh_database(args.database_url, Path(tmp))
        bl = asyncio.run(backlog(engine, args.backlog))
        print("backlog: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in bl.items()))
        engine.dispose()
    ok = lat["p99"] < 1.0 and bl["delivered"] == bl["distinct"] == args.backlog and bl["max_per_robot_in_60s"] <= 20
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
