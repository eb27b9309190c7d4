"""Every rule in RULES keeps the house conventions: docstring, settings model, config block, tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rules.config import RulesConfig
from rules.model import RuleSettings
from rules.registry import RULES

REPO = Path(__file__).resolve().parents[2]


def test_registry_order_is_the_reporting_order() -> None:
    assert list(RULES) == ["posting_window", "frequency", "template", "sensitive"]


@pytest.mark.parametrize("name", list(RULES))
def test_rule_conventions(name: str) -> None:
    rule = RULES[name]
    doc = rule.__doc__ or ""
    assert doc.strip(), f"{rule.__name__} has no docstring"
    settings_model = RulesConfig.model_fields[name].annotation
    assert isinstance(settings_model, type) and issubclass(settings_model, RuleSettings)
    block = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))["rules"][name]
    assert {"enabled", "action"} <= set(block)
    settings_model.model_validate(block)
    assert (REPO / "tests" / "rules" / f"test_{name}.py").is_file()
