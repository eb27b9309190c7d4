"""Soak: replicas of `groupbot run` on one fresh PostgreSQL database, WeCom traffic, kills and faults.

    .venv/bin/python -m bench.soak --seconds 180 --rate 200 --replicas 3 --report docs/reliability.md

Each replica is a real `groupbot run` process on its own port, pointed at the WeCom simulator (run
here, in a thread, with fault injection; its record judges deliveries). Group messages arrive as
bridge batches (`POST /ingest/messages`) posted with WeCom's retry behaviour (5 s timeout, 3 more
tries of the same body) spread over the replicas; a share of acknowledged batches is sent again to
another replica, as a load balancer in front of WeCom's retries would. Every `--kill-every` seconds
one replica gets SIGKILL and is started again; PostgreSQL restarts once halfway (`--no-restart-postgres` skips it).
Afterwards the replicas drain the inbox and outbox, stop, and `bench.soak_audit` counts.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from bench.soak_audit import Counts, audit
from bench.soak_fleet import Replica, Traffic
from bench.soak_report import write_report
from bot.config import load_config
from bot.simulator.demo import DEMO_CONFIG_PATH, DemoEnvironment
from bot.simulator.faults import FaultConfig
from storage import inbox
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import MessageRow, OutboxItemRow

REPO = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("GROUPBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_RESTART = "pg_ctlcluster --skip-systemctl-redirect {version} main restart"
#: 30 % of the simulator's answers are faults: gateway 5xx, timeouts past the client's, revoked tokens.
SOAK_FAULTS = FaultConfig(server_error=0.15, timeout=0.05, token_expiry=0.10, timeout_seconds=4.0, seed=8)
BURST_FAULTS = FaultConfig(server_error=0.7, timeout=0.1, token_expiry=0.2, timeout_seconds=4.0, seed=9)
ALL_JOBS = ("leaderboard", "reminders", "stale_clients", "digest", "missing_report", "monthly")


@dataclass
class SoakParams:
    seconds: float = 180.0
    rate: float = 200.0
    replicas: int = 3
    batch: int = 4
    kill_every: float = 20.0
    #: Stop killing after this many (None: keep killing every `kill_every` seconds).
    max_kills: int | None = None
    restart_postgres: bool = True
    faults: FaultConfig = field(default_factory=lambda: SOAK_FAULTS)
    #: (start after, lasting) seconds of BURST_FAULTS; None for none.
    fault_burst: tuple[float, float] | None = None
    duplicate_share: float = 0.05
    #: Share of messages that break an alerting rule (a mobile number; an incomplete 【跟进】 report).
    violation_share: float = 0.005
    #: Messages are dated this long before they are posted (a past burst bucket: grouped alerts due at once).
    sent_at_lag: timedelta = timedelta(0)
    burst_minutes: int = 1
    drain_timeout: float = 240.0
    workers: int = 24
    seed: int = 2026


@dataclass
class SoakResult:
    params: SoakParams
    counts: Counts
    sent: int = 0
    acknowledged: int = 0
    unacknowledged: int = 0
    duplicate_posts: int = 0
    traffic_seconds: float = 0.0
    kills: int = 0
    starts: int = 0
    postgres_restart: str = "not requested"
    faults_injected: dict[str, int] = field(default_factory=dict)
    sim_requests: int = 0
    drained: bool = False
    drain_seconds: float = 0.0
    #: (seconds since the first post, inbox rows waiting) every `BACKLOG_EVERY` seconds of traffic;
    #: None where the database did not answer (its restart).
    backlog: list[tuple[float, int | None]] = field(default_factory=list)
    #: Messages stored when the traffic stopped: what the replicas judged while it arrived.
    stored_during_traffic: int = 0

    @property
    def judged_rate(self) -> float:
        """Messages the replicas judged and stored per second, from the first post to the drained end."""
        elapsed = self.traffic_seconds + self.drain_seconds
        return self.counts.stored_total / elapsed if elapsed else 0.0

    @property
    def judged_rate_during_traffic(self) -> float:
        return self.stored_during_traffic / self.traffic_seconds if self.traffic_seconds else 0.0

    @property
    def achieved_rate(self) -> float:
        return self.acknowledged / self.traffic_seconds if self.traffic_seconds else 0.0


def soak_config(path: Path, workdir: Path, burst_minutes: int) -> Path:
    """The repository's config with the demo's groups and alerting that a soak can count: every job
    every minute, 1-min bursts. The shipped config.yaml lists no group; the demo's have robots."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    demo = yaml.safe_load(DEMO_CONFIG_PATH.read_text(encoding="utf-8"))
    data["groups"], data["members"] = demo["groups"], demo["members"]
    rules = data["rules"]
    rules["posting_window"]["action"] = "record"  # wall-clock traffic would break it on every message
    rules["frequency"]["action"] = "record"  # 200 msg/s breaks it for everyone; recorded, not sent
    rules["template"]["action"] = "warn_member"
    rules["sensitive"]["action"] = "alert_managers"
    for group in data["groups"]:
        group["rules"] = {}
    schedules = data["schedules"]
    for job in ALL_JOBS:
        schedules[job] = {**schedules[job], "enabled": True, "cron": "* * * * *", "workdays_only": False}
    schedules["reports_dir"] = str(workdir / "reports")
    data["outbox"] = {**(data.get("outbox") or {}), "burst_minutes": burst_minutes, "send_timeout_seconds": 3,
                      "backoff_max_seconds": 10, "lease_seconds": 10,
                      # Wall-clock traffic runs at night and on weekends too: warnings go out at once
                      # (held ones would wait for the next window and the drain would never end).
                      "quiet_hours": "off"}
    data["ingest"] = {**(data.get("ingest") or {}), "worker": {"batch_size": 50, "poll_seconds": 0.5,
                                                               "lease_seconds": 15}}
    out = workdir / "config.yaml"
    out.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out


