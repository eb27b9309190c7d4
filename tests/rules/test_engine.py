"""The engine as a whole: contract output, rule order, exemptions, direct messages, group overrides."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.config import AppConfig
from rules.config import GroupRules, RulesConfig
from rules.engine import RuleEngine
from rules.model import GroupMessage
from tests.conftest import sh

EAST, SOUTH = "wr-sales-east", "wr-sales-south"
MONDAY = sh(2026, 3, 2, 9, 15)
LATE = sh(2026, 3, 2, 21, 40)


@pytest.fixture(scope="module")
def engine(config: AppConfig) -> RuleEngine:
    return RuleEngine.from_config(config.rules, config.group_rules())


def msg(text: str, at: datetime = MONDAY, *, sender: str = "zhangwei", chat: str = EAST, msgid: str = "m-1"):
    return GroupMessage(msgid=msgid, chat_id=chat, sender=sender, sent_at=at, text=text)


def test_contract_example_line(engine: RuleEngine) -> None:
    text = (
        "【跟进】客户：王总\n公司：华星科技\n电话：13812345678\n需求：仓储系统改造，3个仓库\n"
        "上次沟通：上周五\n下一步：周三前报价"
    )
    verdict = engine.evaluate(msg(text, sh(2026, 3, 2, 21, 40)), prior=())
    assert verdict.to_contract() == {
        "msgid": "m-1",
        "violations": [
            {"rule": "posting_window", "detail": "sent 21:40 outside 09:00-11:00, 14:00-17:00 on a workday"},
            {"rule": "sensitive", "kinds": ["mobile"], "detail": verdict.violations[1].detail},
        ],
        "update": {
            "client_name": "王总",
            "company": "华星科技",
            "contact": "138****5678",
            "need": "仓储系统改造，3个仓库",
            "last_contact_at": "2026-02-27",
            "next_action": "周三前报价",
            "next_action_due": "2026-03-04",
        },
        "deal": None,
        "masked_text": text.replace("13812345678", "138****5678"),
    }
    assert "13812345678" not in verdict.violations[1].detail


def test_violations_come_in_rule_order(engine: RuleEngine) -> None:
    prior = [LATE - timedelta(minutes=m) for m in range(1, 11)]
    verdict = engine.evaluate(msg("【跟进】客户：王总，电话：13812345678", LATE), prior)
    assert [v.rule for v in verdict.violations] == ["posting_window", "frequency", "template", "sensitive"]


def test_a_deal_report_is_not_checked_as_a_follow_up(engine: RuleEngine) -> None:
    verdict = engine.evaluate(msg("【成交】客户：王总，公司：华星科技，成交金额：12.5万元"), ())
    assert verdict.violations == ()
    assert verdict.update is None
    assert verdict.deal is not None and verdict.deal.to_contract() == {
        "client_name": "王总",
        "company": "华星科技",
        "amount_yuan": 125_000,
    }


@pytest.mark.parametrize(
    ("sender", "chat", "violations"),
    [
        ("zhangwei", EAST, ["posting_window", "template", "sensitive"]),
        ("lisi", EAST, ["sensitive"]),  # manager of wr-sales-east: exempt from all but privacy
        ("lisi", SOUTH, ["posting_window", "template", "sensitive"]),  # not a manager there
        ("zhaolei", SOUTH, ["sensitive"]),
        ("zhangwei", "", []),  # a direct message to the app is never judged by group rules
    ],
)
def test_exempt_members_and_direct_messages_are_masked_and_parsed_but_not_judged(
    engine: RuleEngine, sender: str, chat: str, violations: list[str]
) -> None:
    verdict = engine.evaluate(msg("#跟进 客户：王总；手机：138 1234 5678", LATE, sender=sender, chat=chat), ())
    assert [v.rule for v in verdict.violations] == violations
    assert verdict.masked_text == "#跟进 客户：王总；手机：138****5678"
    assert verdict.update is not None and verdict.update.contact == "138****5678"


def test_policy_exempt_members_apply_everywhere() -> None:
    rules = RulesConfig.model_validate({"policy": {"exempt_members": ["admin01"]}})
    engine = RuleEngine.from_config(rules, [GroupRules(chat_id=EAST)])
    assert engine.evaluate(msg("深夜发个通知", LATE, sender="admin01"), ()).violations == ()
    assert engine.evaluate(msg("深夜发个通知", LATE, sender="zhangwei"), ()).violations != ()


#: Everything at once: 21:40 on a workday, the 11th post within the hour, an incomplete report, a
#: customer's mobile in clear. Who is judged by which rule (contract: "Who is exempt").
EVERYTHING = "#跟进 客户：王总；手机：13812345678"
ALL_RULES = ["posting_window", "frequency", "template", "sensitive"]
EXEMPTIONS = {
    "policy": {"exempt_members": ["admin01"]},
    "sensitive": {"exempt_members": ["dpo01"]},
}
GROUPS = [
    GroupRules(chat_id=EAST, exempt=frozenset({"lisi", "wangfang"})),  # lisi manages, wangfang listed exempt
    GroupRules(chat_id=SOUTH, exempt=frozenset({"zhaolei"}), overrides={"sensitive": {"exempt_members": ["zhaolei"]}}),
]


@pytest.mark.parametrize(
    ("who", "sender", "chat", "violations"),
    [
        ("a rep", "zhangwei", EAST, ALL_RULES),
        ("the group's manager", "lisi", EAST, ["sensitive"]),
        ("a member exempt in the group", "wangfang", EAST, ["sensitive"]),
        ("an admin exempt everywhere (policy)", "admin01", EAST, ["sensitive"]),
        ("an admin exempt everywhere, other group", "admin01", SOUTH, ["sensitive"]),
        ("named for sensitive company-wide only", "dpo01", EAST, ["posting_window", "frequency", "template"]),
        ("a manager named for sensitive in the group", "zhaolei", SOUTH, []),
        ("that manager in a group that does not name him", "zhaolei", EAST, ALL_RULES),
        ("the group's list replaces the company-wide one", "dpo01", SOUTH, ALL_RULES),
    ],
)
def test_exemptions_per_rule(who: str, sender: str, chat: str, violations: list[str]) -> None:
    engine = RuleEngine.from_config(RulesConfig.model_validate(EXEMPTIONS), GROUPS)
    prior = [LATE - timedelta(minutes=m) for m in range(1, 11)]
    verdict = engine.evaluate(msg(EVERYTHING, LATE, sender=sender, chat=chat), prior)
    assert [v.rule for v in verdict.violations] == violations, who
    assert verdict.masked_text == "#跟进 客户：王总；手机：138****5678"


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ({"sensitive": {"exempt_members": [""]}}, "sensitive.exempt_members.0"),
        ({"sensitive": {"exempt_members": "lisi"}}, "sensitive.exempt_members"),
        ({"frequency": {"exempt_members": [5]}}, "frequency.exempt_members.0"),
    ],
)
def test_rule_exempt_members_are_validated(block: dict, error: str) -> None:
    with pytest.raises(ValidationError) as exc:
        RulesConfig.model_validate(block)
    assert error in {".".join(str(p) for p in e["loc"]) for e in exc.value.errors()}


def test_group_overrides(engine: RuleEngine) -> None:
    prior = [MONDAY - timedelta(minutes=m) for m in range(1, 12)]  # 11 earlier + this = 12
    assert [v.rule for v in engine.evaluate(msg("好的", chat=EAST), prior).violations] == ["frequency"]
    assert engine.evaluate(msg("好的", chat=SOUTH), prior).violations == ()  # south allows 15
    assert engine.settings_for(SOUTH).frequency.limit == 15
    assert engine.settings_for("wr-unknown").frequency.limit == 10
    assert engine.lookback(EAST) == timedelta(minutes=60)


def test_disabled_rule_still_masks() -> None:
    rules = RulesConfig.model_validate({"sensitive": {"enabled": False}})
    verdict = RuleEngine.from_config(rules).evaluate(msg("王总电话13812345678"), ())
    assert verdict.violations == ()
    assert verdict.masked_text == "王总电话138****5678"


def test_unknown_calendar_year_is_reported_once() -> None:
    years: list[int] = []
    engine = RuleEngine.from_config(RulesConfig(), on_unknown_year=years.append)
    for day in (4, 5, 6):
        engine.evaluate(msg("早", sh(2099, 5, day, 9, 30)), ())
    assert years == [2099] and engine.unknown_years == {2099}


_CLEAR = re.compile(r"\d{11,}|@")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), hour=st.integers(0, 23), chat=st.sampled_from([EAST, SOUTH, "", "wr-x"]))
def test_engine_never_raises_and_details_hold_no_clear_identifier(text: str, hour: int, chat: str) -> None:
    engine = RuleEngine.from_config(RulesConfig(), [GroupRules(chat_id=SOUTH, overrides={"frequency": {"limit": 2}})])
    verdict = engine.evaluate(msg(text, sh(2026, 3, 2, hour, 5), chat=chat), [sh(2026, 3, 2, hour, 1)] * 3)
    for violation in verdict.violations:
        assert not _CLEAR.search(violation.detail)
    assert len(verdict.masked_text) >= 0


_PIECES = (
    "【跟进】 客户： 公司: 电话： 手机13812345678。 ； ， 下一步： 周五 3/5 五万 成交金额： 【成交】 ¥ 8,000 月底 "
    "上次沟通： 微信： abc_123 元 万 \n"
).split(" ") + [" ", "\n"]


@settings(max_examples=200, deadline=None)
@given(text=st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
def test_engine_never_raises_on_report_like_text(text: str) -> None:
    engine = RuleEngine.from_config(RulesConfig())
    verdict = engine.evaluate(msg(text), ())
    assert "13812345678" not in verdict.masked_text


def test_contact_reads_as_masked_and_wechat_is_a_finding(engine: RuleEngine) -> None:
    text = "#跟进 客户：王总；公司：华星科技；微信：abc_123；需求：扫码枪；上次沟通：昨天；下一步：周五回访"
    verdict = engine.evaluate(msg(text), ())
    assert verdict.update is not None and verdict.update.contact == "ab****"
    assert verdict.update.missing == ()
    assert [(v.rule, v.kinds) for v in verdict.violations] == [("sensitive", ("im_account",))]
    assert "abc_123" not in verdict.masked_text


def test_other_message_types_are_judged_on_time_only(engine: RuleEngine) -> None:
    image = GroupMessage(msgid="m-9", chat_id=EAST, sender="zhangwei", sent_at=LATE, text="", msgtype="image")
    verdict = engine.evaluate(image, ())
    assert [v.rule for v in verdict.violations] == ["posting_window"]
    assert (verdict.update, verdict.deal) == (None, None)
