"""`groupbot simulate`: the WeCom simulator standalone, optionally feeding demo traffic to a service.

The service and the simulator must share keys. When the environment already holds WeCom settings
(GROUPBOT_CORP_ID, GROUPBOT_CALLBACK_TOKEN, ...), the simulator uses them; otherwise it makes
throw-away ones and writes them to an env file (mode 0600) to start the service with.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import err, fail, out
from bot.errors import ConfigError
from bot.settings import Settings
from bot.simulator.demo import DemoCredentials, DemoEnvironment, load_demo_config
from bot.simulator.faults import FaultConfig


def simulate(
    port: Annotated[int, typer.Option(help="Port of the fake qyapi and its page.")] = 8600,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    faults: Annotated[
        str, typer.Option(help="Faults to inject, e.g. 'server_error=0.1,timeout=0.05,token_expiry=0.02,seed=7'.")
    ] = "",
    traffic_to: Annotated[
        str | None, typer.Option(help="Base URL of a groupbot service to post demo callbacks to.")
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between demo messages.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the demo corpus.")] = 2026,
    env_file: Annotated[Path, typer.Option(help="Where to write throw-away credentials.")] = Path(".env.simulator"),
    duration: Annotated[float, typer.Option(help="Stop after this many seconds (0: until Ctrl-C).")] = 0.0,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="config.yaml to use (default: the demo's groups).")
    ] = None,
) -> None:
    """Run the WeCom simulator (fake qyapi, message record page, optional demo traffic)."""
    try:
        app_config = load_demo_config(config)
        fault_config = FaultConfig.parse(faults)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    settings = Settings()
    configured = settings.has_wecom_credentials
    credentials = DemoCredentials.from_settings(settings) if configured else DemoCredentials()
    robot_keys = {}
    for group in app_config.groups:
        key = settings.robot_key(group.robot) if group.robot else None
        if key:
            robot_keys[group.robot] = key
    demo = DemoEnvironment(
        app_config,
        service_url=traffic_to or settings.public_url,
        host=host,
        port=port,
        seed=seed,
        interval=interval,
        faults=fault_config,
        credentials=credentials,
        robot_keys=robot_keys,
        archive_private_pem=settings.archive_keys().get("1"),
        # The archive lives in this process; a service elsewhere gets group messages via its bridge.
        group_channel="bridge",
    )
    if not configured:
        env_file.write_text("\n".join(demo.env_lines()) + "\n", encoding="utf-8")
        os.chmod(env_file, 0o600)
        out.print(f"Throw-away WeCom credentials written to {env_file}; start the service with them.")
    if traffic_to and configured and settings.ingest_token is None:
        err.print("GROUPBOT_INGEST_TOKEN is not set: the service will refuse the demo's group messages (401).")
    demo.start(traffic=traffic_to is not None)
    out.print(f"WeCom simulator: API base {demo.api_base}")
    out.print(f"Messages WeCom would have shown: {demo.page_url}")
    if traffic_to:
        out.print(f"Posting {len(demo.messages)} demo messages to {traffic_to}, one every {interval:g} s.")
    try:
        deadline = time.monotonic() + duration if duration else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop()


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
