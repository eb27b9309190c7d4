"""Hypothesis over RuleEngine.evaluate with the repository's config.yaml: arbitrary text, with or without
an embedded identifier, never raises, and the clear identifier never reaches masked_text (nor any other
field of the replay output line)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import AppConfig
from rules.engine import RuleEngine
from rules.model import GroupMessage
from tests.rules.test_sensitive_properties import BREAK, IDENTIFIER

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much])
# Sales-group surroundings: report labels, amounts, dates and order numbers, which the template, deal and
# date parsers read; digits sit next to the identifier only across a break character.
AROUND = st.lists(st.sampled_from([
    "【跟进】", "【成交】", "#跟进", "客户：王总", "公司：华星科技", "需求：仓储系统改造", "下一步：", "周三上门演示",
    "3-5个工作日", "3/15前出方案", "金额：12.5万元", "五万", "订单号 20260302153045", "明天", "年后再说", "收到",
    "王总", "电话", "手机", "微信", "卡号", "，", "：", " ", "\n", "\u2028", "\x00",
]) | st.text(max_size=6), max_size=8).map("".join)
CHATS = st.sampled_from(["wr-sales-east", "wr-sales-south", "wr-other", ""])
MOMENTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


def engine_for(config: AppConfig) -> RuleEngine:
    return RuleEngine.from_config(config.rules, config.group_rules())


@FUZZ
@given(before=AROUND, left=BREAK, value=IDENTIFIER, right=BREAK, after=AROUND, chat=CHATS, at=MOMENTS,
       msgtype=st.sampled_from(["text", "markdown", "image"]))
def test_an_embedded_identifier_never_survives_the_engine(config: AppConfig, before: str, left: str, value,
                                                          right: str, after: str, chat: str, at: datetime,
                                                          msgtype: str) -> None:
    written, _mask, clear = value
    text = before + left + written + right + after
    msg = GroupMessage(msgid="f1", chat_id=chat, sender="zhangwei", sent_at=at, text=text, msgtype=msgtype)
    verdict = engine_for(config).evaluate(msg, ())
    assert clear not in verdict.masked_text
    assert clear not in json.dumps(verdict.to_contract(), ensure_ascii=False)


@FUZZ
@given(text=st.text(max_size=120) | AROUND, chat=CHATS, at=MOMENTS,
       prior=st.lists(st.integers(1, 3600), max_size=12))
def test_arbitrary_text_never_raises(config: AppConfig, text: str, chat: str, at: datetime,
                                     prior: list[int]) -> None:
    from datetime import timedelta

    msg = GroupMessage(msgid="f2", chat_id=chat, sender="zhangwei", sent_at=at, text=text)
    verdict = engine_for(config).evaluate(msg, sorted(at - timedelta(seconds=s) for s in prior))
    json.dumps(verdict.to_contract(), ensure_ascii=False)
    assert verdict.msgid == "f2"
