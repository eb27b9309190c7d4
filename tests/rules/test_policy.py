"""Policy: the configured action per rule, escalation when a member reaches N violations in D days."""

from __future__ import annotations

import pytest

from rules.config import EscalationSettings, PolicySettings, RulesConfig
from rules.model import Violation
from rules.policy import decide

LATE = Violation(rule="posting_window", detail="sent 21:40 outside 09:00-11:00, 14:00-17:00 on a workday")
PHONE = Violation(rule="sensitive", detail="mobile number", kinds=("mobile",))


def test_each_violation_gets_its_rules_action() -> None:
    decision = decide(RulesConfig(), [LATE, PHONE], prior_count=0)
    assert decision.actions == ((LATE, "warn_member"), (PHONE, "alert_managers"))
    assert decision.escalate is False


@pytest.mark.parametrize(
    ("prior_count", "new", "escalate"),
    [
        (0, [LATE], False),
        (1, [LATE], False),
        (2, [LATE], True),  # the third within the window
        (1, [LATE, PHONE], True),  # crossing with two at once
        (3, [LATE], False),  # already escalated when the third came in
        (5, [], False),
    ],
)
def test_escalation_crosses_the_threshold_once(prior_count: int, new: list[Violation], escalate: bool) -> None:
    assert decide(RulesConfig(), new, prior_count).escalate is escalate


def test_escalation_can_be_switched_off() -> None:
    settings = RulesConfig(policy=PolicySettings(escalation=EscalationSettings(enabled=False)))
    assert decide(settings, [LATE], prior_count=2).escalate is False
