"""content_type: a group that turns the rule on lists the non-text msgtypes it accepts; off by default."""

from __future__ import annotations

import pytest

from rules.config import GroupRules, RulesConfig
from rules.engine import RuleEngine
from rules.model import GroupMessage
from tests.conftest import sh

EAST, SOUTH = "wr-sales-east", "wr-sales-south"
MONDAY = sh(2026, 3, 2, 10, 0)  # inside a posting window: only content_type can object
GROUPS = [
    GroupRules(chat_id=EAST, overrides={"content_type": {"enabled": True, "allowed": ["link", "file"]}},
               exempt=frozenset({"lisi"})),
    GroupRules(chat_id=SOUTH),  # the default: off
]  # fmt: skip
ENGINE = RuleEngine.from_config(RulesConfig(), GROUPS)


def judge(msgtype: str, text: str = "", *, chat: str = EAST, sender: str = "zhangwei") -> list[tuple[str, str]]:
    msg = GroupMessage(msgid="m-1", chat_id=chat, sender=sender, sent_at=MONDAY, text=text, msgtype=msgtype)
    return [(v.rule, v.detail) for v in ENGINE.evaluate(msg, ()).violations]


@pytest.mark.parametrize(
    ("msgtype", "text", "chat", "sender", "violations"),
    [
        ("redpacket", "", EAST, "zhangwei",
         [("content_type", "redpacket messages are not allowed in this group (allowed: link, file)")]),
        ("card", "", EAST, "zhangwei",
         [("content_type", "card messages are not allowed in this group (allowed: link, file)")]),
        ("weapp", "", EAST, "zhangwei",
         [("content_type", "weapp messages are not allowed in this group (allowed: link, file)")]),
        ("image", "", EAST, "zhangwei",
         [("content_type", "image messages are not allowed in this group (allowed: link, file)")]),
        ("link", "", EAST, "zhangwei", []),  # listed
        ("file", "", EAST, "zhangwei", []),  # listed
        ("text", "下午去华星科技拜访王总", EAST, "zhangwei", []),  # written messages are never judged by it
        ("markdown", "**周报**已发", EAST, "zhangwei", []),
        ("redpacket", "", EAST, "lisi", []),  # exempt in the group, like a manager
        ("redpacket", "", SOUTH, "zhangwei", []),  # off by default
        ("redpacket", "", "wr-unknown", "zhangwei", []),  # an unlisted group gets the defaults: off
    ],
)  # fmt: skip
def test_content_type(msgtype: str, text: str, chat: str, sender: str, violations: list[tuple[str, str]]) -> None:
    assert judge(msgtype, text, chat=chat, sender=sender) == violations


def test_nothing_allowed_says_so() -> None:
    engine = RuleEngine.from_config(RulesConfig.model_validate({"content_type": {"enabled": True}}))
    msg = GroupMessage(msgid="m-1", chat_id=EAST, sender="zhangwei", sent_at=MONDAY, text="", msgtype="card")
    assert [v.to_contract() for v in engine.evaluate(msg, ()).violations] == [
        {"rule": "content_type", "detail": "card messages are not allowed in this group (allowed: none)"}
    ]


def test_it_comes_last_in_the_reported_order() -> None:
    late = GroupMessage(msgid="m-1", chat_id=EAST, sender="zhangwei", sent_at=sh(2026, 3, 2, 21, 40), text="",
                        msgtype="redpacket")  # fmt: skip
    assert [v.rule for v in ENGINE.evaluate(late, ()).violations] == ["posting_window", "content_type"]
