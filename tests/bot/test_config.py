"""config.yaml validation: every problem is named by key path and line; the default file is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import key_path, load_config, parse_config
from bot.errors import ConfigError
from rules.registry import RULES
from tests.conftest import DEMO_CONFIG, REPO

runner = CliRunner()


def test_default_config_is_valid_and_enforces_the_contract_defaults() -> None:
    config = load_config(REPO / "config.yaml")
    assert config == parse_config("{}")  # the shipped file says exactly what the defaults say
    assert (config.groups, config.members) == ((), {})  # groups appear only as commented examples
    rules = config.rules
    assert [str(w) for w in rules.posting_window.windows] == ["09:00-11:00", "14:00-17:00"]
    assert rules.posting_window.urgent_markers == ("【紧急】", "[紧急]", "#紧急")
    assert (rules.frequency.limit, rules.frequency.window_minutes) == (10, 60)
    assert rules.template.prefixes == ("【跟进】", "#跟进")
    assert rules.template.fields["contact"].aliases == ("电话", "手机", "联系电话", "微信")
    assert rules.deals.amount_labels == ("成交金额", "签单金额", "合同金额")
    assert rules.content_type.enabled is False
    assert {name: getattr(rules, name).exempt_members for name in RULES} == dict.fromkeys(RULES, ())
    assert rules.policy.exempt_members == ()


def test_group_override_is_merged_over_company_rules() -> None:
    config = load_config(DEMO_CONFIG)
    south = config.rules.with_overrides(config.group("wr-sales-south").rules)
    assert south.frequency.limit == 15
    assert south.frequency.window_minutes == 60
    assert config.rules.frequency.limit == 10


@pytest.mark.parametrize(
    ("yaml_text", "expected_key", "expected_words"),
    [
        ("groups:\n  - chat_id: a\n    name: A\n  - chat_id: b\n", "groups[1].name (line 4)", "Field required"),
        ("rules:\n  frequency:\n    limit: 0\n", "rules.frequency.limit (line 3)", "greater than or equal to 1"),
        ("rules:\n  posting_window:\n    windows: ['9-11']\n", "rules.posting_window.windows[0]", "HH:MM-HH:MM"),
        ("rules:\n  frequency:\n    action: shout\n", "rules.frequency.action (line 3)", "record"),
        ("rules:\n  sensitive:\n    custom_patterns: [{name: x, regex: '('}]\n",
         "rules.sensitive.custom_patterns[0].regex", "invalid regular expression"),
        # Patterns that need backtracking are refused: they could freeze the service (issue 11 item 2).
        ("rules:\n  sensitive:\n    custom_patterns: [{name: x, regex: '(\\d)\\1{5}'}]\n",
         "rules.sensitive.custom_patterns[0].regex (line 3)", "linear-time engine"),
        ("groups:\n  - chat_id: a\n    name: A\n    rules:\n      sensitive:\n        custom_patterns:\n"
         "          - {name: arrears, regex: '欠(?=款)'}\n",
         "groups[0].rules.sensitive", "invalid perl operator: (?="),
        ("groups:\n  - chat_id: a\n    name: A\n    rules: {frequency: {limit: -1}}\n",
         "groups[0].rules.frequency.limit", "greater than or equal to 1"),
        ("groups:\n  - chat_id: a\n    name: A\n    rules: {flood: {limit: 3}}\n", "groups[0].rules", "unknown rule"),
        ("rules:\n  content_type:\n    allowed: [RedPacket]\n", "rules.content_type.allowed (line 3)",
         "'RedPacket' is not a msgtype"),
        ("rules:\n  sensitive:\n    exempt_members: lisi\n", "rules.sensitive.exempt_members (line 3)", "tuple"),
        ("groups:\n  - chat_id: a\n    name: A\n    rules: {sensitive: {exempt_members: ['']}}\n",
         "groups[0].rules.sensitive.exempt_members[0]", "at least 1 character"),
        ("schedules:\n  leaderboard: {cron: 'every monday'}\n", "schedules.leaderboard.cron (line 2)", "cron"),
        ("timezone: Mars/Olympus\n", "timezone (line 1)", "unknown time zone"),
        ("colour: blue\n", "colour (line 1)", "Extra inputs are not permitted"),
        ("timezone: Asia/Shanghai\n  rules: 2\n", "line 2", "not valid YAML"),
    ],
)
def test_invalid_config_names_the_key_and_line(yaml_text: str, expected_key: str, expected_words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml_text)
    keys = [key for key, _ in caught.value.problems]
    assert any(key.startswith(expected_key) for key in keys), keys
    assert expected_words in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    text = "rules:\n  frequency: {limit: 0, window_minutes: 0}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert {key.split(" ")[0] for key, _ in caught.value.problems} == {
        "rules.frequency.limit",
        "rules.frequency.window_minutes",
    }


def test_key_path_formatting() -> None:
    assert key_path(("groups", 2, "managers")) == "groups[2].managers"
    assert key_path(()) == "(top level)"


def test_check_config_cli_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("groups:\n  - chat_id: x\n    name: X\n    managers: lisi\n", encoding="utf-8")
    result = runner.invoke(app, ["check-config", str(bad)])
    assert result.exit_code == 2
    assert "groups[0].managers" in result.output


def test_check_config_cli_accepts_the_default_file() -> None:
    result = runner.invoke(app, ["check-config", str(REPO / "config.yaml")])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("yaml_text", "expected_key", "expected_words"),
    [
        # An unclosed quote is noticed at the end of the file, an unclosed bracket and a missing colon
        # on the next line; the line to fix is where each starts.
        ("groups:\n  - chat_id: 'a\n    name: A\n    robot: east\nmembers: {}\n", "line 2", "noticed on line 6"),
        ("groups:\n  - chat_id: a\n    managers: [lisi, zhaolei\n    name: A\n", "line 3", "expected ',' or ']'"),
        ("groups:\n  - chat_id: a\n    name A\n    robot: east\n", "line 3", "could not find expected ':'"),
        ("groups:\n  - chat_id: a\n    name: A\n   robot: east\n", "line 4", "expected <block end>"),
        # YAML would keep the second silently.
        ("groups:\n  - chat_id: a\n    name: A\n    managers: [lisi]\n    managers: [zhaolei]\n",
         "groups[0].managers (line 5)", "duplicate key 'managers' (first on line 4)"),
        ("timezone: Asia/Shanghai\ntimezone: UTC\n", "timezone (line 2)", "first on line 1"),
        ("groups:\n  - chat_id: a\n    name: A\n  - chat_id: b\n    name: B\n  - chat_id: a\n    name: C\n",
         "groups[2].chat_id (line 6)", "duplicate chat_id 'a' (groups[0] has it too)"),
    ],
)
def test_syntax_errors_duplicate_keys_and_chat_ids_name_the_real_line(
    yaml_text: str, expected_key: str, expected_words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml_text)
    (problem,) = caught.value.problems
    assert problem[0] == expected_key and expected_words in problem[1], problem
