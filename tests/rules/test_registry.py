"""Every rule in RULES keeps the house conventions: docstring, settings model, config block, tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rules.config import RulesConfig
from rules.model import Facts, GroupMessage, RuleSettings
from rules.registry import RULES
from rules.workdays import WorkCalendar
from tests.conftest import sh

REPO = Path(__file__).resolve().parents[2]
NOON = sh(2026, 3, 2, 10, 0)


def test_registry_order_is_the_reporting_order() -> None:
    assert list(RULES) == ["posting_window", "frequency", "template", "sensitive", "content_type"]


def test_who_is_exempt_is_declared_with_each_rule() -> None:
    """Contract: managers and exempt members are exempt from posting_window, frequency and template;
    nobody from sensitive unless named for it."""
    assert {name: rule.exemptible for name, rule in RULES.items()} == {
        "posting_window": True,
        "frequency": True,
        "template": True,
        "sensitive": False,
        "content_type": True,
    }


@pytest.mark.parametrize("name", list(RULES))
def test_rule_conventions(name: str) -> None:
    rule = RULES[name]
    doc = rule.__doc__ or ""
    assert doc.strip(), f"{rule.__name__} has no docstring"
    assert callable(rule.build) and callable(rule.check) and isinstance(rule.exemptible, bool)
    built = rule.build(RulesConfig(), WorkCalendar())
    msg = GroupMessage(msgid="m-1", chat_id="wr-sales-east", sender="zhangwei", sent_at=NOON, text="好的")
    assert built.check(msg, Facts(masked_text="好的")) is None  # one shape: (msg, facts) -> Violation | None
    settings_model = RulesConfig.model_fields[name].annotation
    assert isinstance(settings_model, type) and issubclass(settings_model, RuleSettings)
    block = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))["rules"][name]
    assert {"enabled", "action"} <= set(block)
    settings_model.model_validate(block)
    assert (REPO / "tests" / "rules" / f"test_{name}.py").is_file()