def restart_postgres() -> str:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        return "failed: no /etc/postgresql cluster on this machine"
    command = PG_RESTART.format(version=versions[-1])
    done = subprocess.run(command.split(), capture_output=True, text=True, timeout=60)
    return f"ok ({command})" if done.returncode == 0 else f"failed ({command}: exit {done.returncode})"


#: Seconds between two samples of the inbox backlog during traffic.
BACKLOG_EVERY = 10.0


def backlog_and_stored(sessions) -> tuple[int | None, int | None]:
    """(inbox rows waiting, messages stored), or Nones while the database is away (its restart)."""
    try:
        with sessions() as session:
            return inbox.counts(session)["pending"], session.scalar(select(func.count()).select_from(MessageRow))
    except SQLAlchemyError:
        return None, None


def drained(sessions) -> bool:
    with sessions() as session:
        pending = inbox.counts(session)["pending"]
        open_rows = session.scalar(select(func.count()).where(OutboxItemRow.status.in_(("pending", "sending"))))
    return pending == 0 and not open_rows


def run_soak(params: SoakParams, *, say=print, pg_server: str = PG_SERVER) -> SoakResult:
    name = f"groupbot_soak_{uuid.uuid4().hex[:10]}"
    admin = make_engine(pg_server).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_server.rsplit("/", 1)[0] + "/" + name
    workdir = Path(tempfile.mkdtemp(prefix="groupbot-soak-"))
    engine = make_engine(url)
    try:
        upgrade(url)  # once here, so the replicas' own start-up migrations find nothing to do
        config_path = soak_config(REPO / "config.yaml", workdir, params.burst_minutes)
        demo = DemoEnvironment(load_config(config_path), group_channel="bridge", faults=params.faults)
        demo.start(traffic=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPBOT_") and k != "DATABASE_URL"}
        env |= {f"GROUPBOT_{k.upper()}": str(v) for k, v in demo.settings_overrides().items()}
        env |= {"DATABASE_URL": url, "GROUPBOT_CONFIG": str(config_path),
                "GROUPBOT_SECRET_KEY": secrets.token_urlsafe(48), "GROUPBOT_PUBLIC_URL": "http://127.0.0.1:8000"}
        replicas = [Replica(i, env, workdir) for i in range(params.replicas)]
        for replica in replicas:
            replica.start()
        if not all(r.ready(90) for r in replicas):
            raise RuntimeError(f"a replica did not start; logs in {workdir}")
        say(f"soak: {params.replicas} replicas up, database {name}, logs {workdir}")
        result = SoakResult(params, Counts())
        result.faults_injected = {}
        traffic = Traffic(params, replicas, demo.credentials.ingest_token)
        stop = threading.Event()
        feeder = threading.Thread(target=traffic.run, args=(stop,), daemon=True)
        t0 = time.monotonic()
        feeder.start()
        next_kill, burst_state, pg_done = params.kill_every, "before", not params.restart_postgres
        sessions = make_session_factory(engine)
        next_sample = BACKLOG_EVERY

        def tally() -> None:
            for fault in demo.state.faults.injected:
                result.faults_injected[fault.value] = result.faults_injected.get(fault.value, 0) + 1

        while feeder.is_alive():
            now = time.monotonic() - t0
            if params.kill_every and now >= next_kill and result.kills != params.max_kills:
                victim = replicas[result.kills % len(replicas)]
                victim.kill()
                victim.start()
                result.kills += 1
                say(f"soak: {now:5.1f}s kill -9 replica {victim.index}, restarted")
                next_kill += params.kill_every
            if params.fault_burst and burst_state == "before" and now >= params.fault_burst[0]:
                tally()
                demo.state.faults.configure(BURST_FAULTS)
                burst_state = "during"
            elif params.fault_burst and burst_state == "during" and now >= sum(params.fault_burst):
                tally()
                demo.state.faults.configure(params.faults)
                burst_state = "after"
            if not pg_done and now >= params.seconds / 2:
                result.postgres_restart = restart_postgres()
                say(f"soak: {now:5.1f}s PostgreSQL restart {result.postgres_restart}")
                pg_done = True
            if now >= next_sample:
                result.backlog.append((round(now), backlog_and_stored(sessions)[0]))
                next_sample += BACKLOG_EVERY
            time.sleep(0.2)
        result.stored_during_traffic = backlog_and_stored(sessions)[1] or 0
        for replica in replicas:
            if replica.proc is None or replica.proc.poll() is not None:
                replica.start()
        say("soak: traffic done; waiting for the replicas to drain the inbox and outbox")
        started = time.monotonic()
        while time.monotonic() - started < params.drain_timeout:
            if drained(sessions):
                result.drained = True
                break
            time.sleep(1.0)
        result.drain_seconds = time.monotonic() - started
        for replica in replicas:
            replica.stop()
        tally()
        demo.stop()
        records = list(demo.state.records)
        result.sim_requests = len(records)
        result.sent, result.acknowledged = traffic.sent, len(traffic.acknowledged)
        result.unacknowledged, result.duplicate_posts = traffic.unacknowledged, traffic.duplicates
        result.traffic_seconds, result.starts = traffic.elapsed, sum(r.starts for r in replicas)
        with sessions() as session:
            result.counts = audit(session, records, traffic.acknowledged, burst_minutes=params.burst_minutes)
        return result
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second offered")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=20.0)
    parser.add_argument("--no-restart-postgres", action="store_true")
    parser.add_argument("--violation-share", type=float, default=0.005,
                        help="share of messages that break an alerting rule")
    parser.add_argument("--drain-timeout", type=float, default=900.0,
                        help="seconds to wait after the traffic for the inbox and outbox to empty")
    parser.add_argument("--report", type=Path, help="write the counts to this Markdown file")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    params = SoakParams(seconds=args.seconds, rate=args.rate, replicas=args.replicas, kill_every=args.kill_every,
                        restart_postgres=not args.no_restart_postgres, drain_timeout=args.drain_timeout,
                        violation_share=args.violation_share)
    result = run_soak(params)
    print(json.dumps(result.counts.to_json(), ensure_ascii=False, indent=1))
    print(f"achieved {result.achieved_rate:.1f} msg/s acknowledged; exactly once: {result.counts.exactly_once}")
    if args.report:
        write_report(args.report, result, command=" ".join([".venv/bin/python -m bench.soak", *argv]))
    return 0 if result.counts.exactly_once else 1


if __name__ == "__main__":
    raise SystemExit(main())
