"""The WeCom simulator under uvicorn on 127.0.0.1, for flow tests (senders, dispatcher, demo).

    from tests.helpers.simulator import SimulatorHandle, running_simulator

    def test_alert_reaches_manager():
        with running_simulator(robots={"east": "key-east"}) as sim:
            settings = Settings(wecom_api_base=sim.api_base, corp_id=sim.state.corp_id,
                                app_secret=sim.state.app.secret, agent_id=sim.state.app.agent_id,
                                robot_keys='{"east": "key-east"}')
            ...                                   # run the code under test
            sim.clock.advance(61)                 # a minute passes, no sleep
            assert sim.messages(api="webhook/send", status="delivered")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from bot.simulator.api import create_simulator_app
from bot.simulator.clock import ManualClock
from bot.simulator.faults import FaultConfig
from bot.simulator.serve import RunningServer, serve_in_thread
from bot.simulator.state import Record, SimulatorState


@dataclass(frozen=True)
class SimulatorHandle:
    server: RunningServer
    state: SimulatorState
    clock: ManualClock

    @property
    def api_base(self) -> str:
        return self.server.api_base

    @property
    def url(self) -> str:
        return self.server.url

    def messages(self, **filters: str) -> list[Record]:
        """The record, filtered like `GET /_sim/messages` (api, target, status, contains, recipient)."""
        return self.state.query(**filters)


@contextmanager
def running_simulator(
    *,
    robots: dict[str, str] | None = None,
    faults: FaultConfig | None = None,
    token_ttl: timedelta = timedelta(seconds=7200),
    clock: ManualClock | None = None,
) -> Iterator[SimulatorHandle]:
    clock = clock or ManualClock()
    state = SimulatorState(robots=robots, faults=faults, token_ttl=token_ttl, clock=clock)
    with serve_in_thread(create_simulator_app(state)) as server:
        yield SimulatorHandle(server, state, clock)
