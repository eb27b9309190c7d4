"""Content types: which non-text messages (business cards, red packets, links, files, mini-programs...)
a group allows. Off by default; a group switches it on and lists what it accepts.

The names are the chat archive's `msgtype`s, which the callbacks and the bridge use too: `card`
(名片), `redpacket` (红包), `link`, `file`, `weapp` (小程序), `image`, `voice`, `video`,
`location`, `emotion`, `chatrecord`, `todo`, `vote`, `meeting`, `docmsg`, `news`, `calendar`,
`mixed`, ... Written messages (`text`, `markdown`) are judged by the other rules, never by this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from rules.config import ContentTypeSettings, RulesConfig
from rules.model import WRITTEN_MSGTYPES, Facts, GroupMessage, Violation

if TYPE_CHECKING:
    from rules.workdays import WorkCalendar


@dataclass(frozen=True, slots=True)
class ContentType:
    """A non-text message is allowed only when its msgtype is in the group's `allowed` list.

    Example: with `allowed: [link, file]`, a shared file is fine and a red packet (`redpacket`) is a
    violation "redpacket messages are not allowed in this group (allowed: link, file)".
    """

    exemptible: ClassVar[bool] = True

    settings: ContentTypeSettings
    allowed: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @classmethod
    def build(cls, rules: RulesConfig, calendar: WorkCalendar) -> ContentType:
        settings = rules.content_type
        return cls(settings=settings, allowed=frozenset(settings.allowed))

    def check(self, msg: GroupMessage, facts: Facts) -> Violation | None:
        msgtype = msg.msgtype
        if msgtype in WRITTEN_MSGTYPES or msgtype in self.allowed:
            return None
        allowed = ", ".join(self.settings.allowed) or "none"
        return Violation(
            rule="content_type", detail=f"{msgtype} messages are not allowed in this group (allowed: {allowed})"
        )
