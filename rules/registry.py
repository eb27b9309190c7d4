"""The rules, in the order their violations are reported: the one explicit list the engine loops over.

Every rule has one shape (`Rule` below): built once per group from that group's effective settings,
then one pure `check(msg, facts)` per message. The engine computes the facts once (findings, masked
text, parsed report or deal, prior posts), skips a rule that is disabled or whose exemptions cover
the sender, and collects the violations in this order.

Adding a rule (docs/architecture.md walks through `content_type`): its module with a settings model
and a class of this shape, one line here, a field in rules.config.RulesConfig and a block under
`rules:` in config.yaml, and tests/rules/test_<name>.py (tests/rules/test_registry.py checks all of
that for every entry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, Self

from rules.content_type import ContentType
from rules.frequency import Frequency
from rules.model import Facts, GroupMessage, Violation
from rules.posting_window import PostingWindow
from rules.sensitive import SensitiveRule
from rules.template import FollowUpTemplate

if TYPE_CHECKING:
    from rules.config import RulesConfig
    from rules.workdays import WorkCalendar


class Rule(Protocol):
    """The one shape of a rule."""

    #: Whether the group's managers and the members listed as exempt (globally in
    #: `policy.exempt_members` or for the group) are exempt from this rule. False for `sensitive`:
    #: a customer's mobile posted by a manager is the same leak. The rule's own `exempt_members`
    #: setting applies either way.
    exemptible: ClassVar[bool]

    @classmethod
    def build(cls, rules: RulesConfig, calendar: WorkCalendar) -> Self:
        """The rule for one group: `rules` are the group's effective settings (the rule reads its
        own block), `calendar` the work calendar shared by every group with the same patches."""
        ...

    def check(self, msg: GroupMessage, facts: Facts, /) -> Violation | None:
        """The violation `msg` commits, or None. Pure: no I/O, no clock, nothing remembered."""
        ...


RULES: dict[str, type[Rule]] = {
    "posting_window": PostingWindow,
    "frequency": Frequency,
    "template": FollowUpTemplate,
    "sensitive": SensitiveRule,
    "content_type": ContentType,
}
