"""`groupbot dispatch` (the dispatcher alone) and `groupbot outbox dead|requeue|status`."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.common import ConfigOption, config_or_exit, err, out
from handlers.context import system_clock


def _sessions():
    from bot.settings import Settings
    from storage.db import make_engine, make_session_factory

    settings = Settings()
    return settings, make_session_factory(make_engine(settings.database_url))


def register(app: typer.Typer) -> None:
    outbox_app = typer.Typer(help="Queued outgoing messages: status, dead letters, requeue.")
    app.add_typer(outbox_app, name="outbox")

    @app.command("dispatch")
    def dispatch_cmd(config: ConfigOption = None) -> None:
        """Send queued alerts and warnings to WeCom until interrupted (Ctrl-C finishes sends in flight)."""
        from bot.senders.service import Outbound

        cfg = config_or_exit(config)
        settings, sessions = _sessions()

        async def main() -> None:
            outbound = Outbound(cfg, settings, sessions)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, outbound.stop)
            out.print(f"dispatching as {outbound.dispatcher.owner} to {settings.wecom_api_base}")
            await outbound.run()

        asyncio.run(main())

    @outbox_app.command("status")
    def status_cmd() -> None:
        """How many messages are pending, being sent, sent and dead."""
        from storage import outbox

        _, sessions = _sessions()
        with sessions() as session:
            counts = outbox.count_by_status(session)
        for status in ("pending", "sending", "sent", "dead"):
            out.print(f"{status:8} {counts.get(status, 0)}")

    @outbox_app.command("dead")
    def dead_cmd(limit: int = typer.Option(50, help="show at most this many, newest first")) -> None:
        """List dead letters: messages WeCom refused for good or that ran out of retries."""
        from storage import outbox

        _, sessions = _sessions()
        with sessions() as session:
            rows = outbox.list_dead(session, limit=limit)
        if not rows:
            out.print("no dead letters")
            return
        table = Table("id", "channel", "target", "attempts", "created (UTC)", "why")
        for row in rows:
            table.add_row(str(row.id), row.channel, row.target, str(row.attempts),
                          f"{row.created_at:%Y-%m-%d %H:%M}", row.last_error or "")
        out.print(table)

    @outbox_app.command("requeue")
    def requeue_cmd(ids: Annotated[list[int], typer.Argument(help="dead letter id(s)")]) -> None:
        """Send dead letters again from scratch (after fixing what their error says)."""
        from storage import outbox

        _, sessions = _sessions()
        missing = []
        with sessions() as session:
            for item_id in ids:
                if outbox.requeue(session, item_id=item_id, now=system_clock()) is None:
                    missing.append(item_id)
            session.commit()
        if missing:
            err.print(f"not dead letters (or unknown ids): {', '.join(map(str, missing))}")
            raise typer.Exit(1)
        out.print(f"requeued {len(ids)} message(s)")
