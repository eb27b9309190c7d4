"""Deal reports: detection by marker or amount label, amounts in every form reps write."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.config import DealSettings, TemplateSettings
from rules.deals import DealParser, parse_amount
from rules.model import Deal
from rules.template import FollowUpTemplate

SETTINGS = DealSettings()
PARSER = DealParser(SETTINGS, FollowUpTemplate.from_settings(TemplateSettings(), SETTINGS.amount_labels).parser)


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("5万", 50_000),
        ("签了12.5万元", 125_000),
        ("3000元", 3_000),
        ("¥8,000", 8_000),
        ("￥12,800", 12_800),
        ("¥ 1.5万", 15_000),
        ("五万", 50_000),
        ("十二万", 120_000),
        ("十二万五千", 125_000),
        ("两万元", 20_000),
        ("三千元", 3_000),
        ("8.8w", 88_000),
        # Every form in the amended contract (issue 12 item 5).
        ("3千5百元", 3_500),
        ("首单3千5百元，先试用", 3_500),
        ("2万5", 25_000),
        ("2万5千", 25_000),
        ("RMB 20,000", 20_000),
        ("合同价RMB20000", 20_000),
        ("人民币2万元", 20_000),
        ("20k", 20_000),
        ("20K", 20_000),
        ("一年服务费 1.5k", 1_500),
        ("两万五", 25_000),
        ("3个仓库，扫码枪20把", None),
        ("下周再谈价格", None),
        ("千万别忘了发票", None),  # 千万 holds no digit
        ("下午三点签的", None),
        ("五百强企业", None),
        ("运了20kg样品", None),
        ("发票号 INV-2026-000123", None),
        ("0元试用", None),  # never an amount of 0
        ("99999999999999999999亿元", None),  # no real deal, and more than the database holds
    ],
)
def test_amounts(text: str, yuan: int | None) -> None:
    assert parse_amount(text) == yuan


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("【成交】客户：王总，公司：华星科技，成交金额：5万", Deal("王总", "华星科技", 50_000)),
        ("#成交 华星科技仓储项目签了，12.5万元", Deal(None, None, 125_000)),
        ("客户姓名：李总\n公司名称：远航物流\n签单金额：￥12,800", Deal("李总", "远航物流", 12_800)),
        ("合同金额:50000\n客户：赵总", Deal("赵总", None, 50_000)),
        ("【成交】远航物流续费，五万", Deal(None, None, 50_000)),
        ("【成交】华星科技，金额待定", Deal(None, None, None)),
        ("合同金额：待财务确认", Deal(None, None, None)),
        ("#成交 客户：周总，公司：盛达贸易，合同金额：3千5百元", Deal("周总", "盛达贸易", 3_500)),
        ("【成交】盛达贸易 RMB 20,000", Deal(None, None, 20_000)),
        ("【成交】客户：孙总，成交金额：人民币2万元", Deal("孙总", None, 20_000)),
        ("签单金额：20k", Deal(None, None, 20_000)),
        ("合同金额：20,000", Deal(None, None, 20_000)),
        ("【成交】华星科技二期，2万5千", Deal(None, None, 25_000)),
        ("【成交】华星科技，金额回头补", Deal(None, None, None)),
        ("合同金额：0", Deal(None, None, None)),
        # One line with spaces, like follow-up reports; a garbled name is no name (issue 12 item 3).
        ("#成交 客户：王总 公司：华星科技 成交金额：5万", Deal("王总", "华星科技", 50_000)),
        ("#成交 客户：王总 公司名称 华星科技 成交金额：5万", Deal(None, None, 50_000)),
        ("今天和华星科技聊了合同金额的事", None),  # the word without a label colon
        ("客户：王总，公司：华星科技", None),
        ("成交了！晚上聚餐", None),
    ],
)
def test_deal_reports(text: str, expected: Deal | None) -> None:
    assert PARSER.parse(text) == expected


_ALPHABET = "0123456789.,，¥￥万千元wWkK零一二两三四五六七八九十百亿点 RMB人民币-"


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from(list(_ALPHABET)), max_size=16).map("".join))
def test_amount_parser_never_raises(text: str) -> None:
    yuan = parse_amount(text)
    assert yuan is None or (isinstance(yuan, int) and yuan > 0)
