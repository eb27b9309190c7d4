"""The rules, in the order their violations are reported: the one explicit list.

Adding a rule: its module with a settings model and a class with `check`, one line here, a block
under `rules:` in config.yaml, a field in rules.config.RulesConfig, and tests/rules/test_<name>.py
(tests/rules/test_registry.py checks all of that for every entry).
"""

from __future__ import annotations

from rules.frequency import Frequency
from rules.posting_window import PostingWindow
from rules.sensitive import SensitiveRule
from rules.template import FollowUpTemplate

RULES: dict[str, type] = {
    "posting_window": PostingWindow,
    "frequency": Frequency,
    "template": FollowUpTemplate,
    "sensitive": SensitiveRule,
}
