"""What happens after a verdict: the action configured for each rule, and escalation.

Rules decide whether a message breaks them; this module decides what that means for the member
(`record`, `warn_member`, `alert_managers`) and whether they have now broken rules often enough to
be escalated. Handlers act on the decision; nothing here sends or stores anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rules.config import RulesConfig
from rules.model import Action, Violation


@dataclass(frozen=True, slots=True)
class Decision:
    """Each violation with its action, and whether the member crossed the escalation threshold."""

    actions: tuple[tuple[Violation, Action], ...]
    escalate: bool


def decide(settings: RulesConfig, violations: Sequence[Violation], prior_count: int) -> Decision:
    """Per-rule actions from `settings`; escalate when this message takes the member to `count`.

    `prior_count` is the member's non-void violations already stored within `escalation.days`.
    Example: count=3, prior_count=2 and one new violation → escalate; prior_count=3 → already
    escalated earlier, not again.
    """
    actions = tuple((v, _action(settings, v)) for v in violations)
    esc = settings.policy.escalation
    total = prior_count + len(violations)
    escalate = bool(violations) and esc.enabled and prior_count < esc.count <= total
    return Decision(actions=actions, escalate=escalate)


def _action(settings: RulesConfig, violation: Violation) -> Action:
    return getattr(settings, violation.rule).action
