"""`groupbot run`: refuses a bad config like check-config does; with no WeCom credentials the demo
traffic lands in the database (the real process, uvicorn, simulator and all)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from bot.cli import app
from bot.simulator.serve import free_port
from tests.conftest import REPO


def test_run_refuses_an_invalid_config_with_the_check_config_message(tmp_path: Path) -> None:
    bad = tmp_path / "config.yaml"
    bad.write_text((REPO / "config.yaml").read_text(encoding="utf-8") + "\nbogus_key: 1\n", encoding="utf-8")
    runner = CliRunner()
    run = runner.invoke(app, ["run", "--config", str(bad), "--port", str(free_port())])
    check = runner.invoke(app, ["check-config", str(bad)])
    assert (run.exit_code, check.exit_code) == (2, 2)
    assert "bogus_key" in run.output
    assert run.output == check.output


def test_run_refuses_a_bad_environment_variable_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GROUPBOT_ENCODING_AES_KEY", "too-short")
    result = CliRunner().invoke(app, ["run", "--port", str(free_port())])
    assert result.exit_code == 2
    assert "GROUPBOT_ENCODING_AES_KEY" in result.output
    assert "too-short" not in result.output


@pytest.mark.slow
def test_demo_mode_serves_and_the_demo_traffic_is_judged_into_the_database(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "demo.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUPBOT_") and k != "DATABASE_URL"}
    env["DATABASE_URL"] = f"sqlite:///{db}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        stored = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stored < 2:
            time.sleep(0.5)
            if db.exists():
                engine = create_engine(f"sqlite:///{db}")
                try:
                    with engine.connect() as conn:
                        stored = conn.execute(text("select count(*) from messages")).scalar_one()
                except Exception:  # tables not migrated yet
                    stored = 0
                finally:
                    engine.dispose()
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert stored >= 2
    assert health["status"] == "ok" and health["tasks"]["inbox-worker"] == "running"
    assert "demo mode" in out and f"http://127.0.0.1:{port}/dashboard/" in out
    # The demo signs sessions with its own random key, kept next to its database for the next start.
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_run_with_an_unreachable_database_names_it_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://groupbot:s3cret-pw@127.0.0.1:{free_port()}/groupbot")
    result = CliRunner().invoke(app, ["run", "--port", str(free_port())])
    output = " ".join(result.output.split())  # rich wraps long lines
    assert result.exit_code == 1
    assert "unreachable at start-up" in output and "groupbot:***@127.0.0.1" in output
    assert "s3cret-pw" not in output


@pytest.mark.parametrize(
    ("demo", "groups"),
    [(True, ["wr-sales-east", "wr-sales-south"]), (False, [])],
    ids=["demo-mode-loads-the-demo-groups", "real-wecom-loads-the-shipped-config"],
)
def test_without_a_config_demo_mode_runs_the_demo_configuration(demo: bool, groups: list[str]) -> None:
    from bot.cli.run import config_to_serve

    config = config_to_serve(None, demo=demo)
    assert [g.chat_id for g in config.groups] == groups
    assert config.rules.frequency.limit == 10  # the company-wide rules are the contract's in both


def test_a_given_config_is_served_as_is_even_in_demo_mode(shipped_config) -> None:
    from bot.cli.run import config_to_serve

    assert config_to_serve(shipped_config, demo=True) is shipped_config


def test_a_taken_port_is_one_line_and_exit_2_before_any_banner_or_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["run", "--port", str(port)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"cannot listen on 127.0.0.1:{port} (already in use); another groupbot? "
        "Choose a free port: groupbot run --port 8080, or make run PORT=8080"
    ]
    assert not (tmp_path / "data").exists()  # nothing started: no database, no demo, no password


def test_make_run_takes_the_port_from_make() -> None:
    dry = subprocess.run(["make", "-n", "run", "PORT=8080"], cwd=REPO, capture_output=True, text=True, check=True)
    assert "groupbot run --port 8080" in dry.stdout
