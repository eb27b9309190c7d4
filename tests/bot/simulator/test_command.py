"""`groupbot simulate`: serves, writes throw-away keys the service can load, refuses bad --faults."""

from __future__ import annotations

import stat

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.settings import Settings
from tests.conftest import DEMO_CONFIG

runner = CliRunner()


@pytest.mark.parametrize("config_args", [[], ["-c", str(DEMO_CONFIG)]], ids=["default", "explicit"])
def test_simulate_writes_loadable_throwaway_credentials(tmp_path, config_args):
    """Without --config the simulator runs the demo's groups, robots included."""
    env = tmp_path / ".env.simulator"
    result = runner.invoke(app, ["simulate", "--port", "0", "--duration", "0.2", "--env-file", str(env), *config_args])
    assert result.exit_code == 0, result.output
    assert "/_sim/" in result.output
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    settings = Settings(_env_file=env)
    assert settings.has_app_callback and settings.has_aibot
    assert settings.robot_key("east") and settings.robot_key("south")
    assert settings.app_secret.get_secret_value() not in result.output


def test_simulate_reuses_the_services_keys_when_configured(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUPBOT_CORP_ID", "wwreal0000000001")
    monkeypatch.setenv("GROUPBOT_CALLBACK_TOKEN", "callback-token-for-tests")
    monkeypatch.setenv("GROUPBOT_ENCODING_AES_KEY", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C")
    env = tmp_path / ".env.simulator"
    result = runner.invoke(app, ["simulate", "--port", "0", "--duration", "0.2", "--env-file", str(env)])
    assert result.exit_code == 0, result.output
    assert not env.exists()


@pytest.mark.parametrize(
    ("faults", "keys"),
    [
        ("server_error=1.5", ["faults.server_error"]),
        ("timeout,bogus=1", ["faults.timeout", "faults.bogus"]),
        ("server_error=0.6,timeout=0.6", ["faults"]),
    ],
)
def test_simulate_refuses_bad_faults_naming_each_key(faults, keys, tmp_path):
    result = runner.invoke(app, ["simulate", "--faults", faults, "--duration", "0.1",
                                 "--env-file", str(tmp_path / "e")])
    assert result.exit_code == 2
    for key in keys:
        assert f"{key}:" in result.output
