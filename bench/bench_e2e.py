"""Judged end to end against the engine alone, and `groupbot replay --store`, on SQLite and PostgreSQL.

1. End to end: N messages (40 chats, 300 reps, about 5 % violations) posted to `/ingest/messages` in
   batches of 500 to a server (uvicorn, one process) running its inbox worker; timed from the first
   post until the inbox is drained. Divided by engine-only `groupbot replay` of the same file (in
   this process, output discarded): the ratio is what storing, the inbox and HTTP cost.
2. `groupbot replay --store` of M lines (a child process): msg/s and the child's peak RSS.

    .venv/bin/python bench/bench_e2e.py                          # 50,000 end to end, 1,000,000 stored
    .venv/bin/python bench/bench_e2e.py --messages 10000 --store-lines 100000 --db sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_callback import database, pg_available, spawned  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOKEN = "bench-ingest-token-0123456789"
CHATTER = [
    "收到", "好的，马上处理", "今天下午去华星科技拜访王总", "早会纪要已发群文件，大家看一下", "客户说下周再聊",
    "报价单已经发给客户了", "明天上午有空吗？一起去远航物流", "辛苦了👍", "合同已盖章寄出", "回款 58000 元已到账",
    "订单号 20260302153045 已同步", "已脱敏：138****5678", "仓库面积 3500 平，货架 120 组",
]  # fmt: skip
REPORT = (
    "【跟进】客户姓名：{who}\n公司名称：{company}\n联系方式：138****5678\n需求描述：仓储系统改造\n"
    "上次沟通时间：昨天\n下一步行动计划：下周三上门演示"
)
DEAL = "【成交】客户：{who}，公司：{company}，成交金额：12.5万元"
VIOLATING = [
    "王总手机13812345678，回头加一下",  # sensitive
    "【跟进】客户姓名：{who} 公司名称：{company} 需求描述：冷链温控",  # template: fields missing
    "客户公司负债很高，贷款还没还清",  # sensitive (financial)
]


def make_lines(n: int, *, chats: int = 40, senders: int = 300, seed: int = 11) -> list[str]:
    """JSON lines in the replay format: a working morning (09:00-11:00 on workdays) spread over days."""
    rng = random.Random(seed)
    day = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # a Monday
    per_day = 7200  # one message a second within the window
    reps = [f"rep{i:03d}" for i in range(senders)]
    groups = [f"wr-bench-{i:02d}" for i in range(chats)]
    out = []
    for i in range(n):
        days, second = divmod(i, per_day)
        sent = day + timedelta(days=days + 2 * (days // 5), seconds=second)  # skip weekends
        roll = rng.random()
        who, company = rng.choice(["王总", "李总", "赵总"]), f"公司{rng.randrange(500)}"
        if roll < 0.05:
            text = rng.choice(VIOLATING).format(who=who, company=company)
        elif roll < 0.13:
            text = REPORT.format(who=who, company=company)
        elif roll < 0.15:
            text = DEAL.format(who=who, company=company)
        else:
            text = rng.choice(CHATTER)
        out.append(json.dumps({"msgid": f"e2e-{seed}-{i}", "chat_id": rng.choice(groups), "sender": rng.choice(reps),
                               "sent_at": sent.isoformat(), "text": text}, ensure_ascii=False))
    return out


def bench_config():
    """config.yaml with the 40 groups (two managers and a robot each) and alerts for any age: the posted
    history is judged as live traffic (warnings and alerts rendered and queued), not as a silent import."""
    from bot.config import GroupConfig, load_config

    config = load_config()
    groups = tuple(
        GroupConfig(chat_id=f"wr-bench-{i:02d}", name=f"销售{i:02d}组", managers=(f"mgr{i:02d}a", f"mgr{i:02d}b"),
                    robot=f"robot{i:02d}")
        for i in range(40)
    )
    ingest = config.ingest.model_copy(update={"alert_max_age": timedelta(days=3650)})
    return config.model_copy(update={"groups": groups, "ingest": ingest})


def engine_only(lines: list[str]) -> float:
    """msg/s of `groupbot replay` without a database (the same code path, output discarded)."""
    from handlers.replay import memory_judge, replay
    from rules.engine import RuleEngine

    config = bench_config()
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    started = time.perf_counter()
    replay(lines, memory_judge(engine), lambda _line: None)
    return len(lines) / (time.perf_counter() - started)


def violation_share(lines: list[str]) -> float:
    from handlers.replay import memory_judge, replay
    from rules.engine import RuleEngine

    config = bench_config()
    engine = RuleEngine.from_config(config.rules, config.group_rules())
    flagged = 0

    def count(line: str) -> None:
        nonlocal flagged
        flagged += bool(json.loads(line)["violations"])

    replay(lines, memory_judge(engine), count)
    return flagged / len(lines)


# -- end to end -------------------------------------------------------------------------------------


def serve(db_url: str, port: int) -> None:
    import uvicorn

    from bot.app import create_app, run_inbox_worker
    from bot.settings import Settings
    from storage.db import make_engine
    from storage.migrate import upgrade

    upgrade(db_url)
    settings = Settings(_env_file=None, database_url=db_url, secret_key=secrets.token_urlsafe(48), ingest_token=TOKEN)
    # The inbox worker only: the dispatcher would try to reach the real qyapi.
    app = create_app(bench_config(), settings, make_engine(db_url), background=True,
                     tasks={"inbox-worker": run_inbox_worker})
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def pending(db_url: str) -> int:
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("select count(*) from inbox_events where processed_at is null and error is null"
                                     )).scalar_one()
    finally:
        engine.dispose()


def end_to_end(kind: str, lines: list[str], *, batch: int = 500, time_limit: float = 1800) -> dict:
    items = [json.loads(line) for line in lines]
    with database(kind) as url:
        with spawned([__file__, "--serve", "--db-url", url], "bench_e2e_server.log") as (base, _pid):
            headers = {"Authorization": f"Bearer {TOKEN}"}
            accepted = 0
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                started = time.perf_counter()
                for start in range(0, len(items), batch):
                    answer = client.post("/ingest/messages", json=items[start : start + batch]).json()
                    accepted += answer["accepted"]
                posted = time.perf_counter() - started
                while pending(url) and time.perf_counter() - started < time_limit:
                    time.sleep(0.2)
                drained = time.perf_counter() - started
            left = pending(url)
        result = {"database": kind, "messages": len(items), "accepted": accepted, "left": left,
                  "ingest_msg_s": len(items) / posted, "judged_msg_s": len(items) / drained, "seconds": drained}
        print(json.dumps(result), flush=True)  # before the database is dropped (which can take a while)
    return result


# -- replay --store -----------------------------------------------------------------------------------


def replay_store(kind: str, lines_file: Path, n: int) -> dict:
    """`groupbot replay --store` as a child process: msg/s and its peak RSS (wait4's ru_maxrss)."""
    with database(kind) as url:
        env = {**os.environ, "GROUPBOT_DATABASE_URL": url, "GROUPBOT_SECRET_KEY": secrets.token_urlsafe(48)}
        cmd = [str(Path(sys.executable).with_name("groupbot")), "replay", "--store", str(lines_file), "-o", os.devnull]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
    return {"database": kind, "lines": n, "msg_s": n / seconds, "seconds": seconds,
            "peak_rss_mib": usage.ru_maxrss / 1024, "exit": proc.returncode,
            "stderr_tail": err if proc.returncode else ""}


def run(kinds: list[str], messages: int, store_lines: int) -> dict:
    lines = make_lines(messages)
    out: dict = {"messages": messages, "violation_share": violation_share(lines) if lines else 0, "e2e": [],
                 "store": []}
    for kind in kinds if lines else ():
        engine_rate = engine_only(lines)  # measured next to each run: the machine is shared
        result = end_to_end(kind, lines)
        result["engine_only_msg_s"] = engine_rate
        result["ratio"] = result["judged_msg_s"] / engine_rate
        out["e2e"].append(result)
        print(json.dumps(result), flush=True)
    if store_lines:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "store.jsonl"
            with path.open("w", encoding="utf-8") as f:
                for start in range(0, store_lines, 50_000):
                    chunk = make_lines(min(50_000, store_lines - start), seed=1000 + start)
                    f.write("\n".join(chunk) + "\n")
            for kind in kinds:
                result = replay_store(kind, path, store_lines)
                out["store"].append(result)
                print(json.dumps(result), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--messages", type=int, default=50_000, help="0: skip the end-to-end run")
    parser.add_argument("--store-lines", type=int, default=1_000_000, help="0: skip replay --store")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.db_url, args.port)
        return
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in kinds and not pg_available():
        print("PostgreSQL at 127.0.0.1:5432 not reachable: skipping it")
        kinds.remove("postgres")
    result = run(kinds, args.messages, args.store_lines)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
