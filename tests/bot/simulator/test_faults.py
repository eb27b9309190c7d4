"""Injected faults look like WeCom's real failures and replay identically for one seed."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.errors import ConfigError
from bot.simulator.api import create_simulator_app
from bot.simulator.clock import ManualClock
from bot.simulator.faults import Fault, FaultConfig, FaultInjector
from bot.simulator.state import SimulatorState
from tests.helpers.simulator import running_simulator

KEY = "robot-key-south"


def post_robot(client, text: str = "【成交】周杰 签单 5万"):
    payload = {"msgtype": "text", "text": {"content": text}}
    return client.post("/cgi-bin/webhook/send", params={"key": KEY}, json=payload)


def outcomes(seed: int, n: int = 80) -> list[str]:
    state = SimulatorState(
        robots={KEY: KEY},
        clock=ManualClock(),
        faults=FaultConfig(server_error=0.1, rate_limit=0.1, untrusted_ip=0.05, seed=seed),
    )
    client = TestClient(create_simulator_app(state))
    seen = []
    for _ in range(n):
        answer = post_robot(client)
        seen.append(str(answer.status_code) if answer.status_code != 200 else str(answer.json()["errcode"]))
        state.robot_limit.reset()  # only injected faults may refuse here
    return seen


def test_a_seed_replays_the_same_faults_and_another_seed_does_not():
    first, again, other = outcomes(7), outcomes(7), outcomes(8)
    assert first == again
    assert first != other
    assert {"502", "45009", "60020", "0"} <= set(first)


def test_share_of_faults_follows_the_probabilities():
    injector = FaultInjector(FaultConfig(server_error=0.1, timeout=0.2, seed=11))
    seen = [injector.draw(send=True, uses_token=True) for _ in range(5000)]
    assert 0.08 < seen.count(Fault.SERVER_ERROR) / len(seen) < 0.12
    assert 0.18 < seen.count(Fault.TIMEOUT) / len(seen) < 0.22
    assert 0.67 < seen.count(None) / len(seen) < 0.73


def test_rate_limit_fault_comes_as_a_burst():
    injector = FaultInjector(FaultConfig(rate_limit=1.0, burst_length=3, seed=1))
    assert [injector.draw(send=True, uses_token=False) for _ in range(3)] == [Fault.RATE_LIMIT] * 3
    injector.configure(FaultConfig(seed=1))
    assert injector.draw(send=True, uses_token=False) is None


@pytest.mark.parametrize(
    ("config", "send", "uses_token", "expected"),
    [
        (FaultConfig(token_expiry=1.0), True, False, None),  # webhook: no token to expire
        (FaultConfig(token_expiry=1.0), True, True, Fault.TOKEN_EXPIRY),
        (FaultConfig(rate_limit=1.0), False, True, None),  # user/get is not a send
        (FaultConfig(untrusted_ip=1.0), False, False, Fault.UNTRUSTED_IP),
    ],
)
def test_faults_only_where_they_can_happen(config, send, uses_token, expected):
    assert FaultInjector(config).draw(send=send, uses_token=uses_token) is expected


def test_token_expiry_fault_revokes_the_token_for_good():
    state = SimulatorState(clock=ManualClock(), faults=FaultConfig(token_expiry=1.0))
    client = TestClient(create_simulator_app(state))
    access = client.get(
        "/cgi-bin/gettoken", params={"corpid": state.corp_id, "corpsecret": state.app.secret}
    ).json()["access_token"]
    message = {"touser": "lisi", "agentid": state.app.agent_id, "msgtype": "text", "text": {"content": "告警"}}
    def send(value: str) -> int:
        return client.post("/cgi-bin/message/send", params={"access_token": value}, json=message).json()["errcode"]

    assert send(access) == 42001
    client.put("/_sim/faults", json={})
    assert send(access) == 42001
    fresh = client.get(
        "/cgi-bin/gettoken", params={"corpid": state.corp_id, "corpsecret": state.app.secret}
    ).json()["access_token"]
    assert fresh != access
    assert send(fresh) == 0


def test_timeout_fault_stalls_past_the_client_timeout_and_delivers_nothing():
    faults = FaultConfig(timeout=1.0, timeout_seconds=1.0)
    with running_simulator(robots={"south": KEY}, faults=faults) as sim:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{sim.api_base}/webhook/send",
                params={"key": KEY},
                json={"msgtype": "text", "text": {"content": "第一条"}},
                timeout=0.2,
            )
        httpx.put(f"{sim.url}/_sim/faults", json={"seed": 3})
        ok = httpx.post(
            f"{sim.api_base}/webhook/send", params={"key": KEY}, json={"msgtype": "text", "text": {"content": "第二条"}}
        )
        assert ok.json()["errcode"] == 0
        assert [r.content for r in sim.messages(target="south")] == ["第二条"]


def test_faults_over_http_are_validated_with_a_reason():
    client = TestClient(create_simulator_app(SimulatorState(clock=ManualClock())))
    bad = client.put("/_sim/faults", json={"server_error": 0.8, "timeout": 0.5})
    assert bad.status_code == 422
    assert "more than 1" in bad.json()["detail"]
    assert client.put("/_sim/faults", json={"server_error": 0.3, "seed": 5}).status_code == 200
    assert client.get("/_sim/faults").json()["config"]["server_error"] == 0.3


@pytest.mark.parametrize(
    ("spec", "key"),
    [("server_error=2", "faults.server_error"), ("timeout", "faults.timeout"), ("bogus=1", "faults.bogus")],
)
def test_command_line_fault_spec_errors_name_the_key(spec, key):
    with pytest.raises(ConfigError) as caught:
        FaultConfig.parse(spec)
    assert caught.value.problems[0][0] == key


def test_command_line_fault_spec():
    assert FaultConfig.parse("server_error=0.1, timeout=0.05,seed=7") == FaultConfig(
        server_error=0.1, timeout=0.05, seed=7
    )
