"""The rule engine: one message in, one verdict out; the webhook path and replay share it.

`RuleEngine.from_config` compiles every group's effective rules once (regexes, automata, the work
calendar); `evaluate` then only runs them. Order of work per message: the facts first, once
(scan for identifiers, always, so masking happens even when the sensitive rule is off; mask; parse a
deal or a follow-up report from the masked text), then every enabled rule of rules/registry.RULES
in order, `rule.check(msg, facts)`, skipping a rule whose exemptions cover the sender. Direct
messages are never judged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.config import GroupRules, RulesConfig
from rules.deals import DealParser
from rules.frequency import Frequency
from rules.masking import apply_masks
from rules.model import WRITTEN_MSGTYPES, Facts, GroupMessage, Verdict, Violation
from rules.posting_window import PostingWindow
from rules.registry import RULES, Rule
from rules.sensitive import SensitiveRule
from rules.template import FollowUpTemplate
from rules.workdays import WorkCalendar


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """One group's effective settings with every rule built from them.

    `checks` holds the enabled rules in registry order, each with the members it does not judge
    (its own `exempt_members`, plus the managers and exempt members when the rule is `exemptible`):
    enabled/exempt gating is decided here once, not in the rules.
    """

    settings: RulesConfig
    exempt: frozenset[str]
    rules: dict[str, Rule]
    checks: tuple[tuple[Rule, frozenset[str]], ...]
    deals: DealParser

    # The fact builders: the engine scans, masks and parses with these whether or not their rule is on.
    @property
    def posting_window(self) -> PostingWindow:
        return self.rules["posting_window"]  # type: ignore[return-value]

    @property
    def frequency(self) -> Frequency:
        return self.rules["frequency"]  # type: ignore[return-value]

    @property
    def template(self) -> FollowUpTemplate:
        return self.rules["template"]  # type: ignore[return-value]

    @property
    def sensitive(self) -> SensitiveRule:
        return self.rules["sensitive"]  # type: ignore[return-value]


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
            built = {name: rule.build(settings, calendars[cal_key]) for name, rule in RULES.items()}
            everyone = exempt | frozenset(settings.policy.exempt_members)
            checks = []
            for name, rule in built.items():
                block = getattr(settings, name)
                if block.enabled:
                    checks.append((rule, (everyone if rule.exemptible else frozenset()) | set(block.exempt_members)))
            template: FollowUpTemplate = built["template"]  # type: ignore[assignment]
            compiled[key] = CompiledRules(
                settings=settings,
                exempt=everyone,
                rules=built,
                checks=tuple(checks),
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

    def facts(self, msg: GroupMessage, prior: Sequence[datetime] = ()) -> Facts:
        """Everything the rules read about `msg`, computed once: findings, masked text, report or deal."""
        return self._facts(self._groups.get(msg.chat_id, self._default), msg, prior)

    @staticmethod
    def _facts(rules: CompiledRules, msg: GroupMessage, prior: Sequence[datetime]) -> Facts:
        findings = rules.sensitive.scan(msg.text)
        masked = apply_masks(msg.text, findings) if findings else msg.text
        deal = update = None
        if msg.msgtype in WRITTEN_MSGTYPES:
            deal = rules.deals.parse(masked)
            if deal is None:
                today = msg.sent_at.astimezone(rules.posting_window.zone).date()
                update = rules.template.parse(masked, today)
        return Facts(findings=findings, masked_text=masked, update=update, deal=deal, prior=prior)

    def evaluate(self, msg: GroupMessage, prior: Sequence[datetime]) -> Verdict:
        """The verdict on `msg`; `prior` = sent_at of the sender's earlier posts in this group
        within `lookback(chat_id)`, none after `msg.sent_at`. Direct messages (no chat_id) are masked
        and parsed but never judged."""
        rules = self._groups.get(msg.chat_id, self._default)
        facts = self._facts(rules, msg, prior)
        violations: list[Violation] = []
        if msg.chat_id:
            sender = msg.sender
            for rule, exempt in rules.checks:
                if sender not in exempt and (v := rule.check(msg, facts)):
                    violations.append(v)
        return Verdict(
            msgid=msg.msgid,
            violations=tuple(violations),
            masked_text=facts.masked_text,
            update=facts.update,
            deal=facts.deal,
            findings=facts.findings,
        )
