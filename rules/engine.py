"""The rule engine: one message in, one verdict out; the webhook path and replay share it.

`RuleEngine.from_config` compiles every group's effective rules once (regexes, automata, the work
calendar); `evaluate` then only runs them. Order of work per message: scan for identifiers (always,
so masking happens even when the sensitive rule is off), mask, parse a deal or a follow-up report
from the masked text, then judge, unless the sender is exempt or the message is a direct one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.config import GroupRules, RulesConfig
from rules.deals import DealParser
from rules.frequency import Frequency
from rules.masking import apply_masks
from rules.model import GroupMessage, Verdict, Violation
from rules.posting_window import PostingWindow
from rules.sensitive import SensitiveRule
from rules.template import FollowUpTemplate
from rules.workdays import WorkCalendar

#: Message types whose text is a rep's writing (reports, deals); others are judged on time only.
_WRITTEN = frozenset({"text", "markdown"})


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """One group's effective settings with every rule built from them."""

    settings: RulesConfig
    exempt: frozenset[str]
    posting_window: PostingWindow
    frequency: Frequency
    template: FollowUpTemplate
    sensitive: SensitiveRule
    deals: DealParser


class RuleEngine:
    """Evaluates messages against the company-wide rules and each group's overrides."""

    __slots__ = ("_default", "_groups", "calendars")

    def __init__(
        self, default: CompiledRules, groups: dict[str, CompiledRules], calendars: Sequence[WorkCalendar]
    ) -> None:
        self._default = default
        self._groups = groups
        #: Every work calendar in use (one per distinct extra_holidays/extra_workdays patch).
        self.calendars = tuple(calendars)

    @classmethod
    def from_config(
        cls,
        rules: RulesConfig,
        groups: Sequence[GroupRules] = (),
        *,
        on_unknown_year: Callable[[int], None] | None = None,
    ) -> RuleEngine:
        """Compile `rules` and each group's overrides; `on_unknown_year(year)` fires once per year
        the holiday calendar does not know (the caller logs it; rules/ does not log)."""
        calendars: dict[tuple, WorkCalendar] = {}
        compiled: dict[str, CompiledRules] = {}
        reported: set[int] = set()

        def report_once(year: int) -> None:
            if year not in reported and on_unknown_year is not None:
                reported.add(year)
                on_unknown_year(year)

        def build(settings: RulesConfig, exempt: frozenset[str]) -> CompiledRules:
            key = settings.model_dump_json() + "|" + ",".join(sorted(exempt))
            if key in compiled:
                return compiled[key]
            pw = settings.posting_window
            cal_key = (tuple(sorted(pw.extra_holidays)), tuple(sorted(pw.extra_workdays)))
            if cal_key not in calendars:
                calendars[cal_key] = WorkCalendar(*cal_key, on_unknown_year=report_once)
            template = FollowUpTemplate.from_settings(settings.template, settings.deals.amount_labels)
            compiled[key] = CompiledRules(
                settings=settings,
                exempt=exempt | frozenset(settings.policy.exempt_members),
                posting_window=PostingWindow.from_settings(pw, calendars[cal_key]),
                frequency=Frequency(settings.frequency),
                template=template,
                sensitive=SensitiveRule(settings.sensitive),
                deals=DealParser(settings.deals, template.parser),
            )
            return compiled[key]

        default = build(rules, frozenset())
        by_chat = {g.chat_id: build(rules.with_overrides(g.overrides), frozenset(g.exempt)) for g in groups}
        return cls(default, by_chat, list(calendars.values()))

    def rules_for(self, chat_id: str) -> CompiledRules:
        return self._groups.get(chat_id, self._default)

    def settings_for(self, chat_id: str) -> RulesConfig:
        """The group's effective settings (company-wide block with its overrides)."""
        return self.rules_for(chat_id).settings

    def lookback(self, chat_id: str) -> timedelta:
        """How far back `prior` must reach for this group (the frequency window)."""
        return self.rules_for(chat_id).frequency.window

    @property
    def max_lookback(self) -> timedelta:
        return max((g.frequency.window for g in (self._default, *self._groups.values())), default=timedelta(0))

    @property
    def max_limit(self) -> int:
        return max(g.settings.frequency.limit for g in (self._default, *self._groups.values()))

    @property
    def unknown_years(self) -> set[int]:
        """Years answered Monday-Friday because the holiday calendar lacks them."""
        return set().union(*(c.unknown_years for c in self.calendars))

    def evaluate(self, msg: GroupMessage, prior: Sequence[datetime]) -> Verdict:
        """The verdict on `msg`; `prior` = sent_at of the sender's earlier posts in this group
        within `lookback(chat_id)`, none after `msg.sent_at`."""
        rules = self._groups.get(msg.chat_id, self._default)
        findings = rules.sensitive.scan(msg.text)
        masked = apply_masks(msg.text, findings) if findings else msg.text

        deal = update = None
        if msg.msgtype in _WRITTEN:
            deal = rules.deals.parse(masked)
            if deal is None:
                today = msg.sent_at.astimezone(rules.posting_window.zone).date()
                update = rules.template.parse(masked, today)

        violations: list[Violation] = []
        if msg.chat_id and msg.sender not in rules.exempt:
            s = rules.settings
            if s.posting_window.enabled and (v := rules.posting_window.check(msg.sent_at, msg.text)):
                violations.append(v)
            if s.frequency.enabled and (v := rules.frequency.check(msg.sent_at, prior)):
                violations.append(v)
            if s.template.enabled and (v := rules.template.check(update)):
                violations.append(v)
            if s.sensitive.enabled and (v := rules.sensitive.check(findings)):
                violations.append(v)
        return Verdict(
            msgid=msg.msgid,
            violations=tuple(violations),
            masked_text=masked,
            update=update,
            deal=deal,
            findings=findings,
        )
